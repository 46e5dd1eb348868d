"""Rules over more than one value of a row: the primary key and foreign keys.

Functions of the Engine (engine.py), as tables.py's are: per batch, the key of
each row is built from its parts and looked up; at the end, the repeats found
are counted.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .ruleset import TYPE_WORDS
from .tally import first_rows, shown

if TYPE_CHECKING:
    from .engine import Engine, Where

KEY_SEP = "\x1f"  # joins the parts of a composite primary key: a byte no text holds


def check(engine: "Engine", batch: Any, typed: dict, texts: dict, where: Where) -> None:
    """Primary key repeats, foreign key lookups: rules over more than one value."""
    from gitgov.core import arrow_kernels as pc

    if engine.pk_shared is not None:
        part = typed[engine.pk_shared]
        empty = pc.is_null(part)
        if empty.true_count:
            engine.fail(engine.tallies["primary_key"], empty, where, lambda i: None,
                        _no_key(engine, batch, [part]))
    if engine.pk is not None:
        cols = engine.rs.primary_key
        # A declared column's part is its parsed value written back as text: "01" and "1"
        # are one integer key, and text that is not of the type leaves the key empty.
        parts = [texts[c] if texts.get(c) is not None and not engine.states[c].declared
                 else pc.cast(typed[c], "string") for c in cols]
        if len(cols) == 1:
            keys = typed[cols[0]] if engine.states[cols[0]].declared else parts[0]
        else:
            keys = pc.binary_join_element_wise(*parts, KEY_SEP)
        tally = engine.tallies["primary_key"]
        show = (lambda i: key_shown(keys[i].as_py(), any(engine.states[c].masked for c in cols)))
        empty = pc.is_null(keys)
        if empty.true_count:
            engine.fail(tally, empty, where, lambda i: None,
                        _no_key(engine, batch, parts if len(cols) > 1 else [keys]))
        repeats = engine.pk.add(keys)
        if repeats is not None:
            engine.fail(tally, repeats, where, show)
    for col, (target, tcol) in engine.rs.foreign_keys.items():
        if col not in texts:
            continue
        ref = engine.references.get(col)
        text = texts[col] if texts[col] is not None else pc.cast(typed[col], "string")
        tally = engine.tally(f"{col}.foreign_key", "foreign_key", col,
                             f"is not a {tcol} of dataset {target}",
                             engine.table_severity("foreign_keys"), f"{target}.{tcol}")
        if ref is None:
            continue
        mask = pc.and_(pc.is_valid(text), pc.invert(pc.is_in(text, value_set=ref)))
        st = engine.states[col]
        engine.fail(tally, mask, where, lambda i: shown(text[i].as_py(), st.masked))


def _no_key(engine: "Engine", batch: Any, parts: list) -> Callable[[int], str]:
    """Why a row has no primary key: the parts that are empty, or hold bytes that are not
    UTF-8 or text that is not of the column's type (the column's own rules count those)."""
    def note(i: int) -> str:
        why = []
        for col, part in zip(engine.rs.primary_key, parts):
            if part[i].is_valid:
                continue
            raw = batch.column(col)[i].as_py()
            if raw is None:
                why.append(f"'{col}' is empty")
            elif isinstance(raw, bytes) and not _is_utf8(raw):
                why.append(f"'{col}' is not valid UTF-8 text")
            else:
                why.append(f"'{col}' is not {TYPE_WORDS[engine.states[col].declared or 'string']}")
        return "; ".join(why)
    return note


def finish(engine: "Engine", where: Where) -> None:
    """The primary key's count once the whole file is read, and foreign keys with nothing to
    look up in."""
    if engine.pk_shared is not None:
        unique, pk = engine.tallies[f"{engine.pk_shared}.unique"], engine.tallies["primary_key"]
        pk.count += unique.count
        pk.samples = first_rows(pk.samples + unique.samples)
    if engine.pk is not None and engine.pk.known is None:
        masked = any(engine.states[c].masked for c in engine.rs.primary_key)
        engine.repeats["primary_key"] = engine.pk.finish(engine.tallies["primary_key"], where,
                                                         lambda v: key_shown(engine.as_written(v), masked))
    for col, (target, tcol) in engine.rs.foreign_keys.items():
        if col in engine.states and engine.references.get(col) is None:
            profile = engine.states[col].profile  # every key is missing there: each row counts
            keys = profile.rows - profile.nulls
            if keys:
                engine.tally(f"{col}.foreign_key").add(
                    None, None, n=keys, note=f"dataset {target} has no data with a column {tcol} "
                    "to look keys up in")


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def key_shown(value: Any, masked: bool) -> Any:
    """A primary key as people read it: the parts of a composite key joined by ", ", not by
    the separator byte the engine joins them with."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    return shown(value.replace(KEY_SEP, ", ") if isinstance(value, str) else value, masked)
