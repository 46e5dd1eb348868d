"""The plugin host: how plugins are found, allowed, refused and reported, and what a
user sees when one breaks or hangs during a real `git commit`."""
from __future__ import annotations

import json
import time
from importlib import metadata
from pathlib import Path

import pytest

from conftest import ROOT, git, gitgov, write
from gitgov.core import __version__
from gitgov.core.config import load_policy
from gitgov.core.ledger import open_ledger
from gitgov.core.plugins import ENTRY_POINT_GROUP, load_host

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

# Built by concatenation so that no scanner mistakes this file for a key.
PEM = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAxa1b2c3\n-----END " + "RSA PRIVATE KEY-----\n"
CSV = "customer_id,name\n1,Ada\n2,Grace\n"

WARNS = '''
from gitgov.core.events import warning
from gitgov.core.hookspecs import hookimpl

__version__ = "2.5"

@hookimpl
def data_added(event, ctx):
    return warning("looked", f"rows plugin looked at {event.path}")
'''
RAISES = '''
from gitgov.core.hookspecs import hookimpl

@hookimpl
def data_added(event, ctx):
    raise KeyError("no column named 'age'")
'''
HANGS = '''
import time
from gitgov.core.hookspecs import hookimpl

@hookimpl
def data_added(event, ctx):
    while True:
        time.sleep(0.5)
'''
BROKEN_IMPORT = '''
raise ImportError("pyarrow.compute is required by this plugin")
'''
TYPO = '''
from gitgov.core.hookspecs import hookimpl

@hookimpl
def data_aded(event, ctx):
    pass
'''
WRONG_ARGUMENT = '''
from gitgov.core.hookspecs import hookimpl

@hookimpl
def data_added(evt, ctx):
    pass
'''
NOT_MARKED = '''
def data_added(event, ctx):
    pass
'''
SYNTAX = '''
from gitgov.core.hookspecs import hookimpl

@hookimpl
def data_added(event, ctx)
    pass
'''
WRAPPER = '''
from gitgov.core.hookspecs import hookimpl

@hookimpl(wrapper=True)
def data_added(event, ctx):
    return (yield)
'''


def use_plugins(repo: Path, lines: str, **files: str) -> None:
    """Write local plugin files and put `lines` into gitgov.toml's [plugins] table, all staged
    (a commit beside an unstaged gitgov.toml or an untracked plugin file waits for it)."""
    for name, text in files.items():
        write(repo, f"checks/{name}.py", text)
    policy = repo / "gitgov.toml"
    policy.write_text(policy.read_text().replace("[plugins]\ntimeout = 5\n", f"[plugins]\n{lines}\n"))
    git(repo, "add", "gitgov.toml", *(f"checks/{name}.py" for name in files))


def local(*names: str) -> str:
    return "local = [" + ", ".join(f'"checks/{n}.py"' for n in names) + "]"


def host_of(repo: Path):
    return load_host(load_policy(repo / "gitgov.toml"), repo)


def infos(host) -> dict:
    return {p.name: p for p in host.plugins}


def commit_data(repo: Path, text: str = CSV, path: str = "data/raw/customers.csv", **kw):
    write(repo, path, text)
    git(repo, "add", path)
    return git(repo, "commit", "-q", "-m", "data", check=False, **kw)


def ledger(repo: Path, kind: str) -> list:
    with open_ledger(repo / ".gitgov" / "ledger.db") as led:
        return list(led.entries(kind=kind, newest_first=False))


# ---- discovery ------------------------------------------------------------------------

def test_builtin_plugins_register_through_the_gitgov_entry_point_group(repo):
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["gitgov"]
    assert "secrets" in declared
    found = {ep.name: ep.value for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert declared.items() <= found.items()  # nothing is registered behind the entry points' back
    plugins = infos(host_of(repo))
    for name, module in declared.items():
        info = plugins[name]
        assert (info.origin, info.resolve_version(), info.module, info.error) == ("built-in", __version__, module, None)
        assert info.hooks and info.enabled


def test_local_plugin_files_named_in_gitgov_toml_load(repo):
    use_plugins(repo, local("rows"), rows=WARNS)
    info = infos(host_of(repo))["rows"]
    assert (info.origin, info.resolve_version(), info.module, info.hooks, info.error) == (
        "local", "2.5", "checks/rows.py", ["data_added"], None)


BUILTINS = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["gitgov"])


@pytest.mark.parametrize("lines, env, running", [
    ("", "", BUILTINS | {"rows"}),
    ('enable = ["rows"]', "", {"rows"}),
    ('disable = ["secrets"]', "", BUILTINS - {"secrets"} | {"rows"}),
    ('enable = ["rows", "secrets"]\ndisable = ["rows"]', "", {"secrets"}),  # disable wins
    ("", "secrets", BUILTINS - {"secrets"} | {"rows"}),
    ("", " rows , secrets ", BUILTINS - {"secrets"}),
])
def test_enable_disable_and_gitgov_disable_choose_what_runs(repo, monkeypatch, lines, env, running):
    use_plugins(repo, local("rows") + "\n" + lines, rows=WARNS)
    monkeypatch.setenv("GITGOV_DISABLE", env)
    host = host_of(repo)
    assert {p.name for p in host.plugins if p.enabled} == running
    assert {p.name for p in host.plugins} == BUILTINS | {"rows"}  # listed, even when off
    assert {name for name, _ in host.pm.list_name_plugin()} == running


def test_gitgov_disable_works_outside_a_repository(tmp_path, monkeypatch):
    monkeypatch.setenv("GITGOV_DISABLE", "secrets")
    proc = gitgov(tmp_path, "plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    [secrets] = [p for p in json.loads(proc.stdout) if p["name"] == "secrets"]
    assert secrets["enabled"] is False


@pytest.mark.parametrize("source, expected", [
    (TYPO, "LookupError: implements unknown hook(s): data_aded"),
    (BROKEN_IMPORT, "ImportError: pyarrow.compute is required by this plugin"),
    (WRONG_ARGUMENT, "Argument(s) {'evt'} are declared in the hookimpl but can not be found in the hookspec"),
    (NOT_MARKED, "implements no hook (mark hook functions with @hookimpl"),
    (SYNTAX, "SyntaxError: expected ':' (bad.py, line 5)"),
    (WRAPPER, "hook wrappers are not supported: data_added"),
], ids=["typo", "import-error", "wrong-argument", "not-marked", "syntax-error", "wrapper"])
def test_a_plugin_that_cannot_load_is_reported_in_one_line_and_skipped(repo, source, expected):
    use_plugins(repo, local("bad", "rows"), bad=source, rows=WARNS)
    host = host_of(repo)
    bad = infos(host)["bad"]
    assert expected in bad.error and "\n" not in bad.error
    assert bad.hooks == [] and not host.pm.has_plugin("bad")
    assert [p.name for p in host.load_errors] == ["bad"]
    assert {"secrets", "rows"} <= {name for name, _ in host.pm.list_name_plugin()}


def test_a_local_plugin_cannot_take_a_loaded_plugins_name_or_be_missing(repo):
    write(repo, "checks/secrets.py", WARNS)
    (repo / "checks" / "pkg.py").mkdir()
    use_plugins(repo, 'local = ["checks/secrets.py", "checks/gone.py", "checks/pkg.py"]')
    plugins = [p for p in host_of(repo).plugins if p.name in ("secrets", "gone", "pkg")]
    assert [(p.name, p.origin, p.error) for p in plugins] == [
        ("secrets", "built-in", None),
        ("secrets", "local", "LookupError: another plugin named 'secrets' is already loaded"),
        ("gone", "local", "FileNotFoundError: no such plugin file: checks/gone.py (listed in [plugins] local)"),
        ("pkg", "local", "IsADirectoryError: checks/pkg.py is a folder, not a Python file (listed in [plugins] local)"),
    ]


def test_a_typo_in_enable_is_reported_with_the_nearest_name(repo):
    use_plugins(repo, 'enable = ["secret"]\ndisable = ["not-installed-here"]')
    plugins = infos(host_of(repo))
    assert plugins["secrets"].enabled is False  # what the typo did: worth telling
    assert plugins["secret"].origin == "unknown" and plugins["secret"].error == (
        "named in [plugins] enable in gitgov.toml, but no plugin has this name "
        "(did you mean 'secrets'?)")
    assert "not-installed-here" not in plugins  # disabling what is absent is harmless


def test_a_typo_in_enable_blocks_governed_data_and_lets_other_commits_go_on(initialized, tmp_path):
    """A typo turns the intended plugin off: what it checks would go unchecked."""
    use_plugins(initialized, 'enable = ["secret"]')
    missing = "plugin 'secret' is named in [plugins] enable in gitgov.toml, but no plugin has this name"
    policy = git(initialized, "commit", "-q", "-m", "typo", check=False)  # the typo itself waits
    assert policy.returncode == 1 and f"gitgov/plugin-missing: {missing}" in policy.stderr
    git(initialized, "commit", "-q", "--no-verify", "-m", "typo")
    write(initialized, "README.md", "notes\n")
    git(initialized, "add", "README.md")
    other = git(initialized, "commit", "-q", "-m", "notes", check=False)
    assert other.returncode == 0 and "plugin-missing" not in other.stderr, other.stderr
    proc = commit_data(initialized)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("plugin 'secret'") == 1  # said once, as the error
    assert (f"error   gitgov/plugin-missing: {missing} (did you mean 'secrets'?); what it checks "
            "would go unchecked: correct the name, or install the plugin") in proc.stderr
    assert git(initialized, "log", "-1", "--format=%s").stdout.strip() == "notes"
    # The same data committed with --no-verify waits at pre-push.
    git(tmp_path, "init", "-q", "--bare", str(tmp_path / "remote.git"))
    git(initialized, "commit", "-q", "--no-verify", "-m", "data")
    push = git(initialized, "push", str(tmp_path / "remote.git"), "HEAD:main", check=False)
    assert push.returncode != 0 and "gitgov/plugin-missing" in push.stderr, push.stderr


def test_gitgov_disable_in_a_hook_is_said_not_silent(initialized):
    """It skips part of the check as --no-verify skips all of it: the commit says so."""
    write(initialized, "docs/deploy.md", "# deploy\n\n" + PEM)
    git(initialized, "add", "docs/deploy.md")
    proc = git(initialized, "commit", "-q", "-m", "deploy", check=False,
               env={**_env(), "GITGOV_DISABLE": "secrets"})
    assert proc.returncode == 0, proc.stderr
    assert ("gitgov: warning: GITGOV_DISABLE turns off secrets for this commit: what it checks is "
            "not checked here") in proc.stderr


# ---- gitgov plugins ----------------------------------------------------------------------

def test_gitgov_plugins_lists_name_version_origin_hooks_and_errors(repo):
    use_plugins(repo, local("rows", "bad"), rows=WARNS, bad=TYPO)
    proc = gitgov(repo, "plugins")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["name", "version", "origin", "enabled", "hooks", "error"]
    rows = {line.split()[0]: line.split(None, 5) for line in lines[2:]}
    assert rows["secrets"][:5] == ["secrets", __version__, "built-in", "yes", "data_added"]
    assert rows["rows"][:5] == ["rows", "2.5", "local", "yes", "data_added"]
    assert rows["bad"][:5] == ["bad", "-", "local", "yes", "-"]
    assert rows["bad"][5] == "LookupError: implements unknown hook(s): data_aded (see gitgov.core.hookspecs)"

    listed = json.loads(gitgov(repo, "plugins", "--json", check=True).stdout)
    by_name = {p["name"]: p for p in listed}
    assert by_name["rows"] == {"name": "rows", "origin": "local", "version": "2.5",
                               "module": "checks/rows.py", "hooks": ["data_added"], "error": None,
                               "enabled": True}
    assert by_name["secrets"]["origin"] == "built-in" and by_name["secrets"]["error"] is None
    assert "data_aded" in by_name["bad"]["error"] and by_name["bad"]["hooks"] == []


# ---- what the user sees during a real commit -----------------------------------------------

def test_a_raising_plugin_blocks_with_a_message_not_a_traceback(initialized):
    use_plugins(initialized, local("broken", "rows"), broken=RAISES, rows=WARNS)
    proc = commit_data(initialized)
    assert proc.returncode == 1
    assert ("error   broken/plugin-error: plugin 'broken' failed in data_added: "
            "KeyError: \"no column named 'age'\"") in proc.stderr
    assert "rows/looked: rows plugin looked at data/raw/customers.csv" in proc.stderr  # still ran
    assert "Traceback" not in proc.stderr
    assert git(initialized, "log", "--format=%s").stdout.split() == ["policy"]
    [entry] = ledger(initialized, "data_added")
    found = {f["plugin"]: f["code"] for f in entry.payload["findings"]}
    assert (found["broken"], found["rows"]) == ("plugin-error", "looked")


def test_gitgov_debug_shows_the_plugins_traceback_during_a_commit(initialized):
    use_plugins(initialized, local("broken"), broken=RAISES)
    proc = commit_data(initialized, env={**_env(), "GITGOV_DEBUG": "1"})
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert "checks/broken.py\", line 6, in data_added" in proc.stderr
    assert "broken/plugin-error" in proc.stderr


def test_a_hanging_plugin_is_stopped_at_the_configured_timeout(initialized):
    use_plugins(initialized, "timeout = 1\n" + local("hangs", "rows"), hangs=HANGS, rows=WARNS)
    started = time.monotonic()
    proc = commit_data(initialized, timeout=60)
    took = time.monotonic() - started
    assert proc.returncode == 1
    assert took < 8, f"the commit took {took:.1f} s"  # 1 s deadline plus start-up, not forever
    assert ("error   hangs/plugin-timeout: plugin 'hangs' did not answer data_added within 1 s "
            "and was stopped") in proc.stderr
    assert "rows/looked" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert git(initialized, "log", "--format=%s").stdout.split() == ["policy"]


def test_a_plugin_that_fails_to_import_blocks_governed_data_and_no_other_change(initialized):
    """What it checks would go unchecked, as with a name in `enable` that matches no plugin
    (and the server refuses such a push): governed data waits; other changes go on."""
    use_plugins(initialized, local("broken"), broken=BROKEN_IMPORT)
    proc = commit_data(initialized)
    assert proc.returncode == 1
    assert ("gitgov: warning: plugin 'broken' (local) was skipped: "
            "ImportError: pyarrow.compute is required by this plugin") in proc.stderr
    assert ("gitgov/plugin-not-loaded: plugin 'broken' (local) could not be loaded: ImportError: "
            "pyarrow.compute is required by this plugin; what it checks would go unchecked") in proc.stderr
    assert git(initialized, "log", "--format=%s").stdout.split() == ["policy"]
    git(initialized, "reset", "-q")
    write(initialized, "notes.txt", "plain notes\n")
    git(initialized, "add", "notes.txt")
    assert git(initialized, "commit", "-q", "-m", "notes", check=False).returncode == 0


def test_gitgov_trace_prints_every_hook_call_of_a_commit(initialized):
    use_plugins(initialized, local("rows", "records") + '\nenable = ["secrets", "rows", "records"]',
                rows=WARNS, records=RECORDS)
    proc = commit_data(initialized, env={**_env(), "GITGOV_TRACE": "1"})
    assert proc.returncode == 0, proc.stderr
    calls = [line.split(" -> ")[0] for line in proc.stderr.splitlines()
             if line.startswith("gitgov trace:")]
    sha = git(initialized, "rev-parse", "HEAD").stdout.strip()
    path = "data/raw/customers.csv"
    assert calls == [f"gitgov trace: secrets.data_added(data_added {path})",  # pre-commit
                     f"gitgov trace: rows.data_added(data_added {path})",
                     f"gitgov trace: records.data_added(data_added {path})",
                     f"gitgov trace: records.commit_created(commit_created {sha})"]  # post-commit
    assert "-> ok [" in proc.stderr


# ---- each git-fired hook, through a real repository ------------------------------------------

RECORDS = '''
from gitgov.core.events import Fact, error
from gitgov.core.hookspecs import hookimpl

@hookimpl
def data_added(event, ctx):
    return Fact(kind="seen_added", subject=event.path,
                payload={"blob": event.blob, "stage": event.stage, "size": event.size})

@hookimpl
def data_removed(event, ctx):
    return Fact(kind="seen_removed", subject=event.path, payload={"dataset": event.dataset})

@hookimpl
def commit_created(event, ctx):
    return Fact(kind="seen_commit", subject=event.sha,
                payload={"paths": [c.path for c in event.changes], "message": event.message})

@hookimpl
def push_requested(event, ctx):
    if any(r.ref == "refs/heads/frozen" for r in event.refs):
        return error("frozen", "pushes to frozen are refused")
    return Fact(kind="seen_push", subject=event.remote, payload={"refs": [r.ref for r in event.refs]})
'''


def test_hook_data_added_and_hook_commit_created_see_a_real_commit(initialized):
    use_plugins(initialized, local("records"), records=RECORDS)
    assert commit_data(initialized).returncode == 0
    blob = git(initialized, "rev-parse", "HEAD:data/raw/customers.csv").stdout.strip()
    sha = git(initialized, "rev-parse", "HEAD").stdout.strip()
    [added] = ledger(initialized, "seen_added")
    assert added.subject == "data/raw/customers.csv"
    assert added.payload == {"blob": blob, "stage": "staged", "size": len(CSV),
                             "event": "data_added", "event_subject": "data/raw/customers.csv"}
    [commit] = ledger(initialized, "seen_commit")
    assert commit.subject == sha and commit.payload["paths"] == ["data/raw/customers.csv"]
    assert commit.payload["message"].strip() == "data"


def test_hook_data_removed_sees_a_deleted_dataset_file(initialized):
    use_plugins(initialized, local("records"), records=RECORDS)
    assert commit_data(initialized).returncode == 0
    git(initialized, "rm", "-q", "data/raw/customers.csv")
    assert git(initialized, "commit", "-q", "-m", "drop", check=False).returncode == 0
    [removed] = ledger(initialized, "seen_removed")
    assert removed.subject == "data/raw/customers.csv" and removed.payload["dataset"] == "customers"


def test_hook_push_requested_sees_the_refs_and_can_block(initialized, tmp_path):
    use_plugins(initialized, local("records"), records=RECORDS)
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(initialized, "remote", "add", "origin", str(bare))
    assert git(initialized, "push", "-q", "origin", "main", check=False).returncode == 0
    [push] = ledger(initialized, "seen_push")
    assert push.subject == "origin" and push.payload["refs"] == ["refs/heads/main"]
    refused = git(initialized, "push", "-q", "origin", "main:frozen", check=False)
    assert refused.returncode != 0 and "records/frozen: pushes to frozen are refused" in refused.stderr
    assert git(tmp_path, "--git-dir", str(bare), "branch", "--list", "frozen").stdout == ""


COMMANDS = '''
import click
from gitgov.core.hookspecs import hookimpl

@hookimpl
def register_commands(cli):
    @cli.command("rows-count")
    @click.argument("path")
    def rows_count(path):
        """Count the data rows of a CSV file."""
        with open(path) as f:
            click.echo(f"{path}: {sum(1 for _ in f) - 1} rows")
'''
NO_COMMANDS = '''
from gitgov.core.hookspecs import hookimpl

@hookimpl
def register_commands(cli):
    raise RuntimeError("cannot add commands today")
'''


def test_hook_register_commands_adds_a_command_and_a_failure_costs_only_that(repo):
    use_plugins(repo, local("counts", "broken"), counts=COMMANDS, broken=NO_COMMANDS)
    write(repo, "data/raw/customers.csv", CSV)
    proc = gitgov(repo, "rows-count", "data/raw/customers.csv")
    assert (proc.returncode, proc.stdout) == (0, "data/raw/customers.csv: 2 rows\n"), proc.stderr
    assert ("gitgov: warning: plugin 'broken' failed in register_commands: "
            "RuntimeError: cannot add commands today") in proc.stderr
    assert "rows-count" in gitgov(repo, "--help").stdout
    assert "Count the data rows" in gitgov(repo, "rows-count", "--help").stdout


HANGS_AT_COMMANDS = '''
import time
from gitgov.core.hookspecs import hookimpl

@hookimpl
def register_commands(cli):
    time.sleep(60)
'''
EXITS_AT_COMMANDS = HANGS_AT_COMMANDS.replace("time.sleep(60)", "raise SystemExit(3)")


def test_a_plugin_stuck_or_exiting_in_register_commands_costs_the_deadline_and_a_line(repo):
    use_plugins(repo, local("stuck", "quits") + "\ntimeout = 1", stuck=HANGS_AT_COMMANDS,
                quits=EXITS_AT_COMMANDS)
    started = time.monotonic()
    proc = gitgov(repo, "stuck-command")
    assert time.monotonic() - started < 20  # the 1 s deadline, not the 60 s sleep
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert "gitgov: warning: plugin 'stuck' did not answer register_commands within 1 s" in lines[0]
    assert "gitgov: warning: plugin 'quits' failed in register_commands: SystemExit: 3" in lines[1]
    assert lines[2] == ("gitgov: No such command 'stuck-command' (the plugins 'stuck', 'quits' "
                        "failed to add their commands: see the warnings above) (see `gitgov --help`)")


PRINTS = '''
import json

import click
from gitgov.core.hookspecs import hookimpl
print("NOISE at import")

@hookimpl
def data_added(event, ctx):
    print("NOISE in data_added")

@hookimpl
def register_commands(cli):
    @cli.command("noisy-stats")
    @click.option("--json", "as_json", is_flag=True)
    def stats(as_json):
        click.echo(json.dumps({"files": 1}))
'''


def test_a_plugin_that_prints_leaves_json_output_to_the_document(repo):
    use_plugins(repo, local("noisy") + '\nenable = ["noisy", "validation"]', noisy=PRINTS)
    write(repo, "data/raw/customers.csv", CSV)
    check = gitgov(repo, "check", "--json", "data/raw/customers.csv")
    assert json.loads(check.stdout)["files"][0]["path"] == "data/raw/customers.csv"  # nothing else
    assert "NOISE at import" in check.stderr and "NOISE in data_added" in check.stderr
    listing = gitgov(repo, "plugins", "--json")
    assert "noisy" in {p["name"] for p in json.loads(listing.stdout)}
    assert "NOISE at import" in listing.stderr
    own = gitgov(repo, "noisy-stats", "--json")  # a plugin's own command prints where it means to
    assert json.loads(own.stdout) == {"files": 1} and "NOISE at import" in own.stderr


def test_an_unknown_command_never_imports_a_plugin_turned_off_by_name(repo):
    marker = repo / "imported.txt"
    code = f"open({str(marker)!r}, 'w').write('imported')\n" + PRINTS
    use_plugins(repo, local("noisy") + '\nenable = ["secrets"]\ndisable = ["noisy"]', noisy=code)
    proc = gitgov(repo, "noisy-stats")
    assert proc.returncode == 2 and "'noisy' ([plugins] disable), turned off here" in proc.stderr
    assert not marker.exists()
    policy = repo / "gitgov.toml"  # only left out of enable: asked what it adds
    policy.write_text(policy.read_text().replace('disable = ["noisy"]\n', ""))
    proc = gitgov(repo, "noisy-stats")
    assert "it comes with the plugin 'noisy', which is not enabled here" in proc.stderr
    assert marker.exists()


READS_LEDGER = '''
from gitgov.core.events import Fact
from gitgov.core.hookspecs import hookimpl

@hookimpl
def data_added(event, ctx):
    seq, _id = ctx.ledger().head()
    return Fact(kind="head_seen", subject=event.path, payload={"seq": seq})
'''


def test_a_plugin_can_read_the_ledger_during_a_commit(initialized):
    use_plugins(initialized, local("reads"), reads=READS_LEDGER)
    proc = commit_data(initialized)
    assert proc.returncode == 0, proc.stderr
    [seen] = ledger(initialized, "head_seen")
    assert seen.payload["seq"] >= 1


def _env() -> dict:
    import os
    return dict(os.environ)
