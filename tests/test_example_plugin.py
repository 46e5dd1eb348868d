"""The example plugin package, pip-installed for real into a fresh virtual
environment, is found through its entry point and takes part in a real commit.

The environment is new and empty; a .pth file adds this interpreter's
site-packages (gitgov and its dependencies) to it, so nothing is downloaded
and the test environment itself never sees the example plugin.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest

from conftest import ROOT, git, write

EXAMPLE = ROOT / "examples" / "gitgov-example-plugin"
POLICY_EXTRA = """
[datasets.events]
paths = ["data/events/*.csv"]
"""


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A fresh venv with the example plugin pip-installed from a copy of its sources."""
    base = tmp_path_factory.mktemp("example")
    env = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # addsitedir, not a bare path: the editable gitgov install is itself a .pth there.
    here = sysconfig.get_paths()["purelib"]
    Path(purelib, "_gitgov_test_base.pth").write_text(f"import site; site.addsitedir({here!r})\n")
    # Building writes build/ and *.egg-info next to the sources: build from a copy.
    src = base / "gitgov-example-plugin"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    proc = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index",
                           "--no-build-isolation", "--no-compile", "-q", str(src)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return env


def run(env: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """`gitgov` as the venv's console script would run it."""
    return subprocess.run([str(env / "bin" / "python"), "-m", "gitgov.core", *args], cwd=cwd,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)


def test_pip_installed_example_plugin_is_discovered_and_gets_events(venv, repo):
    # A real install into the new venv, and only there: the test environment does not have it.
    assert list(venv.glob("lib/python*/site-packages/gitgov_example_plugin-0.1.0.dist-info/entry_points.txt"))
    assert "example" not in {ep.name for ep in metadata.entry_points(group="gitgov")}

    plugins = json.loads(run(venv, repo, "plugins", "--json").stdout)
    [example] = [p for p in plugins if p["name"] == "example"]
    assert example == {"name": "example", "origin": "installed", "version": "0.1.0",
                       "module": "gitgov_example.plugin", "hooks": ["data_added", "register_commands"],
                       "error": None, "enabled": True}
    assert [p["origin"] for p in plugins if p["name"] == "secrets"] == ["built-in"]

    (repo / "gitgov.toml").write_text((repo / "gitgov.toml").read_text() + POLICY_EXTRA)
    init = run(venv, repo, "init")
    assert init.returncode == 0, init.stderr
    assert str(venv / "bin" / "python") in (repo / ".git" / "hooks" / "pre-commit").read_text()
    customers = "id,name\n1,Ada\n"
    write(repo, "data/raw/customers.csv", customers)
    write(repo, "data/events/clicks.csv", "id,page\n1,/\n")
    git(repo, "add", "data")
    proc = git(repo, "commit", "-q", "-m", "data", check=False)
    assert proc.returncode == 0, proc.stderr
    assert ("example/no-description: dataset 'events' has no description; add description = "
            "\"...\" to [datasets.events] in gitgov.toml") in proc.stderr

    log = json.loads(run(venv, repo, "log", "--json").stdout)
    seen = {e["subject"]: e["payload"] for e in log if e["kind"] == "example_seen"}
    assert seen["data/events/clicks.csv"]["dataset"] == "events"
    assert seen["data/raw/customers.csv"] == {"dataset": "customers", "size": len(customers), "stage": "staged",
                                              "event": "data_added",
                                              "event_subject": "data/raw/customers.csv"}
    added = {e["subject"]: e["payload"] for e in log if e["kind"] == "data_added"}
    def by_example(path: str) -> list:
        return [(f["code"], f["severity"]) for f in added[path]["findings"] if f["plugin"] == "example"]
    assert by_example("data/events/clicks.csv") == [("no-description", "warning")]
    assert by_example("data/raw/customers.csv") == []  # it has a description

    hello = run(venv, repo, "example-hello", "Ada")
    assert (hello.returncode, hello.stdout) == (0, "hello, Ada, from the gitgov example plugin\n")
