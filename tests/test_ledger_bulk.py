"""Big batches: inserted on a second thread, chunk by chunk, with the REPLACE
guard lifted for the transaction. They must store exactly what the one-thread
path stores, keep the guard, and stay all or nothing."""
from __future__ import annotations

import gc
import sqlite3
import sys

import pytest

from gitgov.core import ledger_rows, projections
from gitgov.core.errors import LedgerError
from gitgov.core.ledger import Entry, open_ledger

N = ledger_rows.PIPELINE_MIN + ledger_rows.CHUNK // 2  # several chunks and a short last one
COLUMNS = "seq, id, prev, time, kind, actor, source, subject, payload"


def batch(n=N, kind="note"):
    """Entries with fixed times, so two ledgers written from them are byte-identical."""
    return [Entry(kind, f"data/part-{i}.csv",
                  {"path": f"data/part-{i}.csv", "dataset": "raw", "blob": f"{i:040x}", "stage": "staged",
                   "i": i, "f": i / 7, "t": (i, "é\"\n\u2028"), "findings": []},
                  actor="Ann <ann@example.com>", source="hook", time=f"2026-01-01T00:00:{i % 60:02d}.000000Z")
            for i in range(n)]


def journal(led):
    return led.db.execute(f"SELECT {COLUMNS} FROM journal ORDER BY seq").fetchall()


def one_thread(monkeypatch):
    monkeypatch.setattr(ledger_rows, "PIPELINE_MIN", 10**9)


def test_a_big_batch_stores_what_one_thread_stores(tmp_path, monkeypatch):
    entries = batch()
    with open_ledger(tmp_path / "two.db", create=True) as led:
        led.append([Entry("note", "first", {"n": 1}, time="2026-01-01T00:00:00.000000Z")])
        recorded = led.append(entries)
        two = journal(led)
        assert led.verify().ok and led.verify().count == N + 1
    one_thread(monkeypatch)
    with open_ledger(tmp_path / "one.db", create=True) as led:
        led.append([Entry("note", "first", {"n": 1}, time="2026-01-01T00:00:00.000000Z")])
        assert [tuple(r[:8]) for r in led.append(entries)] == [tuple(r[:8]) for r in recorded]
        assert journal(led) == two
    assert [r.seq for r in recorded] == list(range(2, N + 2))
    assert recorded[0].prev == two[0][1] and recorded[-1].payload is entries[-1].payload


def test_the_replace_guard_is_back_after_a_big_batch(tmp_path):
    path = tmp_path / "l.db"
    with open_ledger(path, create=True) as led:
        led.append(batch())
        assert led.verify().ok  # verify also checks that every trigger is there
    with sqlite3.connect(path) as raw, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("INSERT OR REPLACE INTO journal SELECT * FROM journal WHERE seq = 7")
    assert sys.getswitchinterval() == pytest.approx(0.005)


def test_a_bad_entry_late_in_a_big_batch_writes_nothing(tmp_path):
    entries = batch()
    bad = ledger_rows.PIPELINE_MIN + 3  # in a chunk after several were already inserted
    entries[bad] = Entry("note", 7, {})
    with open_ledger(tmp_path / "l.db", create=True) as led:
        led.append(batch(3))
        with pytest.raises(LedgerError, match=f"entry seq {bad + 4} .* must be text"):
            led.append(entries)
        assert led.head()[0] == 3 and len(journal(led)) == 3 and led.verify().ok
        entries[bad] = Entry("note", "x", {"v": float("nan")})
        with pytest.raises(LedgerError, match=f"entry {bad} .* not storable JSON"):
            led.append(entries)
        assert led.head()[0] == 3 and led.verify().ok and gc.isenabled()


def test_an_sqlite_error_on_the_inserting_thread_rolls_back(tmp_path, monkeypatch):
    real = ledger_rows._insert_rows
    calls = []

    def broken_third_chunk(count):
        calls.append(count)
        return "INSERT INTO no_such_table VALUES (1)" if len(calls) == 3 else real(count)

    monkeypatch.setattr(ledger_rows, "_insert_rows", broken_third_chunk)
    with open_ledger(tmp_path / "l.db", create=True) as led:
        with pytest.raises(LedgerError, match="no such table: no_such_table"):
            led.append(batch())
        assert led.head() is None and led.verify().ok  # the guard came back with the rollback
        assert len(calls) == 3  # the chunks after the failure were not inserted
        monkeypatch.setattr(ledger_rows, "_insert_rows", real)
        assert led.append(batch())[-1].seq == N


def test_a_big_batch_of_projected_kinds_projects_like_a_rebuild(tmp_path):
    entries = batch(kind="data_added")
    entries[5].payload["findings"] = [{"severity": "error", "code": "c", "message": "m", "path": None,
                                       "plugin": "validation", "hook": "data_added", "details": {}}]
    with open_ledger(tmp_path / "l.db", create=True) as led:
        led.append(entries)
        tables = {t: sorted(led.db.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                  for t in projections.TABLES}
        assert len(tables["dataset_versions"]) == N and len(tables["findings"]) == 1
        led.rebuild()
        assert {t: sorted(led.db.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                for t in projections.TABLES} == tables


def test_big_batches_on_two_threads_at_once_restore_the_switch_interval(tmp_path):
    import threading

    before = sys.getswitchinterval()
    ledgers = [open_ledger(tmp_path / f"{name}.db", create=True) for name in ("a", "b")]
    errors = []

    def fill(led):
        try:
            for _ in range(2):
                led.append(batch())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fill, args=(led,)) for led in ledgers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for led in ledgers:
        assert led.verify().ok and led.head()[0] == 2 * N
        led.close()
    assert sys.getswitchinterval() == before
