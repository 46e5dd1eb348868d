"""The installed Git hooks, end to end: real `git commit` and `git push` through the
shims that `gitgov init` wrote, and what lands in the ledger and in git notes."""
from __future__ import annotations

import json
import os
import shlex
import sqlite3
import subprocess
from pathlib import Path

import pytest

from conftest import git, gitgov, write, pin_secrets
from gitgov.core.ledger import open_ledger

# Built by concatenation so that no scanner mistakes this file for a key.
PEM = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAxa1b2c3\n-----END " + "RSA PRIVATE KEY-----\n"
CSV = "customer_id,name\n1,Ada\n2,Grace\n"
ZEROS = "0" * 40


@pytest.fixture
def repo(repo: Path) -> Path:
    """conftest's repo, checked by the secrets plugin alone."""
    return pin_secrets(repo)


# ---- helpers ------------------------------------------------------------------------

def ledger_entries(repo: Path, kind: str | None = None) -> list:
    with open_ledger(repo / ".gitgov" / "ledger.db") as ledger:
        return list(ledger.entries(kind=kind, newest_first=False))


def commit(repo: Path, *paths: str, message: str = "change", no_verify: bool = False):
    git(repo, "add", "-f", *paths)
    extra = ["--no-verify"] if no_verify else []
    return git(repo, "commit", "-q", "-m", message, *extra, check=False)


def rev(repo: Path, what: str = "HEAD") -> str:
    return git(repo, "rev-parse", "--verify", "-q", what, check=False).stdout.strip()


def hook_path(repo: Path, name: str) -> Path:
    return repo / git(repo, "rev-parse", "--git-path", f"hooks/{name}").stdout.strip()


def add_policy(repo: Path, text: str) -> None:
    """Extend gitgov.toml and commit it (through the hooks, as a user would)."""
    policy = repo / "gitgov.toml"
    policy.write_text(policy.read_text() + "\n" + text)
    assert commit(repo, "gitgov.toml", message="policy").returncode == 0


def shim_command(repo: Path, hook: str) -> tuple[str, str]:
    """The interpreter and entry file the installed shim execs (read from the shim)."""
    text = hook_path(repo, hook).read_text()
    assert 'exec "$PY" -S "$FASTPATH" "$HOOK_TYPE" "$@"' in text
    values = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name in ("PY", "FASTPATH"):
            values[name] = shlex.split(value)[0]
    return values["PY"], values["FASTPATH"]


def imported_modules(stderr: str) -> set[str]:
    """Module names from `python -X importtime` output."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


# ---- pre-commit ---------------------------------------------------------------------

def test_pre_commit_records_staged_blob_ids_for_added_and_removed_data(initialized):
    write(initialized, "data/raw/customers.csv", CSV)
    write(initialized, "notes.txt", "not governed\n")
    assert commit(initialized, "data/raw/customers.csv", "notes.txt").returncode == 0
    blob = git(initialized, "rev-parse", "HEAD:data/raw/customers.csv").stdout.strip()

    added = [e for e in ledger_entries(initialized, "data_added") if e.payload["stage"] == "staged"]
    assert [(e.subject, e.payload["dataset"], e.payload["blob"], e.payload["size"]) for e in added] == [
        ("data/raw/customers.csv", "customers", blob, len(CSV))]
    assert added[0].payload["verdict"] == "pass" and added[0].actor == "Ada <ada@example.com>"

    git(initialized, "rm", "-q", "data/raw/customers.csv")
    assert git(initialized, "commit", "-q", "-m", "drop", check=False).returncode == 0
    removed = ledger_entries(initialized, "data_removed")
    assert [(e.subject, e.payload["dataset"], e.payload["stage"]) for e in removed] == [
        ("data/raw/customers.csv", "customers", "staged")]
    last = ledger_entries(initialized, "commit_created")[-1].payload
    assert last["changes"] == [{"path": "data/raw/customers.csv", "status": "D",
                                "dataset": "customers", "blob": None}]


def test_checks_read_the_staged_bytes_not_the_working_tree(initialized):
    path = "data/raw/customers.csv"
    before = rev(initialized)
    # Staged: a private key. Working tree: harmless text. The staged bytes decide.
    write(initialized, path, CSV + PEM)
    git(initialized, "add", path)
    write(initialized, path, CSV)
    proc = git(initialized, "commit", "-q", "-m", "key", check=False)
    assert proc.returncode != 0, proc.stderr
    assert "secrets/private-key" in proc.stderr and path in proc.stderr
    assert rev(initialized) == before

    # The reverse: staged harmless, a key only in the working tree: passes.
    git(initialized, "add", path)
    write(initialized, path, CSV + PEM)
    proc = git(initialized, "commit", "-q", "-m", "clean", check=False)
    assert proc.returncode == 0, proc.stderr
    assert git(initialized, "show", f"HEAD:{path}").stdout == CSV


def test_staged_size_counts_not_the_working_file(initialized):
    """An ungoverned file over the limit is refused even if the working copy is small."""
    add_policy(initialized, "[limits]\nmax_file_size = 2000\n")
    write(initialized, "blob.txt", "x" * 5000)
    git(initialized, "add", "blob.txt")
    write(initialized, "blob.txt", "small\n")
    proc = git(initialized, "commit", "-q", "-m", "big", check=False)
    assert proc.returncode != 0
    assert "blob.txt" in proc.stderr and "secrets/too-large" in proc.stderr
    assert "4.9 KiB" in proc.stderr  # the staged size, not the working file's 6 bytes


def test_commit_without_governed_data_imports_no_heavy_module(initialized):
    # One governed commit first: the full flow writes the matcher cache.
    write(initialized, "data/raw/customers.csv", CSV)
    assert commit(initialized, "data/raw/customers.csv").returncode == 0
    assert (initialized / ".gitgov" / "cache" / "fastpath").is_file()
    python, fastpath = shim_command(initialized, "pre-commit")
    assert Path(fastpath).name == "hookstart.py"  # a tiny script: hookrun comes from its bytecode cache

    def run_hook() -> subprocess.CompletedProcess:  # the shim's exact command, plus -X importtime
        return subprocess.run([python, "-X", "importtime", "-S", fastpath, "pre-commit"],
                              cwd=initialized, capture_output=True, text=True)

    write(initialized, "README.md", "# project\n")
    git(initialized, "add", "README.md")
    fast = run_hook()
    assert fast.returncode == 0, fast.stderr
    modules = imported_modules(fast.stderr)
    assert "os" in modules  # importtime did report
    heavy = {"pluggy", "pyarrow", "git", "sqlite3", "_sqlite3", "sqlite_utils", "tomllib",
             "subprocess", "json", "re", "site", "gitgov.core.hookflow", "gitgov.core.ledger"}
    assert not modules & heavy, modules & heavy

    # Control: the same command with governed data staged does load the full flow.
    write(initialized, "data/raw/customers.csv", CSV + "3,Linus\n")
    git(initialized, "add", "data/raw/customers.csv")
    full = run_hook()
    assert full.returncode == 0, full.stderr
    assert {"pluggy", "sqlite3"} <= imported_modules(full.stderr)


def test_hook_entry_script_works_without_its_folder_on_sys_path(initialized):
    # PYTHONSAFEPATH keeps the script's folder off sys.path; core/git.py must
    # still never shadow GitPython's `git` in the full flow.
    python, fastpath = shim_command(initialized, "pre-commit")
    write(initialized, "data/raw/customers.csv", CSV)
    git(initialized, "add", "data/raw/customers.csv")
    out = subprocess.run([python, "-X", "importtime", "-S", fastpath, "pre-commit"], cwd=initialized,
                         capture_output=True, text=True, env={**os.environ, "PYTHONSAFEPATH": "1"})
    assert out.returncode == 0, out.stderr
    assert {"pluggy", "sqlite3", "gitgov.core.hookflow"} <= imported_modules(out.stderr)


# ---- findings, report and the secrets plugin -----------------------------------------

LOCAL_PLUGIN = '''
from gitgov.core.events import error, warning
from gitgov.core.hookspecs import hookimpl

@hookimpl
def data_added(event, ctx):
    text = ctx.read_data(event)
    if b"FAIL" in text:
        return error("bad-row", "row 2 says FAIL")
    if b"WARN" in text:
        return warning("odd-row", "row 2 says WARN")

@hookimpl
def commit_created(event, ctx):
    if "[late]" in event.message:
        return error("late-check", "found after the commit")
'''


def test_errors_block_and_warnings_do_not(initialized):
    write(initialized, "checks/rows.py", LOCAL_PLUGIN)
    policy = initialized / "gitgov.toml"
    policy.write_text(policy.read_text().replace('enable = ["secrets"]', 'enable = ["secrets", "rows"]')
                      .replace("timeout = 5", 'timeout = 5\nlocal = ["checks/rows.py"]'))
    assert commit(initialized, "gitgov.toml", "checks/rows.py").returncode == 0

    # A warning lets the commit through; after the commit exists (post-commit) an
    # error is reported and recorded, never "blocking".
    write(initialized, "data/raw/customers.csv", CSV + "3,WARN\n")
    proc = commit(initialized, "data/raw/customers.csv", message="[late] data")
    assert proc.returncode == 0
    assert "commit allowed with 1 warning" in proc.stderr
    assert "rows/odd-row: row 2 says WARN" in proc.stderr
    assert "gitgov: the commit was recorded with 1 error" in proc.stderr
    assert "rows/late-check: found after the commit" in proc.stderr
    assert ledger_entries(initialized, "commit_created")[-1].payload["verdict"] == "block"

    before = rev(initialized)
    write(initialized, "data/raw/customers.csv", CSV + "3,FAIL\n")
    proc = commit(initialized, "data/raw/customers.csv")
    assert proc.returncode != 0 and rev(initialized) == before
    lines = proc.stderr.splitlines()
    at = lines.index("gitgov: commit blocked by policy (1 error)")
    assert lines[at + 1].strip() == "data/raw/customers.csv"
    assert lines[at + 2].split() == ["error", "rows/bad-row:", "row", "2", "says", "FAIL"]
    assert "--no-verify" in proc.stderr
    blocked = ledger_entries(initialized, "data_added")[-1].payload
    assert blocked["verdict"] == "block" and blocked["findings"][0]["code"] == "bad-row"


@pytest.mark.parametrize("path, content, code, why", [
    (".gitgov/keys/master.key", "0123456789abcdef\n", "key-material", "gitgov's own state"),
    ("deploy/id_rsa", "not really a key\n", "secret-file", "used for keys or credentials"),
    ("certs/server.pem", "certificate\n", "secret-file", "used for keys or credentials"),
    ("docs/setup.md", "# setup\n\n" + PEM, "private-key", "line 3: a PEM private key"),
    ("src/settings.py", 'DEBUG = 1\nKEY = "' + "AKIA" + "Q2WXJ7ZP4LMNB8TR" + '"\n', "aws-access-key",
     "line 2: looks like an AWS access key id"),
])
def test_secrets_plugin_refuses_with_a_reason(initialized, path, content, code, why):
    write(initialized, path, content)
    before = rev(initialized)
    proc = commit(initialized, path)  # `git add -f`: .gitgov/ is ignored
    assert proc.returncode != 0
    assert rev(initialized) == before
    assert path in proc.stderr and f"secrets/{code}:" in proc.stderr and why in proc.stderr


def test_secrets_allow_exempts_a_path(initialized):
    add_policy(initialized, '[plugins.secrets]\nallow = ["tests/fixtures/*.pem"]\n')
    write(initialized, "tests/fixtures/sample.pem", PEM)
    write(initialized, "other/sample.pem", PEM)
    assert commit(initialized, "tests/fixtures/sample.pem").returncode == 0
    proc = commit(initialized, "other/sample.pem")
    assert proc.returncode != 0 and "other/sample.pem" in proc.stderr


def test_secrets_allow_that_is_not_a_list_is_reported(initialized):
    add_policy(initialized, '[plugins.secrets]\nallow = "tests/*.pem"\n')
    write(initialized, "tests/a.pem", "x\n")
    proc = commit(initialized, "tests/a.pem")
    assert proc.returncode != 0
    assert "[plugins.secrets] allow must be a list of globs" in proc.stderr


# ---- post-commit, notes and verify ----------------------------------------------------

def test_post_commit_records_the_commit_and_anchors_the_ledger_head(initialized):
    parent = rev(initialized)
    write(initialized, "data/raw/customers.csv", CSV)
    write(initialized, "data/raw/customers_eu.csv", CSV)
    assert commit(initialized, "data/raw").returncode == 0
    sha = rev(initialized)

    created = ledger_entries(initialized, "commit_created")
    assert [e.subject for e in created] == [sha]
    payload = created[0].payload
    assert payload["parents"] == [parent] and payload["author"] == "Ada <ada@example.com>"
    assert payload["message"] == "change"
    assert sorted((c["path"], c["status"], c["dataset"]) for c in payload["changes"]) == [
        ("data/raw/customers.csv", "A", "customers"), ("data/raw/customers_eu.csv", "A", "customers")]
    assert all(len(c["blob"]) == 40 for c in payload["changes"])

    note = json.loads(git(initialized, "notes", "--ref=gitgov", "show", sha).stdout)
    head = ledger_entries(initialized)[-1]
    assert note == {"seq": head.seq, "id": head.id} and head.kind == "commit_created"
    assert not (initialized / ".gitgov" / "state" / "pending-commit").exists()

    proc = gitgov(initialized, "verify")
    assert proc.returncode == 0, proc.stderr
    assert f"{head.seq} entries, chain intact, 1 anchored head(s) match" in proc.stdout


def _governed_commit(repo: Path) -> None:
    write(repo, "data/raw/customers.csv", CSV)
    assert commit(repo, "data/raw/customers.csv").returncode == 0


def test_verify_names_the_first_edited_entry(initialized):
    _governed_commit(initialized)
    target = ledger_entries(initialized, "data_added")[0].seq
    with sqlite3.connect(initialized / ".gitgov" / "ledger.db") as db:  # as an attacker would
        db.execute("DROP TRIGGER journal_no_update")
        db.execute("UPDATE journal SET payload = replace(payload, '\"pass\"', '\"PASS\"')"
                   " WHERE seq = ?", (target,))
    proc = gitgov(initialized, "verify")
    assert proc.returncode == 1
    assert f"FAILED at entry {target}:" in proc.stderr and "row edited" in proc.stderr
    report = json.loads(gitgov(initialized, "verify", "--json").stdout)
    assert report["ok"] is False and report["first_bad_seq"] == target


@pytest.mark.parametrize("payload", ["'not json'", "x'ff'", "'[1, 2]'"])
def test_a_payload_edited_into_no_object_is_one_line_for_every_reader(initialized, payload):
    _governed_commit(initialized)
    target = ledger_entries(initialized, "data_added")[0].seq
    with sqlite3.connect(initialized / ".gitgov" / "ledger.db") as db:
        db.execute("DROP TRIGGER journal_no_update")
        db.execute(f"UPDATE journal SET payload = {payload} WHERE seq = ?", (target,))
    ledger = initialized / ".gitgov" / "ledger.db"
    message = (f"gitgov: {ledger}: entry seq {target} (data_added): its payload is not a JSON object; "
               "the journal was altered (`gitgov verify` shows where)")
    for args in (("log", "--json", "-n", "100"), ("ledger", "rebuild")):
        proc = gitgov(initialized, *args)
        assert proc.returncode == 2 and proc.stderr.splitlines()[-1].startswith(message.split(": entry")[0])
        assert f"entry seq {target} (data_added): its payload is not a JSON object" in proc.stderr
        assert "internal error" not in proc.stderr
    assert gitgov(initialized, "verify").returncode == 1


def test_verify_catches_a_tail_truncated_below_an_anchored_head(initialized):
    _governed_commit(initialized)
    last = ledger_entries(initialized)[-1].seq
    db_path = initialized / ".gitgov" / "ledger.db"
    with sqlite3.connect(db_path) as db:
        triggers = [r[0] for r in db.execute(
            "SELECT sql FROM sqlite_master WHERE type='trigger' AND tbl_name='journal'")]
        db.execute("DROP TRIGGER journal_no_delete")
        db.execute("DELETE FROM journal WHERE seq >= ?", (last - 1,))
        db.execute("DROP TRIGGER journal_no_update")
        db.execute("DROP TRIGGER journal_no_replace")
        for sql in triggers:  # put the triggers back: only the notes can tell now
            db.execute(sql)
    with open_ledger(db_path) as ledger:
        assert ledger.verify().ok  # the remaining chain alone looks sound
    proc = gitgov(initialized, "verify")
    assert proc.returncode == 1
    assert f"FAILED at entry {last - 1}:" in proc.stderr and "tail truncated" in proc.stderr


def test_verify_fails_when_two_notes_anchor_different_entries_at_one_seq(initialized):
    git(initialized, "commit", "-q", "--allow-empty", "--no-verify", "-m", "empty")
    first = ledger_entries(initialized)[0]
    git(initialized, "notes", "--ref=gitgov", "add", "-m",
        json.dumps({"seq": first.seq, "id": first.id}), "HEAD~1")
    assert gitgov(initialized, "verify").returncode == 0
    git(initialized, "notes", "--ref=gitgov", "add", "-m",
        json.dumps({"seq": first.seq, "id": "f" * 64}), "HEAD")
    proc = gitgov(initialized, "verify")
    assert proc.returncode == 1
    assert f"FAILED at entry {first.seq}: seq {first.seq}: id differs from the anchored id" in proc.stderr


def test_commit_changes_compare_a_merge_with_its_first_parent(initialized):
    from gitgov.core.git import Repo

    hexname = "0" * 39 + "7"  # a path that looks like a commit id must stay a path
    git(initialized, "checkout", "-q", "-b", "side")
    write(initialized, hexname, "side\n")
    commit(initialized, hexname, no_verify=True)
    git(initialized, "checkout", "-q", "main")
    write(initialized, "main.txt", "main\n")
    commit(initialized, "main.txt", no_verify=True)
    git(initialized, "merge", "-q", "--no-ff", "--no-verify", "side", "-m", "merge")
    repo = Repo.discover(initialized)
    shas = repo.rev_list("HEAD")
    by_commit = repo.changes_by_commit(shas)
    assert [c.path for c in by_commit[shas[0]]] == [hexname]  # not main.txt from the 2nd parent
    assert repo.commit_changes(shas[0]) == by_commit[shas[0]]
    assert all(len(c.new_blob) == 40 for cs in by_commit.values() for c in cs)
    only = repo.changes_by_commit(shas, "-G", "^side$")
    assert {sha: [c.path for c in cs] for sha, cs in only.items()} == {
        shas[0]: [hexname], rev(initialized, "side"): [hexname]}


# ---- pre-push -----------------------------------------------------------------------

@pytest.fixture
def remote(initialized, tmp_path) -> Path:
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(initialized, "remote", "add", "origin", str(bare))
    return bare


def push(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return git(repo, "push", "-q", "origin", *args, check=False)


def test_pre_push_rechecks_what_no_verify_skipped(initialized, remote):
    write(initialized, "data/raw/customers.csv", CSV)
    assert commit(initialized, "data/raw/customers.csv").returncode == 0
    checked_blob = git(initialized, "rev-parse", "HEAD:data/raw/customers.csv").stdout.strip()
    clean = push(initialized, "main")
    assert clean.returncode == 0, clean.stderr
    first = ledger_entries(initialized, "push_requested")[-1].payload
    assert first["remote"] == "origin" and first["verdict"] == "pass"
    assert first["refs"] == [{"ref": "refs/heads/main", "old": ZEROS, "new": rev(initialized),
                              "local_ref": "refs/heads/main"}]
    # Checked at commit time, so the push did not check it again.
    pushed = [e for e in ledger_entries(initialized, "data_added") if e.payload["stage"] == "pushed"]
    assert pushed == [] and checked_blob

    old = rev(initialized)
    write(initialized, "data/raw/customers.csv", CSV + PEM)
    assert commit(initialized, "data/raw/customers.csv", no_verify=True).returncode == 0
    with_key = rev(initialized)
    write(initialized, "data/raw/customers.csv", CSV + "4,Ok\n")
    assert commit(initialized, "data/raw/customers.csv", no_verify=True).returncode == 0
    proc = push(initialized, "main")
    assert proc.returncode != 0
    assert "push blocked by policy (1 error)" in proc.stderr
    # the file named with the commit to fix (not the last one: the key is in the one before)
    assert f"  data/raw/customers.csv (commit {with_key[:12]})\n" in proc.stderr
    assert "secrets/private-key" in proc.stderr
    assert rev(remote, "main") == old  # the remote did not move
    last = ledger_entries(initialized, "push_requested")[-1].payload
    assert last["refs"][0]["old"] == old and last["refs"][0]["new"] == rev(initialized)
    rechecked = [e.payload for e in ledger_entries(initialized, "data_added")
                 if e.payload["stage"] == "pushed"]
    assert sorted(p["verdict"] for p in rechecked) == ["block", "pass"]
    assert {p["commit"] for p in rechecked} == set(git(initialized, "rev-list", f"{old}..HEAD").stdout.split())


def test_pre_push_of_a_new_branch_checks_every_commit_not_on_the_remote(initialized, remote):
    assert push(initialized, "main").returncode == 0
    git(initialized, "checkout", "-q", "-b", "feature")
    write(initialized, "keys/deploy.txt", PEM)
    assert commit(initialized, "keys/deploy.txt", no_verify=True).returncode == 0
    git(initialized, "rm", "-q", "keys/deploy.txt")
    git(initialized, "commit", "-q", "--no-verify", "-m", "oops, removed")
    # The tip has no key; the commit before it does, and the push would publish it.
    proc = push(initialized, "feature")
    assert proc.returncode != 0
    assert "keys/deploy.txt" in proc.stderr and "secrets/private-key" in proc.stderr
    assert "add a commit" not in proc.stderr  # that is what was just tried
    assert "a new commit on top does not remove a file" in proc.stderr
    assert rev(remote, "feature") == ""
    ref = ledger_entries(initialized, "push_requested")[-1].payload["refs"][0]
    assert ref["ref"] == "refs/heads/feature" and ref["old"] == ZEROS


def test_pre_push_with_nothing_governed_passes(initialized, remote):
    write(initialized, "src/app.py", "print('hi')\n")
    assert commit(initialized, "src/app.py").returncode == 0
    proc = push(initialized, "main")
    assert proc.returncode == 0, proc.stderr
    assert rev(remote, "main") == rev(initialized)
