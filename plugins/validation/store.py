"""What the ledger already knows about data quality (read-only queries).

Plugins run on the bus's worker thread, and the context's connection belongs
to the thread that opened it, so these queries use their own read-only
connection. A store kept for a whole run (``keep_open``) opens it once: a
connection reads the ledger's schema before its first query, which costs
more than the query itself, and a push checks hundreds of file versions.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any, NamedTuple

from .tally import Tally


class Passed(NamedTuple):
    """An earlier passing check: the format it read, and the rules that failed without blocking
    (warnings, infos), with their counts and sample rows (personal data already masked)."""

    format: str
    found: list[Tally]


class Store:
    def __init__(self, ledger_path: Path | None, *, keep_open: bool = False):
        self.path = Path(ledger_path) if ledger_path else None
        self.keep_open = keep_open
        self._db: sqlite3.Connection | None = None
        # A call abandoned at its deadline may still be querying when the next
        # plugin call, on a fresh worker thread, starts.
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection | None:
        if self.path is None or not self.path.exists():
            return None
        try:
            db = sqlite3.connect(self.path.absolute().as_uri() + "?mode=ro", uri=True, timeout=30,
                                 check_same_thread=not self.keep_open)
            db.execute("SELECT 1 FROM quality_checks LIMIT 1")
            return db
        except sqlite3.Error:
            return None  # an old or foreign ledger: nothing known, everything is checked

    def _query(self, sql: str, args: tuple) -> list[tuple]:
        with self._lock:
            db = self._db if self._db is not None else self._connect()
            if db is None:
                return []
            try:
                return db.execute(sql, args).fetchall()
            except sqlite3.Error:
                return []
            finally:
                if self.keep_open:
                    self._db = db
                else:
                    db.close()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def passed(self, blob: str, ruleset: str) -> Passed | None:
        """What the newest full check that passed this content under this exact rule set
        found, to report again instead of checking again; None: check it."""
        rows = self._query(
            "SELECT json_extract(j.payload, '$.format'), json_extract(j.payload, '$.found'),"
            " json_extract(j.payload, '$.failures') FROM quality_checks AS q"
            " JOIN journal AS j ON j.seq = q.seq WHERE q.blob = ? AND q.ruleset = ?"
            " AND q.verdict = 'pass' AND q.reused = 0 ORDER BY q.seq DESC LIMIT 1",
            (blob, ruleset))
        if not rows:
            return None
        fmt, found, failures = rows[0]
        try:
            if found is None:
                # Recorded before passes kept what they found: only a clean pass can be reused.
                return Passed(fmt or "", []) if not json.loads(failures or "{}") else None
            return Passed(fmt or "", [Tally.from_dict(t) for t in json.loads(found)])
        except (ValueError, TypeError, KeyError, AttributeError):
            return None  # a record this version cannot read: checking again is always safe

    def measured(self, blob: str) -> tuple[dict[str, float], dict[str, Any]] | None:
        """(metrics, profile) of the newest full check of this content, under any rules."""
        rows = self._query(
            "SELECT q.seq, p.profile FROM quality_checks AS q JOIN dataset_profiles AS p"
            " ON p.seq = q.seq WHERE q.blob = ? AND q.reused = 0 ORDER BY q.seq DESC LIMIT 1",
            (blob,))
        if not rows:
            return None
        seq, profile = rows[0]
        metrics = dict(self._query("SELECT metric, value FROM quality_metrics WHERE seq = ?", (seq,)))
        try:
            return metrics, json.loads(profile)
        except ValueError:
            return None

    def versions(self, dataset: str, path: str | None = None) -> list[dict[str, Any]]:
        """Each distinct version (path and content) of a dataset, oldest first, with metrics."""
        sql = ("SELECT seq, path, blob, commit_sha, verdict, rows, columns, errors, warnings, time,"
               " actor FROM quality_versions WHERE dataset = ?")
        args: tuple = (dataset,)
        if path:
            sql += " AND path = ?"
            args += (path,)
        names = ("seq", "path", "blob", "commit", "verdict", "rows", "columns", "errors",
                 "warnings", "time", "actor")
        out = [dict(zip(names, row)) for row in self._query(sql + " ORDER BY seq", args)]
        if not out:
            return out
        seqs = tuple(v["seq"] for v in out)
        marks = ",".join("?" * len(seqs))
        metrics: dict[int, dict[str, float]] = {}
        for seq, metric, value in self._query(
                f"SELECT seq, metric, value FROM quality_metrics WHERE seq IN ({marks})", seqs):
            metrics.setdefault(seq, {})[metric] = value
        for v in out:
            v["metrics"] = metrics.get(v["seq"], {})
        return out

    def known_datasets(self) -> list[str]:
        return [r[0] for r in self._query("SELECT DISTINCT dataset FROM quality_checks"
                                          " WHERE dataset IS NOT NULL ORDER BY dataset", ())]
