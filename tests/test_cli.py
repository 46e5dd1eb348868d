"""`gitgov init`, `uninstall`, `log`, `ledger rebuild` and the command line itself,
run as a user would: the real CLI in a child process, in real repositories."""
from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import POLICY, git, gitgov, write, pin_secrets
from gitgov.core.config import load_policy
from gitgov.core.ledger import open_ledger

HOOKS = ("pre-commit", "post-commit", "pre-push")
CSV = "customer_id,name\n1,Ada\n"


@pytest.fixture
def repo(repo: Path) -> Path:
    """conftest's repo, checked by the secrets plugin alone."""
    return pin_secrets(repo)


def hooks_dir(repo: Path) -> Path:
    common = git(repo, "rev-parse", "--git-common-dir").stdout.strip()
    return (repo / common).resolve() / "hooks"


def snapshot(root: Path, *rels: str) -> dict[str, tuple[bytes, int] | None]:
    """Bytes and mode of files (or every file under a folder), to compare runs."""
    out: dict[str, tuple[bytes, int] | None] = {}
    for rel in rels:
        path = root / rel
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            out[str(f)] = (f.read_bytes(), stat.S_IMODE(f.stat().st_mode)) if f.exists() else None
    return out


def hook_files(repo: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
            for p in hooks_dir(repo).iterdir() if not p.name.endswith(".sample")}


def journal(repo: Path, kind: str | None = None) -> list:
    with open_ledger(repo / ".gitgov" / "ledger.db") as ledger:
        return list(ledger.entries(kind=kind, newest_first=False))


def governed_commit(repo: Path, text: str, message: str = "data") -> str:
    write(repo, "data/raw/customers.csv", text)
    git(repo, "add", "data/raw/customers.csv")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").stdout.strip()


# ---- init ---------------------------------------------------------------------------

def test_init_writes_policy_state_ignore_and_hooks(repo):
    (repo / "gitgov.toml").unlink()
    proc = gitgov(repo, "init")
    assert proc.returncode == 0, proc.stderr
    assert "wrote gitgov.toml" in proc.stdout

    policy = (repo / "gitgov.toml").read_text()
    assert policy.startswith("#") and policy.count("\n# ") > 10  # commented for people
    assert load_policy(repo / "gitgov.toml").datasets  # and valid
    state = repo / ".gitgov"
    assert all((state / d).is_dir() for d in ("objects", "keys", "cache", "state"))
    assert stat.S_IMODE((state / "keys").stat().st_mode) == 0o700
    assert [e.kind for e in journal(repo)] == ["ledger_created"]
    assert ".gitgov/" in (repo / ".gitignore").read_text().splitlines()
    for name in HOOKS:
        hook = hooks_dir(repo) / name
        assert hook.stat().st_mode & stat.S_IXUSR
        assert "# gitgov-hook-id: " in hook.read_text()
        assert f"{name}: installed at {hook}" in proc.stdout
    status = git(repo, "status", "--porcelain", "--untracked-files=all").stdout
    assert ".gitgov" not in status and "gitgov.toml" in status


def test_init_twice_changes_nothing(repo):
    write(repo, ".gitignore", "*.pyc")  # no final newline: init must still add a line of its own
    assert gitgov(repo, "init").returncode == 0
    assert (repo / ".gitignore").read_text() == (
        "*.pyc\n# gitgov: ledger, object store and keys stay out of Git\n.gitgov/\n")
    watched = ("gitgov.toml", ".gitignore", ".gitgov", ".git/hooks")
    before = snapshot(repo, *watched)
    proc = gitgov(repo, "init")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "gitgov: already initialized; nothing changed\n"
    assert snapshot(repo, *watched) == before
    assert (repo / "gitgov.toml").read_text().startswith("[datasets.customers]")  # kept as it was


def test_init_outside_a_repository_fails_cleanly(tmp_path):
    empty = tmp_path / "not-a-repo"
    empty.mkdir()
    proc = gitgov(empty, "init")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"gitgov: not a git repository: {empty} (run gitgov inside one; `git init` makes one)"]
    assert list(empty.iterdir()) == []


def test_init_in_a_linked_worktree_and_hooks_fire_there(repo, tmp_path):
    git(repo, "add", "gitgov.toml")
    git(repo, "commit", "-q", "-m", "policy")  # no hooks yet
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", str(wt), "-b", "feature")
    proc = gitgov(wt, "init")
    assert proc.returncode == 0, proc.stderr
    assert all((repo / ".git" / "hooks" / name).is_file() for name in HOOKS)  # the common dir
    assert (repo / ".gitgov" / "ledger.db").is_file()  # one ledger for every worktree

    sha = governed_commit(wt, CSV)
    entries = journal(repo)
    assert [e.kind for e in entries] == ["ledger_created", "data_added", "commit_created"]
    assert entries[-1].subject == sha
    assert json.loads(git(wt, "notes", "--ref=gitgov", "show", sha).stdout)["seq"] == 3
    assert gitgov(wt, "verify").returncode == 0
    # The shared state in the main worktree stays out of Git there too.
    assert ".gitgov" not in git(repo, "status", "--porcelain").stdout
    assert gitgov(wt, "init").stdout == "gitgov: already initialized; nothing changed\n"


def test_uninstall_restores_exactly_the_previous_hooks(repo, tmp_path):
    hooks = hooks_dir(repo)
    write(hooks, "pre-commit", '#!/bin/sh\necho "legacy pre-commit" >>"$GITGOV_TEST_LOG"\n').chmod(0o755)
    write(hooks, "pre-push", "#!/bin/sh\nexit 0\n").chmod(0o700)
    before = hook_files(repo)

    assert gitgov(repo, "init").returncode == 0
    assert (hooks / "pre-commit.legacy").read_bytes() == before["pre-commit"][0]
    git(repo, "add", "gitgov.toml")
    git(repo, "commit", "-q", "-m", "policy")
    assert (tmp_path / "log").read_text() == "legacy pre-commit\n"  # chained, not lost

    proc = gitgov(repo, "uninstall")
    assert proc.returncode == 0, proc.stderr
    assert "pre-commit: removed; restored the previous hook" in proc.stdout
    assert hook_files(repo) == before


# ---- log and ledger rebuild ---------------------------------------------------------

def test_log_filters_newest_first_and_json(initialized):
    first = governed_commit(initialized, CSV, "first")
    second = governed_commit(initialized, CSV + "2,Grace\n", "second")

    proc = gitgov(initialized, "log")
    assert proc.returncode == 0, proc.stderr
    seqs = [int(line.split()[0]) for line in proc.stdout.splitlines() if line[:6].strip().isdigit()]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == len(journal(initialized))

    commits = json.loads(gitgov(initialized, "log", "--kind", "commit_created", "--json").stdout)
    assert [c["subject"] for c in commits] == [second, first]
    assert commits[0]["payload"]["message"] == "second"

    data = gitgov(initialized, "log", "--subject", "data/raw/customers.csv").stdout.splitlines()
    heads = [line for line in data if line[:6].strip().isdigit()]
    assert len(heads) == 2 and all("data_added" in h and "data/raw/customers.csv" in h for h in heads)
    assert "dataset customers" in data[1]

    one = json.loads(gitgov(initialized, "log", "-n", "1", "--json").stdout)
    assert [e["kind"] for e in one] == ["commit_created"]
    none = gitgov(initialized, "log", "--kind", "no_such_kind")
    assert none.returncode == 0 and "no matching entries" in none.stdout
    for bad in ("0", "-5"):  # SQLite reads LIMIT -5 as no limit at all
        refused = gitgov(initialized, "log", "-n", bad)
        assert refused.returncode == 2 and refused.stdout == "" and "-n" in refused.stderr


PROJECTIONS = ("datasets", "dataset_versions", "findings", "commits")


def _projections(db_path: Path) -> dict[str, list]:
    with sqlite3.connect(db_path) as db:
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in PROJECTIONS}


def test_ledger_rebuild_recreates_the_projections(initialized):
    governed_commit(initialized, CSV)
    write(initialized, "id_rsa", "x\n")  # a refused commit leaves findings to project
    git(initialized, "add", "id_rsa")
    assert git(initialized, "commit", "-q", "-m", "key", check=False).returncode != 0
    db_path = initialized / ".gitgov" / "ledger.db"
    before = _projections(db_path)
    assert all(before[t] for t in PROJECTIONS), before

    with sqlite3.connect(db_path) as db:  # projections are derived data: lose them
        db.execute("DELETE FROM dataset_versions")
        db.execute("DROP TABLE commits")
    proc = gitgov(initialized, "ledger", "rebuild")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"gitgov: rebuilt projections from {len(journal(initialized))} journal entries\n"
    assert _projections(db_path) == before
    assert gitgov(initialized, "verify").returncode == 0


def test_log_without_a_ledger_says_to_run_init(repo):
    proc = gitgov(repo, "log")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"gitgov: no ledger at {repo / '.gitgov' / 'ledger.db'}; run `gitgov init`"]


# ---- the command line -------------------------------------------------------------------

def test_help_works_with_a_broken_policy(repo):
    write(repo, "gitgov.toml", "[datasets.customers\npaths = 3\n")
    proc = gitgov(repo, "--help")
    assert proc.returncode == 0
    assert "init" in proc.stdout and "verify" in proc.stdout and "Traceback" not in proc.stderr
    # The command that needs the policy reports it.
    plugins = gitgov(repo, "plugins")
    assert plugins.returncode == 2
    assert plugins.stderr.splitlines() == [
        "gitgov: gitgov.toml:1: TOML syntax error at column 20: expected ']' at the end of a table "
        "declaration"]


def test_unknown_command_is_a_usage_error(repo):
    proc = gitgov(repo, "frobnicate")
    assert proc.returncode == 2
    assert proc.stderr == "gitgov: No such command 'frobnicate' (see `gitgov --help`)\n"
    option = gitgov(repo, "log", "--no-such-option")
    assert option.returncode == 2
    assert option.stderr == "gitgov: No such option '--no-such-option' (see `gitgov log --help`)\n"
    # A plugin's command, with that plugin turned off by name: it is not run to ask, but named.
    proc = gitgov(repo, "check", env={**os.environ, "GITGOV_DISABLE": "validation"})
    assert proc.returncode == 2 and proc.stderr == (
        "gitgov: No such command 'check' ('validation' (GITGOV_DISABLE), turned off here, may add "
        "it; `gitgov plugins` lists them) (see `gitgov --help`)\n")
    # Left out of `enable` (a typo, say): the plugin is asked which commands it adds.
    policy = repo / "gitgov.toml"
    policy.write_text(policy.read_text().replace('enable = ["secrets"]', 'enable = ["secrets", "validaton"]'))
    proc = gitgov(repo, "check")
    assert proc.returncode == 2 and proc.stderr.endswith(
        "gitgov: No such command 'check': it comes with the plugin 'validation', which is not "
        "enabled here ([plugins] enable in gitgov.toml; `gitgov plugins` lists them) (see "
        "`gitgov --help`)\n")


def test_a_table_keeps_each_row_on_one_line_whatever_a_file_is_called():
    from gitgov.core.commands.options import table

    out = table([["data/new\nline.csv", "1"], ["data/ünï/ç.csv", "22"], ["a\tb\x1b[31m.csv", "3"]], ["path", "rows"])
    assert out.splitlines() == ["path                rows",
                                "------------------  ----",
                                "data/new\\nline.csv  1",
                                "data/ünï/ç.csv      22",
                                "a\\tb\\x1b[31m.csv    3"]  # nor a terminal escape


def test_a_reference_that_is_not_utf8_is_one_line(initialized):
    """Run ids, model names, lineage targets: text. Bytes that are not UTF-8 are refused."""
    for command in (["runs", "show"], ["lineage"], ["models", "show"]):
        proc = subprocess.run([sys.executable, "-m", "gitgov.core", *command, b"a\xffb"], cwd=initialized,
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        assert proc.returncode == 2, (command, proc.stderr)
        assert proc.stderr == "gitgov: 'a\\xffb' is not UTF-8 text: names, references and values must be\n"


def test_sizes_read_in_the_same_binary_units_in_every_report():
    from gitgov.core.report import human_size

    assert [human_size(n) for n in (None, 0, 1023, 1024, 5000, 3 * 2**20, 5 * 2**40)] == \
        ["-", "0 B", "1023 B", "1.0 KiB", "4.9 KiB", "3.0 MiB", "5120.0 GiB"]


def test_log_and_the_commit_report_keep_a_file_name_with_a_line_break_on_one_line(initialized):
    name = "data/raw/customers\n     1  2020-01-01T00:00:00  data_added  forged.csv"
    write(initialized, name, CSV + "-----BEGIN " + "RSA PRIVATE KEY-----\nx\n")
    git(initialized, "add", name)
    refused = git(initialized, "commit", "-q", "-m", "key", check=False)
    escaped = name.replace("\n", "\\n")
    assert refused.returncode == 1 and f"  {escaped}\n" in refused.stderr
    assert "\n     1  2020" not in refused.stderr  # no line of its own
    out = gitgov(initialized, "log", "--kind", "data_added", check=True).stdout.splitlines()
    assert len(out) == 2 and out[0].endswith(f"data_added         {escaped}")


def test_init_in_a_bare_repository_points_to_the_server_side_and_writes_nothing(tmp_path):
    bare = tmp_path / "central.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    before = sorted(p.name for p in bare.iterdir())
    out = gitgov(bare, "init")
    assert out.returncode == 2 and out.stderr == (f"gitgov: {bare} is a bare repository; to enforce the policy on "
                                                  f"what is pushed to it, run `gitgov server install {bare}`\n")
    assert sorted(p.name for p in bare.iterdir()) == before and not list((bare / "hooks").glob("post-commit"))


def test_inside_the_git_folder_it_says_where_to_run_it(initialized):
    out = gitgov(initialized / ".git", "verify")
    assert out.returncode == 2
    assert out.stderr == f"gitgov: {initialized / '.git'} is inside the repository's git folder; run gitgov from its work tree\n"


@pytest.mark.parametrize("args", [
    ("log", "-n", "99999999999999999999"), ("runs", "list", "-n", "99999999999999999999"),
    ("lineage", "data/raw/customers.csv", "--depth", "99999999999999999999"),
    ("gc", "--dry-run", "--keep-last", "99999999999999999999"),
    ("gc", "--dry-run", "--older-than", "99999999999999999999"),
    ("quality", "customers", "-n", "99999999999999999999"),
    ("reveal", "data/raw/customers.csv", "--limit", "99999999999999999999"),
])
def test_a_huge_count_is_a_usage_error_not_an_overflow(initialized, args):
    (initialized / "gitgov.toml").write_text(POLICY)  # every plugin: quality and reveal are theirs
    proc = gitgov(initialized, *args)
    assert proc.returncode == 2, proc.stderr
    assert "is not in the range" in proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("args, message", [
    (("report", "-o", ""), "needs a file name"),
    (("watch", "stop", "--timeout", "-1"), "is not in the range 0<=x<=86400"),
    (("watch", "start", "--timeout", "-1"), "is not in the range 0<=x<=86400"),
])
def test_an_empty_output_name_or_a_negative_wait_is_a_usage_error(initialized, args, message):
    (initialized / "gitgov.toml").write_text(POLICY)
    proc = gitgov(initialized, *args)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert "internal error" not in proc.stderr
    assert not (initialized / ".gitgov" / "state" / "watch.lock").exists()  # no daemon was started


def test_gc_older_than_more_days_than_the_calendar_releases_nothing(initialized):
    proc = gitgov(initialized, "gc", "--dry-run", "--older-than", "999999999")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("gitgov: would remove 0 object(s)")


def test_hook_impl_help_and_bad_hooks_are_one_line(tmp_path):
    """`gitgov hook-impl` is what the pre-commit framework runs: its help and errors are plain."""
    helped = gitgov(tmp_path, "hook-impl", "--help")
    assert helped.returncode == 0 and helped.stdout.startswith("usage: gitgov hook-impl HOOK")
    assert "pre-commit" in helped.stdout and "pre-push" in helped.stdout
    unknown = gitgov(tmp_path, "hook-impl", "nope")
    assert unknown.returncode == 2 and unknown.stderr.startswith("gitgov: unknown hook 'nope' (expected one of ")
    none = gitgov(tmp_path, "hook-impl")
    assert none.returncode == 2 and none.stderr.startswith("gitgov: hook-impl: name a hook")
