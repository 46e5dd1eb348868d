"""Values to the types the rules speak of: integer, float, boolean, date, timestamp, string.

Each batch is converted with Arrow casts, slice by slice: a slice that
fails is cast again in smaller slices, and only the small slices that still
fail are searched, where a regular expression rules out values of the wrong
shape and the rest are found by bisection with the same cast. So "what is an
integer" is exactly what Arrow parses, nothing is checked value by value in
Python, and a few bad values in a large batch cost little more than one cast.

A cast in which most values fail is slow (Arrow describes each failure), so
a few values spread over the batch are tried first: when they fail, the
batch goes straight to the search (and type inference to the next type).
"""
from __future__ import annotations

from typing import Any

from gitgov.core import arrow_values as av

LOGICAL_TYPES = ("integer", "float", "boolean", "date", "timestamp", "string")
# A value of any other shape cannot parse; tested before the bisection.
SHAPES = {
    "integer": r"^-?[0-9]+$",
    "float": r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$|^[+-]?(?i:nan|inf|infinity)$",
    # the calendar but for leap years (Feb 29 is left to the parser)
    "date": r"^[0-9]{4}-(02-(0[1-9]|1[0-9]|2[0-9])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|"
            r"(0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01]))$",
    "boolean": r"^(?i:true|false|1|0)$",
}
OFFSET = r"(Z|[+-][0-9]{2}:?[0-9]{2})$"
TIMESTAMP_SHAPE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?$"
INFER_ORDER = ("integer", "float", "date", "timestamp", "boolean")
SAMPLE = 64  # values tried before a whole batch
SLICES = (8192, 1024)  # a batch is cast in slices of these sizes, smaller where one fails
SLICE = SLICES[-1]
WIDER = {"integer": "float", "float": "string", "date": "timestamp", "timestamp": "string",
         "boolean": "string", "string": "string"}


def arrow_type(logical: str) -> Any:
    import pyarrow as pa

    return {"integer": pa.int64(), "float": pa.float64(), "boolean": pa.bool_(),
            "date": pa.date32(), "timestamp": pa.timestamp("us", "UTC"),
            "string": pa.string()}[logical]


def logical_of(t: Any) -> str:
    """The rule vocabulary's name for an Arrow type ("list<int64>" etc. for the rest)."""
    import pyarrow.types as pt

    if pt.is_integer(t):
        return "integer"
    if pt.is_floating(t) or pt.is_decimal(t):
        return "float"
    if pt.is_boolean(t):
        return "boolean"
    if pt.is_date(t):
        return "date"
    if pt.is_timestamp(t):
        return "timestamp"
    if pt.is_string(t) or pt.is_large_string(t) or pt.is_binary(t) or pt.is_large_binary(t):
        return "string"
    if hasattr(pt, "is_string_view") and (pt.is_string_view(t) or pt.is_binary_view(t)):
        return "string"
    return str(t)


def is_raw(t: Any) -> bool:
    """Text still to be parsed (CSV cells, JSON values read as text)."""
    import pyarrow.types as pt

    return pt.is_binary(t) or pt.is_string(t) or pt.is_large_string(t) or pt.is_large_binary(t)


def _mask_from(indices: list[int], n: int) -> Any:
    flags = [False] * n
    for i in indices:
        flags[i] = True
    return av.mask(flags)


def _any(mask: Any) -> bool:
    from gitgov.core import arrow_kernels as pc

    return mask is not None and bool(pc.any(mask).as_py())


def or_masks(a: Any, b: Any) -> Any:
    from gitgov.core import arrow_kernels as pc

    if a is None:
        return b
    if b is None:
        return a
    return pc.or_(a, b)


def as_text(arr: Any) -> tuple[Any, Any]:
    """(string array, mask of values that are not UTF-8 or None); bad values become null."""
    import pyarrow as pa
    from gitgov.core import arrow_kernels as pc
    import pyarrow.types as pt

    if pt.is_string(arr.type) or pt.is_large_string(arr.type):
        return arr, None
    if not (pt.is_binary(arr.type) or pt.is_large_binary(arr.type)):
        return pc.cast(arr, pa.string()), None
    try:
        return pc.cast(arr, pa.string()), None
    except pa.ArrowInvalid:
        pass
    bad = []
    for i, value in enumerate(arr.to_pylist()):
        if value is not None:
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                bad.append(i)
    mask = _mask_from(bad, len(arr))
    clean = pc.if_else(mask, av.scalar(None, arr.type), arr)
    return pc.cast(clean, pa.string()), mask


def _failing(arr: Any, typ: Any, base: int, out: list[int]) -> None:
    """Indices (offset by base) whose cast to typ fails, by bisection."""
    if _try_cast(arr, typ) is not None:
        return
    if len(arr) == 1:
        out.append(base)
        return
    mid = len(arr) // 2
    _failing(arr.slice(0, mid), typ, base, out)
    _failing(arr.slice(mid), typ, base + mid, out)


def sample(arr: Any) -> Any:
    """Up to SAMPLE values spread over `arr`, first and last included."""
    import pyarrow as pa
    from gitgov.core import arrow_kernels as pc

    n = len(arr)
    if n <= SAMPLE:
        return arr
    step = (n - 1) / (SAMPLE - 1)
    return pc.take(arr, av.array([round(i * step) for i in range(SAMPLE)], pa.int64()))


def _try_cast(arr: Any, typ: Any) -> Any:
    """The cast, or None when a value does not parse (pyarrow imported on first use)."""
    from gitgov.core import arrow_kernels as pc

    return pc.try_cast(arr, typ)


def cast_text(text: Any, logical: str, typ: Any = None, whole: bool = False) -> tuple[Any, Any]:
    """(typed array, mask of unparseable non-null values or None).

    `whole`: try the batch in one cast first, as for a column that had no bad
    value so far (a clean batch is then one call; a bad one is parsed again).
    """
    if logical == "string":
        return text, None
    if logical == "timestamp" and typ is None:
        return _timestamps(text)  # which parses with an explicit type: no recursion
    typ = typ if typ is not None else arrow_type(logical)
    if len(text) > SLICE and _try_cast(sample(text), typ) is not None:
        typed = _try_cast(text, typ) if whole else None
        if typed is not None:
            return typed, None
        return _sliced(text, logical, typ)  # at most a few bad values: find them slice by slice
    return _search(text, logical, typ)


def _sliced(text: Any, logical: str, typ: Any) -> tuple[Any, Any]:
    """Cast slice by slice: a slice that fails is cut smaller, and the smallest ones that
    still fail are searched together. A clean batch is parsed once, a batch with a few bad
    values not much more than once."""
    import pyarrow as pa

    pieces: list[tuple[int, int, Any]] = []  # (start, length, typed values or None)

    def visit(start: int, length: int, sizes: tuple[int, ...]) -> None:
        for at in range(start, start + length, sizes[0]):
            size = min(sizes[0], start + length - at)
            values = _try_cast(text.slice(at, size), typ)
            if values is None and len(sizes) > 1:
                visit(at, size, sizes[1:])
            else:
                pieces.append((at, size, values))

    visit(0, len(text), SLICES)
    failing = [text.slice(at, size) for at, size, values in pieces if values is None]
    if not failing:
        return pa.concat_arrays([values for _at, _size, values in pieces]), None
    found, mask = _search(pa.concat_arrays(failing), logical, typ)
    typed, bad, used, clean = [], [], 0, 0
    for _at, size, values in pieces:
        if values is None:
            if clean:  # the slices that parsed before this one, in one piece
                bad.append(av.repeat(False, clean))
            typed.append(found.slice(used, size))
            bad.append(mask.slice(used, size) if mask is not None else av.repeat(False, size))
            used, clean = used + size, 0
        else:
            typed.append(values)
            clean += size
    if clean:
        bad.append(av.repeat(False, clean))
    return pa.concat_arrays(typed), (pa.concat_arrays(bad) if mask is not None else None)


def _search(text: Any, logical: str, typ: Any) -> tuple[Any, Any]:
    """The values that do not parse: wrong shape by regex, the rest by bisection."""
    from gitgov.core import arrow_kernels as pc

    null = av.scalar(None, text.type)
    bad = None
    shape = SHAPES.get(logical)
    if shape is not None:
        fits = pc.fill_null(pc.match_substring_regex(text, shape), True)
        bad = pc.invert(fits)
        text = pc.if_else(fits, text, null)
    typed = _try_cast(text, typ)
    if typed is not None:
        return typed, (bad if _any(bad) else None)
    found: list[int] = []
    _failing(text, typ, 0, found)
    more = _mask_from(found, len(text))
    bad = or_masks(bad, more)
    return pc.cast(pc.if_else(more, null, text), typ), bad


def _timestamps(text: Any) -> tuple[Any, Any]:
    """ISO-8601 timestamps to UTC; values without an offset are taken as UTC."""
    import pyarrow as pa
    from gitgov.core import arrow_kernels as pc

    utc, naive = pa.timestamp("us", "UTC"), pa.timestamp("us")
    typed = _try_cast(text, utc)
    if typed is not None:
        return typed, None
    has_offset = pc.fill_null(pc.match_substring_regex(text, OFFSET), False)
    null = av.scalar(None, text.type)
    aware, bad_a = cast_text(pc.if_else(has_offset, text, null), "timestamp", utc)
    local, bad_n = cast_text(pc.if_else(has_offset, null, text), "timestamp", naive)
    local = pc.cast(pc.assume_timezone(local, "UTC"), utc)
    typed = pc.if_else(has_offset, aware, local)
    bad = or_masks(bad_a, bad_n)
    return typed, (bad if _any(bad) else None)


def convert(arr: Any, logical: str) -> tuple[Any, Any, str | None]:
    """(typed values, mask of values that are not `logical`, or a whole-column mismatch).

    Text is parsed; typed columns (Parquet, Arrow, JSON) are accepted when
    their type holds `logical` values: any integer width, floats that are
    whole numbers for integer, dates for timestamp.
    """
    import pyarrow as pa
    from gitgov.core import arrow_kernels as pc
    import pyarrow.types as pt

    if is_raw(arr.type):
        text, bad_utf8 = as_text(arr)
        typed, bad = cast_text(text, logical)
        return typed, or_masks(bad_utf8, bad), None
    have = logical_of(arr.type)
    if logical == "string":
        return pc.cast(arr, pa.string()), None, None
    if have == logical:
        target = arrow_type(logical)
        if logical == "timestamp" and arr.type.tz is None:
            arr = pc.assume_timezone(pc.cast(arr, pa.timestamp("us")), "UTC")
        return pc.cast(arr, target), None, None
    if logical == "float" and have == "integer":
        return pc.cast(arr, pa.float64()), None, None
    if logical == "integer" and pt.is_floating(arr.type):
        whole = pc.fill_null(pc.equal(arr, pc.floor(arr)), True)
        bad = pc.invert(whole)
        kept = pc.if_else(whole, arr, av.scalar(None, arr.type))
        return pc.cast(kept, pa.int64()), (bad if _any(bad) else None), None
    if logical == "timestamp" and have == "date":
        return pc.cast(pc.cast(arr, pa.timestamp("us")), pa.timestamp("us", "UTC")), None, None
    return pa.nulls(len(arr), arrow_type(logical)), None, have


def _strict(text: Any, logical: str) -> Any:
    """`text` as `logical` when every value parses, else None."""
    from gitgov.core import arrow_kernels as pc

    if logical == "string":
        return text
    if logical == "timestamp":
        shape = pc.match_substring_regex(text, TIMESTAMP_SHAPE)
        if not pc.all(pc.fill_null(shape, True)).as_py():
            return None  # cheap refusal: the careful parse below bisects bad values
        typed, bad = _timestamps(text)
        return typed if bad is None else None
    return _try_cast(text, arrow_type(logical))


def _identifier_like(text: Any) -> bool:
    """Digits that are not numbers: "+4917..." phone numbers, "00731" codes with leading zeros."""
    from .matching import any_starts

    return any_starts(text, r"\+|-?0[0-9]")


def infer(text: Any) -> str:
    """The narrowest type every non-null value of `text` parses as."""
    if text.null_count == len(text):
        return "integer"  # nothing seen yet: widen as values come
    few = sample(text)
    for logical in INFER_ORDER:
        # Text columns fail every type: a few values rule a type out before the whole batch
        # is tried (a cast in which every value fails costs many times a clean one).
        if (len(few) == len(text) or _strict(few, logical) is not None) and \
                _strict(text, logical) is not None:
            return "string" if _identifier_like(text) else logical
    return "string"


class Inferred:
    """The type of an undeclared text column, widened batch by batch."""

    def __init__(self) -> None:
        self.logical: str | None = None

    def convert(self, text: Any) -> Any:
        if self.logical is None:
            self.logical = infer(text)
        if self.logical in ("integer", "float") and _identifier_like(text):
            self.logical = "string"
        while True:
            typed = _strict(text, self.logical)
            if typed is not None:
                return typed
            self.logical = WIDER[self.logical]
