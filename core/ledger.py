"""The repo-local ledger: an append-only, hash-chained journal in SQLite.

File: <worktree>/.gitgov/ledger.db, a plain SQLite database any tool can open.

Table `journal` holds one row per entry. An entry's id is
sha256(canonical_json({"seq", "prev", "time", "kind", "actor", "source",
"subject", "payload"})), where "payload" is the entry's canonical JSON *text*
exactly as stored, so verification hashes the bytes on disk and never depends
on re-serialising parsed JSON. `prev` is the id of the entry before (64 zeros
for seq 1), so editing, deleting, inserting or reordering rows breaks the chain.
Triggers refuse UPDATE, DELETE and inserts that do not extend the head.

Writers take the write lock up front (BEGIN IMMEDIATE) so the hook, the
watcher and the CLI can append at the same time without losing entries; the
projection tables (projections.py) are updated in that same transaction.

Only stdlib modules are imported: this module sits on the hook hot path.
"""
from __future__ import annotations

import hashlib
import json
from json.encoder import encode_basestring as _quote  # what _CANON uses for str (ensure_ascii=False)
import sqlite3
import time as _time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

from gitgov.core import projections
from gitgov.core.errors import LedgerError

GENESIS = "0" * 64
APPLICATION_ID = 0x67677631  # "ggv1" in PRAGMA application_id: tells our files from other SQLite files
BUSY_TIMEOUT_S = 30.0
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SQLITE_BUSY = 5
_APPEND_ONLY = "gitgov ledger is append-only"
_NO_ANCHORS: Mapping[int, str] = MappingProxyType({})
_COLUMNS = "seq, id, prev, time, kind, actor, source, subject, payload"
_ID_TEMPLATE = '{"actor":%s,"kind":%s,"payload":%s,"prev":%s,"seq":%d,"source":%s,"subject":%s,"time":%s}'
_CANON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(obj: Any) -> bytes:
    """The one serialisation that ids are computed over (NaN/Infinity refused: not JSON)."""
    return _CANON.encode(obj).encode()


def entry_id(seq: int, prev: str, time: str, kind: str, actor: str, source: str,
             subject: str, payload: str) -> str:
    """Id of a journal entry; `payload` is its canonical JSON text."""
    # Equal to canonical_json() of the dict with these 8 keys (a test checks it),
    # spelled out with keys pre-sorted because this is half the cost of an append.
    text = _ID_TEMPLATE % (_quote(actor), _quote(kind), _quote(payload), _quote(prev), seq,
                           _quote(source), _quote(subject), _quote(time))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Entry:
    """What a caller asks to record. `time` defaults to the moment of append (UTC)."""

    kind: str
    subject: str
    payload: dict[str, Any]
    actor: str = ""
    source: str = "cli"
    time: str | None = None


@dataclass(frozen=True)
class Recorded:
    """An entry as stored in the journal (field order = journal column order).

    From `append` the payload is the caller's own dict; from `entries` (and in
    projectors) it is parsed from the stored JSON.
    """

    seq: int
    id: str
    prev: str
    time: str
    kind: str
    actor: str
    source: str
    subject: str
    payload: dict[str, Any] = field(default_factory=dict)


_RECORDED_FIELDS = ("seq", "id", "prev", "time", "kind", "actor", "source", "subject", "payload")


def _recorded(row: tuple[Any, ...], payload: dict[str, Any]) -> Recorded:
    """Build a Recorded without the frozen __init__ (9 object.__setattr__ calls),
    which cost as much as hashing the entry in a batched append."""
    rec = object.__new__(Recorded)
    rec.__dict__.update(zip(_RECORDED_FIELDS, (*row[:8], payload)))
    return rec


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    count: int
    first_bad_seq: int | None = None
    reason: str = ""


def _migrate_journal(db: sqlite3.Connection) -> None:
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute(
        "CREATE TABLE journal (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, prev TEXT NOT NULL,"
        " time TEXT NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL, source TEXT NOT NULL,"
        " subject TEXT NOT NULL, payload TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX journal_by_subject ON journal(subject, seq)")
    for op in ("UPDATE", "DELETE"):
        db.execute(f"CREATE TRIGGER journal_no_{op.lower()} BEFORE {op} ON journal"
                   f" BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END")
    # INSERT OR REPLACE deletes the old row without firing DELETE triggers.
    # (Checking the whole chain here would cost ~15% of append throughput;
    # verify() catches out-of-chain inserts.)
    db.execute(
        "CREATE TRIGGER journal_no_replace BEFORE INSERT ON journal"
        " WHEN EXISTS (SELECT 1 FROM journal WHERE seq = NEW.seq)"
        f" BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
    )


def _migrate_projections(db: sqlite3.Connection) -> None:
    _replay(db)


# Applied in order; PRAGMA user_version = number applied. Append, never edit:
# a step that changes projection tables should just call _migrate_projections.
MIGRATIONS = (_migrate_journal, _migrate_projections)
SCHEMA_VERSION = len(MIGRATIONS)


def open_ledger(path: Path, *, create: bool = False) -> Ledger:
    """Open (or with create=True, initialise) the ledger at `path`; LedgerError if unusable."""
    path = Path(path)
    _check_file(path, create)
    uri = path.absolute().as_uri() + ("?mode=rwc" if create else "?mode=rw")
    try:
        db = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as exc:
        raise _error(path, exc) from None
    try:
        with _sqlite_errors(path):
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            db.execute("PRAGMA synchronous = NORMAL")  # with WAL: durable enough, never corrupt
            _retry_busy(lambda: db.execute("PRAGMA journal_mode = WAL").fetchone())
            _migrate(db, path, create)
    except BaseException:
        db.close()
        raise
    return Ledger(path, db)


def _check_file(path: Path, create: bool) -> None:
    """Refuse what SQLite would otherwise report late or vaguely."""
    if path.is_dir():
        raise LedgerError(f"{path} is a directory, not a gitgov ledger")
    if not path.exists():
        if not create:
            raise LedgerError(f"no ledger at {path}; run `gitgov init`")
        if not path.parent.is_dir():
            raise LedgerError(f"cannot create {path}: {path.parent} is not a directory")
        return
    try:
        with open(path, "rb") as fh:
            header = fh.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise LedgerError(f"cannot read {path}: {exc.strerror}") from None
    if header and header != _SQLITE_MAGIC:
        raise LedgerError(f"{path} is not a gitgov ledger (not an SQLite database)")


def _migrate(db: sqlite3.Connection, path: Path, create: bool) -> None:
    # Always taking the write lock here doubles as the check that we can write,
    # and stops two processes from initialising the same file at once.
    with _transaction(db):
        version = db.execute("PRAGMA user_version").fetchone()[0]
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        if app_id != APPLICATION_ID:
            _check_blank(db, path, create, app_id)
            version = 0
        if version > SCHEMA_VERSION:
            raise LedgerError(f"{path} was written by a newer gitgov (schema {version} > "
                              f"{SCHEMA_VERSION}); upgrade gitgov")
        for step in MIGRATIONS[version:]:
            step(db)
        if version < SCHEMA_VERSION:
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _check_blank(db: sqlite3.Connection, path: Path, create: bool, app_id: int) -> None:
    """An SQLite file that is not ours: initialise it only if empty and asked to."""
    used = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if used or app_id:
        raise LedgerError(f"{path} is not a gitgov ledger (an SQLite database of another application)")
    if not create:
        raise LedgerError(f"{path} is an empty file, not an initialised ledger; run `gitgov init`")


class Ledger:
    """An open ledger. Not thread-safe: use one per thread (or process)."""

    def __init__(self, path: Path, db: sqlite3.Connection):
        self.path = path
        self._db = db

    @property
    def db(self) -> sqlite3.Connection:
        """The connection, for read queries on the journal, projections and views."""
        return self._db

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def head(self) -> tuple[int, str] | None:
        with _sqlite_errors(self.path):
            return _head(self._db)

    def append(self, entries: Sequence[Entry]) -> list[Recorded]:
        """Record `entries` in one transaction with their projections: all or nothing."""
        if not entries:
            return []
        rows = _prepare(entries, _utc_now())  # serialise before taking the lock
        with _sqlite_errors(self.path), _transaction(self._db):
            chained = _chain(_head(self._db), rows)
            self._db.executemany(f"INSERT INTO journal ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)", chained)
            recorded = [_recorded(row, e.payload) for row, e in zip(chained, entries)]
            for rec, row in zip(recorded, chained):
                if projections.wants(rec.kind, rec.payload):
                    # Projectors see exactly what rebuild() will parse from the journal.
                    _project(self._db, _recorded(row, json.loads(row[8])))
        return recorded

    def entries(self, *, kind: str | None = None, subject: str | None = None,
                after_seq: int | None = None, limit: int | None = None,
                newest_first: bool = True) -> Iterator[Recorded]:
        """Journal entries, filtered. `kind` containing * ? or [ is a GLOB pattern
        (e.g. "data_*"), otherwise an exact match; `subject` is exact."""
        where, args = [], []
        if kind is not None:
            where.append("kind GLOB ?" if any(c in kind for c in "*?[") else "kind = ?")
            args.append(kind)
        if subject is not None:
            where.append("subject = ?")
            args.append(subject)
        if after_seq is not None:
            where.append("seq > ?")
            args.append(after_seq)
        sql = f"SELECT {_COLUMNS} FROM journal"
        sql += (" WHERE " + " AND ".join(where)) if where else ""
        sql += " ORDER BY seq " + ("DESC" if newest_first else "ASC")
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with _sqlite_errors(self.path):
            for row in self._db.execute(sql, args):
                yield _recorded(row, json.loads(row[8]))

    def verify(self, anchors: Mapping[int, str] = _NO_ANCHORS) -> VerifyReport:
        """Recheck the whole chain; `anchors` ({seq: id} kept elsewhere, e.g. in Git)
        also catch a rewritten or truncated tail."""
        with _sqlite_errors(self.path):
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM journal ORDER BY seq")
            report = _verify_rows(rows, anchors)
            if report.ok and not _triggers_present(self._db):
                return VerifyReport(False, report.count, None,
                                    "append-only triggers are missing (the journal may have been edited)")
        return report

    def rebuild(self) -> int:
        """Drop and recreate the projection tables from the journal; returns entries replayed."""
        with _sqlite_errors(self.path), _transaction(self._db):
            return _replay(self._db)

    def has_passing_check(self, blob: str, ruleset: str | None = None) -> bool:
        """True if this blob was already checked with verdict 'pass' (under `ruleset`, if given)."""
        sql = "SELECT 1 FROM dataset_versions WHERE blob = ? AND verdict = 'pass'"
        args: list[Any] = [blob]
        if ruleset is not None:
            sql += " AND ruleset = ?"
            args.append(ruleset)
        with _sqlite_errors(self.path):
            return self._db.execute(sql + " LIMIT 1", args).fetchone() is not None


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _prepare(entries: Sequence[Entry], now: str) -> list[tuple[str, str, str, str, str, str]]:
    """Validate and serialise outside the write lock; raise before anything is written."""
    rows = []
    for n, e in enumerate(entries):
        if not isinstance(e, Entry):
            raise LedgerError(f"entry {n}: expected an Entry, got {type(e).__name__}")
        if not (e.kind and isinstance(e.payload, dict)):  # text fields are checked by _chain
            raise LedgerError(f"entry {n} ({e.kind!r}): needs a kind and a dict payload")
        try:
            text = _CANON.encode(e.payload)
        except (TypeError, ValueError) as exc:
            raise LedgerError(f"entry {n} ({e.kind}): payload is not storable JSON: {exc}") from None
        rows.append((e.time or now, e.kind, e.actor, e.source, e.subject, text))
    return rows


def _chain(head: tuple[int, str] | None, rows: list[tuple[str, ...]]) -> list[tuple[Any, ...]]:
    seq, prev = head or (0, GENESIS)
    out = []
    for time, kind, actor, source, subject, text in rows:
        seq += 1
        try:
            new_id = entry_id(seq, prev, time, kind, actor, source, subject, text)
        except UnicodeEncodeError:  # lone surrogates, e.g. from undecodable file names
            raise LedgerError(f"entry seq {seq} ({kind!r}): text is not valid UTF-8") from None
        except TypeError:
            raise LedgerError(f"entry seq {seq} ({kind!r}): kind, subject, actor, source and time"
                              " must be text") from None
        out.append((seq, new_id, prev, time, kind, actor, source, subject, text))
        prev = new_id
    return out


def _head(db: sqlite3.Connection) -> tuple[int, str] | None:
    row = db.execute("SELECT seq, id FROM journal ORDER BY seq DESC LIMIT 1").fetchone()
    return (row[0], row[1]) if row else None


def _project(db: sqlite3.Connection, rec: Recorded) -> None:
    try:
        projections.project(db, rec)
    except (sqlite3.Error, LedgerError):
        raise
    except Exception as exc:  # a projector bug must abort the append, but as one readable line
        raise LedgerError(f"cannot project entry seq {rec.seq} ({rec.kind}): {exc!r}") from None


def _replay(db: sqlite3.Connection) -> int:
    projections.reset(db)
    count = 0
    cursor = db.execute(f"SELECT {_COLUMNS} FROM journal ORDER BY seq")
    while batch := cursor.fetchmany(1000):
        for row in batch:
            _project(db, _recorded(row, json.loads(row[8])))
        count += len(batch)
    return count


def _verify_rows(rows: Iterator[tuple[Any, ...]], anchors: Mapping[int, str]) -> VerifyReport:
    expected, prev, count = 1, GENESIS, 0
    for seq, rid, rprev, *content in rows:
        count += 1
        bad = _check_row(expected, prev, seq, rid, rprev, content, anchors)
        if bad:
            return VerifyReport(False, count, min(seq, expected), bad)
        expected, prev = seq + 1, rid
    last = expected - 1
    beyond = sorted(s for s in anchors if s > last)
    if beyond:
        return VerifyReport(False, count, last + 1,
                            f"journal ends at seq {last} but seq {beyond[-1]} is anchored (tail truncated)")
    return VerifyReport(True, count)


def _check_row(expected: int, prev: str, seq: int, rid: str, rprev: str,
               content: list[Any], anchors: Mapping[int, str]) -> str:
    """Reason this row breaks the chain, or '' if it is sound."""
    if seq > expected:
        return f"seq {expected} is missing (row deleted); next row is seq {seq}"
    if seq < expected:
        return f"unexpected seq {seq} before seq {expected} (row inserted)"
    try:
        recomputed = entry_id(seq, rprev, *content)  # the row against itself first
    except (TypeError, ValueError):
        recomputed = None
    if recomputed != rid:
        return f"seq {seq}: content does not match its id (row edited, inserted or moved)"
    if rprev != prev:
        return f"seq {seq}: prev does not match the id of seq {seq - 1} (rows inserted, deleted or reordered)"
    if seq in anchors and anchors[seq] != rid:
        return f"seq {seq}: id differs from the anchored id (history rewritten)"
    return ""


def _triggers_present(db: sqlite3.Connection) -> bool:
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                                      " AND tbl_name = 'journal'")}
    return {"journal_no_update", "journal_no_delete", "journal_no_replace"} <= names


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    _retry_busy(lambda: db.execute("BEGIN IMMEDIATE"))
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _retry_busy(action: Any, attempts: int = 60) -> Any:
    """Run `action`, retrying on SQLITE_BUSY: in WAL mode SQLite returns BUSY
    without calling the busy handler in some cases (e.g. during WAL recovery)."""
    deadline, delay = _time.monotonic() + BUSY_TIMEOUT_S, 0.001
    for attempt in range(attempts):
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or attempt == attempts - 1 or _time.monotonic() > deadline:
                raise
            _time.sleep(delay)
            delay = min(delay * 2, 0.05)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF == _SQLITE_BUSY
    return "locked" in str(exc) or "busy" in str(exc)


@contextmanager
def _sqlite_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise _error(path, exc) from None


def _error(path: Path, exc: sqlite3.Error) -> LedgerError:
    """One readable line naming the file, instead of SQLite's bare message."""
    text = str(exc)
    if "not a database" in text:
        return LedgerError(f"{path} is not a gitgov ledger (not an SQLite database)")
    if "readonly" in text or "read-only" in text:
        return LedgerError(f"{path} is read-only: cannot write the ledger ({text})")
    if "unable to open" in text:
        return LedgerError(f"cannot open {path}: its directory is missing or not writable ({text})")
    if "malformed" in text:
        return LedgerError(f"{path} is corrupt ({text})")
    if "locked" in text or "busy" in text:
        return LedgerError(f"{path} stayed locked by another process for {BUSY_TIMEOUT_S:.0f} s")
    return LedgerError(f"{path}: {text}")
