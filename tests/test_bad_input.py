"""Bad input: each case gets one clear line, the right exit code and no partial state.

Exit codes: 2 for bad input (a broken gitgov.toml, a ledger that is not one),
1 for a policy block. A Git hook's own exit code is read by running the
installed hook file directly; `git commit` itself always exits 1 when a hook fails.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import git, gitgov, write, pin_secrets
from gitgov.core.ledger import open_ledger

CSV = "customer_id,name\n1,Ada\n"
GOVERNED = "data/raw/customers.csv"


@pytest.fixture
def repo(repo: Path) -> Path:
    """conftest's repo, checked by the secrets plugin alone."""
    return pin_secrets(repo)


def rev(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").stdout.strip()


def hook(repo: Path, name: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Run the installed hook file itself, as git would, to see its exit code."""
    path = repo / git(repo, "rev-parse", "--git-path", f"hooks/{name}").stdout.strip()
    return subprocess.run([*prefix, str(path)], cwd=repo, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


def journal_size(repo: Path) -> int:
    with open_ledger(repo / ".gitgov" / "ledger.db") as ledger:
        return ledger.head()[0]


def refused_commit(repo: Path, path: str, text: str,
                   prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Stage `path`, try to commit (under `prefix`, e.g. setpriv), and check nothing moved."""
    head, pending = rev(repo), repo / ".gitgov" / "state" / "pending-commit"
    write(repo, path, text)
    git(repo, "add", path)
    proc = subprocess.run([*prefix, "git", "commit", "-q", "-m", "attempt"], cwd=repo,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert proc.returncode != 0
    assert rev(repo) == head and not pending.exists()
    return proc


def hooks_installed(repo: Path) -> list[str]:
    hooks = repo / ".git" / "hooks"
    return sorted(p.name for p in hooks.iterdir() if not p.name.endswith(".sample"))


# ---- a broken gitgov.toml -------------------------------------------------------------

def test_commit_with_a_toml_syntax_error_stops_with_file_and_line(initialized):
    policy = initialized / "gitgov.toml"
    policy.write_text(policy.read_text().replace('customers*.csv"]', 'customers*.csv"'))
    before = journal_size(initialized)
    proc = refused_commit(initialized, "README.md", "# hello\n")  # even ungoverned files
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gitgov: gitgov.toml:4: TOML syntax error at column ")
    assert journal_size(initialized) == before
    direct = hook(initialized, "pre-commit")
    assert direct.returncode == 2 and direct.stderr == proc.stderr


def test_commit_with_an_unknown_key_suggests_the_right_one(initialized):
    policy = initialized / "gitgov.toml"
    policy.write_text(policy.read_text().replace("classification =", "clasification ="))
    proc = refused_commit(initialized, GOVERNED, CSV)
    assert proc.stderr.splitlines() == [
        "gitgov: gitgov.toml:5: datasets.customers.clasification: unknown key "
        "(did you mean 'classification'?)"]
    assert hook(initialized, "pre-commit").returncode == 2


def test_init_with_a_broken_policy_creates_nothing(repo):
    write(repo, "gitgov.toml", '[datasets.customers]\npaths = ["data/**.csv"]\n')
    proc = gitgov(repo, "init")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "gitgov: gitgov.toml:2: datasets.customers.paths[0]: bad glob 'data/**.csv': "
        "'**' must be a whole path segment, as in 'data/**/*.csv'"]
    assert not (repo / ".gitgov").exists() and not (repo / ".gitignore").exists()
    assert hooks_installed(repo) == []


@pytest.mark.parametrize("value, rule", [
    ("nan", "expected a finite number, not nan"),
    ("inf", "expected a finite number, not inf"),
    ("1e10", "must be at most 86400 seconds (a day)"),
])
def test_commit_with_a_timeout_no_clock_can_wait_names_the_key(initialized, value, rule):
    policy = initialized / "gitgov.toml"
    policy.write_text(policy.read_text().replace("timeout = 5", f"timeout = {value}"))
    proc = refused_commit(initialized, GOVERNED, CSV)
    assert proc.stderr.splitlines() == [f"gitgov: gitgov.toml:9: plugins.timeout: {rule}"]
    assert hook(initialized, "pre-commit").returncode == 2


@pytest.mark.parametrize("obstacle", ["foreign hook and .legacy", "core.hooksPath"])
def test_init_that_cannot_install_hooks_rolls_everything_back(repo, obstacle):
    (repo / "gitgov.toml").unlink()
    hooks = repo / ".git" / "hooks"
    if obstacle == "core.hooksPath":
        git(repo, "config", "core.hooksPath", ".githooks")
        expected = "core.hooksPath is set to .githooks"
    else:
        for name in ("pre-push", "pre-push.legacy"):
            write(hooks, name, "#!/bin/sh\nexit 0\n").chmod(0o755)
        expected = "is not a gitgov hook and pre-push.legacy already exists"
    before = sorted(os.listdir(repo)), hooks_installed(repo)
    proc = gitgov(repo, "init")
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1 and expected in proc.stderr
    assert (sorted(os.listdir(repo)), hooks_installed(repo)) == before  # no gitgov.toml, no .gitgov


GARBAGE_FACT = """
from gitgov.core.events import Fact
from gitgov.core.hookspecs import hookimpl

@hookimpl
def data_added(event, ctx):
    return Fact(kind="rows", subject=None)
"""


def test_a_plugin_returning_a_fact_without_a_subject_is_named_as_the_culprit(initialized):
    write(initialized, "checks/sloppy.py", GARBAGE_FACT)
    policy = initialized / "gitgov.toml"
    policy.write_text(policy.read_text().replace('enable = ["secrets"]',
                                                 'enable = ["secrets", "sloppy"]\nlocal = ["checks/sloppy.py"]'))
    git(initialized, "add", "gitgov.toml", "checks/sloppy.py")
    proc = refused_commit(initialized, GOVERNED, CSV)
    assert ("error   sloppy/plugin-error: plugin 'sloppy' failed in data_added: TypeError: "
            "fact 'rows' has a subject of type NoneType, expected str") in proc.stderr
    assert "gitgov: commit blocked by policy (1 error)" in proc.stderr
    assert gitgov(initialized, "verify").returncode == 0



def test_a_plugin_that_fails_to_load_is_reported_once_per_commit(initialized):
    write(initialized, "checks/broken.py", "def data_added(:\n")
    policy = initialized / "gitgov.toml"
    policy.write_text(policy.read_text().replace('enable = ["secrets"]',
                                                 'enable = ["secrets", "broken"]\nlocal = ["checks/broken.py"]'))
    git(initialized, "add", "gitgov.toml", "checks/broken.py")
    git(initialized, "commit", "-q", "--no-verify", "-m", "policy with a broken plugin")
    write(initialized, "notes.txt", "no governed data\n")  # a commit it lets through
    git(initialized, "add", "notes.txt")
    proc = git(initialized, "commit", "-q", "-m", "notes")  # pre-commit and post-commit both run
    warning = "gitgov: warning: plugin 'broken' (local) was skipped: SyntaxError: "
    assert [line for line in proc.stderr.splitlines() if line.startswith(warning)] == [
        warning + "invalid syntax (broken.py, line 1)"]

# ---- a ledger that cannot be used ---------------------------------------------------

def test_ledger_that_is_not_sqlite_blocks_the_commit(initialized):
    ledger = initialized / ".gitgov" / "ledger.db"
    garbage = b"this is not a database\n" * 50
    ledger.write_bytes(garbage)
    proc = refused_commit(initialized, GOVERNED, CSV)
    message = f"gitgov: {ledger} is not a gitgov ledger (not an SQLite database)"
    assert proc.stderr.splitlines() == [message]
    assert hook(initialized, "pre-commit").returncode == 2
    assert ledger.read_bytes() == garbage  # nothing written into it
    verify = gitgov(initialized, "verify")  # a file where the ledger was: verification fails
    assert verify.returncode == 1
    assert verify.stderr.splitlines()[0].startswith(f"gitgov: ledger verification FAILED: {ledger} is "
                                                    "not a gitgov ledger (not an SQLite database)")


def test_a_ledger_truncated_or_deleted_under_anchored_heads_fails_verification(initialized):
    write(initialized, GOVERNED, CSV)
    git(initialized, "add", GOVERNED)
    git(initialized, "commit", "-q", "-m", "data")  # its note anchors the ledger head
    ledger = initialized / ".gitgov" / "ledger.db"
    assert gitgov(initialized, "verify").returncode == 0
    with open(ledger, "r+b") as f:
        f.truncate(8192)
    truncated = gitgov(initialized, "verify")
    assert truncated.returncode == 1 and "ledger verification FAILED" in truncated.stderr
    for extra in ("-wal", "-shm", ""):
        (initialized / ".gitgov" / f"ledger.db{extra}").unlink(missing_ok=True)
    gone = gitgov(initialized, "verify")
    [line] = gone.stderr.splitlines()
    assert gone.returncode == 1 and line.startswith(
        f"gitgov: ledger verification FAILED: no ledger at {ledger}; run `gitgov init`; git notes "
        "anchor ") and " head(s) of it, up to entry " in line
    doc = gitgov(initialized, "verify", "--json")
    assert doc.returncode == 1 and '"ok": false' in doc.stdout
    assert gitgov(initialized, "init").returncode == 0
    import sqlite3

    with sqlite3.connect(ledger) as db:  # a ledger of a newer gitgov is no damage: upgrade
        db.execute("PRAGMA user_version = 99")
    newer = gitgov(initialized, "verify")
    assert newer.returncode == 2 and "written by a newer gitgov" in newer.stderr
    assert "verification FAILED" not in newer.stderr


def test_an_emptied_ledger_is_initialised_by_init_as_its_error_says(initialized):
    write(initialized, GOVERNED, CSV)
    git(initialized, "add", GOVERNED)
    git(initialized, "commit", "-q", "-m", "data")  # its note anchors the ledger head
    ledger = initialized / ".gitgov" / "ledger.db"
    ledger.write_bytes(b"")
    proc = refused_commit(initialized, "data/raw/customers2.csv", CSV)
    assert proc.stderr.splitlines() == [
        f"gitgov: {ledger} is an empty file, not an initialised ledger; run `gitgov init`"]
    init = gitgov(initialized, "init")
    assert init.returncode == 0, init.stderr
    assert "gitgov: initialised the empty ledger file .gitgov/ledger.db" in init.stdout.splitlines()
    verify = gitgov(initialized, "verify")  # a new chain, but the truncation still shows
    assert verify.returncode == 1 and "(tail truncated)" in verify.stderr
    assert git(initialized, "commit", "-q", "-m", "again", check=False).returncode == 0


def test_unwritable_ledger_blocks_the_commit(initialized):
    # Tests run as root, and root writes through file modes, so the honest way
    # to make the ledger unwritable for root too is to put a directory where
    # the ledger file should be: no process can open it as a database. The
    # test below covers plain file permissions for ordinary users.
    ledger = initialized / ".gitgov" / "ledger.db"
    ledger.unlink()
    ledger.mkdir()
    proc = refused_commit(initialized, GOVERNED, CSV)
    assert proc.stderr.splitlines() == [f"gitgov: {ledger} is a directory, not a gitgov ledger"]
    assert hook(initialized, "pre-commit").returncode == 2
    assert list(ledger.iterdir()) == []


def _modes_enforced(tmp_path: Path) -> bool:
    """False for root (CAP_DAC_OVERRIDE), which writes through any file mode."""
    probe = tmp_path / "probe"
    probe.write_text("")
    probe.chmod(0o444)
    try:
        open(probe, "a").close()
    except PermissionError:
        return True
    return False


# Root writes through file modes; without CAP_DAC_OVERRIDE it is held to them like anyone.
AS_ORDINARY = ("setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--inh-caps", "-all")


def test_read_only_ledger_blocks_the_commit(initialized, tmp_path):
    prefix = () if _modes_enforced(tmp_path) else AS_ORDINARY
    state, ledger = initialized / ".gitgov", initialized / ".gitgov" / "ledger.db"
    before = ledger.read_bytes()
    ledger.chmod(0o444)
    state.chmod(0o555)
    try:
        proc = refused_commit(initialized, GOVERNED, CSV, prefix)
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("gitgov: ") and str(ledger) in lines[0]
        assert "read-only" in lines[0] or "not writable" in lines[0]
        assert hook(initialized, "pre-commit", prefix).returncode == 2
    finally:
        state.chmod(0o755)
        ledger.chmod(0o644)
    assert ledger.read_bytes() == before


def _init_as(repo: Path, prefix: tuple[str, ...]) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, "-m", "gitgov.core", "init"], cwd=repo,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)


def test_init_that_fails_after_the_hooks_puts_them_and_the_config_back(repo, tmp_path):
    prefix = () if _modes_enforced(tmp_path) else AS_ORDINARY
    write(repo, "gitgov.toml", '[datasets.vault]\npaths = ["vault/*.csv"]\nencrypt = "file"\n')
    attributes = write(repo, ".gitattributes", "*.bin binary\n")
    attributes.chmod(0o444)  # the encryption step, after the hooks, cannot write it
    hooks = repo / ".git" / "hooks"
    write(hooks, "pre-commit", "#!/bin/sh\nexit 0\n").chmod(0o755)
    before = snapshot_of(repo), (repo / ".git" / "config").read_bytes()
    proc = _init_as(repo, prefix)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"gitgov: cannot write {attributes}: Permission denied; nothing was changed"]
    assert (snapshot_of(repo), (repo / ".git" / "config").read_bytes()) == before


def test_init_into_a_read_only_hooks_folder_is_one_line(repo, tmp_path):
    prefix = () if _modes_enforced(tmp_path) else AS_ORDINARY
    hooks = repo / ".git" / "hooks"
    hooks.chmod(0o555)
    try:
        proc = _init_as(repo, prefix)
    finally:
        hooks.chmod(0o755)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"gitgov: cannot install the hooks in {hooks}: Permission denied"]
    assert not (repo / ".gitgov").exists() and hooks_installed(repo) == []


def test_uninstall_from_a_read_only_hooks_folder_is_one_line(initialized, tmp_path):
    prefix = () if _modes_enforced(tmp_path) else AS_ORDINARY
    hooks = initialized / ".git" / "hooks"
    installed = hooks_installed(initialized)
    hooks.chmod(0o555)
    try:
        proc = subprocess.run([*prefix, sys.executable, "-m", "gitgov.core", "uninstall"],
                              cwd=initialized, capture_output=True, text=True)
    finally:
        hooks.chmod(0o755)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"gitgov: cannot remove {hooks / 'pre-commit'}: Permission denied"]
    assert hooks_installed(initialized) == installed


def snapshot_of(repo: Path) -> dict[str, bytes]:
    """Every file under repo, .git/hooks included, with its bytes (a symlink: its target)."""
    out = {}
    for path in sorted(repo.rglob("*")):
        rel = str(path.relative_to(repo))
        if path.is_symlink():
            out[rel] = os.readlink(path).encode()
        elif path.is_file() and not rel.startswith((".git/objects", ".git/index")):
            out[rel] = path.read_bytes()
    return out


# ---- a writer killed half-way ------------------------------------------------------------

WRITER = """
import sys
from pathlib import Path
from gitgov.core.ledger import Entry, open_ledger

ledger = open_ledger(Path(sys.argv[1]))
n = 0
while True:  # 200 entries per transaction: most of the time is spent inside one
    ledger.append([Entry(kind="stress", subject=f"s{n}-{i}", payload={"i": i, "pad": "x" * 300})
                   for i in range(200)])
    n += 1
    print(n, flush=True)
"""


def test_killed_writer_leaves_the_ledger_verifiable(initialized):
    ledger = initialized / ".gitgov" / "ledger.db"
    start = journal_size(initialized)
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(ledger)], stdout=subprocess.PIPE,
                             text=True)
    try:
        for _ in range(3):  # three batches committed, then kill it in the middle of more
            assert child.stdout.readline()
        time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    proc = gitgov(initialized, "verify")
    assert proc.returncode == 0, proc.stderr
    written = journal_size(initialized) - start
    assert written >= 600 and written % 200 == 0  # whole transactions only
    with open_ledger(ledger) as again:  # and it takes new entries
        again.append([])
    write(initialized, GOVERNED, CSV)
    git(initialized, "add", GOVERNED)
    assert git(initialized, "commit", "-q", "-m", "after", check=False).returncode == 0
    assert gitgov(initialized, "verify").returncode == 0


def test_a_rule_that_does_not_compile_stops_the_hook_with_exit_2_as_check_does(tmp_path):
    """gitgov.toml loads, but a rule in it is wrong (min above max): the commit is refused
    and the hook exits 2, the code of a malformed gitgov.toml, as `gitgov check` does."""
    from conftest import governed_repo

    policy = ('version = 1\n[datasets.d]\npaths = ["data/*.csv"]\nowner = "a@example.com"\n'
              '[datasets.d.columns.n]\ntype = "integer"\nmin = 10\nmax = 5\n'
              '[plugins]\nenable = ["validation"]\n')
    repo = governed_repo(tmp_path, policy)
    write(repo, "data/d.csv", "n\n7\n")
    git(repo, "add", "data/d.csv")
    direct = hook(repo, "pre-commit")
    assert direct.returncode == 2, direct.stderr
    assert "validation/config" in direct.stderr and "datasets.d.columns.n" in direct.stderr
    check = gitgov(repo, "check", "data/d.csv")
    assert check.returncode == 2 and "datasets.d.columns.n" in check.stderr
