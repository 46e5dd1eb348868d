"""The ledger's fast paths write exactly what the stdlib path writes.

orjson serialises plain payloads and entry ids; the stdlib encoder does the
rest, and everything when orjson is missing. Ids must not depend on which path
ran: a ledger written by one verifies with the other.
"""
from __future__ import annotations

import datetime
import enum
import fcntl
import json
import os
import time
import uuid

import pytest

from gitgov.core import ledger_canon, projections
from gitgov.core.errors import LedgerError
from gitgov.core.ledger import Entry, open_ledger
from gitgov.core.ledger_canon import canonical_json, canonical_text, entry_id, plain

AWKWARD = "".join(chr(c) for c in range(0, 0x250)) + "\u2028\u2029\ufeff 😀 é\"\\"


def reference(obj):
    """The canonical form as the interface contract states it."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


@pytest.fixture
def stdlib_only(monkeypatch):
    _stdlib_only(monkeypatch)


class Colour(enum.Enum):
    RED = 1


class Size(enum.IntEnum):
    BIG = 3


class Name(str):
    pass


PAYLOADS = [
    {"path": "data/raw/a.csv", "size": 10, "ok": True, "none": None, "list": [1, "x", [], {}]},
    {"b": AWKWARD, AWKWARD: "key", "é": 1, "😀": 2, "ß": 3, "Z": 4, "a": 5},
    {"big": 2**64, "small": -(2**63) - 1, "edge": 2**63, "neg": -(2**63)},  # orjson refuses the first two
    {"floats": [0.1, 1e-05, 1e-07, 1e16, 1.5e300, -0.0, 5e-324, 100.0]},  # orjson writes some differently
    {"tuple": (1, 2), "keys": {1: "int key"}},
    {"int enum": Size.BIG, "str subclass": Name("n"), "nested": {"deep": [[[[{"x": [None]}]]]]}},
    {"findings": [{"severity": "warning", "code": "c", "details": {}}], "commit": None},
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_canonical_json_is_the_contract_form_on_both_paths(payload, monkeypatch):
    fast = canonical_json(payload)
    _stdlib_only(monkeypatch)
    assert canonical_json(payload) == fast == reference(payload)


@pytest.fixture(autouse=True)
def _orjson_loaded():
    ledger_canon.use_orjson()  # as a batch or a verify would; single entries never load it


def _stdlib_only(monkeypatch):
    monkeypatch.setattr(ledger_canon, "_orjson", None)
    monkeypatch.setattr(ledger_canon, "_loaded", True)  # and not loaded later by a batch


def test_orjson_is_in_use_here():
    # Otherwise the tests above compare the stdlib path with itself.
    assert ledger_canon.fast()
    assert canonical_text({"a": [1, "b"]}) == ('{"a":[1,"b"]}', True)


@pytest.mark.parametrize("value", [Colour.RED, uuid.UUID(int=1), datetime.date(2024, 1, 1),
                                   float("nan"), float("inf"), {"x": {1, 2}}, b"bytes"])
def test_values_json_refuses_are_refused_on_both_paths(value, monkeypatch):
    def outcome():
        try:
            return canonical_json({"v": value})
        except TypeError:
            return TypeError
        except ValueError:
            return ValueError
    fast = outcome()
    _stdlib_only(monkeypatch)
    assert outcome() == fast
    assert fast in (TypeError, ValueError)


def test_plain_accepts_only_what_both_encoders_write_alike():
    assert plain({"a": [1, "x", None, True, {"b": []}]})
    for value in ({"f": 1.0}, {"t": (1,)}, {1: "a"}, {"e": Colour.RED}, {"s": Name("x")},
                  [uuid.UUID(int=1)], {"d": {"deeper": [0.5]}}):
        assert not plain(value), value


@pytest.mark.parametrize("text", ["plain", 'quote " back \\ slash', AWKWARD])
def test_entry_id_is_the_same_on_both_paths(text, monkeypatch):
    args = (7, "f" * 64, text, "k" + text, text, "hook", text, canonical_text({"t": text})[0])
    fast = entry_id(*args)
    _stdlib_only(monkeypatch)
    assert entry_id(*args) == fast


def test_entry_id_errors_are_the_same_on_both_paths(monkeypatch):
    bad = [((1, "p", "t", 5, "a", "s", "x", "{}"), TypeError),  # kind not text
           ((1, "p", "t", "k", "a", "s", "\ud800", "{}"), UnicodeEncodeError)]  # lone surrogate
    for args, error in bad:
        with pytest.raises(error):
            entry_id(*args)
    _stdlib_only(monkeypatch)
    for args, error in bad:
        with pytest.raises(error):
            entry_id(*args)


def test_a_ledger_written_by_either_path_verifies_with_the_other(tmp_path, monkeypatch):
    entries = [Entry("note", f"s{i}", payload, actor="Ann", source="hook")
               for i, payload in enumerate(PAYLOADS)]
    with open_ledger(tmp_path / "fast.db", create=True) as led:
        fast_ids = [r.id for r in led.append(entries)]
    _stdlib_only(monkeypatch)
    with open_ledger(tmp_path / "fast.db") as led:
        assert led.verify().ok
    with open_ledger(tmp_path / "slow.db", create=True) as led:
        led.append(entries)
        stored = led.db.execute("SELECT payload FROM journal ORDER BY seq").fetchall()
    assert [row[0].encode() for row in stored] == [reference(p) for p in PAYLOADS]
    monkeypatch.undo()
    with open_ledger(tmp_path / "slow.db") as led:
        assert led.verify().ok
        assert len(fast_ids) == len(PAYLOADS)


def test_refused_payloads_are_refused_with_one_line(tmp_path):
    with open_ledger(tmp_path / "l.db", create=True) as led:
        for value in (Colour.RED, float("nan"), uuid.UUID(int=1)):
            with pytest.raises(LedgerError, match="payload is not storable JSON"):
                led.append([Entry("note", "x", {"v": value})])
        with pytest.raises(LedgerError, match="must be text"):
            led.append([Entry("note", 5, {})])
        with pytest.raises(LedgerError, match="not valid UTF-8"):
            led.append([Entry("note", "x", {"p": "\udcff"})])
        assert led.head() is None


def test_projectors_see_the_payload_as_parsed_from_the_journal(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setitem(projections.PROJECTORS, "probe", lambda db, rec: seen.append(rec.payload))
    payloads = [{"t": (1, 2), "f": 0.5}, {"l": [1, 2], "s": "x"}]
    with open_ledger(tmp_path / "l.db", create=True) as led:
        led.append([Entry("probe", "x", p) for p in payloads])
    assert seen == [{"t": [1, 2], "f": 0.5}, {"l": [1, 2], "s": "x"}]
    assert type(seen[0]["t"]) is list


# --- the writers' queue ----------------------------------------------------

def test_writers_queue_on_a_lock_file_and_release_it(tmp_path):
    path = tmp_path / "ledger.db"
    with open_ledger(path, create=True) as led:
        led.append([Entry("note", "x", {})])
        lock = tmp_path / "ledger.db-lock"
        assert lock.is_file()
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again after the append
            led._queue._timeout_s = 0.3
            start = time.monotonic()
            led.append([Entry("note", "y", {})])  # held elsewhere: waits, then SQLite decides
            assert time.monotonic() - start >= 0.3
        finally:
            os.close(fd)
        assert [e.subject for e in led.entries()] == ["y", "x"]
        assert led.verify().ok


def test_a_single_entry_never_loads_orjson_a_batch_does(tmp_path):
    """Its import (uuid, platform) costs more than one entry's JSON: hooks and runs skip it."""
    import subprocess
    import sys

    code = ("import sys; from gitgov.core.ledger import Entry, open_ledger\n"
            "l = open_ledger(__import__('pathlib').Path(sys.argv[1]), create=True)\n"
            "l.append([Entry(kind='note', subject='s', payload={'n': 1})])\n"
            "one = 'orjson' in sys.modules\n"
            "l.append([Entry(kind='note', subject='s', payload={'n': i}) for i in range(64)])\n"
            "print(one, 'orjson' in sys.modules, l.verify().ok)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "l.db")], capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["False", "True", "True"]


def test_a_large_batch_failing_midway_writes_nothing_and_leaves_the_collector_on(tmp_path):
    import gc

    good = [Entry("note", f"s{i}", {"i": i}) for i in range(100)]  # a batch: rows stream into SQLite
    with open_ledger(tmp_path / "l.db", create=True) as led:
        with pytest.raises(LedgerError, match="entry seq 51 .* must be text"):
            led.append(good[:50] + [Entry("note", 7, {})] + good[50:])
        assert led.head() is None and gc.isenabled()
        recorded = led.append(good)
        assert [r.seq for r in recorded] == list(range(1, 101)) and led.verify().ok
        assert recorded[99].prev == recorded[98].id and recorded[0]._asdict()["payload"] == {"i": 0}


def test_a_single_entry_never_loads_openssl_and_its_id_is_hashlibs(tmp_path):
    """The interpreter's own SHA-256 names single entries; a batch and verify use
    hashlib's: the same ids either way, so each verifies what the other wrote."""
    import subprocess
    import sys

    code = ("import sys; from gitgov.core.ledger import Entry, open_ledger\n"
            "l = open_ledger(__import__('pathlib').Path(sys.argv[1]), create=True)\n"
            "[r] = l.append([Entry(kind='note', subject='s', payload={'n': 'é😀'})])\n"
            "print('_hashlib' in sys.modules, r.id)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "l.db")], capture_output=True,
                         text=True, check=True).stdout.split()
    assert out[0] == "False"
    with open_ledger(tmp_path / "l.db") as led:
        [row] = led.db.execute("SELECT seq, prev, time, kind, actor, source, subject, payload"
                               " FROM journal").fetchall()
        assert entry_id(*row) == out[1] and led.verify().ok  # here hashlib's (see _orjson_loaded)
