"""Drift: a new version of a file against its last committed version.

Rows that changed by more than ``max_row_change_pct`` percent, a column's
null share that rose by more than ``max_null_increase_pts`` points, and
schema changes. A removed column or a changed type is a breaking change:
it blocks unless acknowledged (core/ack.py), or only warns with
``schema = "warn"``. New columns are reported for information.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .tally import Tally


@dataclass
class Drift:
    metric: str  # rows, null_fraction.COL, schema
    severity: str
    message: str
    previous: Any
    current: Any
    change: Any
    breaking: bool = False

    def tally(self) -> Tally:
        t = Tally(f"drift.{self.metric}", "drift", _column(self.metric), self.severity, self.message)
        t.add(None, None, note=f"{_show(self.previous)} -> {_show(self.current)}")
        return t


def _column(metric: str) -> str | None:
    return metric.split(".", 1)[1] if metric.startswith("null_fraction.") else None


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1%}" if 0 <= value <= 1 else f"{value:,.2f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "-"
    return f"{value:,}" if isinstance(value, int) else str(value)


def schema_of(profile: Mapping[str, Any] | None) -> dict[str, str]:
    """column -> type, the declared type where there is one."""
    cols = (profile or {}).get("columns") or []
    return {c["name"]: c.get("declared") or c.get("type") or "string" for c in cols}


def compare(current: Mapping[str, Any], previous: Mapping[str, Any], conf: Mapping[str, Any],
            cur_metrics: Mapping[str, float], prev_metrics: Mapping[str, float]) -> list[Drift]:
    """Every drift of `current` (profile) from `previous` that the rules care about."""
    out: list[Drift] = []
    severity = conf.get("severity", "warning")
    rows_now, rows_then = cur_metrics.get("rows"), prev_metrics.get("rows")
    limit = conf.get("max_row_change_pct")
    if limit is not None and rows_then and rows_now is not None:
        pct = (rows_now - rows_then) / rows_then * 100
        if abs(pct) > limit:
            out.append(Drift("rows", severity, f"row count changed by {pct:+.1f}%, more than the "
                             f"{limit:g}% that max_row_change_pct allows", int(rows_then),
                             int(rows_now), round(pct, 2)))
    rise = conf.get("max_null_increase_pts")
    if rise is not None:
        for key, now in cur_metrics.items():
            if key.startswith("null_fraction.") and key in prev_metrics and now is not None:
                pts = (now - (prev_metrics[key] or 0.0)) * 100
                if pts > rise:
                    col = key.split(".", 1)[1]
                    out.append(Drift(key, severity, f"'{col}' is empty in {now:.1%} of rows, up "
                                     f"{pts:.1f} points (max_null_increase_pts = {rise:g})",
                                     prev_metrics[key], now, round(pts, 2)))
    out += _schema(schema_of(current), schema_of(previous), conf.get("schema", "block"),
                   _typed(current) & _typed(previous))
    return out


def _typed(profile: Mapping[str, Any] | None) -> set[str]:
    """Columns whose type says something: declared, or inferred from at least one value (an
    empty column, or a file of a header only, is "string" for want of values, not by them)."""
    rows = (profile or {}).get("rows") or 0
    return {c["name"] for c in (profile or {}).get("columns") or []
            if c.get("declared") or rows > (c.get("nulls") or 0)}


def _schema(now: dict[str, str], then: dict[str, str], mode: str, typed: set[str]) -> list[Drift]:
    if mode == "off" or not then:
        return []
    removed = [c for c in then if c not in now]
    retyped = [f"{c} ({then[c]} -> {now[c]})" for c in then
               if c in now and now[c] != then[c] and c in typed]
    added = [c for c in now if c not in then]
    out = []
    if removed or retyped:
        parts = ([f"removed column{'s' if len(removed) > 1 else ''} {', '.join(removed)}"] if removed else []) \
            + ([f"changed type of {', '.join(retyped)}"] if retyped else [])
        out.append(Drift("schema", "error" if mode == "block" else "warning",
                         "breaking schema change: " + "; ".join(parts), list(then), list(now),
                         {"removed": removed, "retyped": retyped}, breaking=True))
    if added:
        out.append(Drift("schema.added", "info", f"new column{'s' if len(added) > 1 else ''}: "
                         + ", ".join(added), list(then), list(now), {"added": added}))
    return out
