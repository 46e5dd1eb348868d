"""The built wheel ships the whole namespace, the hook template and both commands."""
from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
# Building writes build/ and *.egg-info next to the sources: build from a copy.
IGNORE = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__",
                                "*.pyc", ".pytest_cache")


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A snapshot of the sources, so the wheel is compared with what it was built from."""
    src = tmp_path_factory.mktemp("wheel") / "src"
    shutil.copytree(ROOT, src, ignore=IGNORE)
    return src


@pytest.fixture(scope="module")
def wheel(source) -> zipfile.ZipFile:
    src, out = source, source.parent / "out"
    # A path with a slash, never a bare name: pip would look that up on the index.
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                           "-w", str(out), str(src.absolute())],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [built] = out.glob("gitgov-*.whl")
    with zipfile.ZipFile(built) as zf:
        yield zf


def test_wheel_holds_every_module_under_the_gitgov_namespace(wheel, source):
    names = set(wheel.namelist())
    for required in ("gitgov/core/__init__.py", "gitgov/core/install.py", "gitgov/core/errors.py",
                     "gitgov/plugins/__init__.py", "gitgov/hooks/__init__.py"):
        assert required in names
    # `packages` is an explicit list: a new subpackage left out of it would
    # silently vanish from the wheel while working in an editable install.
    package_dir = _pyproject(source)["tool"]["setuptools"]["package-dir"]
    for package, folder in package_dir.items():
        prefix = package.replace(".", "/")
        for path in (source / folder).rglob("*.py"):
            assert f"{prefix}/{path.relative_to(source / folder).as_posix()}" in names
    # Nothing installs a bare top-level `core` or `plugins` package.
    assert all(n.startswith(("gitgov/", "gitgov-")) for n in names), sorted(names)


def test_wheel_ships_the_hook_template_verbatim(wheel, source):
    shipped = wheel.read("gitgov/hooks/hook-tmpl")
    assert shipped == (source / "hooks" / "hook-tmpl").read_bytes()
    assert b"# gitgov-hook-id: 7c1d0c0e-gitgov-v1\n" in shipped


def test_wheel_declares_both_console_scripts(wheel, source):
    [entry_points] = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    parser = configparser.ConfigParser()
    parser.read_string(wheel.read(entry_points).decode())
    scripts = dict(parser["console_scripts"])
    declared = _pyproject(source)["project"]["scripts"]
    # `git gov` (git finds git-gov on PATH) is the same program as `gitgov`.
    assert scripts["gitgov"] == scripts["git-gov"] == declared["gitgov"]
    assert scripts["gitgov"].startswith("gitgov.core.cli:")


def _pyproject(source: Path) -> dict:
    return tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))
