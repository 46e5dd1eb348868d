"""`gitgov profile`: a file's schema and per-column statistics, in one streaming pass."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .report import _plural, headline, sample_text


def _ruleset_for(path: Path, dataset: str | None) -> Any:
    """Declared types and format of the file's dataset when it has one; else a bare rule set."""
    from gitgov.core.config import load_policy
    from gitgov.core.errors import InputError
    from gitgov.core.git import Repo

    from .ruleset import ColumnSpec, RuleSet, implied_type, is_masked

    bare = RuleSet(dataset=None, columns={}, checks=[], table={})
    try:
        repo = Repo.discover(path.resolve().parent)
    except InputError:
        if dataset:
            raise InputError(f"--dataset {dataset}: {path} is not in a git repository with "
                             "gitgov.toml") from None
        return bare
    policy = load_policy(repo.policy_path)
    try:
        rel = path.resolve().relative_to(repo.root.resolve()).as_posix()
    except ValueError:
        rel = None
    if dataset is not None and dataset not in policy.datasets:
        raise InputError(f"no dataset named '{dataset}' in gitgov.toml")
    ds = policy.datasets[dataset] if dataset else (policy.dataset_for(rel) if rel else None)
    if ds is None:
        return bare
    columns = {n: ColumnSpec(n, implied_type(c), is_masked(c), c) for n, c in ds.columns.items()}
    return RuleSet(dataset=ds.name, columns=columns, checks=[], table={}, format=ds.format,
                   delimiter=ds.raw.get("delimiter"), null_values=ds.raw.get("null_values"))


def profile_file(path: Path, dataset: str | None = None) -> dict[str, Any]:
    from .check import check_source
    from .formats import Source

    rs = _ruleset_for(path, dataset)
    full = str(path)
    report = check_source(Source(str(path), lambda: open(full, "rb"), local=full), rs,
                          profile_mode="full")
    problems = [{"rule": t.id, "message": headline(t),
                 "samples": [s.to_dict() for s in t.samples]} for t in report.failures]
    columns = (report.profile or {}).get("columns", [])
    return {"path": str(path), "dataset": rs.dataset, "format": report.format,
            "rows": report.rows, "columns": columns, "problems": problems}


def _cell(value: Any, width: int = 18) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    elif isinstance(value, int) and not isinstance(value, bool):
        text = f"{value:,}"
    else:
        text = str(value)
    return text if len(text) <= width else text[:width - 1] + "…"


def render_profile(result: dict[str, Any]) -> str:
    from gitgov.core.commands.options import table

    head = (f"{result['path']}  ({result['format']}, {_plural(result['rows'], 'row')}, "
            f"{_plural(len(result['columns']), 'column')}" + (f", dataset {result['dataset']}" if result["dataset"] else "")
            + ")")
    rows = []
    for c in result["columns"]:
        distinct = c.get("distinct")
        shown_distinct = ("~" if c.get("distinct_estimated") else "") + _cell(distinct) if distinct is not None else ""
        tops = (c.get("top") or [])[:3]
        top = "masked (personal data)" if c.get("masked") else (
            "each value once" if tops and tops[0]["count"] == 1 else
            ", ".join(f"{_cell(t['value'], 14)} ({t['count']:,})" for t in tops))
        rows.append([c["name"], c["type"], _cell(c["nulls"]), f"{c['null_fraction']:.1%}",
                     shown_distinct, _cell(c.get("min")), _cell(c.get("max")), _cell(c.get("mean")),
                     _cell(c.get("std")), top])
    out = [head, table(rows, ["column", "type", "nulls", "null %", "distinct", "min", "max", "mean",
                              "std", "top values"])]
    for p in result.get("problems", []):
        out.append(f"problem: {p['rule']}: {p['message']}")
        out += [f"  {text}" for s in p["samples"] if (text := sample_text(_sample(s)))]
    return "\n".join(out)


def _sample(d: dict) -> Any:
    from .tally import Sample

    return Sample(d.get("row"), d.get("value"), d.get("line"), d.get("note"))
