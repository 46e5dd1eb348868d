"""Table rules decided at the end of a file: null shares, row counts, freshness, plugins' rules.

Functions of the Engine (engine.py) that only read what the pass collected.
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from .ruleset import CheckSpec

if TYPE_CHECKING:
    from .engine import Engine


def nulls(engine: "Engine", rows: int) -> None:
    default = engine.rs.table.get("max_null_fraction")
    for st in engine.states.values():
        limit = (st.spec.conf.get("max_null_fraction") if st.spec else None)
        limit = default if limit is None else limit
        if limit is None or not rows:
            continue
        share = st.profile.nulls / rows
        tally = engine.tally(f"{st.name}.max_null_fraction", "max_null_fraction", st.name,
                           f"may be empty in at most {limit:.1%} of rows",
                           engine.table_severity("max_null_fraction"), limit)
        if share > limit:
            tally.add(None, f"{share:.1%}", note=f"{st.profile.nulls:,} of {rows:,} rows "
                      f"({share:.1%}) are empty")


def row_count(engine: "Engine", rows: int) -> None:
    t = engine.rs.table
    if rows == 0 and t.get("min_rows", 1) != 0 and not engine.opened.problems:
        what = "a header (line 1) but no data rows" if engine.opened.line_offset == 1 else "no data rows"
        engine.tally("no_rows", "no_rows", None, f"has {what}", "error").add(None)
    for rule, word, bad in (("min_rows", "fewer", lambda n, p: n < p),
                            ("max_rows", "more", lambda n, p: n > p)):
        if rule in t:
            tally = engine.tally(rule, rule, None, f"has {word} rows than {rule} = {t[rule]}",
                               engine.table_severity(rule), t[rule])
            if bad(rows, t[rule]) and not (rows == 0 and "no_rows" in engine.tallies):
                tally.add(None, rows, note=f"{rows:,} row" + ("" if rows == 1 else "s"))


def freshness(engine: "Engine") -> None:
    days, col = engine.rs.table.get("freshness_days"), engine.rs.table.get("freshness_column")
    if days is None or col not in engine.states:
        return
    tally = engine.tally("freshness", "freshness", col,
                       f"has no value from the last {days:g} days (freshness_days)",
                       engine.table_severity("freshness_days"), days)
    st = engine.states[col]
    newest_utc = _utc(st.profile.high if st.declared else engine.newest)
    if newest_utc is None:
        tally.add(None, None, note=f"'{col}' holds no dates or timestamps")
        return
    age = dt.datetime.now(dt.timezone.utc) - newest_utc
    if age > dt.timedelta(days=days):
        newest_day = newest_utc.date().isoformat()
        old = age / dt.timedelta(days=1)  # in tenths: "7 days old" must not fail 7 days
        tally.add(None, newest_day, note=f"the newest value, {newest_day}, is {old:.1f} days old")


def newest_in_batch(engine: "Engine", typed: dict, texts: dict) -> None:
    """The newest date or timestamp of a freshness column that declares no type, batch by
    batch: the values that read as one count, the rest are no type's business (none is
    declared), so one stray text does not hide every date of the column."""
    from gitgov.core import arrow_kernels as pc
    import pyarrow.types as pt

    from .coerce import TIMESTAMP_SHAPE, cast_text

    col = engine.rs.table.get("freshness_column")
    if "freshness_days" not in engine.rs.table or col not in engine.states \
            or engine.states[col].declared:
        return
    values = typed[col]
    if pt.is_date(values.type) or pt.is_timestamp(values.type):
        stamps = values  # read as dates (Parquet, Arrow, an inferred CSV column)
    else:
        text = texts.get(col)
        if text is None and (pt.is_string(values.type) or pt.is_large_string(values.type)):
            text = values
        if text is None:
            return
        shaped = pc.filter(text, pc.fill_null(pc.match_substring_regex(text, TIMESTAMP_SHAPE), False))
        stamps, _bad = cast_text(shaped, "timestamp")
    found = _utc(pc.max(stamps).as_py() if len(stamps) else None)
    if found is not None and (engine.newest is None or found > engine.newest):
        engine.newest = found


def _utc(value: Any) -> dt.datetime | None:
    """A date or timestamp as an aware UTC datetime (a date at midnight, a naive time as UTC);
    None for anything else."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    return None


def finish_custom(engine: "Engine", spec: CheckSpec, rule: Any) -> None:
    tally = engine.tally(spec)
    try:
        result = rule.finish()
    except Exception as exc:  # noqa: BLE001
        tally.add(None, None, note=f"the rule failed: {type(exc).__name__}: {exc}")
        return
    if isinstance(result, str):
        tally.add(None, None, note=result)
    elif isinstance(result, int) and not isinstance(result, bool) and result > 0:
        tally.add(None, None, note=f"{result} failure(s)", n=result)
