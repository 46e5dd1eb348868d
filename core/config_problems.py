"""Every way a parsed gitgov.toml breaks core/schema.py, in document order.

config.py turns the first problem into a ConfigError with its line; the walk
itself knows nothing of files or lines.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

from . import schema
from .schema import Field


class Problem(NamedTuple):
    path: tuple
    rule: str
    hint: str | None = None


def dotted(path: tuple) -> str:
    """("datasets", "my data", "paths", 1) -> 'datasets."my data".paths[1]'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            bare = re.fullmatch(r"[A-Za-z0-9_-]+", part)
            text = part if bare else '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'
            out += ("." if out else "") + text
    return out


def problems(value: Any, spec: Field, path: tuple) -> Iterator[Problem]:
    """Every way ``value`` breaks ``spec``, in document order."""
    for where, number in [(path, value)] + ([(path + (i,), v) for i, v in enumerate(value)]
                                            if isinstance(value, list) else []):
        rule = _value_rule(number)
        if rule:
            yield Problem(where, rule)
            return
    rule = _type_rule(value, spec.type)
    if rule:
        yield Problem(path, rule)
        return
    yield from _item_problems(value, spec, path)
    for name in spec.checks:
        rule = schema.CHECKS[name](value)
        if rule:
            yield Problem(path, rule)
    if isinstance(value, dict):
        yield from _table_problems(value, spec, path)


def _value_rule(value: Any) -> str | None:
    """Values every rule can hold: TOML allows inf, nan, integers of any size, and NUL
    characters in strings (which no path, name or pattern can hold)."""
    if isinstance(value, str) and "\x00" in value:
        return "contains a NUL character (\\u0000)"
    if isinstance(value, float) and not math.isfinite(value):
        return f"expected a finite number, not {value}"
    if isinstance(value, int) and not isinstance(value, bool) and not -2**63 <= value < 2**63:
        return f"{value} is out of range: numbers in gitgov.toml fit in 64 bits"
    return None


def _type_rule(value: Any, type_: str) -> str | None:
    names = type_.split("|")
    if any(schema.TYPE_TESTS[n](value) for n in names):
        return None
    return "expected " + " or ".join(schema.TYPE_NAMES[n] for n in names)


def _item_problems(value: Any, spec: Field, path: tuple) -> Iterator[Problem]:
    """``allowed`` and ``each`` apply to a scalar, or to each item of a list."""
    items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
    for index, item in items:
        where = path if index is None else path + (index,)
        if spec.allowed and item not in spec.allowed:
            yield _not_allowed(item, spec.allowed, where)
        for name in spec.each:
            rule = schema.CHECKS[name](item)
            if rule:
                yield Problem(where, rule)


def _not_allowed(value: Any, allowed: tuple, path: tuple) -> Problem:
    choices = ", ".join(_show(a) for a in allowed)
    hint = _closest(value, [a for a in allowed if isinstance(a, str)]) if isinstance(value, str) else None
    return Problem(path, f"expected one of {choices}, got {_show(value)}", hint)


def _table_problems(table: dict, spec: Field, path: tuple) -> Iterator[Problem]:
    if spec.keys is None and spec.extra is None:
        return  # free-form: plugin settings, drift options
    known = spec.keys or {}
    for key, value in table.items():
        if spec.keys is None and not key.strip():  # a dataset, column or role called ""
            yield Problem(path + (key,), "a name cannot be empty")
            continue
        sub = known.get(key)
        if sub is None and spec.extra is not None:
            # With fixed keys too, only values shaped like ``extra`` count as
            # extras; anything else is more likely a typo of a fixed key.
            if spec.keys is None or _type_rule(value, spec.extra.type) is None:
                sub = spec.extra
        if sub is None:
            yield _unknown(key, known, path + (key,))
        else:
            yield from problems(value, sub, path + (key,))
    for key in spec.required:
        if key not in table:
            yield Problem(path + (key,), "required key is missing")


def _unknown(key: str, known: dict, path: tuple) -> Problem:
    hint = _closest(key, list(known))
    if hint:
        return Problem(path, "unknown key", hint)
    return Problem(path, "unknown key; expected one of " + ", ".join(known))


def _closest(word: str, choices: list[str]) -> str | None:
    import difflib  # only for a key that is wrong: not on every load

    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return match[0] if match else None


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)
