"""JSON Lines: pyarrow's streaming reader, and a line-by-line reader for files it refuses.

pyarrow infers each field's type from the first block and gives up on the
first value of another type, and on the first broken line, without saying
which row. Then the broken (and blank) lines are found and pyarrow reads
the file without them (jsonfilter.py). If that fails too, the types of a
field vary: the file is read line by line, every broken line becomes a
problem with its line number, and the values reach the checks as text, so a
type rule can count the rows that do not fit.

pyarrow also parses strings that look like dates into timestamps. Such
fields are read as text instead, so a declared type (or, without one, type
inference) parses them as it parses a CSV cell: "2024-01-01" is a date.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Iterator

from gitgov.core import arrow_values as av
from gitgov.core.textsniff import sniff_binary

from .formats import Batches, Format, ReadError, Reopen, RowProblem, Source, prefetch
from .streams import ByteStream, StreamError

ROWS_PER_BATCH = 16384


def open_jsonl(source: Source, fmt: Format, block_size: int) -> Batches:
    import pyarrow as pa

    try:
        stream = ByteStream(source.open(), gzip=fmt.gzip, count=b"\n")
    except StreamError as exc:
        raise ReadError("unreadable", str(exc)) from None
    head = stream.head
    if not head.strip():
        stream.close()
        raise ReadError("empty-file", "the file is empty: expected one JSON object per line",
                        line=1)
    reason = sniff_binary(head)
    if reason:
        stream.close()
        raise ReadError("binary", reason)
    first = [stream]  # read on from the bytes already open; a second look opens them again

    def opener() -> ByteStream:
        return first.pop() if first else ByteStream(source.open(), gzip=fmt.gzip, count=b"\n")

    try:
        stream, reader = _typed_reader(opener, block_size)
    except (pa.ArrowException, OSError, StreamError):
        return open_without(source, fmt, block_size)
    # pyarrow skips blank lines, so the rows after one would be numbered a line too early
    return _read(reader, stream, fmt, lambda rows: rows == _line_count(stream),
                 lambda: open_without(source, fmt, block_size))


def open_without(source: Source, fmt: Format, block_size: int) -> Batches:
    """The second try: pyarrow again, without the lines it cannot read (jsonfilter.py);
    the line-by-line reader when that is not enough."""
    import pyarrow as pa

    from .jsonfilter import Without, broken_lines

    try:
        found = broken_lines(source, fmt, _parse)
    except StreamError as exc:  # corrupt or truncated gzip: that is the file's problem
        raise ReadError("unreadable", str(exc)) from None
    if found is None:
        return open_lines(source, fmt)
    drop, problems = found
    try:
        stream, reader = _typed_reader(lambda: Without(source, fmt, drop), block_size)
    except (pa.ArrowException, OSError, StreamError):
        return open_lines(source, fmt)
    if not reader.schema.names:
        stream.close()
        return open_lines(source, fmt)
    out = _read(reader, stream, fmt, lambda rows: rows == stream.lines, lambda: open_lines(source, fmt))
    out.problems, out.skipped = problems, sorted(drop)
    return out


def _typed_reader(opener: Callable[[], Any], block_size: int) -> tuple[Any, Any]:
    """(stream, pyarrow's reader of it). pyarrow parses text such as "2024-01-01" into a
    timestamp and drops the text, so a date rule would see a timestamp: those fields are
    read again as text, for the rules to parse exactly as they parse a CSV cell."""
    import pyarrow as pa

    stream = opener()
    try:
        reader = _reader(stream, block_size)
        schema = reader.schema
        if any(_parsed(f.type) for f in schema):
            stream.close()
            stream = opener()
            reader = _reader(stream, block_size, pa.schema(
                [pa.field(f.name, pa.string()) if _parsed(f.type) else f for f in schema]))
    except BaseException:
        stream.close()
        raise
    return stream, reader


def _read(reader: Any, stream: Any, fmt: Format, whole: Callable[[int], bool],
          careful: Callable[[], Batches]) -> Batches:
    """The reader's batches; anything it cannot read, or rows that do not match the lines
    (`whole`), starts the `careful` reader over."""
    import pyarrow as pa

    out = Batches(names=list(reader.schema.names), fmt=fmt, batches=iter(()),
                  closers=[stream.close], stream=stream if isinstance(stream, ByteStream) else None,
                  line_offset=0)

    def batches() -> Iterator[Any]:
        rows = 0
        try:
            for batch in reader:
                if batch.schema.names != out.names:
                    raise ValueError("fields change between blocks")
                rows += batch.num_rows
                yield batch
        except (pa.ArrowException, OSError, ValueError, StreamError):
            stream.close()
            raise Reopen(careful()) from None
        if not whole(rows):
            stream.close()
            raise Reopen(careful())

    out.batches = prefetch(batches(), _error)
    return out


def _reader(stream: ByteStream, block_size: int, schema: Any = None) -> Any:
    import pyarrow.json as pj

    return pj.open_json(stream, read_options=pj.ReadOptions(use_threads=False, block_size=block_size),
                        parse_options=pj.ParseOptions(explicit_schema=schema))


def _parsed(t: Any) -> bool:
    """A type pyarrow's JSON reader gives to values that were strings in the file."""
    import pyarrow.types as pt

    return pt.is_timestamp(t) or pt.is_date(t)


def _line_count(stream: ByteStream) -> int:
    """Lines read from the stream, the last one counted with or without its line break."""
    return stream.counted + stream.ends_mid_line


def _error(exc: Exception) -> Exception:
    if isinstance(exc, ReadError):
        return exc
    return ReadError("unreadable", f"cannot be read as JSON Lines: {exc}")


def _lines(source: Source, fmt: Format) -> Iterator[tuple[int, bytes]]:
    with ByteStream(source.open(), gzip=fmt.gzip) as stream:
        rest, number = b"", 0
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            parts = (rest + chunk).split(b"\n")
            rest = parts.pop()
            for part in parts:
                number += 1
                yield number, part
        if rest:
            yield number + 1, rest


def _parse(line: bytes) -> tuple[dict | None, str | None]:
    text = line.strip()
    if not text:
        return None, None
    try:
        value = json.loads(text, object_pairs_hook=_once)
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    except _Twice as exc:
        return None, f"names field '{exc.args[0]}' twice"
    except ValueError as exc:
        return None, f"not valid JSON ({exc.args[0].split(':')[0]})"
    if not isinstance(value, dict):
        return None, f"a JSON {type(value).__name__}, not an object"
    return value, None


class _Twice(ValueError):
    """An object names a field twice: json keeps the last value, so the first would go
    unchecked, and other readers (pyarrow) refuse the line."""


def _once(pairs: list[tuple[str, Any]]) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        raise _Twice(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return out


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def open_lines(source: Source, fmt: Format) -> Batches:
    """Two passes: the field names and the broken lines first, then batches of text."""
    names: dict[str, None] = {}
    problems: list[RowProblem] = []
    skipped: list[int] = []
    try:
        for number, line in _lines(source, fmt):
            value, problem = _parse(line)
            if value is None:
                skipped.append(number)  # rows are lines: blank and broken lines keep their place
                if problem:
                    problems.append(RowProblem("bad-json", number, problem, line=number,
                                               text=line[:80].decode("utf-8", "replace")))
                continue
            names.update(dict.fromkeys(value))
    except StreamError as exc:
        raise ReadError("unreadable", str(exc)) from None
    if not names:
        raise ReadError("no-rows", "no line of the file is a JSON object", line=1)
    out = Batches(names=list(names), fmt=fmt, batches=iter(()), problems=problems,
                  skipped=skipped, line_offset=0)
    out.batches = _batches(source, fmt, out.names)
    return out


def _batches(source: Source, fmt: Format, names: list[str]) -> Iterator[Any]:
    import pyarrow as pa

    columns: dict[str, list] = {n: [] for n in names}
    count = 0
    for _number, line in _lines(source, fmt):
        value, _problem = _parse(line)
        if value is None:
            continue
        for n in names:
            columns[n].append(_text(value.get(n)))
        count += 1
        if count == ROWS_PER_BATCH:
            yield pa.RecordBatch.from_arrays([av.array(columns[n], pa.string()) for n in names],
                                             names=names)
            columns, count = {n: [] for n in names}, 0
    if count:
        yield pa.RecordBatch.from_arrays([av.array(columns[n], pa.string()) for n in names],
                                         names=names)
