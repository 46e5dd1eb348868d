"""`gitgov quality NAME`: each quality metric of a dataset across its versions."""
from __future__ import annotations

from typing import Any

from .store import Store

MAIN = ("rows", "columns", "errors", "warnings")


def history(dataset: str, path: str | None = None) -> dict[str, Any]:
    from gitgov.core.config import load_policy
    from gitgov.core.errors import InputError
    from gitgov.core.git import Repo
    from gitgov.core.ledger import open_ledger

    repo = Repo.discover(".")
    policy = load_policy(repo.policy_path)
    open_ledger(repo.ledger_path).close()  # one that is missing or not a ledger says so (exit 2)
    store = Store(repo.ledger_path)
    versions = store.versions(dataset, path)
    if not versions and dataset not in policy.datasets:
        known = sorted(set(policy.datasets) | set(store.known_datasets()))
        raise InputError(f"no dataset named '{dataset}' (datasets: {', '.join(known) or 'none'})")
    names: list[str] = []
    for n, v in enumerate(versions, 1):
        v["version"] = n
        for metric in v["metrics"]:
            if metric not in names:
                names.append(metric)
    return {"dataset": dataset, "path": path, "versions": versions,
            "metrics": sorted(names, key=_metric_order)}


def _metric_order(name: str) -> tuple:
    if name in MAIN:
        return (0, MAIN.index(name), "")
    head = name.split(".", 1)[0]
    return (1, ("failed", "null_fraction", "distinct", "mean").index(head)
            if head in ("failed", "null_fraction", "distinct", "mean") else 9, name)


def _value(metric: str, value: Any) -> str:
    if value is None:
        return "-"
    if metric.startswith("null_fraction."):
        return f"{value:.1%}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.4g}"


def render_history(data: dict[str, Any], *, limit: int = 8, show_all: bool = False) -> str:
    from gitgov.core.commands.options import table

    versions = data["versions"]
    if not versions:
        return (f"{data['dataset']}: no checked versions yet; commit a file of it, or run "
                f"`gitgov check --dataset {data['dataset']}`")
    shown = versions[-limit:]
    rows = [[str(v["version"]), (v["time"] or "")[:16].replace("T", " "), (v["commit"] or "-")[:8],
             v["path"], _value("rows", v["rows"]), _value("columns", v["columns"]),
             _value("errors", v["errors"]), _value("warnings", v["warnings"]), v["verdict"]]
            for v in shown]
    out = [f"{data['dataset']}: {len(versions)} version{'s' if len(versions) != 1 else ''}"
           f" (oldest first{', last ' + str(limit) + ' shown' if len(versions) > limit else ''})",
           table(rows, ["#", "checked", "commit", "path", "rows", "cols", "errors", "warnings",
                        "verdict"]), ""]
    metrics = [m for m in data["metrics"] if show_all or m in ("rows",) or _moves(m, versions)]
    matrix = [[m] + [_value(m, v["metrics"].get(m)) for v in shown] for m in metrics]
    out.append(table(matrix, ["metric"] + [f"#{v['version']}" for v in shown]))
    if not show_all:
        out.append("(metrics that changed or flag a problem; --all shows every one)")
    return "\n".join(out)


def _moves(metric: str, versions: list[dict[str, Any]]) -> bool:
    """Worth a row: a failure count that is ever non-zero, or a value that changed."""
    values = [v["metrics"].get(metric) for v in versions]
    if metric.startswith("failed.") or metric in ("errors", "warnings"):
        return any(values)
    return len({x for x in values if x is not None}) > 1
