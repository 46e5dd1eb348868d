"""Projection tables of data quality: checks, metrics and profiles per dataset version.

The `validation` plugin records one ``quality_check`` fact per file it
checks, with the version's metrics and profile. This projector turns them
into tables that `gitgov quality`, the catalog and any SQLite tool can read;
the commit that recorded a version is looked up in the commit_created
entries (see the quality_commits view).
projections.py registers them; like every projector they depend only on the
entry and on earlier entries, so `gitgov ledger rebuild` recreates them.
"""
from __future__ import annotations

import json
import math
import sqlite3
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitgov.core.ledger import Recorded

TABLES = ("quality_checks", "quality_metrics", "dataset_profiles")
VIEWS = ("quality_versions", "quality_commits")


def versions_view() -> str:
    """The statement of quality_versions as it is now (a ledger migration recreates it)."""
    return next(s for s in SCHEMA if s.lstrip().startswith("CREATE VIEW quality_versions"))


SCHEMA: tuple[str, ...] = (
    """CREATE TABLE quality_checks (
        seq INTEGER PRIMARY KEY,        -- journal.seq of the quality_check entry
        dataset TEXT,
        path TEXT NOT NULL,
        blob TEXT,                      -- git blob id of the checked bytes
        ruleset TEXT,                   -- hash of the dataset's rule set the check ran under
        verdict TEXT NOT NULL,          -- pass or block, by the validation rules alone
        reused INTEGER NOT NULL,        -- 1 when an earlier pass under the same ruleset was reused
        stage TEXT,                     -- staged, pushed, observed, checked
        commit_sha TEXT,                -- the pushed commit (pre-push); see quality_commits
        rows INTEGER,
        columns INTEGER,
        errors INTEGER,                 -- failed rules of severity error
        warnings INTEGER,
        time TEXT NOT NULL,
        actor TEXT NOT NULL
    )""",
    "CREATE INDEX quality_checks_by_blob ON quality_checks(blob, ruleset)",
    "CREATE INDEX quality_checks_by_dataset ON quality_checks(dataset, seq)",
    """CREATE TABLE quality_metrics (
        seq INTEGER NOT NULL,           -- the quality_check entry that measured it
        dataset TEXT,
        path TEXT NOT NULL,
        blob TEXT,
        metric TEXT NOT NULL,           -- rows, columns, null_fraction.COL, failed.RULE, mean.COL, ...
        value REAL,
        PRIMARY KEY (seq, metric)
    )""",
    "CREATE INDEX quality_metrics_by_dataset ON quality_metrics(dataset, metric, seq)",
    """CREATE TABLE dataset_profiles (
        seq INTEGER PRIMARY KEY,        -- the quality_check entry it came with
        dataset TEXT,
        path TEXT NOT NULL,
        blob TEXT,
        rows INTEGER,
        columns INTEGER,
        profile TEXT NOT NULL,          -- JSON: schema and per-column statistics (personal data masked)
        time TEXT NOT NULL
    )""",
    "CREATE INDEX dataset_profiles_by_blob ON dataset_profiles(blob, seq)",
    # The commits that recorded each (path, blob), from the commit_created entries.
    """CREATE VIEW quality_commits AS
        SELECT j.subject AS commit_sha, j.seq, json_extract(c.value, '$.path') AS path,
               json_extract(c.value, '$.blob') AS blob
        FROM journal AS j, json_each(j.payload, '$.changes') AS c
        WHERE j.kind = 'commit_created'""",
    # One row per distinct version (path and content) of a dataset: its first full
    # check under that dataset, with the first commit that recorded it once there is
    # one. A file moved to another dataset is a version of both, each as it was checked.
    """CREATE VIEW quality_versions AS
        SELECT q.dataset, q.path, q.blob,
               COALESCE(q.commit_sha, (SELECT k.commit_sha FROM quality_commits AS k
                                       WHERE k.path = q.path AND k.blob = q.blob
                                       ORDER BY k.seq LIMIT 1)) AS commit_sha,
               q.verdict, q.rows, q.columns, q.errors, q.warnings, q.time, q.actor, q.seq
        FROM quality_checks AS q
        WHERE q.reused = 0
          AND q.seq = (SELECT MIN(r.seq) FROM quality_checks AS r
                       WHERE r.path = q.path AND r.blob IS q.blob AND r.dataset IS q.dataset
                         AND r.reused = 0)""",
)


def project_quality_check(conn: sqlite3.Connection, rec: Recorded) -> None:
    p = rec.payload
    path, blob, ruleset = _text(p.get("path")) or "", _text(p.get("blob")), _text(p.get("ruleset"))
    counts = p.get("counts") if isinstance(p.get("counts"), dict) else {}
    conn.execute(
        "INSERT INTO quality_checks (seq, dataset, path, blob, ruleset, verdict, reused, stage,"
        " commit_sha, rows, columns, errors, warnings, time, actor)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (rec.seq, _text(p.get("dataset")), path, blob, ruleset, _text(p.get("verdict")) or "pass",
         int(bool(p.get("reused"))), _text(p.get("stage")), _text(p.get("commit")),
         _int(p.get("rows")), _int(p.get("columns")), _int(counts.get("error")),
         _int(counts.get("warning")), rec.time, rec.actor))
    _stamp_version(conn, rec.seq, path, blob, ruleset)
    metrics = p.get("metrics")
    if isinstance(metrics, dict):
        rows = [(rec.seq, _text(p.get("dataset")), path, blob, str(k), _real(v))
                for k, v in metrics.items()]
        conn.executemany("INSERT OR REPLACE INTO quality_metrics (seq, dataset, path, blob, metric,"
                         " value) VALUES (?,?,?,?,?,?)", rows)
    profile = p.get("profile")
    if isinstance(profile, dict):
        conn.execute(
            "INSERT INTO dataset_profiles (seq, dataset, path, blob, rows, columns, profile, time)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (rec.seq, _text(p.get("dataset")), path, blob, _int(p.get("rows")),
             _int(p.get("columns")), json.dumps(profile, sort_keys=True, ensure_ascii=False),
             rec.time))


def _stamp_version(conn: sqlite3.Connection, seq: int, path: str, blob: str | None,
                   ruleset: str | None) -> None:
    """Put the ruleset on the data_added entry the check belongs to (the newest
    one for this path and blob), so Ledger.has_passing_check(blob, ruleset) sees it."""
    if ruleset is None or blob is None:
        return
    conn.execute(
        "UPDATE dataset_versions SET ruleset = ? WHERE seq = (SELECT MAX(seq) FROM dataset_versions"
        " WHERE path = ? AND blob = ? AND change = 'added' AND seq < ?)",
        (ruleset, path, blob, seq))


def _text(value: Any) -> str | None:
    return value if value is None or isinstance(value, str) else str(value)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _real(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


PROJECTORS = {
    "quality_check": project_quality_check,
}
