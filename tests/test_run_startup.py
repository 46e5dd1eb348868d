"""What keeps `gitgov run` quick must not change what it does: its own option
reader agrees with click, entry points are read as importlib.metadata reads
them, the hook cache notices a plugin that changed, the folder scan finds what
os.walk found, and the store keeps exactly the bytes it names."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import click
import pytest

from gitgov.core import run_request, runs
from gitgov.core.commands.run_cmds import run_cmd
from gitgov.core.entrypoints import EntryPoint, HookCache, entry_points
from gitgov.core.plugins import load_host
from gitgov.core.run_io import scan
from gitgov.core.store import ObjectStore, hash_file


def click_request(args: list[str], monkeypatch) -> run_request.RunRequest | str:
    """What `gitgov run ARGS` gives through click: the request, or click's error."""
    seen: list[run_request.RunRequest] = []
    monkeypatch.setattr(runs, "start", lambda request: seen.append(request) or 0)
    try:
        run_cmd.main(args=list(args), prog_name="gitgov run", standalone_mode=False)
    except click.ClickException as exc:
        return exc.format_message()
    return seen[0]


@pytest.mark.parametrize("args", [
    ["--", "python", "-c", "pass"],
    ["python", "train.py", "--name", "inner"],
    ["--name", "a", "--seed", "5", "--", "x", "--seed", "9"],
    ["--name=a", "--param", "lr=0.1", "--param=layers=[1,2]", "--input", "d.csv", "--output=o", "--", "x"],
    ["--seed", "1", "--seed", "2", "--name", "-x", "cmd"],
    [], ["--"],
])
def test_run_options_are_read_as_click_reads_them(args, monkeypatch):
    assert run_request.fast_request(args) == click_request(args, monkeypatch)


@pytest.mark.parametrize("args", [
    ["--help"], ["--seed", "abc", "x"], ["--name"], ["--bogus", "x"], ["--name", "--", "x"],
])
def test_unusual_run_options_are_left_to_click(args):
    assert run_request.fast_request(args) is None  # click then says what is wrong, as before


def test_params_file_and_params_merge_as_with_click(tmp_path, monkeypatch):
    (tmp_path / "p.json").write_text('{"lr": 0.5, "epochs": 3}')
    args = ["--params-file", str(tmp_path / "p.json"), "--param", "lr=0.1", "x"]
    fast = run_request.fast_request(args)
    assert fast == click_request(args, monkeypatch)
    assert fast.params == {"lr": 0.1, "epochs": 3}


def test_entry_points_are_those_importlib_metadata_finds():
    for group in ("gitgov", "console_scripts"):
        ours = sorted((ep.name, ep.value) for ep in entry_points(group))
        theirs = sorted((ep.name, ep.value) for ep in metadata.entry_points(group=group))
        assert ours == theirs and ours
    [snapshot] = [ep for ep in entry_points("gitgov") if ep.name == "snapshot"]
    assert snapshot.load().__name__ == "gitgov.plugins.snapshot"
    assert snapshot.dist.version == metadata.version("gitgov")


PLUGIN = '''\
from gitgov.core.hookspecs import hookimpl

@hookimpl
def {hook}(event, ctx):
    return None
'''


def test_the_hook_cache_skips_plugins_without_the_hooks_until_they_change(tmp_path, monkeypatch):
    (tmp_path / ".gitgov" / "cache").mkdir(parents=True)
    module = tmp_path / "lib" / "cached_probe_plugin.py"
    module.parent.mkdir()
    module.write_text(PLUGIN.format(hook="data_added"))
    monkeypatch.syspath_prepend(str(module.parent))
    probe = EntryPoint("probe", "cached_probe_plugin", "gitgov", None)
    monkeypatch.setattr("gitgov.core.plugins.entry_points", lambda group, cache=None: [probe])
    loads: list[str] = []
    real_load = EntryPoint.load
    monkeypatch.setattr(EntryPoint, "load", lambda ep: loads.append(ep.name) or real_load(ep))

    def run_host():
        return {name for name, _ in load_host(None, tmp_path, hooks=runs.RUN_HOOKS).pm.list_name_plugin()}

    assert run_host() == set() and loads == ["probe"]  # seen once, then remembered
    assert HookCache.for_root(tmp_path).hooks(probe) == {"data_added"}
    assert run_host() == set() and loads == ["probe"]  # not imported again
    module.write_text(PLUGIN.format(hook="run_finished") + "\n")  # a new size: a new stamp
    sys.modules.pop("cached_probe_plugin", None)
    assert run_host() == {"probe"} and loads == ["probe", "probe"]
    assert json.loads((tmp_path / ".gitgov/cache/plugin-hooks.json").read_text())[
        "cached_probe_plugin"]["hooks"] == ["run_finished"]


def test_the_hook_cache_sees_a_change_beside_the_entry_points_module(tmp_path, monkeypatch):
    """`pkg.plugin` doing `from pkg.impl import *`: a hook added to pkg/impl.py counts."""
    (tmp_path / ".gitgov" / "cache").mkdir(parents=True)
    pkg = tmp_path / "lib" / "sibling_probe_pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "plugin.py").write_text("from sibling_probe_pkg.impl import *  # noqa\n")
    (pkg / "impl.py").write_text(PLUGIN.format(hook="data_added"))
    monkeypatch.syspath_prepend(str(pkg.parent))
    probe = EntryPoint("probe", "sibling_probe_pkg.plugin", "gitgov", None)
    monkeypatch.setattr("gitgov.core.plugins.entry_points", lambda group, cache=None: [probe])

    def run_host():
        return {name for name, _ in load_host(None, tmp_path, hooks=runs.RUN_HOOKS).pm.list_name_plugin()}

    assert run_host() == set()
    (pkg / "impl.py").write_text(PLUGIN.format(hook="run_started") + "\n")
    for name in ("sibling_probe_pkg.plugin", "sibling_probe_pkg.impl"):
        sys.modules.pop(name, None)
    assert run_host() == {"probe"}


def test_the_scan_sees_matching_files_and_skips_links_to_folders_and_state(tmp_path):
    for rel in ("data/a/x.csv", "data/a/b/y.csv", "data/notes.txt", ".gitgov/objects/z.csv",
                "models/m.bin", "metrics.json", "src/z.csv"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)
    (tmp_path / "data" / "loop").symlink_to(tmp_path / "data" / "a")
    found = scan(tmp_path, ["data/**/*.csv", "models/**", "metrics.json"])
    assert sorted(found) == ["data/a/b/y.csv", "data/a/x.csv", "metrics.json", "models/m.bin"]
    st = (tmp_path / "models/m.bin").stat()
    assert found["models/m.bin"] == (st.st_size, st.st_mtime_ns, st.st_ino)
    assert sorted(scan(tmp_path, ["**/*.csv"])) == ["data/a/b/y.csv", "data/a/x.csv", "src/z.csv"]


@pytest.mark.parametrize("size", [0, 5, (1 << 20) + 3, (9 << 20) + 1])  # one read, or copy and hash at once
def test_a_copied_object_holds_exactly_the_bytes_its_name_says(tmp_path, size):
    data = os.urandom(size)
    src = tmp_path / "out.bin"
    src.write_bytes(data)
    stored = ObjectStore(tmp_path / "objects", link="copy").put(src)
    assert (stored.sha256, stored.size, stored.how) == (hashlib.sha256(data).hexdigest(), size, "copy")
    assert ObjectStore(tmp_path / "objects").path(stored.sha256).read_bytes() == data


def test_a_known_hash_is_not_computed_again(tmp_path, monkeypatch):
    src = tmp_path / "out.bin"
    src.write_bytes(os.urandom(1 << 16))
    known = hash_file(src)
    monkeypatch.setattr("gitgov.core.store.hash_file", lambda *a, **k: pytest.fail("hashed twice"))
    for link in ("copy", "hardlink"):
        stored = ObjectStore(tmp_path / f"objects-{link}", link=link).put(src, known=known)
        assert (stored.sha256, stored.how) == (known.sha256, link)
        os.chmod(src, 0o644)
    assert Path(tmp_path / "objects-copy" / known.sha256[:2] / known.sha256[2:]).read_bytes() == src.read_bytes()


def test_which_finds_what_shutil_which_finds(tmp_path, monkeypatch):
    import shutil

    from gitgov.core.process import which

    first, second = tmp_path / "a", tmp_path / "b"
    for folder in (first, second):
        folder.mkdir()
    (first / "tool").write_text("#!/bin/sh\n")  # not executable: skipped
    (second / "tool").write_text("#!/bin/sh\n")
    (second / "tool").chmod(0o755)
    (first / "dir").mkdir()  # a folder is never a command
    (tmp_path / "here").write_text("#!/bin/sh\n")
    (tmp_path / "here").chmod(0o755)
    monkeypatch.chdir(tmp_path)
    path = os.pathsep.join([str(first), "", str(second)])  # "": the current folder
    for name in ("tool", "dir", "here", "missing", str(second / "tool"), str(first / "tool")):
        assert which(name, path=path) == shutil.which(name, path=path), name
    assert which("tool", path=path) == str(second / "tool") and which("here", path=path) == "here"


@pytest.mark.parametrize("extra", [(), ("MY_*",), ("EXACT", "A?C", "[XY]_VAR", "*_HOME", "*")])
def test_the_env_allow_list_matches_as_fnmatch_does(extra):
    import fnmatch
    import re

    from gitgov.core.runenv import DEFAULT_ENV_ALLOW, allowed_env, is_secret_name

    environ = {name: "v" for name in (
        "LANG", "LANGX", "LC_ALL", "LC_", "lc_all", "PATH", "PYTHONPATH", "PYTHON", "XPYTHON", "OMP_NUM",
        "MY_VAR", "MY", "EXACT", "EXACTLY", "ABC", "AXC", "AC", "X_VAR", "Z_VAR", "JAVA_HOME", "HOME",
        "CUDA_VISIBLE_DEVICES", "TF_API_KEY", "GITGOV_SEED", "a*b", "")}
    reference = re.compile("|".join(fnmatch.translate(p) for p in (*DEFAULT_ENV_ALLOW, *extra)))
    expected = {k: v for k, v in sorted(environ.items()) if reference.match(k) and not is_secret_name(k)}
    assert allowed_env(environ, extra) == expected
    assert list(allowed_env(environ, extra)) == list(expected)  # sorted, as recorded before


def test_version_loads_no_plugin_while_help_lists_their_commands(tmp_path):
    """`gitgov --version` answers without importing every plugin; --help still needs them."""
    probe = ("import sys\nfrom gitgov.core.cli import main\ncode = main(sys.argv[1:])\n"
             "print(code, sorted(m for m in sys.modules if m.startswith('gitgov.plugins.')))\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    version = subprocess.run([sys.executable, "-c", probe, "--version"], cwd=tmp_path, env=env,
                             capture_output=True, text=True)
    assert version.stdout.splitlines()[0].startswith("gitgov, version ")
    assert version.stdout.splitlines()[-1] == "0 []"
    helped = subprocess.run([sys.executable, "-c", probe, "--help"], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert "check" in helped.stdout and "gitgov.plugins.validation" in helped.stdout.splitlines()[-1]


def _dist(site: Path, name: str, module: str) -> None:
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "entry_points.txt").write_text(f"[gitgov.plugins]\n{name} = {module}\n")


def test_entry_points_are_remembered_until_a_folder_on_the_path_changes(tmp_path, monkeypatch):
    from gitgov.core import entrypoints

    (tmp_path / ".gitgov" / "cache").mkdir(parents=True)
    site = tmp_path / "site"
    site.mkdir()
    _dist(site, "alpha", "alpha_plugin")
    old = 1_600_000_000_000_000_000
    os.utime(site, ns=(old, old))  # installed long ago
    monkeypatch.setattr(sys, "path", [str(site)])
    reads: list[str] = []
    real_read = entrypoints._read
    monkeypatch.setattr(entrypoints, "_read", lambda path, *a: reads.append(path) or real_read(path, *a))

    def found() -> list[tuple[str, str]]:
        cache = HookCache.for_root(tmp_path)
        points = entry_points("gitgov.plugins", cache)
        cache.save()
        return [(ep.name, ep.value) for ep in points]

    assert found() == [("alpha", "alpha_plugin")] and len(reads) == 1
    assert found() == [("alpha", "alpha_plugin")] and len(reads) == 1  # from the cache
    _dist(site, "beta", "beta_plugin")  # `pip install` adds a folder: the site's mtime moves
    os.utime(site, ns=(old + 10**9, old + 10**9))
    assert found() == [("alpha", "alpha_plugin"), ("beta", "beta_plugin")] and len(reads) == 3
    shutil.rmtree(site / "alpha-1.0.dist-info")  # and `pip uninstall` removes one
    os.utime(site, ns=(old + 2 * 10**9, old + 2 * 10**9))
    assert found() == [("beta", "beta_plugin")]


def test_a_folder_changed_moments_ago_is_read_every_time(tmp_path, monkeypatch):
    from gitgov.core import entrypoints

    (tmp_path / ".gitgov" / "cache").mkdir(parents=True)
    site = tmp_path / "site"
    site.mkdir()
    _dist(site, "alpha", "alpha_plugin")  # its mtime is now: a change in the same tick would go unseen
    monkeypatch.setattr(sys, "path", [str(site)])
    cache = HookCache.for_root(tmp_path)
    assert [ep.name for ep in entry_points("gitgov.plugins", cache)] == ["alpha"]
    assert not cache.changed and entrypoints.RACY_NS >= 10**9


def test_every_command_reads_the_entry_points_from_the_cache(tmp_path, monkeypatch):
    """Not only `gitgov run` (a subset of hooks): a command that loads every plugin, as
    `gitgov check` does twice, scans the installed distributions once, then not again."""
    from gitgov.core import entrypoints

    (tmp_path / ".gitgov" / "cache").mkdir(parents=True)
    scans: list[str] = []
    real_scan = entrypoints._scan
    monkeypatch.setattr(entrypoints, "_scan", lambda group: scans.append(group) or real_scan(group))
    old = 1_600_000_000_000_000_000
    monkeypatch.setattr(entrypoints, "RACY_NS", -old)  # this test's folders count as settled

    def every_plugin() -> set[str]:
        return {name for name, _ in load_host(None, tmp_path).pm.list_name_plugin()}

    first = every_plugin()
    assert {"validation", "snapshot", "secrets"} <= first and scans == ["gitgov"]
    assert every_plugin() == first and scans == ["gitgov"]  # the second host: from the cache
    saved = json.loads((tmp_path / ".gitgov/cache/plugin-hooks.json").read_text())
    assert "validation" in {name for name, *_ in saved["[entry points] gitgov"]["points"]}
