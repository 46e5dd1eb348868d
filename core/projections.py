"""Projection tables: query-friendly tables derived from the ledger journal.

The journal is the truth but awkward to query (one JSON payload per entry).
These tables re-state it as rows and columns that people can read in Datasette
or the sqlite3 shell. They are written in the same transaction as the journal
entry they come from, and `replay` (what `Ledger.rebuild` does) recreates them
from the journal alone, so they can never drift for good.

Adding a kind: write `def project_x(conn, rec)` and register it in PROJECTORS.
Adding a table or view: add its DDL below and a migration step in ledger.py
that rebuilds the projections. Projectors must be deterministic functions of
the entry and of earlier entries only: rebuild replays them in seq order.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from gitgov.core.errors import LedgerError

if TYPE_CHECKING:  # only for annotations: ledger.py imports this module
    from gitgov.core.ledger import Recorded

Projector = Callable[[sqlite3.Connection, "Recorded"], None]

TABLES = ("datasets", "dataset_versions", "findings", "commits")
VIEWS = ("current_dataset_versions", "open_findings")

# One statement per string: executescript() would COMMIT the open transaction.
SCHEMA: tuple[str, ...] = (
    """CREATE TABLE datasets (
        name TEXT PRIMARY KEY,          -- dataset name from gitgov.toml
        first_seq INTEGER NOT NULL,     -- journal.seq that first recorded it
        last_seq INTEGER NOT NULL,      -- journal.seq that last recorded it
        versions INTEGER NOT NULL       -- distinct contents (blob ids) seen
    )""",
    """CREATE TABLE dataset_versions (
        seq INTEGER PRIMARY KEY,        -- journal.seq of the data_added/_removed entry
        dataset TEXT,
        path TEXT NOT NULL,
        change TEXT NOT NULL,           -- 'added' or 'removed'
        blob TEXT,                      -- git blob id
        sha256 TEXT,
        size INTEGER,
        stage TEXT,                     -- staged, observed, pushed, checked
        commit_sha TEXT,
        verdict TEXT,                   -- pass or block
        ruleset TEXT,                   -- policy fingerprint the checks ran under
        time TEXT NOT NULL,
        actor TEXT NOT NULL
    )""",
    "CREATE INDEX dataset_versions_by_path ON dataset_versions(path, seq)",
    "CREATE INDEX dataset_versions_by_blob ON dataset_versions(blob, dataset)",
    """CREATE TABLE findings (
        id INTEGER PRIMARY KEY,
        seq INTEGER NOT NULL,           -- journal.seq of the entry that carried it
        severity TEXT NOT NULL,         -- info, warning, error
        code TEXT,
        message TEXT,
        path TEXT,
        plugin TEXT,
        hook TEXT,
        details TEXT                    -- JSON
    )""",
    "CREATE INDEX findings_by_seq ON findings(seq)",
    """CREATE TABLE commits (
        sha TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        author TEXT,
        message TEXT,
        parents TEXT,                   -- JSON list of parent shas
        time TEXT NOT NULL
    )""",
    # Newest version of each path, hiding paths whose newest entry removed them.
    """CREATE VIEW current_dataset_versions AS
        SELECT v.dataset, v.path, v.blob, v.sha256, v.size, v.stage, v.commit_sha,
               v.verdict, v.time, v.actor, v.seq
        FROM dataset_versions AS v
        WHERE v.change = 'added'
          AND v.seq = (SELECT MAX(w.seq) FROM dataset_versions AS w WHERE w.path = v.path)""",
    # A finding stays open until a newer journal entry about the same subject
    # (usually the same path) supersedes the entry that raised it.
    """CREATE VIEW open_findings AS
        SELECT f.seq, j.time, j.kind, j.subject, f.severity, f.code, f.message, f.path,
               f.plugin, f.hook, f.details, f.id AS finding_id
        FROM findings AS f JOIN journal AS j ON j.seq = f.seq
        WHERE f.severity IN ('error', 'warning')
          AND f.seq = (SELECT MAX(k.seq) FROM journal AS k WHERE k.subject = j.subject)
        ORDER BY f.seq DESC, f.id""",
)


def reset(conn: sqlite3.Connection) -> None:
    """Drop and recreate every projection table and view (empty)."""
    for view in VIEWS:
        conn.execute(f"DROP VIEW IF EXISTS {view}")
    for table in TABLES:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
    for statement in SCHEMA:
        conn.execute(statement)


def wants(kind: str, payload: dict[str, Any]) -> bool:
    """Whether `project` would write anything: lets bulk appends skip the rest."""
    return kind in PROJECTORS or bool(payload.get("findings"))


def wanted(recs: Sequence[Recorded]) -> list[int]:
    """Indexes of the entries `project` would write anything for (a bulk `wants`)."""
    kinds = PROJECTORS
    return [i for i, rec in enumerate(recs) if rec.kind in kinds or rec.payload.get("findings")]


def replay(conn: sqlite3.Connection, where: object = "the ledger") -> int:
    """Recreate the projections from the whole journal; returns entries replayed."""
    from gitgov.core.ledger_rows import stored  # ledger.py imports this module: import late

    reset(conn)
    count = 0
    cursor = conn.execute("SELECT seq, id, prev, time, kind, actor, source, subject, payload"
                          " FROM journal ORDER BY seq")
    while batch := cursor.fetchmany(1000):
        for row in batch:
            project(conn, stored(row, where))
        count += len(batch)
    return count


def project(conn: sqlite3.Connection, rec: Recorded) -> None:
    """Apply one journal entry to the projections (unknown kinds: findings only)."""
    try:
        projector = PROJECTORS.get(rec.kind)
        if projector is not None:
            projector(conn, rec)
        project_findings(conn, rec)
    except sqlite3.Error:
        raise
    except Exception as exc:  # a projector bug must abort the append, but as one readable line
        raise LedgerError(f"cannot project entry seq {rec.seq} ({rec.kind}): {exc!r}") from None


def project_findings(conn: sqlite3.Connection, rec: Recorded) -> None:
    """Every kind may carry plugin findings, so this runs for all entries."""
    findings = rec.payload.get("findings")
    if not isinstance(findings, list) or not findings:
        return
    default_path = rec.payload.get("path")
    rows = [_finding_row(rec.seq, f, default_path) for f in findings if isinstance(f, dict)]
    conn.executemany(
        "INSERT INTO findings (seq, severity, code, message, path, plugin, hook, details)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def _finding_row(seq: int, f: dict[str, Any], default_path: Any) -> tuple[Any, ...]:
    details = f.get("details")
    return (
        seq,
        _text(f.get("severity")) or "info",
        _text(f.get("code")),
        _text(f.get("message")),
        _text(f.get("path") or default_path),  # a finding on a file event is about that file
        _text(f.get("plugin")),
        _text(f.get("hook")),
        json.dumps(details, sort_keys=True, ensure_ascii=False) if details else None,
    )


def project_data_added(conn: sqlite3.Connection, rec: Recorded) -> None:
    _insert_version(conn, rec, "added")
    dataset, blob = _text(rec.payload.get("dataset")), _text(rec.payload.get("blob"))
    if dataset is None:
        return
    # `versions` counts distinct contents, not entries: one file is recorded at
    # several stages (staged, pushed, ...) with the same blob id.
    conn.execute(
        "INSERT INTO datasets (name, first_seq, last_seq, versions) VALUES (?1, ?2, ?2, 1)"
        " ON CONFLICT(name) DO UPDATE SET last_seq = excluded.last_seq, versions = versions +"
        " (?3 IS NULL OR NOT EXISTS (SELECT 1 FROM dataset_versions"
        "  WHERE blob = ?3 AND dataset = ?1 AND seq < ?2))",
        (dataset, rec.seq, blob),
    )


def project_data_removed(conn: sqlite3.Connection, rec: Recorded) -> None:
    _insert_version(conn, rec, "removed")


def project_data_disposed(conn: sqlite3.Connection, rec: Recorded) -> None:
    """A file deleted under retention (no content after) is gone, as if removed in Git:
    the catalog must stop listing it. Rows removed from a file that stays are a new
    content, recorded when the file is next checked or committed."""
    if rec.payload.get("sha256_after") is None and rec.payload.get("rows_after") is None:
        _insert_version(conn, rec, "removed")


def _insert_version(conn: sqlite3.Connection, rec: Recorded, change: str) -> None:
    p = rec.payload
    added = change == "added"
    conn.execute(
        "INSERT INTO dataset_versions (seq, dataset, path, change, blob, sha256, size, stage,"
        " commit_sha, verdict, ruleset, time, actor) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            rec.seq, _text(p.get("dataset")), _text(p.get("path")) or rec.subject, change,
            _text(p.get("blob")) if added else None,
            _text(p.get("sha256")) if added else None,
            _int(p.get("size")) if added else None,
            _text(p.get("stage")), _text(p.get("commit")), _text(p.get("verdict")),
            _text(p.get("ruleset")), rec.time, rec.actor,
        ),
    )


def project_commit_created(conn: sqlite3.Connection, rec: Recorded) -> None:
    p = rec.payload
    parents = p.get("parents")
    # The first record of a commit wins: later hooks may see the same sha again.
    conn.execute(
        "INSERT INTO commits (sha, seq, author, message, parents, time) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(sha) DO NOTHING",
        (
            _text(p.get("sha")) or rec.subject, rec.seq, _text(p.get("author")),
            _text(p.get("message")),
            json.dumps(list(parents)) if isinstance(parents, Sequence) and not isinstance(parents, str) else None,
            rec.time,
        ),
    )


def _text(value: Any) -> str | None:
    """Payloads come from plugins: store odd types as text rather than fail the append."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


PROJECTORS: dict[str, Projector] = {
    "data_added": project_data_added,
    "data_removed": project_data_removed,
    "data_disposed": project_data_disposed,
    "commit_created": project_commit_created,
}


# Runs, run files, metrics, lineage and models live in their own module.
from gitgov.core import run_projections as _run_projections  # noqa: E402  (stdlib-only, no cycle)

TABLES += _run_projections.TABLES
SCHEMA += _run_projections.SCHEMA
PROJECTORS.update(_run_projections.PROJECTORS)

# Data quality: checks, metrics and profiles per dataset version (validation plugin).
from gitgov.core import quality_projections as _quality_projections  # noqa: E402  (stdlib-only)

TABLES += _quality_projections.TABLES
VIEWS += _quality_projections.VIEWS
SCHEMA += _quality_projections.SCHEMA
PROJECTORS.update(_quality_projections.PROJECTORS)

# Views for people (catalog, runs, privacy, audit): SQL only, no projector.
from gitgov.core import catalog_projections as _catalog_projections  # noqa: E402  (stdlib-only)

TABLES += _catalog_projections.TABLES
VIEWS += _catalog_projections.VIEWS
SCHEMA += _catalog_projections.SCHEMA
