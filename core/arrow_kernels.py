"""The Arrow compute kernels gitgov uses, called without importing pyarrow.compute.

``import pyarrow.compute`` builds a Python wrapper for each of its ~300
kernels, about 0.1 s of every `gitgov check` and of every commit that stages
data. The kernels themselves live in the compiled ``pyarrow._compute``; the
few the checks need are called there directly, with the same names and
arguments as in pyarrow.compute. Any other name falls through to
pyarrow.compute, so a missing entry here costs time, never correctness.
"""
from __future__ import annotations

from typing import Any

from pyarrow import _compute as _c
from pyarrow import lib as _lib

from .arrow_values import scalar

_call = _c.call_function
_ARROW = (_lib.Array, _lib.ChunkedArray, _lib.Scalar)  # a Python literal is made a scalar here,
# never by pyarrow, which would import pandas to ask whether it is a pandas object


_CASTS: dict = {}  # (type, safe) -> CastOptions: a batch is cast in many slices


def cast(arr: Any, target_type: Any, safe: bool = True) -> Any:
    import pyarrow as pa

    if isinstance(target_type, str):
        target_type = pa.type_for_alias(target_type)
    opts = _CASTS.get((target_type, safe))
    if opts is None:
        opts = _c.CastOptions.safe(target_type) if safe else _c.CastOptions.unsafe(target_type)
        _CASTS[(target_type, safe)] = opts
    return _call("cast", [arr], opts)


def try_cast(arr: Any, target_type: Any) -> Any:
    """The cast, or None when a value does not convert (or the types do not cast at all)."""
    try:
        return cast(arr, target_type)
    except (_lib.ArrowInvalid, _lib.ArrowNotImplementedError):
        return None


def fill_null(values: Any, fill_value: Any) -> Any:
    if not isinstance(fill_value, _ARROW):
        fill_value = scalar(fill_value, values.type)
    elif fill_value.type != values.type:
        fill_value = fill_value.cast(values.type)
    return _call("coalesce", [values, fill_value])


def match_substring_regex(strings: Any, pattern: str, ignore_case: bool = False) -> Any:
    return _call("match_substring_regex", [strings], _c.MatchSubstringOptions(pattern, ignore_case=ignore_case))


def match_substring(strings: Any, pattern: str, ignore_case: bool = False) -> Any:
    return _call("match_substring", [strings], _c.MatchSubstringOptions(pattern, ignore_case=ignore_case))


def ends_with(strings: Any, pattern: str, ignore_case: bool = False) -> Any:
    return _call("ends_with", [strings], _c.MatchSubstringOptions(pattern, ignore_case=ignore_case))


def starts_with(strings: Any, pattern: str, ignore_case: bool = False) -> Any:
    return _call("starts_with", [strings], _c.MatchSubstringOptions(pattern, ignore_case=ignore_case))


def is_in(values: Any, value_set: Any, skip_nulls: bool = False) -> Any:
    return _call("is_in", [values], _c.SetLookupOptions(value_set, skip_nulls=skip_nulls))


def variance(values: Any, ddof: int = 0) -> Any:
    return _call("variance", [values], _c.VarianceOptions(ddof=ddof))


def sum(values: Any) -> Any:  # noqa: A001 - the kernel's name
    return _call("sum", [values], _c.ScalarAggregateOptions(skip_nulls=True, min_count=1))


def min_max(values: Any) -> Any:
    return _call("min_max", [values], _c.ScalarAggregateOptions(skip_nulls=True, min_count=1))


def count_distinct(values: Any) -> Any:
    return _call("count_distinct", [values], _c.CountOptions("only_valid"))


def assume_timezone(timestamps: Any, timezone: str) -> Any:
    return _call("assume_timezone", [timestamps], _c.AssumeTimezoneOptions(timezone))


def binary_join_element_wise(*strings: Any) -> Any:
    return _call("binary_join_element_wise", list(strings), _c.JoinOptions())


def strptime(strings: Any, format: str, unit: str, error_is_null: bool = False) -> Any:  # noqa: A002
    return _call("strptime", [strings], _c.StrptimeOptions(format, unit, error_is_null))


def strftime(timestamps: Any, format: str) -> Any:  # noqa: A002
    return _call("strftime", [timestamps], _c.StrftimeOptions(format))


def filter(values: Any, selection_filter: Any) -> Any:  # noqa: A001
    return _call("filter", [values, selection_filter], _c.FilterOptions())


def _plain(name: str) -> Any:
    def kernel(*args: Any) -> Any:
        return _call(name, [a if isinstance(a, _ARROW) else scalar(a) for a in args])
    kernel.__name__ = name
    return kernel


# Kernels without options: same name, same positional arguments.
for _name in ("invert", "and_", "or_", "is_valid", "is_null", "if_else", "indices_nonzero",
              "unique", "value_counts", "less", "less_equal", "greater", "equal", "subtract",
              "floor", "any", "take",
              "all", "utf8_length", "binary_length", "drop_null", "replace_with_mask",
              "binary_join", "not_equal", "utf8_trim_whitespace"):
    globals()[_name] = _plain(_name.rstrip("_") if _name in ("and_", "or_") else _name)
del _name


def __getattr__(name: str) -> Any:
    import pyarrow.compute

    return getattr(pyarrow.compute, name)
