"""The ledger: hash chain, append-only guards, verify, projections, bad input, concurrency."""
from __future__ import annotations

import hashlib
import json
import sqlite3
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from gitgov.core import projections
from gitgov.core.errors import LedgerError
from gitgov.core.ledger import GENESIS, SCHEMA_VERSION, Entry, entry_id, open_ledger

TRIGGERS = ("journal_no_update", "journal_no_delete", "journal_no_replace")


def contract_id(seq, prev, time, kind, actor, source, subject, payload_text):
    """The id formula written out from the interface contract, independently of ledger.py."""
    doc = {"seq": seq, "prev": prev, "time": time, "kind": kind, "actor": actor,
           "source": source, "subject": subject, "payload": payload_text}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def added(path, blob, *, dataset="raw", stage="staged", verdict="pass", findings=(), ruleset=None):
    payload = {"path": path, "dataset": dataset, "blob": blob, "sha256": "ab" * 32, "size": 10,
               "stage": stage, "commit": None, "findings": list(findings), "verdict": verdict}
    if ruleset:
        payload["ruleset"] = ruleset
    return Entry("data_added", path, payload, actor="Ann <ann@example.com>", source="hook")


def finding(code, severity="error", path=None):
    return {"severity": severity, "code": code, "message": f"{code} happened", "path": path,
            "plugin": "validation", "hook": "data_added", "details": {"row": 3}}


@pytest.fixture
def db_path(tmp_path):
    (tmp_path / ".gitgov").mkdir()
    return tmp_path / ".gitgov" / "ledger.db"


@pytest.fixture
def led(db_path):
    with open_ledger(db_path, create=True) as ledger:
        yield ledger


def fill(led, n=6):
    return led.append([Entry("note", f"s{i}", {"i": i, "text": "é\"\n"}) for i in range(n)])


def rows(path):
    with sqlite3.connect(path) as db:
        return db.execute("SELECT seq, id, prev, time, kind, actor, source, subject, payload"
                          " FROM journal ORDER BY seq").fetchall()


def tamper(path, edit):
    """Act as an attacker with raw sqlite3: drop the guards, edit, put the guards back."""
    db = sqlite3.connect(path, isolation_level=None)
    saved = [r[0] for r in db.execute("SELECT sql FROM sqlite_master WHERE type='trigger'")]
    for name in TRIGGERS:
        db.execute(f"DROP TRIGGER {name}")
    edit(db)
    for sql in saved:
        db.execute(sql)
    db.close()


def rewrite(db, new_rows):
    db.execute("DELETE FROM journal")
    db.executemany("INSERT INTO journal VALUES (?,?,?,?,?,?,?,?,?)", new_rows)


# --- the chain -------------------------------------------------------------

def test_an_append_unless_a_row_exists_is_decided_inside_its_transaction(led, db_path):
    """`unless` is asked with the writers' queue held: two processes that both saw no row
    cannot both append (run records imported by two `gitgov store pull` at once)."""
    fill(led, 2)
    seen = ("SELECT 1 FROM journal WHERE subject = ?", ("s1",))
    assert led.append([Entry("note", "again", {"i": 9})], unless=seen) == []
    assert len(rows(db_path)) == 2
    fresh = ("SELECT 1 FROM journal WHERE subject = ?", ("nobody",))
    [done] = led.append([Entry("note", "new", {"i": 10})], unless=fresh)
    assert done.seq == 3 and len(rows(db_path)) == 3


def test_append_chains_entries_by_the_contract_formula(led, db_path):
    recorded = fill(led, 5)
    stored = rows(db_path)
    assert [r.seq for r in recorded] == [1, 2, 3, 4, 5]
    prev = GENESIS
    for seq, rid, rprev, time_, kind, actor, source, subject, payload in stored:
        assert rprev == prev
        assert rid == contract_id(seq, rprev, time_, kind, actor, source, subject, payload)
        assert time_.endswith("Z") and "T" in time_
        prev = rid
    assert led.head() == (5, stored[-1][1])
    assert [r.id for r in recorded] == [r[1] for r in stored]
    led.append([Entry("note", "x", {"b": 1, "a": "ü"}, actor="me", source="watcher", time="2024-01-01T00:00:00Z")])
    assert rows(db_path)[-1][3:] == ("2024-01-01T00:00:00Z", "note", "me", "watcher", "x", '{"a":"ü","b":1}')


@pytest.mark.parametrize("text", ['plain', 'quote " back \\ slash', "ctl \x00\x1f\n\t", "ünï 😀 \u2028"])
def test_entry_id_equals_the_contract_formula_for_awkward_text(text):
    args = (7, "f" * 64, text, "k" + text, text, "hook", text, json.dumps({"t": text}, ensure_ascii=False))
    assert entry_id(*args) == contract_id(*args)


def test_empty_ledger_and_appending_from_any_iterable(led):
    assert led.head() is None
    assert led.append([]) == [] and led.append(iter(())) == []
    assert led.head() is None
    recorded = led.append(Entry("note", f"s{i}", {"i": i}) for i in range(3))
    assert [(r.seq, r.subject, r.payload) for r in recorded] == [(1, "s0", {"i": 0}), (2, "s1", {"i": 1}),
                                                                 (3, "s2", {"i": 2})]


def test_entries_filters_and_order(led):
    led.append([added("data/a.csv", "b1"), Entry("note", "data/a.csv", {}),
                added("data/b.csv", "b2"), Entry("commit_created", "c1", {"sha": "c1"})])
    assert [e.seq for e in led.entries()] == [4, 3, 2, 1]
    assert [e.seq for e in led.entries(newest_first=False, limit=2)] == [1, 2]
    assert [e.seq for e in led.entries(kind="data_added")] == [3, 1]
    assert [e.seq for e in led.entries(kind="data_*")] == [3, 1]
    assert [e.seq for e in led.entries(kind="data_")] == []  # no pattern: exact match
    assert [e.seq for e in led.entries(subject="data/a.csv")] == [2, 1]
    assert [e.seq for e in led.entries(after_seq=2, newest_first=False)] == [3, 4]
    first = next(led.entries(newest_first=False))
    assert first.payload["blob"] == "b1" and first.actor == "Ann <ann@example.com>"


# --- all or nothing --------------------------------------------------------

@pytest.mark.parametrize("bad", [
    Entry("note", "x", {"when": object()}),          # not JSON
    Entry("note", "x", {"nan": float("nan")}),       # NaN is not JSON
    Entry("note", "x", {"path": "caf\udce9.csv"}),   # undecodable file name
    Entry("note", 42, {}),                           # subject must be text
    Entry("", "x", {}),                              # no kind
    Entry("note", "x", ["not", "a", "dict"]),
    Entry("note", "x", (cycle := {"self": []}) and cycle["self"].append(cycle) or cycle),
])
def test_failed_append_leaves_nothing_behind(led, db_path, bad):
    fill(led, 2)
    before = (led.head(), led.db.execute("SELECT count(*) FROM dataset_versions").fetchone())
    with pytest.raises(LedgerError) as info:
        led.append([added("data/ok.csv", "b9"), bad])
    assert "\n" not in str(info.value)
    assert (led.head(), led.db.execute("SELECT count(*) FROM dataset_versions").fetchone()) == before
    assert len(rows(db_path)) == 2


def test_failing_projector_rolls_back_the_journal_too(led, monkeypatch):
    def broken(conn, rec):
        raise KeyError("boom")
    monkeypatch.setitem(projections.PROJECTORS, "note", broken)
    with pytest.raises(LedgerError, match="cannot project entry seq 2 \\(note\\)"):
        led.append([added("data/a.csv", "b1"), Entry("note", "x", {})])
    assert led.head() is None
    assert led.db.execute("SELECT count(*) FROM dataset_versions").fetchone() == (0,)


# --- append-only guards ----------------------------------------------------

@pytest.mark.parametrize("sql", [
    "UPDATE journal SET payload = '{}' WHERE seq = 2",
    "DELETE FROM journal WHERE seq = 3",
    "DELETE FROM journal",
    "INSERT OR REPLACE INTO journal SELECT * FROM journal WHERE seq = 1",
])
def test_triggers_refuse_changes_to_the_journal(led, db_path, sql):
    fill(led, 3)
    before = rows(db_path)
    with sqlite3.connect(db_path) as raw, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute(sql)
    assert rows(db_path) == before


# --- verify ----------------------------------------------------------------

def test_verify_accepts_an_intact_ledger_with_anchors(led):
    recorded = fill(led, 6)
    report = led.verify({3: recorded[2].id, 6: recorded[5].id})
    assert (report.ok, report.count, report.first_bad_seq, report.reason) == (True, 6, None, "")
    assert led.verify(json.loads(json.dumps({6: recorded[5].id}))).ok  # str keys, as from JSON
    assert not led.verify({"6": "0" * 64}).ok
    with pytest.raises(LedgerError, match="anchors"):
        led.verify({"six": recorded[5].id})


FORGED = ("2024-01-01T00:00:00Z", "note", "eve", "cli", "forged", "{}")


def edit_and_rehash(db):
    seq, _id, prev, *body = db.execute("SELECT * FROM journal WHERE seq = 3").fetchone()
    body[-1] = '{"i":99}'
    db.execute("UPDATE journal SET payload = ?, id = ? WHERE seq = 3", (body[-1], entry_id(3, prev, *body)))


def insert_in_middle(db):
    old = db.execute("SELECT * FROM journal ORDER BY seq").fetchall()
    forged = (3, entry_id(3, old[1][1], *FORGED), old[1][1], *FORGED)  # validly linked after seq 2
    rewrite(db, old[:2] + [forged] + [(r[0] + 1, *r[1:]) for r in old[2:]])


def swap_rows(db):
    old = db.execute("SELECT * FROM journal ORDER BY seq").fetchall()
    old[1], old[3] = (2, *old[3][1:]), (4, *old[1][1:])
    rewrite(db, old)


@pytest.mark.parametrize("attack, first_bad, reason", [
    (lambda db: db.execute("""UPDATE journal SET payload = '{"i":99}' WHERE seq = 3"""), 3, "does not match its id"),
    (lambda db: db.execute("UPDATE journal SET time = time || ' ' WHERE seq = 5"), 5, "does not match its id"),
    (edit_and_rehash, 4, "prev does not match"),
    (lambda db: db.execute("DELETE FROM journal WHERE seq = 3"), 3, "seq 3 is missing"),
    (lambda db: db.execute("DELETE FROM journal WHERE seq = 1"), 1, "seq 1 is missing"),
    (insert_in_middle, 4, "does not match its id"),
    (lambda db: db.execute("INSERT INTO journal VALUES (?,?,?,?,?,?,?,?,?)",
                           (7, entry_id(7, GENESIS, *FORGED), GENESIS, *FORGED)), 7, "prev does not match"),
    (lambda db: db.execute("INSERT INTO journal VALUES (?,?,?,?,?,?,?,?,?)",
                           (0, entry_id(0, GENESIS, *FORGED), GENESIS, *FORGED)), 0, "row inserted"),
    (swap_rows, 2, "does not match its id"),
])
def test_verify_catches_tampering(led, db_path, attack, first_bad, reason):
    fill(led, 6)
    tamper(db_path, attack)
    report = led.verify()
    assert not report.ok
    assert report.first_bad_seq == first_bad
    assert reason in report.reason


def test_verify_needs_an_anchor_to_see_a_truncated_tail(led, db_path):
    recorded = fill(led, 6)
    tamper(db_path, lambda db: db.execute("DELETE FROM journal WHERE seq > 4"))
    assert led.verify().ok  # a clean prefix is a valid chain: only an anchor kept elsewhere tells
    report = led.verify({6: recorded[5].id})
    assert (report.ok, report.first_bad_seq, report.count) == (False, 5, 4)
    assert "truncated" in report.reason


def test_verify_anchor_catches_a_fully_rewritten_chain(led, db_path):
    recorded = fill(led, 6)

    def rewrite_from_3(db):
        old = db.execute("SELECT * FROM journal ORDER BY seq").fetchall()
        new, prev = old[:2], old[1][1]
        for seq, _id, _prev, *body in old[2:]:
            body[-1] = body[-1].replace("é", "e")
            new.append((seq, entry_id(seq, prev, *body), prev, *body))
            prev = new[-1][1]
        rewrite(db, new)
    tamper(db_path, rewrite_from_3)
    assert led.verify({2: recorded[1].id}).ok
    report = led.verify({2: recorded[1].id, 5: recorded[4].id})
    assert (report.ok, report.first_bad_seq) == (False, 5)
    assert "anchored" in report.reason


def test_verify_reports_dropped_triggers(led, db_path):
    fill(led, 2)
    with sqlite3.connect(db_path) as raw:
        raw.execute("DROP TRIGGER journal_no_delete")
    report = led.verify()
    assert not report.ok and report.first_bad_seq is None
    assert "triggers" in report.reason


# --- projections -----------------------------------------------------------

def snapshot(db):
    return {name: sorted(db.execute(f"SELECT * FROM {name}").fetchall(), key=repr)
            for name in projections.TABLES + projections.VIEWS}


def history(led):
    led.append([added("data/a.csv", "b1", findings=[finding("null_id")], verdict="block")])
    led.append([added("data/a.csv", "b2", ruleset="r1"), added("data/a.csv", "b2", stage="pushed")])
    led.append([added("data/b.csv", "b3", findings=[finding("pii", "warning"), finding("fyi", "info")]),
                added("data/c.csv", "b4", dataset="other"),
                Entry("data_removed", "data/c.csv", {"path": "data/c.csv", "dataset": "other", "stage": "staged"}),
                Entry("commit_created", "c1", {"sha": "c1", "parents": ["c0"], "author": "Ann",
                                               "message": "add data", "changes": [],
                                               "findings": [finding("big", path="data/b.csv")]})])


def test_projections_follow_the_journal(led):
    history(led)
    db = led.db
    assert db.execute("SELECT name, first_seq, last_seq, versions FROM datasets ORDER BY name").fetchall() == [
        ("other", 5, 5, 1), ("raw", 1, 4, 3)]
    assert db.execute("SELECT path, blob, stage FROM current_dataset_versions ORDER BY path").fetchall() == [
        ("data/a.csv", "b2", "pushed"), ("data/b.csv", "b3", "staged")]
    assert db.execute("SELECT change, blob FROM dataset_versions WHERE seq = 6").fetchone() == ("removed", None)
    assert db.execute("SELECT sha, seq, author, parents FROM commits").fetchall() == [("c1", 7, "Ann", '["c0"]')]
    assert db.execute("SELECT count(*) FROM findings").fetchone() == (4,)
    # null_id (seq 1) was superseded by newer entries about data/a.csv; info is never "open"
    assert db.execute("SELECT code, severity, path FROM open_findings").fetchall() == [
        ("big", "error", "data/b.csv"), ("pii", "warning", "data/b.csv")]
    assert db.execute("SELECT details FROM findings WHERE code = 'pii'").fetchone() == ('{"row": 3}',)
    assert led.has_passing_check("b2")
    assert led.has_passing_check("b2", "r1")
    assert not led.has_passing_check("b2", "r2")
    assert not led.has_passing_check("b1")  # blocked, never passed
    assert not led.has_passing_check("nope")


def test_rebuild_reproduces_incremental_projections(led):
    history(led)
    incremental = snapshot(led.db)
    led.db.execute("DELETE FROM findings")
    led.db.execute("UPDATE datasets SET versions = 99")
    assert led.rebuild() == 7
    assert snapshot(led.db) == incremental
    assert incremental["findings"] and incremental["open_findings"]


def test_unknown_kinds_are_journaled_but_not_projected(led):
    led.append([Entry("x_unknown_kind", "thing-1", {"params": {"lr": 0.1}})])
    assert led.head()[0] == 1
    assert all(not rows_ for rows_ in snapshot(led.db).values())


# --- opening: schema and bad input -------------------------------------------

def test_new_ledger_has_schema_version_wal_and_survives_reopen(led, db_path):
    fill(led, 2)
    led.close()
    with open_ledger(db_path) as again:
        assert again.db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert again.db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert again.head()[0] == 2 and again.verify().ok


def test_schema_5_ledger_upgrades_its_notable_index_and_view_without_a_replay(led, db_path):
    fill(led, 3)
    led.close()
    old = "kind NOT IN ('data_added', 'commit_created')"  # how step 5 wrote them
    with sqlite3.connect(db_path) as raw:
        raw.execute("DROP INDEX journal_notable")
        raw.execute(f"CREATE INDEX journal_notable ON journal(seq) WHERE {old}")
        raw.execute("DROP VIEW notable_entries")
        raw.execute(f"CREATE VIEW notable_entries AS SELECT seq FROM journal WHERE {old}")
        raw.execute("PRAGMA user_version = 5")
        # a projection row no journal entry explains: a replay would drop it
        raw.execute("INSERT INTO datasets (name, first_seq, last_seq, versions) VALUES ('marker', 1, 1, 0)")
    with open_ledger(db_path) as again:
        for name in ("journal_notable", "notable_entries"):
            sql = again.db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
            assert "NOT IN" not in sql and "kind <> 'data_added'" in sql, name
        assert again.db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert again.db.execute("SELECT 1 FROM datasets WHERE name = 'marker'").fetchone() == (1,)
        assert again.head()[0] == 3 and again.verify().ok


def test_notable_entries_are_read_through_their_partial_index(led):
    from gitgov.core.catalog_projections import NOTABLE
    plan = led.db.execute(f"EXPLAIN QUERY PLAN SELECT seq FROM journal WHERE {NOTABLE}"
                          " ORDER BY seq DESC LIMIT 5").fetchall()
    assert "journal_notable" in " ".join(str(row) for row in plan)


def test_ledger_from_a_newer_gitgov_is_refused(led, db_path):
    led.close()
    with sqlite3.connect(db_path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(LedgerError, match="newer gitgov"):
        open_ledger(db_path)


def state(p):
    return p.exists(), p.is_dir(), p.read_bytes() if p.is_file() else None


NOT_SQLITE = "{p} is not a gitgov ledger (not an SQLite database)"


@pytest.mark.parametrize("setup, create, message", [
    (lambda p: None, False, "no ledger at {p}; run `gitgov init`"),
    (lambda p: p.mkdir(), True, "{p} is a directory, not a gitgov ledger"),
    (lambda p: p.write_text("name,age\nann,3\n"), False, NOT_SQLITE),
    (lambda p: p.write_text("name,age\nann,3\n"), True, NOT_SQLITE),
    (lambda p: p.write_bytes(b"SQLite"), True, NOT_SQLITE),  # shorter than a header
    (lambda p: p.touch(), False, "{p} is an empty file, not an initialised ledger; run `gitgov init`"),
    (lambda p: p.parent.rmdir() or p.parent.write_text("x"), True, "cannot create {p}: {p.parent} is not a directory"),
])
def test_bad_locations_are_refused_untouched(db_path, setup, create, message):
    setup(db_path)
    before = state(db_path), state(db_path.parent)
    with pytest.raises(LedgerError) as info:
        open_ledger(db_path, create=create)
    assert str(info.value) == message.format(p=db_path)
    assert (state(db_path), state(db_path.parent)) == before


@pytest.mark.parametrize("create", [False, True])
def test_another_applications_sqlite_database_is_refused_untouched(db_path, create):
    with sqlite3.connect(db_path) as other:
        other.execute("CREATE TABLE users (name TEXT)")
    before = db_path.read_bytes()
    with pytest.raises(LedgerError, match="an SQLite database of another application"):
        open_ledger(db_path, create=create)
    assert db_path.read_bytes() == before  # not even switched to WAL


def test_an_empty_file_can_be_initialised(db_path):
    db_path.touch()
    with open_ledger(db_path, create=True) as led:
        assert led.head() is None and led.verify().ok


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc, unwritable even for root")
def test_unwritable_directory_even_for_root():
    path = Path("/proc/gitgov-ledger.db")
    with pytest.raises(LedgerError) as info:
        open_ledger(path, create=True)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert not path.exists()


# Imports first, then drop root (root ignores file modes; the interpreter may
# live where an unprivileged user cannot even read it).
READONLY_PROBE = r"""
import os, sys
from pathlib import Path
from gitgov.core.errors import LedgerError
from gitgov.core.ledger import Entry, open_ledger
try:
    if os.geteuid() == 0:
        os.setgroups([]); os.setgid(65534); os.setuid(65534)
except PermissionError:
    sys.exit(77)
for arg in sys.argv[1:]:
    try:
        with open_ledger(Path(arg), create=True) as led:
            led.append([Entry("note", "x", {})])
        print("OPENED", arg)
    except LedgerError as exc:
        print("ERROR", exc)
"""


def test_read_only_directory_and_file():
    base = Path(tempfile.mkdtemp(dir="/tmp"))  # tmp_path's parents may be closed to the unprivileged user
    ro_new, ro_file, ro_dir = base / "ro-new", base / "ro-file", base / "ro-dir"
    try:
        for d in (ro_new, ro_file, ro_dir):
            d.mkdir()
        for d in (ro_file, ro_dir):
            with open_ledger(d / "ledger.db", create=True) as led:
                led.append([Entry("note", "x", {})])
        (ro_file / "ledger.db").chmod(0o444)
        (ro_dir / "ledger.db").chmod(0o666)  # only the directory is read-only: WAL needs -wal/-shm files
        for mode, d in ((0o755, base), (0o555, ro_new), (0o777, ro_file), (0o555, ro_dir)):
            d.chmod(mode)
        targets = [d / "ledger.db" for d in (ro_new, ro_file, ro_dir)]
        out = subprocess.run([sys.executable, "-c", READONLY_PROBE, *map(str, targets)],
                             capture_output=True, text=True, timeout=60)
        if out.returncode == 77:
            pytest.skip("running as root without the right to switch to an unprivileged user")
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert [line.split()[0] for line in lines] == ["ERROR"] * 3, lines
        assert all(str(t) in line for t, line in zip(targets, lines)), lines
        assert "read-only" in lines[1]
        assert not targets[0].exists() and len(rows(targets[1])) == 1
    finally:
        for d in (base, ro_new, ro_file, ro_dir):
            d.chmod(0o755)
        shutil.rmtree(base)


def test_importing_the_ledger_does_not_load_sqlite_utils(tmp_path):
    code = ("import sys; from pathlib import Path; from gitgov.core.ledger import open_ledger, Entry;"
            f"led = open_ledger(Path({str(tmp_path / 'l.db')!r}), create=True);"
            "led.append([Entry('note', 'x', {})]); led.rebuild();"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlite_utils', 'pandas', 'git')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# --- concurrency -----------------------------------------------------------

WORKER = r"""
import sys, time
from pathlib import Path
from gitgov.core.ledger import Entry, open_ledger
path, name, n, ready, go = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), Path(sys.argv[5])
with open_ledger(path, create=True) as led:
    ready.touch()
    while not go.exists():
        time.sleep(0.001)
    for i in range(n):
        subject = f"data/{name}/{i}.csv"
        led.append([Entry("data_added", subject, {"path": subject, "dataset": name, "blob": f"{name}-{i}",
                                                   "findings": [], "verdict": "pass"}, actor=name)])
"""


def test_four_processes_appending_at_once_lose_nothing(tmp_path):
    path, n, names = tmp_path / "ledger.db", 100, ["w0", "w1", "w2", "w3"]
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(path), name, str(n),
                               str(tmp_path / f"ready-{name}"), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in names]  # all four create the (missing) ledger at once, too
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{name}").exists() for name in names):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), \
            [p.communicate() for p in procs if p.poll() is not None]
        time.sleep(0.01)
    go.touch()
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], results
    assert not any("locked" in err for _out, err in results)
    with open_ledger(path) as led:
        subjects = sorted(e.subject for e in led.entries())
        assert subjects == sorted(f"data/{name}/{i}.csv" for name in names for i in range(n))
        report = led.verify()
        assert (report.ok, report.count) == (True, 4 * n)
        assert led.db.execute("SELECT sum(versions) FROM datasets").fetchone() == (4 * n,)
        incremental = snapshot(led.db)
        led.rebuild()
        assert snapshot(led.db) == incremental


def test_appends_checkpoint_the_wal_every_so_many_entries_after_the_queue(led, db_path):
    """SQLite's own checkpoint would run inside COMMIT with the writers' queue held; the ledger
    copies the WAL into the database itself, every CHECKPOINT_EVERY entries, once it is free."""
    from gitgov.core import ledger as ledger_module

    assert led.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] > 1000  # a backstop only
    start = db_path.stat().st_size
    for i in range(ledger_module.CHECKPOINT_EVERY - 1):
        led.append([Entry("note", f"s{i}", {"i": i, "pad": "x" * 500})])
    assert db_path.stat().st_size == start  # everything still in the WAL
    import fcntl
    import os

    free = []
    real = led._checkpoint

    def checkpoint():  # another writer could take the queue now: a new descriptor gets the flock
        fd = os.open(f"{db_path}-lock", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            free.append(True)
        finally:
            os.close(fd)
        real()

    led._checkpoint = checkpoint
    led.append([Entry("note", "last", {"pad": "x" * 500})])
    assert free == [True] and db_path.stat().st_size > start  # copied into the database file
    assert led.verify().ok and led.head()[0] == ledger_module.CHECKPOINT_EVERY
