"""Retention status from the ledger alone: the next expiry, what is overdue, holds.

Whole-file retention counts from the day the ledger first recorded a
version's content, as the retention plugin does. Row retention
(``retention_column``) depends on dates inside the files, which the catalog
does not read: it reports what `gitgov retention check` or the watch
daemon's scheduler recorded as expired (``retention_expired`` entries) and
not yet disposed of (``data_disposed``). `gitgov retention check` is the
authority; this is the summary.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from gitgov.core.schema import parse_duration_days

from .sources import Sources, loads

_FIRST_SEEN = """SELECT MIN(time) FROM dataset_versions WHERE path = ? AND change = 'added'
                 AND (blob = ? OR sha256 = ?)"""
_EVENTS = """SELECT kind, subject, payload FROM journal
             WHERE kind IN ('retention_expired', 'data_disposed') ORDER BY seq"""


def grace_days(src: Sources) -> int:
    value = src.policy.retention.get("grace")
    return parse_duration_days(value) if value else 0


def retention_status(src: Sources, files: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """dataset name -> its retention status (only datasets in gitgov.toml)."""
    governed = [ds for ds in src.policy.datasets.values() if ds.retention]
    pending = reported_expiries(src) if governed else {}
    grace = grace_days(src)
    out = {}
    for ds in governed:
        current = files.get(ds.name, [])
        items = [pending[f["path"]] for f in current if f["path"] in pending]
        upcoming = None
        if not ds.retention_column:
            expired, upcoming = _file_expiries(src, current, ds.retention_days or 0)
            items += expired
        out[ds.name] = _status(ds, current, items, src.today, grace, upcoming)
    return out


def reported_expiries(src: Sources) -> dict[str, dict[str, Any]]:
    """path -> the newest retention_expired entry not followed by a disposal of that path."""
    pending: dict[str, dict[str, Any]] = {}
    for kind, path, payload in src.rows(_EVENTS):
        if kind == "data_disposed":
            pending.pop(path, None)
            continue
        p = loads(payload) or {}
        expired_on = _date(p.get("expired_on"))
        if expired_on is not None:
            pending[path] = {"path": path, "dataset": p.get("dataset"), "expired_on": expired_on,
                             "rows": p.get("rows"), "reported": True}
    return pending


def _file_expiries(src: Sources, files: list[dict[str, Any]], days: int
                   ) -> tuple[list[dict[str, Any]], str | None]:
    """(whole files past retention, the next expiry still ahead as an ISO date)."""
    expired, ahead = [], []
    for f in files:
        first = _first_seen(src, f)
        if first is None:
            continue
        expires = first + timedelta(days=days)
        if expires <= src.today:
            expired.append({"path": f["path"], "dataset": f["dataset"], "expired_on": expires,
                            "rows": None, "reported": False})
        else:
            ahead.append(expires)
    return expired, (min(ahead).isoformat() if ahead else None)


def _first_seen(src: Sources, f: dict[str, Any]) -> date | None:
    row = src.db.execute(_FIRST_SEEN, (f["path"], f["blob"], f["sha256"])).fetchone()
    return _date(row[0]) if row and row[0] else _date(f["time"])


def _status(ds: Any, files: list[dict[str, Any]], items: list[dict[str, Any]], today: date,
            grace: int, upcoming: str | None) -> dict[str, Any]:
    for item in items:
        item["overdue"] = not ds.hold and today > item["expired_on"] + timedelta(days=grace)
        item["held"] = bool(ds.hold)
    state = "ok"
    if ds.hold:
        state = "hold"
    elif any(i["overdue"] for i in items):
        state = "overdue"
    elif items:
        state = "expired"
    status = {"state": state, "period": ds.retention, "column": ds.retention_column,
              "hold": bool(ds.hold), "next_expiry": upcoming, "files": len(files),
              "items": [{**i, "expired_on": i["expired_on"].isoformat()} for i in items]}
    status["text"] = _text(ds, status)
    return status


def _text(ds: Any, s: dict[str, Any]) -> str:
    basis = f"{ds.retention} by {ds.retention_column}" if ds.retention_column else f"{ds.retention} per file"
    if s["hold"]:
        return f"{basis}; on legal hold (hold = true): nothing is disposed of"
    if not s["files"]:
        return f"{basis}; no versions yet"
    if s["items"]:
        first = min(i["expired_on"] for i in s["items"])
        rows = sum(i["rows"] or 0 for i in s["items"])
        what = f"{rows} row(s)" if rows else f"{len(s['items'])} file(s)"
        when = "OVERDUE since" if s["state"] == "overdue" else "expired on"
        return f"{basis}; {what} {when} {first}; `gitgov retention apply` disposes of it"
    if s.get("next_expiry"):
        return f"{basis}; next expiry {s['next_expiry']}"
    if ds.retention_column:
        return f"{basis}; nothing reported expired (`gitgov retention check` reads the rows)"
    return basis


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None
