"""The repo-local ledger: an append-only, hash-chained journal in SQLite.

File: <worktree>/.gitgov/ledger.db, a plain SQLite database any tool can open.

Table `journal`: one row per entry. id = sha256(canonical_json({"seq", "prev",
"time", "kind", "actor", "source", "subject", "payload"})) where "payload" is the
canonical JSON *text* as stored, so verify hashes the bytes on disk and never
depends on re-serialising parsed JSON. `prev` is the id of the entry before (64
zeros for seq 1): editing, deleting, inserting or reordering rows breaks the
chain. Triggers refuse UPDATE, DELETE and INSERT OR REPLACE.

Writers queue on an flock of `<ledger>-lock` (ledger_queue.py), then take the
write lock up front (BEGIN IMMEDIATE) so the hook, the watcher and the CLI can
append at once without losing entries; projections.py updates its tables in the
same transaction. WAL with synchronous=NORMAL: a committed append survives the
crash of any process; a power cut or OS crash may lose the last transactions
(never corrupting the file or the chain). Each connection checkpoints the WAL
every CHECKPOINT_EVERY entries it appends, after the queue is released.
Canonical JSON and ids: ledger_canon.py; entries, rows and the two-core insert
of big batches: ledger_rows.py; checking the chain: ledger_verify.py.
Stdlib only (orjson when installed): this is the hook hot path.
"""
from __future__ import annotations

import gc
import json
import os
import sqlite3
import time as _time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from gitgov.core import projections
from gitgov.core.errors import LedgerDamaged, LedgerError
from gitgov.core import ledger_canon
from gitgov.core.ledger_canon import GENESIS, canonical_json, canonical_text, entry_id  # noqa: F401  (public here too)
from gitgov.core.ledger_queue import WriterQueue
from gitgov.core import ledger_rows
from gitgov.core.ledger_rows import COLUMNS as _COLUMNS, INSERT as _INSERT, chain as _chain, prepare as _prepare
from gitgov.core.ledger_rows import Entry, Recorded  # noqa: F401  (public here: callers import them from ledger)

if TYPE_CHECKING:  # verify() imports it: appending does not need it
    from gitgov.core.ledger_verify import VerifyReport

APPLICATION_ID = 0x67677631  # "ggv1" in PRAGMA application_id: tells our files from other SQLite files
BUSY_TIMEOUT_S = 30.0
_BUSY_TIMEOUT_MS = int(BUSY_TIMEOUT_S * 1000)
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SQLITE_BUSY = 5
_APPEND_ONLY = "gitgov ledger is append-only"
CHECKPOINT_EVERY = 128  # entries a connection appends between its checkpoints (about SQLite's 1,000 pages)
_AUTOCHECKPOINT_PAGES = 10_000
_NO_ANCHORS: Mapping[int, str] = MappingProxyType({})


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
        f"CREATE TRIGGER {ledger_rows.REPLACE_GUARD} BEFORE INSERT ON journal"
        " WHEN EXISTS (SELECT 1 FROM journal WHERE seq = NEW.seq)"
        f" BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
    )


def _migrate_projections(db: sqlite3.Connection) -> None:
    projections.replay(db)


def _migrate_notable_index(db: sqlite3.Connection) -> None:
    # Step 5 wrote journal_notable with `kind NOT IN (...)`. Only the journal's own
    # index and views change: no replay (16 s for 100,000 entries, in a hook maybe).
    from gitgov.core.catalog_projections import JOURNAL_LENSES

    db.execute("DROP INDEX IF EXISTS journal_notable")
    for statement in JOURNAL_LENSES:
        db.execute(statement)


def _migrate_disposals(db: sqlite3.Connection) -> None:
    # Step 7: whole-file disposals become removed versions. Only those entries are read
    # (the IN term matches journal_retention's own, so that index serves it), and only
    # their versions are written: their findings were projected when they were appended.
    for row in db.execute(f"SELECT {_COLUMNS} FROM journal WHERE kind IN"
                          " ('retention_expired', 'data_disposed') AND kind = 'data_disposed'"
                          " ORDER BY seq").fetchall():
        projections.project_data_disposed(db, ledger_rows.stored(row))


def _migrate_quality_versions(db: sqlite3.Connection) -> None:
    # Step 8: quality_versions tells versions apart by dataset too. A view: nothing to replay.
    from gitgov.core import quality_projections

    db.execute("DROP VIEW IF EXISTS quality_versions")
    db.execute(quality_projections.versions_view())


def _migrate_current_files(db: sqlite3.Connection) -> None:
    # Step 9: current_files leaves out `gitgov check` runs. A view: nothing to replay.
    from gitgov.core import catalog_projections

    db.execute("DROP VIEW IF EXISTS current_files")
    db.execute(catalog_projections.current_files_view())


# Applied in order; PRAGMA user_version = number applied. Append, never edit:
# a step that changes projection tables should just call _migrate_projections.
# Step 3: runs, run_files, metrics, lineage_nodes/_edges, models, reproductions.
# Step 4: quality_checks, quality_metrics, dataset_profiles, quality_versions.
# Step 5: the catalog's views (current_files, dataset_summary, run_summary, ...).
# Step 6: journal_notable without an IN list (cheaper for every append).
# Step 7: whole-file disposals in dataset_versions.
# Step 8: quality_versions per dataset (a file moved to another dataset is a version of both).
# Step 9: current_files without `gitgov check` runs (what the repository holds, not a look at it).
MIGRATIONS = (_migrate_journal, _migrate_projections, _migrate_projections, _migrate_projections,
              _migrate_projections, _migrate_notable_index, _migrate_disposals, _migrate_quality_versions,
              _migrate_current_files)
SCHEMA_VERSION = len(MIGRATIONS)


def open_ledger(path: Path, *, create: bool = False) -> Ledger:
    """Open (or with create=True, initialise) the ledger at `path`; LedgerError if unusable."""
    path = Path(path)
    _check_file(path, create)
    uri = path.absolute().as_uri() + ("?mode=rwc" if create else "?mode=rw")
    try:
        db = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                             check_same_thread=False)
    except sqlite3.Error as exc:
        raise _error(path, exc) from None
    try:
        with _sqlite_errors(path):
            db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA synchronous = NORMAL")  # with WAL: durable enough, never corrupt
            db.execute("PRAGMA cache_size = -32768")  # 32 MiB, used only as needed: big batches spill less
            # SQLite checkpoints inside COMMIT, while the writers' queue is held; append()
            # checkpoints after releasing it instead, and this is only the backstop.
            db.execute(f"PRAGMA wal_autocheckpoint = {_AUTOCHECKPOINT_PAGES}")
            _check_identity(db, path, create)  # before WAL: never convert a file that is not ours
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
    # No open() of the file here: closing any descriptor of it drops every POSIX
    # lock this process holds on it, including an open connection's WAL lock;
    # another process may then delete the -wal that connection still appends to.
    # SQLite itself refuses a file that is not a database ("not a database").
    if not os.access(path, os.R_OK):
        raise LedgerError(f"cannot read {path}: Permission denied")


def _migrate(db: sqlite3.Connection, path: Path, create: bool) -> None:
    # Always taking the write lock here doubles as the check that we can write,
    # and stops two processes from initialising the same file at once.
    with _transaction(db):
        version = _check_identity(db, path, create)
        for step in MIGRATIONS[version:]:
            step(db)
        if version < SCHEMA_VERSION:
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _check_identity(db: sqlite3.Connection, path: Path, create: bool) -> int:
    """Schema version of our ledger, 0 for an empty file we may initialise; else refuse."""
    app_id = db.execute("PRAGMA application_id").fetchone()[0]
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if app_id == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            raise LedgerError(f"{path} was written by a newer gitgov (schema {version} > "
                              f"{SCHEMA_VERSION}); upgrade gitgov")
        return version
    if app_id or db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        raise LedgerDamaged(f"{path} is not a gitgov ledger (an SQLite database of another application)")
    if not create:
        raise LedgerDamaged(f"{path} is an empty file, not an initialised ledger; run `gitgov init`")
    return 0


class Ledger:
    """An open ledger. Not thread-safe: use one per thread (or process)."""

    def __init__(self, path: Path, db: sqlite3.Connection):
        self.path = path
        self._db = db
        self._queue = WriterQueue(path, BUSY_TIMEOUT_S)
        self._unchecked = 0  # entries appended since this connection's last checkpoint

    @property
    def db(self) -> sqlite3.Connection:
        """The connection, for read queries on the journal, projections and views."""
        return self._db

    def close(self) -> None:
        self._db.close()
        self._queue.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def head(self) -> tuple[int, str] | None:
        with _sqlite_errors(self.path):
            return _head(self._db)

    def append(self, entries: Iterable[Entry], *,
               unless: tuple[str, tuple[Any, ...]] | None = None) -> list[Recorded]:
        """Record `entries` in one transaction with their projections: all or nothing.

        ``unless``: a query (SQL, arguments) asked inside that transaction; when it finds a
        row, nothing is recorded. Another process cannot slip the same entries in between."""
        entries = list(entries)
        batch = len(entries) >= ledger_canon.BATCH
        if batch:
            ledger_canon.use_orjson()
        pipelined = len(entries) >= ledger_rows.PIPELINE_MIN
        with _collector_paused(batch):
            now = _utc_now()
            rows = [] if pipelined else _prepare(entries, now)  # serialise before taking the lock
            if not entries:
                return []
            recorded: list[Recorded] = []
            with _sqlite_errors(self.path), self._queue.held(), _transaction(self._db):
                if unless is not None and self._db.execute(*unless).fetchone() is not None:
                    return []
                if pipelined:
                    rows = ledger_rows.insert_pipelined(self._db, entries, now, _head(self._db), recorded)
                else:  # rows go to SQLite as they are chained: each is inserted while still in the cache
                    self._db.executemany(_INSERT, _chain(_head(self._db), rows, recorded))
                for i in projections.wanted(recorded):
                    # Projectors see exactly what rebuild() will parse from the journal;
                    # a plain payload (rows[i][7]) parses back equal, with the same types.
                    rec = recorded[i] if rows[i][7] else Recorded(*recorded[i][:8], json.loads(rows[i][5]))
                    projections.project(self._db, rec)
        self._unchecked += len(recorded)
        if self._unchecked >= CHECKPOINT_EVERY:
            self._checkpoint()
        return recorded

    def _checkpoint(self) -> None:
        """Copy the WAL into the database file, with the writers' queue free: the other
        processes go on appending during its fsyncs (inside COMMIT they would all wait).
        PASSIVE: it never waits for readers or writers; what it cannot copy, the next one does."""
        self._unchecked = 0
        with _sqlite_errors(self.path):
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()

    def entries(self, *, kind: str | None = None, subject: str | None = None,
                after_seq: int | None = None, limit: int | None = None,
                newest_first: bool = True) -> Iterator[Recorded]:
        """Journal entries, filtered. `kind` containing * ? or [ is a GLOB pattern
        (e.g. "data_*"), otherwise an exact match; `subject` is exact."""
        glob = kind is not None and any(c in kind for c in "*?[")
        filters = [("kind GLOB ?" if glob else "kind = ?", kind), ("subject = ?", subject),
                   ("seq > ?", after_seq)]
        where = [(cond, value) for cond, value in filters if value is not None]
        sql = f"SELECT {_COLUMNS} FROM journal WHERE 1" + "".join(f" AND {c}" for c, _ in where)
        sql += " ORDER BY seq " + ("DESC" if newest_first else "ASC") + " LIMIT ?"
        args = [v for _, v in where] + [-1 if limit is None else limit]
        with _sqlite_errors(self.path):
            for row in self._db.execute(sql, args):
                yield ledger_rows.stored(row, self.path)

    def verify(self, anchors: Mapping[int, str] = _NO_ANCHORS) -> VerifyReport:
        """Recheck the whole chain; `anchors` ({seq: id} kept elsewhere, e.g. in Git)
        also catch a rewritten or truncated tail."""
        from gitgov.core.ledger_verify import VerifyReport, normalise_anchors, triggers_present, verify_rows

        ledger_canon.use_orjson()
        with _sqlite_errors(self.path):
            rows = self._db.execute("SELECT id, seq, prev, time, kind, actor, source, subject, payload"
                                    " FROM journal ORDER BY seq")
            report = verify_rows(rows, normalise_anchors(anchors))
            if report.ok and not triggers_present(self._db):
                return VerifyReport(False, report.count, None,
                                    "append-only triggers are missing (the journal may have been edited)")
        return report

    def rebuild(self) -> int:
        """Drop and recreate the projection tables from the journal; returns entries replayed."""
        with _sqlite_errors(self.path), self._queue.held(), _transaction(self._db):
            return projections.replay(self._db, self.path)

    def has_passing_check(self, blob: str, ruleset: str | None = None, path: str | None = None,
                          policy: str | None = None) -> bool:
        """True if this blob was already checked with verdict 'pass' (under `ruleset`, at
        `path` and under the policy digest `policy`, each if given: the same bytes under
        another name may be read another way, and other rules may judge them otherwise).

        A pass that left a breaking change for the commit message to acknowledge vouches
        for nothing: the commit it was for may have been refused, or made without hooks."""
        sql = ("SELECT 1 FROM dataset_versions v JOIN journal j ON j.seq = v.seq"
               " WHERE v.blob = ? AND v.verdict = 'pass'"
               " AND (? IS NULL OR v.ruleset = ?) AND (? IS NULL OR v.path = ?)"
               " AND (? IS NULL OR json_extract(j.payload, '$.policy') = ?)"
               " AND NOT EXISTS (SELECT 1 FROM findings f WHERE f.seq = v.seq"
               " AND json_extract(f.details, '$.acknowledge') IS NOT NULL) LIMIT 1")
        with _sqlite_errors(self.path):
            return self._db.execute(sql, (blob, ruleset, ruleset, path, path, policy, policy)
                                    ).fetchone() is not None


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _head(db: sqlite3.Connection) -> tuple[int, str] | None:
    row = db.execute("SELECT seq, id FROM journal ORDER BY seq DESC LIMIT 1").fetchone()
    return (row[0], row[1]) if row else None


@contextmanager
def _collector_paused(pause: bool) -> Iterator[None]:
    """A batch allocates a few tuples per entry, none in a cycle; the cyclic
    collector would rescan all of them every 700 allocations (a third of the
    chain's time at 20,000 entries). Left on for small appends."""
    if not pause or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


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
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+; older: the message
    return code & 0xFF == _SQLITE_BUSY if code is not None else "locked" in str(exc)


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
        return LedgerDamaged(f"{path} is not a gitgov ledger (not an SQLite database)")
    if "readonly" in text or "read-only" in text:
        return LedgerError(f"{path} is read-only: cannot write the ledger ({text})")
    if "unable to open" in text:
        return LedgerError(f"cannot open {path}: its directory is missing or not writable ({text})")
    if "malformed" in text:
        return LedgerDamaged(f"{path} is corrupt ({text})")
    if "locked" in text or "busy" in text:
        return LedgerError(f"{path} stayed locked by another process for {BUSY_TIMEOUT_S:.0f} s")
    return LedgerError(f"{path}: {text}")
