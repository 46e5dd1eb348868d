"""Arrow arrays and scalars from Python values, without waking pandas.

pyarrow asks "is this a pandas object?" whenever it converts Python values
(``pa.array(list)``, ``pa.scalar(x)``, ``pa.repeat(x, n)``, a kernel called
with a Python literal), and to answer it imports pandas: half a second in
every process where pandas is installed, which is most ML environments.
Arrays built from buffers never ask. So gitgov's own code builds its values
here: fixed-width values are packed with ``array.array``, text is offsets
plus bytes, and anything else is cast from those by Arrow itself. A type
this module does not pack falls back to pyarrow's own conversion, which is
correct, only slower the first time.
"""
from __future__ import annotations

import datetime as dt
from array import array as _packed
from itertools import accumulate
from typing import Any, Sequence

_EPOCH_UTC = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_ORDINAL_1970 = dt.date(1970, 1, 1).toordinal()


def array(values: Sequence[Any], type: Any = None) -> Any:  # noqa: A002 - pyarrow's name
    """pa.array(values, type), for lists of None, bool, int, float, str, bytes, date, datetime."""
    import pyarrow as pa

    values = list(values)
    target = type if type is not None else _infer(values)
    present = [v for v in values if v is not None]
    if target is None:  # all null, no type given
        return pa.nulls(len(values))
    packed = _pack(present, target)
    if packed is None:
        return pa.array(values, target)  # a type not packed here: pyarrow converts it
    if len(present) < len(values):
        packed = _spread(packed, [v is not None for v in values])
    return packed if packed.type == target else _cast(packed, target)


def scalar(value: Any, type: Any = None) -> Any:  # noqa: A002
    """pa.scalar(value, type)."""
    import pyarrow as pa

    if isinstance(value, pa.Scalar):
        return value if type is None or value.type == type else _cast(value, type)
    if value is None:
        return pa.nulls(1, type if type is not None else pa.null())[0]
    return array([value], type)[0]


def repeat(value: Any, n: int, type: Any = None) -> Any:  # noqa: A002
    """pa.repeat(value, n)."""
    import pyarrow as pa

    return pa.repeat(scalar(value, type), n)


def mask(flags: Sequence[bool]) -> Any:
    """A boolean array without nulls from Python truth values (one byte each, then cast)."""
    import pyarrow as pa

    data = bytes(bytearray(1 if f else 0 for f in flags))
    raw = pa.Array.from_buffers(pa.uint8(), len(data), [None, pa.py_buffer(data)])
    return _cast(raw, pa.bool_())


def holds_byte(values: Any, byte: bytes) -> bool:
    """Whether the bytes of a string or binary array hold `byte` (those of its nulls may count:
    a true answer means "perhaps"). One memchr over the data, no kernel per value."""
    import pyarrow.types as pt

    offsets, data = values.buffers()[1:3]
    if data is None or not len(values):
        return False
    width = 8 if pt.is_large_string(values.type) or pt.is_large_binary(values.type) else 4
    first = int.from_bytes(offsets[width * values.offset:width * (values.offset + 1)], "little")
    last = values.offset + len(values)
    end = int.from_bytes(offsets[width * last:width * (last + 1)], "little")
    return byte in data[first:end].to_pybytes()  # a copy, then memchr: faster than a scan


def _infer(values: list) -> Any:
    import pyarrow as pa

    first = next((v for v in values if v is not None), None)
    if first is None:
        return None
    for kind, arrow in ((bool, pa.bool_()), (int, pa.int64()), (float, pa.float64()),
                        (str, pa.string()), (bytes, pa.binary())):
        if isinstance(first, kind):
            return arrow
    if isinstance(first, dt.datetime):
        return pa.timestamp("us", "UTC" if first.tzinfo else None)
    if isinstance(first, dt.date):
        return pa.date32()
    return pa.array(values).type  # anything else: pyarrow decides


def _pack(values: list, target: Any) -> Any:
    """An array of the non-null `values`, of `target`'s type or one that casts to it; or None."""
    import pyarrow as pa
    import pyarrow.types as pt

    try:
        if pt.is_boolean(target):
            return mask(values) if all(isinstance(v, bool) for v in values) else None
        if pt.is_integer(target) or pt.is_floating(target):
            return _fixed(values, target)
        if pt.is_string(target) or pt.is_large_string(target) or pt.is_binary(target) \
                or pt.is_large_binary(target):
            return _text(values, target)
        if pt.is_date32(target) and all(type(v) is dt.date for v in values):
            days = _packed("i", (v.toordinal() - _ORDINAL_1970 for v in values))
            return pa.Array.from_buffers(pa.date32(), len(values), [None, pa.py_buffer(days)])
        if pt.is_timestamp(target) and all(isinstance(v, dt.datetime) for v in values):
            return _stamps(values, target)
    except (OverflowError, TypeError, ValueError):
        return None  # e.g. an int beyond 64 bits: pyarrow's own conversion says what is wrong
    return None


def _fixed(values: list, target: Any) -> Any:
    import pyarrow as pa

    if all(type(v) is int for v in values):
        code, arrow = "q", pa.int64()
    elif all(type(v) in (int, float) for v in values):
        code, arrow = "d", pa.float64()
    else:
        return None
    data = _packed(code, values)
    return pa.Array.from_buffers(arrow, len(values), [None, pa.py_buffer(data)])


def _text(values: list, target: Any) -> Any:
    import pyarrow as pa
    import pyarrow.types as pt

    binary = pt.is_binary(target) or pt.is_large_binary(target)
    if binary and not all(isinstance(v, bytes) for v in values):
        return None
    if not binary and not all(isinstance(v, str) for v in values):
        return None
    encoded = values if binary else [v.encode("utf-8") for v in values]
    ends = list(accumulate((len(b) for b in encoded), initial=0))
    large = ends[-1] >= 2**31 - 1
    offsets = _packed("q" if large else "i", ends)
    arrow = ((pa.large_binary() if large else pa.binary()) if binary else
             (pa.large_string() if large else pa.string()))
    return pa.Array.from_buffers(arrow, len(values),
                                 [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))])


def _stamps(values: list, target: Any) -> Any:
    import pyarrow as pa

    per = _PER_SECOND[target.unit]
    # As pyarrow does: aware values are instants (stored as UTC), naive ones are taken as UTC.
    since = [(v if v.tzinfo else v.replace(tzinfo=dt.timezone.utc)) - _EPOCH_UTC for v in values]
    ticks = _packed("q", ((d.days * 86_400 + d.seconds) * per + d.microseconds * per // 1_000_000
                          for d in since))
    return pa.Array.from_buffers(pa.timestamp(target.unit, target.tz), len(values),
                                 [None, pa.py_buffer(ticks)])


def _spread(present: Any, valid: list[bool]) -> Any:
    """`present` placed at the rows where `valid` is true, null elsewhere."""
    import pyarrow as pa
    from pyarrow import _compute as _c

    return _c.call_function("replace_with_mask", [pa.nulls(len(valid), present.type),
                                                  mask(valid), present])


def py(value: Any) -> Any:
    """scalar.as_py(), except that timestamps are converted here: pyarrow asks pandas first."""
    import pyarrow.types as pt

    if not pt.is_timestamp(value.type) or not value.is_valid:
        return value.as_py()
    return _instants([_cast(value, _int64()).as_py()], value.type, lambda: [value.as_py()])[0]


def pylist(values: Any) -> list:
    """array.to_pylist(), with timestamps converted here as in py()."""
    import pyarrow.types as pt

    if not pt.is_timestamp(values.type):
        return values.to_pylist()
    return _instants(_cast(values, _int64()).to_pylist(), values.type, values.to_pylist)


def _cast(values: Any, target: Any) -> Any:
    """values.cast(target), without the method's import of pyarrow.compute (0.1 s)."""
    from pyarrow import _compute as _c

    return _c.call_function("cast", [values], _c.CastOptions.safe(target))


def _int64() -> Any:
    import pyarrow as pa

    return pa.int64()


def _instants(ticks: list, typ: Any, fallback: Any) -> Any:
    tz = typ.tz
    if tz not in (None, "UTC", "utc", "Z", "+00:00"):
        return fallback()  # a named zone: pyarrow resolves it
    per = _PER_SECOND[typ.unit]
    out = [None if t is None else _EPOCH_UTC + dt.timedelta(microseconds=t * 1_000_000 // per)
           for t in ticks]
    return out if tz is not None else [None if v is None else v.replace(tzinfo=None) for v in out]
