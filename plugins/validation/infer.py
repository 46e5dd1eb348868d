"""`gitgov infer PATH --dataset NAME`: a starter rule set from a sample file, into gitgov.toml.

The rules state what the sample shows for certain (types, no empty values,
unique keys, the few values of a category, a named format that every value
has); observed ranges are written as comments, since a sample's extremes are
rarely the real limits. gitgov.toml is edited with tomlkit, so its comments
and layout stay as they were, and the result must load before it is saved.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from gitgov.core.errors import GitgovError, InputError

FORMATS_TRIED = ("email", "e164", "url", "uuid", "iso_date", "iso_datetime")
MAX_ALLOWED = 20  # a string column with at most this many values is a category


def _profile_and_formats(path: Path) -> tuple[Any, dict[str, str]]:
    """The full profile, and for each text column the named format all its values have."""
    from .check import check_source
    from .formats import Source, detect, open_batches
    from .rules import BUILTIN_FORMATS
    from .ruleset import RuleSet, format_mask
    from .coerce import as_text, is_raw

    full = str(path)
    source = Source(path.name, lambda: open(full, "rb"), local=full)
    bare = RuleSet(dataset=None, columns={}, checks=[], table={})
    report = check_source(source, bare, profile_mode="full")
    if report.failures:
        first = report.failures[0]
        raise InputError(f"{path}: cannot infer rules from a file that does not read cleanly: "
                         f"{first.id}: {first.message}")
    text_cols = {c["name"] for c in report.profile["columns"] if c["type"] == "string" and c["nulls"] < report.rows}
    possible = {name: set(FORMATS_TRIED) for name in text_cols}
    with open_batches(source, detect(path.name)) as opened:
        for batch in opened:
            for name in text_cols:
                raw = batch.column(opened.names.index(name))
                text = as_text(raw)[0] if is_raw(raw.type) else raw
                for fmt in list(possible[name]):
                    mask = format_mask(text, BUILTIN_FORMATS[fmt])
                    if mask is not None and mask.true_count:
                        possible[name].discard(fmt)
    formats = {n: next(f for f in FORMATS_TRIED if f in fs) for n, fs in possible.items() if fs}
    return report, formats


def starter_rules(report: Any, formats: dict[str, str], rel: str, fmt: str) -> Any:
    import tomlkit

    rows = report.rows
    ds = tomlkit.table()
    ds.add(tomlkit.comment(f"Starter rules inferred by `gitgov infer` from {rows:,} rows of {rel}."))
    ds.add(tomlkit.comment("Review them: they describe the sample, not yet the promise."))
    ds.add("description", "")
    ds.add("paths", [rel])
    ds.add("format", fmt)
    keys = [c["name"] for c in report.profile["columns"] if _is_key(c, rows)]
    if keys:
        ds.add("primary_key", keys[0])
    columns = tomlkit.table(is_super_table=True)
    for col in report.profile["columns"]:
        columns.add(col["name"], _column(col, rows, formats.get(col["name"])))
    ds.add("columns", columns)
    rules = tomlkit.table()
    rules.add("min_rows", 1)
    drift = tomlkit.inline_table()
    drift.update({"max_row_change_pct": 50, "max_null_increase_pts": 10, "schema": "block"})
    rules.add("drift", drift)
    rules["drift"].comment("against the last committed version")
    ds.add("rules", rules)
    return ds


def _is_key(col: dict, rows: int) -> bool:
    return (rows > 1 and col["nulls"] == 0 and col.get("distinct") == rows
            and not col.get("distinct_estimated") and re.search(r"(^|_)(id|key|code)$", col["name"], re.I)
            is not None)


def _column(col: dict, rows: int, fmt: str | None) -> Any:
    import tomlkit

    t = tomlkit.table()
    t.add("type", col["type"] if col["type"] in ("integer", "float", "boolean", "date", "timestamp",
                                                 "string") else "string")
    if col["nulls"] == 0 and rows:
        t.add("required", True)
    if rows > 1 and col.get("distinct") == rows and not col.get("distinct_estimated"):
        t.add("unique", True)
    distinct = col.get("distinct")
    if (col["type"] == "string" and fmt is None and distinct and distinct <= MAX_ALLOWED
            and rows >= 2 * distinct and col.get("top") is not None and not col.get("top_approximate")):
        values = sorted(str(v["value"]) for v in col["top"]) if distinct <= len(col["top"]) else None
        if values is not None:
            t.add("allowed", values)
        else:
            t.add(tomlkit.comment(f"{distinct} distinct values: consider `allowed = [...]`"))
    if fmt:
        t.add("format", fmt)
        if fmt in ("email", "e164"):
            t.add("pii", "email" if fmt == "email" else "phone")
            t["pii"].comment("personal data: values are masked in reports; declare `protect`")
    if col.get("min") is not None and col["type"] in ("integer", "float", "date", "timestamp"):
        t.add(tomlkit.comment(f"observed range {col['min']} .. {col['max']}: set min/max to the "
                              "real limits"))
    return t


def header(dataset: str) -> str:
    """The dataset's table header as it reads in gitgov.toml: [datasets."sales orders"]."""
    import tomlkit

    return f"[{tomlkit.key(['datasets', dataset]).as_string()}]"


def next_step(dataset: str) -> str:
    """The command that checks the dataset's files, quoted for a POSIX shell."""
    import shlex

    return f"gitgov check --dataset {shlex.quote(dataset)}"


def infer_into(path: Path, dataset: str, *, force: bool = False, write: bool = True) -> str:
    import tomlkit

    from gitgov.core.config import load_policy
    from gitgov.core.git import Repo

    from .formats import ReadError, detect

    repo = Repo.discover(path.resolve().parent)
    try:
        rel = path.resolve().relative_to(repo.root.resolve()).as_posix()
    except ValueError:
        raise InputError(f"{path}: is outside the repository {repo.root}") from None
    try:
        fmt = detect(rel)
    except ReadError as exc:
        raise InputError(f"{path}: {exc.message}") from None
    report, formats = _profile_and_formats(path)
    table = starter_rules(report, formats, rel, fmt.name)
    policy_path = repo.policy_path
    original = policy_path.read_text(encoding="utf-8") if policy_path.exists() else ""
    load_policy(policy_path)  # a broken file is reported as it is, not made worse
    doc = tomlkit.parse(original)
    if "datasets" not in doc:
        doc.add("datasets", tomlkit.table(is_super_table=True))
    datasets = doc["datasets"]
    if dataset in datasets and not force:
        raise InputError(f"dataset '{dataset}' already exists in gitgov.toml; --force replaces its "
                         "columns and rules")
    # Item assignment, not .add(): a [datasets] split by other tables (a column table written
    # after [limits]) is an out-of-order proxy in tomlkit, which has no .add().
    if dataset in datasets:
        existing = datasets[dataset]
        for key in ("columns", "rules"):
            if key in existing:
                del existing[key]
            existing[key] = table[key]
    else:
        datasets[dataset] = table
    text = tomlkit.dumps(doc)
    if not write:
        return tomlkit.dumps({"datasets": {dataset: datasets[dataset]}})
    policy_path.write_text(text, encoding="utf-8")
    try:
        load_policy(policy_path)
    except GitgovError:
        policy_path.write_text(original, encoding="utf-8")  # never leave a policy that does not load
        raise
    return text
