"""Journal rows: what a caller records (Entry), what is stored (Recorded), and
turning the one into the other - serialise, chain, insert.

A batch of thousands of entries (a watcher catching up, a server receiving a
push, a migration) is inserted on two cores: this thread serialises and
chains one chunk while a second thread inserts the chunk before it. SQLite
lets go of the GIL while it runs a statement, and one statement inserts a
whole chunk, so the two overlap: the batch costs about the larger of the two
instead of their sum. Still one transaction, all or nothing. Like a bulk load
into any database, it also lifts the trigger that refuses INSERT OR REPLACE
(a third of SQLite's cost per row) for the transaction: its own plain INSERTs
of new sequence numbers cannot replace anything, and the trigger is back
before the commit, so no other connection ever sees the journal without it.
Stdlib only (orjson when installed): this is the hook hot path.
"""
from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from itertools import chain as _concat
from typing import Any, NamedTuple

from gitgov.core.errors import LedgerError
from gitgov.core.ledger_canon import GENESIS, canonical_text, entry_id

COLUMNS = "seq, id, prev, time, kind, actor, source, subject, payload"
INSERT = f"INSERT INTO journal ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)"
REPLACE_GUARD = "journal_no_replace"  # the trigger that refuses INSERT OR REPLACE (ledger.py)
CHUNK = 500  # entries per statement on the inserting thread: ~5 ms of work on either side
PIPELINE_MIN = 4 * CHUNK  # smaller batches are done before the first chunk would be
# The inserter waits for the GIL after each chunk; the default 5 ms would let it sit idle.
_SWITCH_INTERVAL_S = 0.001


class Entry(NamedTuple):
    """What a caller asks to record. `time` defaults to the moment of append (UTC).

    A named tuple, as Recorded: a frozen dataclass costs every command that writes the
    ledger (each hook, each run) about 1.5 ms just to define."""

    kind: str
    subject: str
    payload: dict[str, Any]
    actor: str = ""
    source: str = "cli"
    time: str | None = None


def stored(row: tuple, where: object = "the ledger") -> "Recorded":
    """A journal row (COLUMNS order) as a Recorded, its payload parsed; a payload that is not a
    JSON object (the journal was edited around its triggers) is a LedgerError naming the entry."""
    import json

    try:
        payload = json.loads(row[8])
    except (ValueError, TypeError):  # UnicodeDecodeError is a ValueError
        payload = None
    if not isinstance(payload, dict):
        raise LedgerError(f"{where}: entry seq {row[0]} ({row[4]}): its payload is not a JSON object; "
                          "the journal was altered (`gitgov verify` shows where)")
    return Recorded(*row[:8], payload)


class Recorded(NamedTuple):
    """An entry as stored in the journal (field order = journal column order).

    From `append` the payload is the caller's own dict; from `entries` (and in
    projectors) it is parsed from the stored JSON. A named tuple rather than a
    dataclass: a batch append builds one per entry, and a tuple is ten times
    cheaper to build than a frozen dataclass.
    """

    seq: int
    id: str
    prev: str
    time: str
    kind: str
    actor: str
    source: str
    subject: str
    payload: dict[str, Any]


# A prepared row: (time, kind, actor, source, subject, payload text, payload, plain).
Prepared = tuple[Any, ...]


def prepare(entries: Iterable[Entry], now: str, first: int = 0) -> list[Prepared]:
    """Validate and serialise (entry numbers in messages start at `first`)."""
    rows = []
    add, to_text = rows.append, canonical_text
    for n, e in enumerate(entries, first):
        if not isinstance(e, Entry):
            raise LedgerError(f"entry {n}: expected an Entry, got {type(e).__name__}")
        payload = e.payload
        if not (e.kind and isinstance(payload, dict)):  # text fields are checked by chain()
            raise LedgerError(f"entry {n} ({e.kind!r}): needs a kind and a dict payload")
        try:
            text, plain = to_text(payload)
        except (TypeError, ValueError, RecursionError) as exc:
            raise LedgerError(f"entry {n} ({e.kind}): payload is not storable JSON: {exc}") from None
        add((e.time or now, e.kind, e.actor, e.source, e.subject, text, payload, plain))
    return rows


def chain(head: tuple[int, str] | None, rows: list[Prepared],
          recorded: list[Recorded]) -> Iterator[tuple[Any, ...]]:
    """Journal rows, chained one by one after `head`; each one's Recorded twin goes to `recorded`."""
    seq, prev = head or (0, GENESIS)
    add_record, id_of = recorded.append, entry_id
    make = tuple.__new__  # what Recorded(...) does, minus its Python-level __new__
    for time, kind, actor, source, subject, text, payload, _plain in rows:
        seq += 1
        try:
            new_id = id_of(seq, prev, time, kind, actor, source, subject, text)
        except UnicodeEncodeError:  # lone surrogates, e.g. from undecodable file names
            raise LedgerError(f"entry seq {seq} ({kind!r}): text is not valid UTF-8") from None
        except TypeError:
            raise LedgerError(f"entry seq {seq} ({kind!r}): kind, subject, actor, source and time"
                              " must be text") from None
        yield seq, new_id, prev, time, kind, actor, source, subject, text
        add_record(make(Recorded, (seq, new_id, prev, time, kind, actor, source, subject, payload)))
        prev = new_id


def insert_pipelined(db: Any, entries: list[Entry], now: str, head: tuple[int, str] | None,
                     recorded: list[Recorded]) -> list[Prepared]:
    """Insert `entries` after `head` inside the caller's transaction, chunk by chunk on a
    second thread; returns the prepared rows. The first error (a bad entry here, an
    SQLite error there) is raised once the inserter has stopped: the caller rolls back."""
    import queue  # only big batches come here

    chunks: queue.Queue[list[Any] | None] = queue.Queue(maxsize=2)
    failed: list[BaseException] = []

    def insert() -> None:
        while (values := chunks.get()) is not None:
            if not failed:  # after a failure, only drain: the caller is waiting to roll back
                try:
                    db.execute(_insert_rows(len(values) // 9), values)
                except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
                    failed.append(exc)

    prepared: list[Prepared] = []
    guard = _lift_replace_guard(db)
    inserter = threading.Thread(target=insert, name="gitgov-ledger-insert", daemon=True)
    with _short_switch_interval():
        inserter.start()
        try:
            for first in range(0, len(entries), CHUNK):
                if failed:
                    break
                rows = prepare(entries[first:first + CHUNK], now, first)
                chunks.put(list(_concat.from_iterable(chain(head, rows, recorded))))
                head = (recorded[-1][0], recorded[-1][1])
                prepared += rows
        finally:
            chunks.put(None)
            inserter.join()
    if failed:
        raise failed[0]
    if guard:
        db.execute(guard)
    return prepared


def _lift_replace_guard(db: Any) -> str | None:
    """Drop the journal's REPLACE trigger in this transaction; returns the SQL that
    puts it back (None if the journal has none: verify reports that)."""
    row = db.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
                     (REPLACE_GUARD,)).fetchone()
    if row is None:
        return None
    db.execute(f"DROP TRIGGER {REPLACE_GUARD}")
    return row[0]


_switch_lock = threading.Lock()
_switch_users = 0
_switch_saved = 0.0


@contextmanager
def _short_switch_interval() -> Iterator[None]:
    """The interpreter's switch interval is global: the first of concurrent bulk inserts
    (ledgers on several threads) shortens it, the last one out puts it back."""
    global _switch_users, _switch_saved
    with _switch_lock:
        if _switch_users == 0:
            _switch_saved = sys.getswitchinterval()
            sys.setswitchinterval(min(_switch_saved, _SWITCH_INTERVAL_S))
        _switch_users += 1
    try:
        yield
    finally:
        with _switch_lock:
            _switch_users -= 1
            if _switch_users == 0:
                sys.setswitchinterval(_switch_saved)


@lru_cache(maxsize=4)
def _insert_rows(count: int) -> str:
    """One INSERT of `count` rows: a single statement, so SQLite inserts them all
    without taking the GIL back between rows."""
    return f"INSERT INTO journal ({COLUMNS}) VALUES " + ",".join(["(?,?,?,?,?,?,?,?,?)"] * count)
