"""Projection tables for runs, their files and metrics, lineage and models.

Derived from the journal like every projection (see projections.py): written
in the append transaction, rebuilt by `gitgov ledger rebuild`. Lineage queries
walk `lineage_edges` with recursive SQL over its two indexes.
"""
from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from gitgov.core.ledger import Recorded

TABLES = ("runs", "run_files", "metrics", "lineage_nodes", "lineage_edges", "models", "reproductions")

SCHEMA: tuple[str, ...] = (
    """CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        name TEXT,
        status TEXT NOT NULL,           -- running, ok, failed, interrupted, killed, refused
        started TEXT NOT NULL,
        finished TEXT,
        started_seq INTEGER NOT NULL,
        finished_seq INTEGER,
        actor TEXT,
        command TEXT,                   -- JSON list
        params TEXT,                    -- JSON object
        seed INTEGER,
        commit_sha TEXT,
        branch TEXT,
        dirty INTEGER,
        diff_sha256 TEXT,               -- object holding the uncommitted diff
        cwd TEXT,
        host TEXT,
        pid INTEGER,
        exit_code INTEGER,
        signal TEXT,
        duration REAL,
        peak_memory INTEGER
    )""",
    "CREATE INDEX runs_by_name ON runs(name, started)",
    """CREATE TABLE run_files (
        run_id TEXT NOT NULL,
        role TEXT NOT NULL,             -- input or output
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER,
        blob TEXT,
        tracked INTEGER,
        clean INTEGER,
        stored INTEGER,
        PRIMARY KEY (run_id, role, path)
    )""",
    "CREATE INDEX run_files_by_sha ON run_files(sha256)",
    "CREATE INDEX run_files_by_path ON run_files(path)",
    """CREATE TABLE metrics (
        run_id TEXT NOT NULL,
        name TEXT NOT NULL,
        value REAL,
        step INTEGER,
        PRIMARY KEY (run_id, name)
    )""",
    """CREATE TABLE lineage_nodes (
        id TEXT PRIMARY KEY,            -- commit:SHA, data:PATH@SHA256, run:ID, model:NAME@vN
        kind TEXT NOT NULL,             -- commit, data, run, model
        label TEXT,
        path TEXT,
        sha256 TEXT,
        blob TEXT,
        dataset TEXT,
        run_id TEXT,
        commit_sha TEXT,
        seq INTEGER NOT NULL,           -- first entry that named it
        attrs TEXT                      -- JSON: schema, rows, size, ...
    )""",
    "CREATE INDEX lineage_nodes_by_path ON lineage_nodes(path, seq)",
    "CREATE INDEX lineage_nodes_by_dataset ON lineage_nodes(dataset, seq)",
    """CREATE TABLE lineage_edges (
        src TEXT NOT NULL,
        dst TEXT NOT NULL,
        relation TEXT NOT NULL,         -- committed, input, output, registered
        run_id TEXT,
        seq INTEGER NOT NULL,
        PRIMARY KEY (src, dst, relation)
    ) WITHOUT ROWID""",
    "CREATE INDEX lineage_edges_by_dst ON lineage_edges(dst, src)",
    """CREATE TABLE models (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        path TEXT,
        sha256 TEXT NOT NULL,
        size INTEGER,
        run_id TEXT,
        stage TEXT,
        seq INTEGER NOT NULL,
        time TEXT NOT NULL,
        actor TEXT,
        PRIMARY KEY (name, version)
    )""",
    """CREATE TABLE reproductions (
        seq INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        verdict TEXT NOT NULL,          -- reproduced, differs
        time TEXT NOT NULL,
        actor TEXT,
        summary TEXT
    )""",
    "CREATE INDEX reproductions_by_run ON reproductions(run_id, seq)",
)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


NON_FINITE = ("nan", "inf", "-inf")  # how a run records a metric that JSON cannot hold (tracking.recordable)


def _metric(value: Any) -> float | str | None:
    return value if value in NON_FINITE else _num(value)


def project_run_started(db: sqlite3.Connection, rec: "Recorded") -> None:
    p = rec.payload
    # A run that a plugin blocked never started its command.
    status = "refused" if p.get("verdict") == "block" else "running"
    db.execute(
        "INSERT OR IGNORE INTO runs (run_id, name, status, started, started_seq, actor, command,"
        " params, seed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (rec.subject, p.get("run_name") or None, status, rec.time, rec.seq, rec.actor,
         _json(p.get("command")), _json(p.get("params")), _int(p.get("seed"))))


def project_run_snapshot(db: sqlite3.Connection, rec: "Recorded") -> None:
    p = rec.payload
    diff = p.get("diff") or {}
    db.execute(
        "UPDATE runs SET commit_sha = ?, branch = ?, dirty = ?, diff_sha256 = ?, cwd = ?, host = ?,"
        " pid = ? WHERE run_id = ?",
        (p.get("commit"), p.get("branch"), int(bool(p.get("dirty"))), diff.get("sha256"),
         p.get("cwd"), p.get("host"), _int(p.get("pid")), rec.subject))
    _files(db, rec.subject, "input", p.get("inputs"))


def project_run_finished(db: sqlite3.Connection, rec: "Recorded") -> None:
    p = rec.payload
    details = p.get("details") or {}
    db.execute(
        "UPDATE runs SET status = ?, finished = ?, finished_seq = ?, exit_code = ?, signal = ?,"
        " duration = ?, peak_memory = ? WHERE run_id = ?",
        (str(p.get("status") or "failed"), rec.time, rec.seq, _int(p.get("exit_code")),
         details.get("signal"), _num(p.get("duration")), _int(p.get("peak_memory")), rec.subject))
    _files(db, rec.subject, "input", details.get("inputs"))
    _files(db, rec.subject, "output", details.get("outputs"))
    steps = details.get("metric_steps") or {}
    rows = [(rec.subject, str(k), _metric(v), _int((steps.get(k) or {}).get("step")))
            for k, v in (p.get("metrics") or {}).items()]
    db.executemany("INSERT OR REPLACE INTO metrics (run_id, name, value, step) VALUES (?,?,?,?)", rows)


def _files(db: sqlite3.Connection, run_id: str, role: str, files: Any) -> None:
    if not isinstance(files, dict):
        return
    rows = [(run_id, role, path, r.get("sha256"), _int(r.get("size")), r.get("blob"),
             int(bool(r.get("tracked"))), int(bool(r.get("clean"))), int(bool(r.get("stored"))))
            for path, r in files.items() if isinstance(r, dict) and r.get("sha256")]
    db.executemany("INSERT OR REPLACE INTO run_files (run_id, role, path, sha256, size, blob, tracked,"
                   " clean, stored) VALUES (?,?,?,?,?,?,?,?,?)", rows)


_NODE_KEYS = ("kind", "label", "path", "sha256", "blob", "dataset", "run_id", "commit")


def project_lineage(db: sqlite3.Connection, rec: "Recorded") -> None:
    p = rec.payload
    nodes = [n for n in p.get("nodes") or () if isinstance(n, dict) and n.get("id")]
    db.executemany(
        "INSERT OR IGNORE INTO lineage_nodes (id, kind, label, path, sha256, blob, dataset, run_id,"
        " commit_sha, seq, attrs) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [(n["id"], n.get("kind") or "data", n.get("label"), n.get("path"), n.get("sha256"),
          n.get("blob"), n.get("dataset"), n.get("run_id"), n.get("commit"), rec.seq,
          _json({k: v for k, v in n.items() if k not in _NODE_KEYS and k != "id"} or None))
         for n in nodes])
    edges = [e for e in p.get("edges") or () if isinstance(e, dict) and e.get("src") and e.get("dst")]
    db.executemany(
        "INSERT OR IGNORE INTO lineage_edges (src, dst, relation, run_id, seq) VALUES (?,?,?,?,?)",
        [(e["src"], e["dst"], e.get("relation") or "", e.get("run_id"), rec.seq) for e in edges])


def project_model_registered(db: sqlite3.Connection, rec: "Recorded") -> None:
    p = rec.payload
    db.execute(
        "INSERT OR IGNORE INTO models (name, version, path, sha256, size, run_id, stage, seq, time,"
        " actor) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (p.get("name"), _int(p.get("version")), p.get("path"), p.get("sha256"), _int(p.get("size")),
         p.get("run_id"), p.get("stage"), rec.seq, rec.time, rec.actor))
    project_lineage(db, rec)  # the model's node and its edge from the file version


def project_run_reproduced(db: sqlite3.Connection, rec: "Recorded") -> None:
    p = rec.payload
    db.execute("INSERT INTO reproductions (seq, run_id, verdict, time, actor, summary) VALUES (?,?,?,?,?,?)",
               (rec.seq, rec.subject, str(p.get("verdict") or "differs"), rec.time, rec.actor,
                p.get("summary")))


PROJECTORS: dict[str, Callable[[sqlite3.Connection, "Recorded"], None]] = {
    "run_started": project_run_started,
    "run_snapshot": project_run_snapshot,
    "run_finished": project_run_finished,
    "lineage": project_lineage,
    "model_registered": project_model_registered,
    "run_reproduced": project_run_reproduced,
}
