"""`gitgov retention check | apply` and the daemon's retention sweep, on real files and a real ledger."""
from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from conftest import git, gitgov, write
from gitgov.core.events import DataAdded
from gitgov.core.session import Session

POLICY = """\
[datasets.logs]
paths = ["data/logs/*.csv"]
retention = "30d"

[datasets.customers]
paths = ["data/raw/customers*.csv", "data/raw/customers*.parquet"]
retention = "1y"
retention_column = "signup_date"

[datasets.held]
paths = ["data/held/*.csv"]
retention = "30d"
retention_column = "day"
hold = true

[plugins]
enable = ["retention", "secrets"]
"""

CUSTOMERS = ('id,email,signup_date\r\n'
             '1,"old, one"@example.com,2015-03-01\r\n'
             '2,new@example.com,2099-01-01\r\n'
             '3,older@example.com,2014-12-31T08:00:00Z\r\n'
             '4,"quoted ""name""",2098-06-30\r\n')
KEPT = ('id,email,signup_date\r\n'
        '2,new@example.com,2099-01-01\r\n'
        '4,"quoted ""name""",2098-06-30\r\n')


@pytest.fixture
def rrepo(tmp_path) -> Path:
    root = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(root))
    write(root, "gitgov.toml", POLICY)
    gitgov(root, "init", check=True)
    return root


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record(root: Path, rel: str, dataset: str, when: str | None = None) -> None:
    """Record the file's current version as the watcher does, optionally back-dated."""
    data = (root / rel).read_bytes()
    extra = {"created": when} if when else {}
    with Session.open(root) as s:
        s.emit([DataAdded(path=rel, dataset=dataset, sha256=sha(data), size=len(data), stage="observed",
                          source="watcher", **extra)])


def journal(root: Path, kind: str) -> list[dict]:
    with sqlite3.connect(root / ".gitgov" / "ledger.db") as db:
        return [json.loads(p) for (p,) in db.execute("SELECT payload FROM journal WHERE kind = ? ORDER BY seq",
                                                      (kind,))]


def setup_expired(root: Path) -> None:
    write(root, "data/logs/old.csv", "t\n1\n")
    write(root, "data/logs/new.csv", "t\n2\n")
    write(root, "data/raw/customers.csv", CUSTOMERS.encode())
    record(root, "data/logs/old.csv", "logs", when="2020-01-01T00:00:00.000000Z")
    record(root, "data/logs/new.csv", "logs")


def test_check_reports_expired_files_and_rows_and_exits_1(rrepo):
    setup_expired(rrepo)
    proc = gitgov(rrepo, "retention", "check")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.split()[:4] == ["logs", "data/logs/old.csv", "whole", "file"] and "2020-01-31" in line
               and "first recorded 2020-01-01" in line and line.endswith("OVERDUE") for line in lines)
    assert any(line.split()[:6] == ["customers", "data/raw/customers.csv", "2", "of", "4", "rows"]
               for line in lines)
    assert "data/logs/new.csv" not in proc.stdout
    assert "gitgov: 2 item(s) overdue; `gitgov retention apply` disposes of them" in proc.stdout
    fired = journal(rrepo, "retention_expired")
    assert [(e["path"], e["rows"], e["source"]) for e in fired] == [
        ("data/logs/old.csv", None, "cli"), ("data/raw/customers.csv", 2, "cli")]
    assert fired[0]["findings"][0]["code"] == "retention-expired"
    again = gitgov(rrepo, "retention", "check", "--json")
    assert again.returncode == 1
    assert [i["path"] for i in json.loads(again.stdout)["expired"]] == ["data/logs/old.csv", "data/raw/customers.csv"]
    assert len(journal(rrepo, "retention_expired")) == 2  # the same expiry is recorded once


def test_check_as_of_a_later_date_previews_and_records_nothing(rrepo):
    write(rrepo, "data/logs/fresh.csv", "t\n1\n")
    record(rrepo, "data/logs/fresh.csv", "logs")  # expires 30 days from today
    later = gitgov(rrepo, "retention", "check", "--as-of", "2199-01-01", "--json")
    assert later.returncode == 1, later.stderr
    assert [i["path"] for i in json.loads(later.stdout)["expired"]] == ["data/logs/fresh.csv"]
    assert journal(rrepo, "retention_expired") == []
    assert "nothing is past its retention period" in gitgov(rrepo, "retention", "check").stdout
    assert journal(rrepo, "retention_expired") == []


def test_dates_at_the_ends_of_the_calendar_are_judged_not_crashed_on(rrepo):
    """A period counted back from the year 1, or forward from 9999, stays in the calendar."""
    setup_expired(rrepo)
    write(rrepo, "data/raw/customers.csv", CUSTOMERS.encode() + b"9,far@example.com,9999-12-30\r\n")
    for args in (("check", "--as-of", "0001-01-01"), ("apply", "--dry-run", "--as-of", "0001-06-01")):
        proc = gitgov(rrepo, "retention", *args)
        assert proc.returncode == 0 and "internal error" not in proc.stderr, proc.stderr
        assert "nothing" in proc.stdout
    later = gitgov(rrepo, "retention", "check", "--json")
    assert later.returncode == 1 and "internal error" not in later.stderr, later.stderr


def test_apply_deletes_and_rewrites_atomically_and_records_both_hashes(rrepo):
    setup_expired(rrepo)
    dry = gitgov(rrepo, "retention", "apply", "--dry-run")
    assert dry.returncode == 0 and "dry run: 2 item(s) would be disposed of; nothing changed" in dry.stdout
    assert (rrepo / "data/logs/old.csv").exists() and journal(rrepo, "data_disposed") == []
    proc = gitgov(rrepo, "retention", "apply")
    assert proc.returncode == 0, proc.stderr
    assert not (rrepo / "data/logs/old.csv").exists() and (rrepo / "data/logs/new.csv").exists()
    assert (rrepo / "data/raw/customers.csv").read_bytes() == KEPT.encode()  # kept lines byte for byte
    assert sorted(p.name for p in (rrepo / "data/raw").iterdir()) == ["customers.csv"]  # no temp file left
    disposed = {d["path"]: d for d in journal(rrepo, "data_disposed")}
    assert disposed["data/logs/old.csv"]["sha256_before"] == sha(b"t\n1\n")
    assert disposed["data/logs/old.csv"]["sha256_after"] is None
    rows = disposed["data/raw/customers.csv"]
    assert (rows["rows_before"], rows["rows_after"]) == (4, 2)
    assert rows["sha256_before"] == sha(CUSTOMERS.encode()) and rows["sha256_after"] == sha(KEPT.encode())
    assert "signup_date before" in rows["reason"]
    assert "removed 2 of 4 rows from data/raw/customers.csv" in proc.stdout
    after = gitgov(rrepo, "retention", "check")
    assert after.returncode == 0 and "nothing is past its retention period" in after.stdout


def current_files(root: Path) -> list[str]:
    with sqlite3.connect(root / ".gitgov" / "ledger.db") as db:
        return [p for (p,) in db.execute("SELECT path FROM current_files ORDER BY path")]


def test_a_file_disposed_of_whole_leaves_the_catalog_also_after_an_upgrade(rrepo):
    setup_expired(rrepo)
    assert current_files(rrepo) == ["data/logs/new.csv", "data/logs/old.csv"]
    assert gitgov(rrepo, "retention", "apply").returncode == 0
    assert current_files(rrepo) == ["data/logs/new.csv"]  # rows removed from a kept file: not "removed"
    catalog = json.loads(gitgov(rrepo, "catalog", "--json").stdout)
    logs = next(d for d in catalog if d["name"] == "logs")
    assert [f["path"] for f in logs["current"]["files"]] == ["data/logs/new.csv"]
    # A ledger written before disposals were projected gets them on its next open, without a replay.
    with sqlite3.connect(rrepo / ".gitgov" / "ledger.db") as db:
        db.execute("DELETE FROM dataset_versions WHERE change = 'removed'")
        db.execute("PRAGMA user_version = 6")
    assert current_files(rrepo) == ["data/logs/new.csv", "data/logs/old.csv"]
    assert gitgov(rrepo, "verify").returncode == 0
    assert current_files(rrepo) == ["data/logs/new.csv"]


def test_a_legal_hold_stops_disposal_and_says_so(rrepo):
    write(rrepo, "data/held/h.csv", "day,v\n2001-01-01,1\n2099-01-01,2\n")
    before = (rrepo / "data/held/h.csv").read_bytes()
    check = gitgov(rrepo, "retention", "check")
    assert check.returncode == 0  # held items are not overdue work
    assert "on legal hold" in check.stdout and "(hold = true in datasets.held)" in check.stdout
    apply = gitgov(rrepo, "retention", "apply")
    assert apply.returncode == 0
    assert "datasets.held is under legal hold (hold = true): nothing of it is disposed of" in apply.stdout
    assert (rrepo / "data/held/h.csv").read_bytes() == before and journal(rrepo, "data_disposed") == []


def test_an_unparsable_date_names_file_line_dataset_and_key_and_changes_nothing(rrepo):
    write(rrepo, "data/logs/old.csv", "t\n1\n")
    record(rrepo, "data/logs/old.csv", "logs", when="2020-01-01T00:00:00.000000Z")
    write(rrepo, "data/raw/customers.csv", "id,signup_date\n1,2015-01-01\n2,someday\n")
    for cmd in (["retention", "check"], ["retention", "apply"]):
        proc = gitgov(rrepo, *cmd)
        assert proc.returncode == 2
        assert proc.stderr.strip() == ("gitgov: data/raw/customers.csv: line 3: datasets.customers.retention_column"
                                       " = 'signup_date': 'someday' is not a date (expected YYYY-MM-DD or an ISO"
                                       " 8601 timestamp)")
    assert (rrepo / "data/logs/old.csv").exists()  # nothing disposed of: every file is judged first
    assert (rrepo / "data/raw/customers.csv").read_text() == "id,signup_date\n1,2015-01-01\n2,someday\n"


def test_a_missing_date_column_is_named_with_the_dataset_key(rrepo):
    write(rrepo, "data/raw/customers.csv", "id,email\n1,a@example.com\n")
    proc = gitgov(rrepo, "retention", "check")
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("gitgov: data/raw/customers.csv: no column 'signup_date' "
                                   "(datasets.customers.retention_column); its columns are id, email")


def test_an_unparsable_retention_value_is_a_config_error(rrepo):
    write(rrepo, "gitgov.toml", POLICY.replace('retention = "1y"', 'retention = "7 years"'))
    proc = gitgov(rrepo, "retention", "check")
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("gitgov: gitgov.toml:7: datasets.customers.retention: expected a duration "
                                   "such as 30d, 12w, 18m or 7y")


@pytest.mark.parametrize("retention", ["10000y", "99999999999y"])
def test_a_retention_too_long_for_any_date_is_a_config_error(rrepo, retention):
    setup_expired(rrepo)
    write(rrepo, "gitgov.toml", POLICY.replace('retention = "1y"', f'retention = "{retention}"'))
    for args in (["retention", "check"], ["retention", "apply"], ["catalog"]):
        proc = gitgov(rrepo, *args)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip() == ("gitgov: gitgov.toml:7: datasets.customers.retention: expected a "
                                       "duration of at most 1000y")


def test_the_longest_retention_and_grace_keep_every_row(rrepo):
    setup_expired(rrepo)
    policy = POLICY.replace('retention = "1y"', 'retention = "1000y"')
    write(rrepo, "gitgov.toml", policy + '\n[retention]\ngrace = "1000y"\n')
    proc = gitgov(rrepo, "retention", "check", "--dataset", "customers", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["expired"] == []


def test_apply_commit_and_what_history_still_holds(rrepo):
    write(rrepo, "data/raw/customers.csv", CUSTOMERS.encode())
    git(rrepo, "add", "gitgov.toml", ".gitignore", "data/raw/customers.csv")
    git(rrepo, "commit", "-q", "-m", "customers")
    proc = gitgov(rrepo, "retention", "apply", "--commit", "--shred-key")
    assert proc.returncode == 0, proc.stderr
    assert "committed the disposal of 1 file(s)" in proc.stdout
    assert git(rrepo, "log", "-1", "--format=%s").stdout.strip() == "Dispose of data past its retention period"
    assert git(rrepo, "show", "HEAD:data/raw/customers.csv").stdout == KEPT.replace("\r\n", "\n")  # text mode
    # The disposal's own commit holds what was kept: only the earlier one is named.
    earlier = git(rrepo, "rev-parse", "HEAD~1").stdout.strip()[:12]
    assert (f"data/raw/customers.csv: 1 commit(s) in Git history still hold earlier versions "
            f"({earlier})") in proc.stdout
    assert ("copy the file aside, `git filter-repo --path data/raw/customers.csv --invert-paths` "
            "(which takes it out of every commit), put the copy back and commit it") in proc.stdout
    assert "datasets.customers is not encrypted (no `encrypt`): there is no key to shred" in proc.stdout


def test_shred_key_destroys_an_encrypted_datasets_keys(rrepo):
    from gitgov.core.git import Repo
    from gitgov.core.keys import KeyStore

    write(rrepo, "gitgov.toml", POLICY.replace('retention = "30d"\n', 'retention = "30d"\nencrypt = "file"\n', 1))
    store = KeyStore.for_repo(Repo.discover(rrepo))
    store.create_master()
    kid = store.active_key("logs", create=True).id
    write(rrepo, "data/logs/old.csv", "t\n1\n")
    record(rrepo, "data/logs/old.csv", "logs", when="2020-01-01T00:00:00.000000Z")
    proc = gitgov(rrepo, "retention", "apply", "--shred-key", "--dataset", "logs")
    assert proc.returncode == 0, proc.stderr
    assert f"logs: shredded 1 data key(s) ({kid[:12]})" in proc.stdout
    assert "logs" not in KeyStore.for_repo(Repo.discover(rrepo)).datasets()
    assert [e["dataset"] for e in journal(rrepo, "key_shredded")] == ["logs"]


def test_rows_of_a_parquet_file_expire_by_a_date_column(rrepo):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (rrepo / "data/raw").mkdir(parents=True)
    table = pa.table({"id": [1, 2, 3], "signup_date": [date(2010, 1, 1), date(2099, 1, 1), None]})
    pq.write_table(table, rrepo / "data/raw/customers.parquet")
    proc = gitgov(rrepo, "retention", "apply")
    assert proc.returncode == 0, proc.stderr
    left = pq.read_table(rrepo / "data/raw/customers.parquet")
    assert left.column("id").to_pylist() == [2, 3] and left.schema == table.schema  # undated rows are kept
    assert "removed 1 of 3 rows from data/raw/customers.parquet" in proc.stdout


def test_the_daemon_sweep_disposes_when_the_policy_says_so(rrepo):
    from gitgov.plugins.retention.schedule import due

    write(rrepo, "gitgov.toml", POLICY + '\n[retention]\naction = "dispose"\n')
    setup_expired(rrepo)
    with Session.open(rrepo) as s:
        events = due(datetime.now(timezone.utc), s.ctx)
        assert sorted((e.name, e.path) for e in events) == [
            ("data_disposed", "data/logs/old.csv"), ("data_disposed", "data/raw/customers.csv"),
            ("retention_expired", "data/logs/old.csv"), ("retention_expired", "data/raw/customers.csv")]
        assert all(e.source == "scheduler" for e in events)
        s.emit(events)
        assert due(datetime.now(timezone.utc), s.ctx) == []  # nothing new on the next sweep
    assert (rrepo / "data/raw/customers.csv").read_bytes() == KEPT.encode()


def test_a_failing_disposal_in_the_sweep_keeps_the_records_of_the_others(rrepo, monkeypatch, caplog):
    from gitgov.plugins.retention import schedule

    write(rrepo, "gitgov.toml", POLICY + '\n[retention]\naction = "dispose"\n')
    setup_expired(rrepo)
    real = schedule.dispose

    def dispose(repo, item, *args, **kwargs):
        if item.path == "data/raw/customers.csv":
            raise PermissionError(13, "Permission denied", str(repo.root / item.path))
        return real(repo, item, *args, **kwargs)

    monkeypatch.setattr(schedule, "dispose", dispose)
    with Session.open(rrepo) as s:
        events = schedule.due(datetime.now(timezone.utc), s.ctx)
    assert not (rrepo / "data/logs/old.csv").exists()  # deleted: its record must not be lost
    assert [e.path for e in events if e.name == "data_disposed"] == ["data/logs/old.csv"]
    assert "data/raw/customers.csv: not disposed of: [Errno 13] Permission denied" in caplog.text


def test_rows_disposed_of_from_an_encrypted_file_leave_the_rest_decryptable(tmp_path):
    """Without the primary key, encrypted values are bound to row numbers: the rows after an
    expired one move up, and their values must be re-encrypted for their new numbers."""
    import csv
    import io

    root = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(root))
    write(root, "gitgov.toml", '[datasets.people]\npaths = ["data/people.csv"]\nretention = "1y"\n'
          'retention_column = "joined"\nowner = "ada@example.com"\n\n'
          '[datasets.people.columns.email]\nprotect = "encrypt"\n\n'
          '[plugins]\nenable = ["privacy", "retention", "secrets"]\n')
    gitgov(root, "init", check=True)
    rows = [("1", "ada@example.com", "2099-01-01"), ("2", "old@example.com", "2001-01-01"),
            ("3", "grace@example.com", "2099-02-01"), ("4", "alan@example.com", "2099-03-01")]
    write(root, "data/people.csv", "id,email,joined\n" + "".join(",".join(r) + "\n" for r in rows))
    gitgov(root, "protect", "data/people.csv", "--in-place", check=True)
    first = (root / "data/people.csv").read_text().splitlines()[1]
    proc = gitgov(root, "retention", "apply")
    assert proc.returncode == 0, proc.stderr
    assert "removed 1 of 4 rows from data/people.csv" in proc.stdout
    shown = gitgov(root, "reveal", "data/people.csv")
    assert shown.returncode == 0, shown.stderr  # every value still authenticates for its row
    assert [(r["id"], r["email"]) for r in csv.DictReader(io.StringIO(shown.stdout))] == [
        ("1", "ada@example.com"), ("3", "grace@example.com"), ("4", "alan@example.com")]
    assert (root / "data/people.csv").read_text().splitlines()[1] == first  # a row above keeps its bytes


def test_a_refused_disposal_commit_shows_why_and_leaves_the_disposal_staged(rrepo):
    write(rrepo, "data/raw/customers.csv", CUSTOMERS.encode())
    git(rrepo, "add", "gitgov.toml", ".gitignore", "data/raw/customers.csv")
    git(rrepo, "commit", "-q", "-m", "customers")
    hook = rrepo / ".git" / "hooks" / "pre-commit.legacy"  # runs before gitgov's, and blocks
    hook.write_text("#!/bin/sh\necho 'the team hook says no' >&2\nexit 1\n")
    hook.chmod(0o755)
    proc = gitgov(rrepo, "retention", "apply", "--commit")
    assert proc.returncode == 1, proc.stderr
    assert "the team hook says no" in proc.stderr  # git's own report reaches the user
    assert proc.stderr.rstrip().endswith(
        "gitgov: --commit: git commit refused the disposal (see above); the disposed files are "
        "staged as they are now: fix what it says and commit them")
    assert git(rrepo, "log", "-1", "--format=%s").stdout.strip() == "customers"
    assert git(rrepo, "diff", "--cached", "--name-only").stdout == "data/raw/customers.csv\n"
