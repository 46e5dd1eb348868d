"""Runs side by side: grouped by name, with their params and metrics as columns."""
from __future__ import annotations

from typing import Any

from .flows import run_label
from .sources import Sources, loads

_RUNS = """SELECT run_id, name, command, status, started, duration, actor, commit_sha, dirty, params, seed
           FROM runs ORDER BY started_seq"""
_METRICS = "SELECT run_id, name, value FROM metrics"
_REPRO = """SELECT p.run_id, p.verdict FROM reproductions AS p
            JOIN (SELECT run_id, MAX(seq) AS seq FROM reproductions GROUP BY run_id) AS m ON m.seq = p.seq"""


def groups(src: Sources, per_group: int = 50) -> list[dict[str, Any]]:
    """Runs by name, newest group first; each with its newest `per_group` runs, oldest first
    (only those carry their params)."""
    metrics: dict[str, dict[str, float]] = {}
    for run_id, name, value in src.rows(_METRICS):
        metrics.setdefault(run_id, {})[name] = value
    reproduced = dict(src.rows(_REPRO))
    found: dict[str, list[dict[str, Any]]] = {}
    for run_id, name, command, status, started, duration, actor, commit, dirty, params, seed in src.rows(_RUNS):
        label = run_label(name, command)
        found.setdefault(label, []).append({
            "run_id": run_id, "status": status, "started": started, "duration": duration,
            "actor": actor, "commit": commit, "dirty": bool(dirty), "seed": seed,
            "params": params, "metrics": metrics.get(run_id, {}),
            "reproduced": reproduced.get(run_id)})
    out = [_group(label, runs, per_group) for label, runs in found.items()]
    return sorted(out, key=lambda g: g["runs"][-1]["started"] if g["runs"] else "", reverse=True)


def _group(label: str, runs: list[dict[str, Any]], per_group: int) -> dict[str, Any]:
    shown = runs[-per_group:]
    for r in shown:  # only the runs shown: a long history of runs is mostly not
        r["params"] = loads(r["params"]) or {}
    params = sorted({k for r in shown for k in r["params"]})
    names = sorted({k for r in shown for k in r["metrics"]})
    varying = [k for k in params if len({repr(r["params"].get(k)) for r in shown}) > 1]
    best = {m: _extremes([r["metrics"].get(m) for r in shown]) for m in names}
    return {"name": label, "count": len(runs), "shown": len(shown), "params": params,
            "varying": varying, "metric_names": names, "extremes": best, "runs": shown}


def _extremes(values: list[Any]) -> tuple[float, float] | None:
    nums = [v for v in values if isinstance(v, (int, float))]
    return (min(nums), max(nums)) if nums else None
