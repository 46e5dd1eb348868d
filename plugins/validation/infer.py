"""`gitgov infer PATH --dataset NAME`: a starter rule set from a sample file, into gitgov.toml.

The rules state what the sample shows for certain (types, no empty values,
unique keys, the few values of a category, a named format that every value
has); observed ranges are written as comments, since a sample's extremes are
rarely the real limits. A new dataset is spliced into gitgov.toml as text
where it governs the sample (infer_place.py); --force edits the dataset with
tomlkit. Either way the rest of the file stays as it was, and the result must
load before it is saved.

What --force replaces is what infer measures: the primary key, each column's
type, required, unique and allowed, the columns themselves (a column no longer
in the sample loses its rules) and the starter table rules min_rows and drift.
What a person wrote is kept: the dataset's other keys (paths, owner, format...),
each column's other keys (min/max, pattern, protect, severity, checks...), with
format and pii inferred only where a column declares none, and other table rules.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NamedTuple

from gitgov.core.errors import ConfigError, InputError

from .profile import SHOWN

FORMATS_TRIED = ("email", "e164", "url", "uuid", "iso_date", "iso_datetime")
MAX_ALLOWED = 20  # a string column with at most this many values is a category
INFERRED_COLUMN_KEYS = ("type", "required", "unique", "allowed")  # what --force replaces
INFERRED_RULES = ("min_rows", "drift")


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
        from .report import finding_message

        first = report.failures[0]
        raise InputError(f"{path}: cannot infer rules from a file that does not read cleanly: "
                         f"{first.id}: {finding_message(first, limit=1)}")
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


def starter_rules(report: Any, formats: dict[str, str], rel: str, fmt: str,
                  kept: dict[str, dict[str, Any]] | None = None) -> Any:
    """The new dataset's table. ``kept``: for --force, the items written by hand to carry
    over, by column name, and under "" the table rules."""
    import tomlkit

    kept = kept or {}
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
        columns.add(col["name"], _column(col, rows, formats.get(col["name"]),
                                         kept.get(col["name"], {})))
    ds.add("columns", columns)
    rules = tomlkit.table()
    rules.add("min_rows", 1)
    drift = tomlkit.inline_table()
    drift.update({"max_row_change_pct": 50, "max_null_increase_pts": 10, "schema": "block"})
    rules.add("drift", drift)
    rules["drift"].comment("against the last committed version")
    _carry(rules, kept.get("", {}))
    ds.add("rules", rules)
    return ds


def _carry(table: Any, kept: dict[str, Any], comments: tuple = ()) -> None:
    """Add the ``kept`` items to ``table``, values first, then ``comments``, then tables
    (a table's header would capture what follows it)."""
    from tomlkit.items import Table

    for key, item in kept.items():
        if not isinstance(item, Table):
            table.add(key, item)
    for comment in comments:
        table.add(comment)
    for key, item in kept.items():
        if isinstance(item, Table):
            table.add(key, item)


def _is_key(col: dict, rows: int) -> bool:
    return (rows > 1 and col["nulls"] == 0 and col.get("distinct") == rows
            and not col.get("distinct_estimated") and re.search(r"(^|_)(id|key|code)$", col["name"], re.I)
            is not None)


def _column(col: dict, rows: int, fmt: str | None, kept: dict[str, Any]) -> Any:
    import tomlkit

    if "format" in kept:  # a declared format stands; the sample does not add another
        fmt = None
    t = tomlkit.table()
    t.add("type", col["type"] if col["type"] in ("integer", "float", "boolean", "date", "timestamp",
                                                 "string") else "string")
    if col["nulls"] == 0 and rows:
        t.add("required", True)
    if rows > 1 and col.get("distinct") == rows and not col.get("distinct_estimated"):
        t.add("unique", True)
    distinct = col.get("distinct")
    if (col["type"] == "string" and fmt is None and "format" not in kept and distinct
            and distinct <= MAX_ALLOWED and rows >= 2 * distinct and col.get("top") is not None
            and not col.get("top_approximate")):
        values = sorted(str(v["value"]) for v in col["top"]) if distinct <= len(col["top"]) else None
        if values is not None and any(len(v) >= SHOWN for v in values):
            values = None  # a value cut for the profile would be a rule no value meets
        if values is not None:
            t.add("allowed", values)
        else:
            t.add(tomlkit.comment(f"{distinct} distinct values: consider `allowed = [...]`"))
    if fmt:
        t.add("format", fmt)
        if fmt in ("email", "e164") and "pii" not in kept:
            t.add("pii", "email" if fmt == "email" else "phone")
            t["pii"].comment("personal data: values are masked in reports; declare `protect`")
    comments = []
    if col.get("min") is not None and col["type"] in ("integer", "float", "date", "timestamp"):
        comments.append(tomlkit.comment(f"observed range {col['min']} .. {col['max']}: set min/max "
                                        "to the real limits"))
    _carry(t, kept, tuple(comments))
    return t


def header(dataset: str) -> str:
    """The dataset's table header as it reads in gitgov.toml: [datasets."sales orders"]."""
    import tomlkit

    return f"[{tomlkit.key(['datasets', dataset]).as_string()}]"


def next_step(dataset: str) -> str:
    """The command that checks the dataset's files, quoted for a POSIX shell."""
    import shlex

    return f"gitgov check --dataset {shlex.quote(dataset)}"


class Inferred(NamedTuple):
    """What `gitgov infer` made of a sample, for the command to show."""

    block: str  # the dataset's table, as TOML
    notes: list[str]  # what was written where, and what to run next
    warnings: list[str]  # what still keeps the rules from applying to the sample


def infer_into(path: Path, dataset: str, *, force: bool = False, write: bool = True) -> Inferred:
    """Infer rules from ``path`` into ``dataset`` of gitgov.toml (``write=False``: only say
    what would be written, and where)."""
    import tomlkit

    from gitgov.core.config import load_policy, load_policy_text
    from gitgov.core.git import Repo

    from .formats import ReadError, detect

    repo = Repo.discover(".")  # the one the user is in, as for check and profile
    try:
        rel = path.resolve().relative_to(repo.root.resolve()).as_posix()
    except ValueError:
        raise InputError(f"{path}: is outside the repository {repo.root}; copy a sample into it "
                         "where the dataset's files will live") from None
    try:
        fmt = detect(rel)
    except ReadError as exc:
        raise InputError(f"{path}: {exc.message}") from None
    policy_path = repo.policy_path
    policy = load_policy(policy_path)  # a broken file is reported as it is, not made worse
    if dataset in policy.datasets and not force:
        raise InputError(f"dataset '{dataset}' already exists in gitgov.toml; --force replaces the "
                         "rules infer writes, keeping those written by hand")
    report, formats = _profile_and_formats(path)
    # As bytes: read_text() would turn CRLF line ends into LF, and write them back so.
    original = policy_path.read_bytes().decode("utf-8") if policy_path.exists() else ""
    bom = "\ufeff" if original.startswith("\ufeff") else ""
    if dataset in policy.datasets:
        text, block, dropped = _replace_inferred(original[len(bom):], dataset, report, formats, rel,
                                                 fmt.name)
        notes = [f"{'replaced' if write else 'would replace'} the inferred rules of "
                 f"{header(dataset)} in gitgov.toml, keeping the keys written by hand"]
        if dropped:
            notes.append(f"{'dropped' if write else 'would drop'} the rules of columns not in the "
                         f"sample: {', '.join(dropped)}")
    else:
        table = starter_rules(report, formats, rel, fmt.name)
        block = tomlkit.dumps({"datasets": {dataset: table}}).strip("\n") + "\n"
        text, where = _add(original[len(bom):], policy, dataset, rel, block)
        notes = [f"wrote {header(dataset)} to gitgov.toml{where}" if write
                 else f"{header(dataset)} goes in gitgov.toml{where}"]
    try:
        updated = load_policy_text(text, policy_path)
    except ConfigError as exc:  # what does not load is not written
        if not write:
            return Inferred(block, [], [])
        raise InputError(f"cannot add {header(dataset)} to gitgov.toml, the result would not load "
                         f"({exc}); nothing was written: `--print` shows the rules to add by hand"
                         ) from None
    sample = {c["name"] for c in report.profile["columns"]}
    if write and set(updated.datasets[dataset].columns) != sample:  # a layout not foreseen
        raise InputError(f"cannot write the rules of {header(dataset)} into this layout of "
                         "gitgov.toml; nothing was written: `--print` shows them")
    if write:
        from gitgov.core.atomic import rewrite

        rewrite(policy_path, (bom + text).encode("utf-8"))
        notes.append(f"review the rules, then `{next_step(dataset)}`; commit gitgov.toml with "
                     "the data (a commit of the data alone waits for it)")
    return Inferred(block, notes, _still_not_applied(updated, dataset, rel))


def _add(text: str, policy: Any, dataset: str, rel: str, block: str) -> tuple[str, str]:
    """``text`` with the new dataset's ``block`` where it governs ``rel``, and where that is,
    as words that follow "wrote [datasets.NAME] to gitgov.toml"."""
    from .infer_place import after_datasets, before_dataset, splice

    shadow = policy.dataset_for(rel)  # the first existing dataset that has the sample
    line = before_dataset(text, shadow.name) if shadow is not None else None
    if line is not None:
        return splice(text, line, block), (
            f", before {header(shadow.name)}: a file belongs to the first dataset whose paths "
            f"match it, and the paths of '{shadow.name}' match {rel} too")
    where = ", after the other datasets" if policy.datasets else ""
    return splice(text, after_datasets(text), block), where


def _still_not_applied(policy: Any, dataset: str, rel: str) -> list[str]:
    """Why the rules of ``dataset`` do not govern ``rel`` in ``policy``, and what to do."""
    governing = policy.dataset_for(rel)
    if governing is not None and governing.name == dataset:
        return []
    if not policy.datasets[dataset].matches(rel):
        return [f"{rel} is not in the paths of '{dataset}', so its rules do not apply to it; "
                f"add it to `paths` in {header(dataset)}"]
    return [f"{rel} still belongs to dataset '{governing.name}', which comes before '{dataset}' in "
            f"gitgov.toml and whose paths match it too (a file belongs to the first dataset "
            f"that matches it), so the rules of '{dataset}' do not apply to it; move "
            f"{header(dataset)} above dataset '{governing.name}', or narrow the paths of "
            f"'{governing.name}'"]


def _replace_inferred(text: str, dataset: str, report: Any, formats: dict[str, str], rel: str,
                      fmt: str) -> tuple[str, str, list[str]]:
    """--force: ``text`` with what infer measures in ``dataset`` replaced from the sample and
    what was written by hand kept (see the module's docstring); the dataset's table as TOML;
    the columns whose rules were dropped."""
    import tomlkit

    from .infer_place import dataset_parts, detach_tail, has_header, reattach_tail, remove_table

    doc = tomlkit.parse(text)
    parts = dataset_parts(doc, dataset)
    if not parts:  # an inline table: nothing to replace in place
        raise InputError(f"{header(dataset)} is written inline in gitgov.toml; --force replaces the "
                         "rules of a dataset written as tables: `--print` shows them")
    old_columns: dict[str, Any] = {}
    old_rules: dict[str, Any] = {}
    for part in parts:
        old_columns.update({name: part["columns"][name] for name in part.get("columns", {})})
        old_rules.update(_hand_written(part.get("rules", {}), INFERRED_RULES))
    sample = [c["name"] for c in report.profile["columns"]]
    kept = {name: _hand_written(old_columns[name], INFERRED_COLUMN_KEYS)
            for name in sample if name in old_columns}
    kept[""] = old_rules
    table = starter_rules(report, formats, rel, fmt, kept)
    main = next((part for part in parts if not part.is_super_table()), parts[0])
    for part in parts:
        if part is not main:  # the dataset's new tables go where it starts
            for key in ("columns", "rules"):
                if key in part:
                    remove_table(doc, part, key)
    tail = detach_tail(main, own=True)
    if "primary_key" in table:
        main["primary_key"] = table["primary_key"]
    elif "primary_key" in main:
        del main["primary_key"]  # it named a column the sample no longer has as a key
    for key in ("columns", "rules"):  # in place: the tables keep their position and spacing
        if key in main and not has_header(main, key):
            del main[key]  # an inline table or dotted keys: written anew as tables
        main[key] = table[key]
    reattach_tail(main, tail)
    block = tomlkit.dumps({"datasets": {dataset: main}}).strip("\n") + "\n"
    return tomlkit.dumps(doc), block, [name for name in old_columns if name not in sample]


def _hand_written(table: Any, inferred: tuple[str, ...]) -> dict[str, Any]:
    """The items of ``table`` that infer does not write, by key: as they are (with the comment
    on their line) from a table, as new values from an inline table (they would keep its
    spacing, and no line end)."""
    from tomlkit.items import InlineTable, Table

    if isinstance(table, Table):
        return {key: table.item(key) for key in table if key not in inferred}
    return {key: _fresh(value.unwrap() if isinstance(table, InlineTable) else value)
            for key, value in table.items() if key not in inferred}


def _fresh(value: Any) -> Any:
    import tomlkit

    if isinstance(value, dict):
        inline = tomlkit.inline_table()
        inline.update(value)
        return inline
    return tomlkit.item(value)
