"""What has passed its retention period, judged from the ledger and the files.

- ``retention = "7y"`` alone applies to whole files: a version expires that
  long after the ledger first recorded it (by SHA-256 or Git blob id). A file
  the ledger never saw is counted from its modification time, and says so.
- with ``retention_column = "signup_date"`` it applies to rows: a row expires
  that long after the date in that column.
- ``hold = true`` (a legal hold) keeps everything; expired items are listed
  as held and never disposed of.
- ``[retention] grace`` gives time to act: an item is *overdue* once its
  expiry plus the grace has passed.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from gitgov.core.errors import InputError
from gitgov.core.events import RetentionExpired
from gitgov.core.rowfilter import filter_rows, format_of
from gitgov.core.schema import parse_duration_days
from gitgov.core.watch.cache import HashCache
from gitgov.core.watch.hashing import Hashed, Unhashable, hash_file
from gitgov.core.watch.reconcile import walk
from gitgov.core.watch.scope import Scope


@dataclass(frozen=True)
class Expired:
    dataset: str
    path: str
    mode: str  # "file" or "rows"
    expired_on: date  # the day the first of it expired
    retention: str
    basis: str  # what the period was counted from
    sha256: str
    rows: int | None = None  # rows past retention (rows mode)
    total: int | None = None
    held: bool = False
    overdue: bool = False

    def event(self, source: str, actor: str = "") -> RetentionExpired:
        return RetentionExpired(path=self.path, dataset=self.dataset, expired_on=self.expired_on.isoformat(),
                                rows=self.rows, source=source, actor=actor)

    @property
    def what(self) -> str:
        return f"{self.rows} of {self.total} rows" if self.mode == "rows" else "whole file"


@dataclass
class Findings:
    items: list[Expired]
    notes: list[str]  # undated rows, files never recorded, ...


def parse_date(value: Any, label: str) -> date | None:
    """A date from an ISO date or timestamp (or a date/datetime from Parquet); None when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        for parse in (date.fromisoformat, lambda t: datetime.fromisoformat(t).date()):
            try:
                return parse(text)
            except ValueError:
                continue
    raise ValueError(f"{label}: {value!r} is not a date (expected YYYY-MM-DD or an ISO 8601 timestamp)")


def find(root: Path, policy: Any, db: sqlite3.Connection, today: date, only: str | None = None,
         cache: HashCache | None = None, errors: list[str] | None = None) -> Findings:
    """Everything past retention. A file that cannot be judged raises InputError, or with
    `errors` given is listed there and skipped (the daemon's sweep goes on)."""
    if only is not None and only not in policy.datasets:
        raise InputError(f"no dataset '{only}' in gitgov.toml (datasets: {', '.join(policy.datasets) or 'none'})")
    grace = _days(policy.retention.get("grace"))
    out = Findings([], [])
    memory = cache.load() if cache is not None else {}
    for ds in policy.datasets.values():
        if ds.retention is None or (only is not None and ds.name != only):
            continue
        scan = walk(Scope.for_globs(root, ds.paths, policy))
        for rel in sorted(scan.files):
            try:
                item = _judge(root, ds, rel, scan.files[rel], db, today, grace, memory, out.notes)
            except InputError as exc:
                if errors is None:
                    raise
                errors.append(str(exc))
                continue
            if item is not None:
                out.items.append(item)
    return out


def _days(value: str | None) -> int:
    return parse_duration_days(value) if value else 0


def _judge(root: Path, ds: Any, rel: str, st: Any, db: sqlite3.Connection, today: date, grace: int,
           memory: dict[str, Hashed], notes: list[str]) -> Expired | None:
    cached = memory.get(rel)
    try:
        h = cached if cached is not None and cached.stat == st else hash_file(root / rel)
    except Unhashable as exc:
        notes.append(f"{rel}: not judged: {exc}")
        return None
    days = ds.retention_days
    base = dict(dataset=ds.name, path=rel, retention=ds.retention, sha256=h.sha256, held=ds.hold)
    if ds.retention_column:
        return _rows(root, ds, rel, days, today, grace, base, notes)
    first, basis = _first_recorded(db, rel, h)
    if first is None:
        first = datetime.fromtimestamp(st.mtime_ns / 1e9).date()
        basis = f"modification time {first} (the ledger never recorded this version)"
    expires = shifted(first, days)
    if expires > today:
        return None
    return Expired(mode="file", expired_on=expires, basis=basis,
                   overdue=today > shifted(expires, grace), **base)


def shifted(day: date, days: int) -> date:
    """`day` moved by `days`, held at the calendar's ends (years 1 and 9999) instead of
    overflowing: a period of up to 1000 years from any date gitgov can read."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def _first_recorded(db: sqlite3.Connection, rel: str, h: Hashed) -> tuple[date | None, str]:
    row = db.execute("SELECT MIN(time) FROM dataset_versions WHERE path = ? AND change = 'added'"
                     " AND (sha256 = ? OR blob = ?)", (rel, h.sha256, h.blob)).fetchone()
    if not row or not row[0]:
        return None, ""
    first = date.fromisoformat(row[0][:10])
    return first, f"first recorded {first}"


def _rows(root: Path, ds: Any, rel: str, days: int, today: date, grace: int, base: dict,
          notes: list[str]) -> Expired | None:
    cutoff = shifted(today, -days)
    label = f"datasets.{ds.name}.retention_column = '{ds.retention_column}'"
    seen: dict[str, Any] = {"oldest": None, "undated": 0}

    def expired(value: Any) -> bool:
        d = parse_date(value, label)
        if d is None:
            seen["undated"] += 1
            return False
        if d < cutoff:
            seen["oldest"] = d if seen["oldest"] is None else min(seen["oldest"], d)
            return True
        return False

    fmt = format_of(rel, ds.format)
    if fmt is None:
        raise InputError(f"{rel}: datasets.{ds.name}.retention_column: cannot read rows of this file "
                         f"type; set datasets.{ds.name}.format")
    result = filter_rows(root / rel, fmt, ds.retention_column, expired, write=False, show=rel,
                         label=f"datasets.{ds.name}.retention_column")
    if seen["undated"]:
        notes.append(f"{rel}: {seen['undated']} row(s) have no {ds.retention_column}; they are kept")
    if not result.removed:
        return None
    expires = shifted(seen["oldest"], days)
    return Expired(mode="rows", expired_on=expires, rows=result.removed, total=result.rows_before,
                   basis=f"{ds.retention_column} before {cutoff}",
                   overdue=today > shifted(expires, grace), **base)


def already_reported(db: sqlite3.Connection, item: Expired) -> bool:
    """Whether the newest RetentionExpired for this path says the same (no repeat records)."""
    row = db.execute("SELECT payload FROM journal WHERE kind = 'retention_expired' AND subject = ?"
                     " ORDER BY seq DESC LIMIT 1", (item.path,)).fetchone()
    if row is None:
        return False
    payload = json.loads(row[0])
    return payload.get("expired_on") == item.expired_on.isoformat() and payload.get("rows") == item.rows
