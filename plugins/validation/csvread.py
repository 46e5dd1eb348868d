"""CSV and TSV through pyarrow's streaming reader, every value kept as raw bytes.

Types are not left to the reader: one value that does not fit the type the
reader guessed from the first block would abort the whole file. Columns
arrive as binary and coerce.py parses them per batch, so every bad value is
counted with its row. Ragged rows are skipped by the reader and reported.
"""
from __future__ import annotations

import csv
import io
from typing import Any, Iterator

from gitgov.core.textsniff import sniff_binary

from .formats import (BLOCK_SIZE, Batches, Format, ReadError, RowProblem, Source, prefetch,
                      repeated_name)
from .streams import HEAD_BYTES, BufferReads, ByteStream, StreamError

FIRST_BLOCK = 1 << 20  # the first batch comes quickly; the rest are full blocks


def header_names(head: bytes, sep: str, complete: bool) -> list[str]:
    """The header row, read with Python's csv module (quotes and all)."""
    text_bytes = head
    if not complete:
        cut = head.rfind(b"\n")
        if cut < 0:
            raise ReadError("unreadable", f"line 1 (the header) is longer than {HEAD_BYTES} bytes",
                            line=1)
        text_bytes = head[:cut + 1]
    try:
        text = text_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        seen = exc.object  # what the codec decoded: without a byte order mark, so are its offsets
        line = seen.count(b"\n", 0, exc.start) + 1
        if line == 1:
            raise ReadError("encoding", "line 1 (the header) is not UTF-8 text", line=1) from None
        text = seen[:exc.start].decode("utf-8", "ignore")
    try:
        row = next(csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=False), None)
    except csv.Error as exc:
        raise ReadError("unreadable", f"line 1 (the header) cannot be parsed: {exc}", line=1) from None
    if not row or all(not name.strip() for name in row):
        raise ReadError("no-header", "line 1 is blank: expected a header row with column names",
                        line=1)
    return row


def _check_names(names: list[str]) -> None:
    twice = repeated_name(names)
    if twice is not None:
        raise ReadError("duplicate-column", f"line 1 (the header) names column '{twice}' twice", line=1)


def open_csv(source: Source, fmt: Format, sep: str, null_values: list[str] | None,
             block_size: int) -> Batches:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    try:
        stream = ByteStream(source.open(), gzip=fmt.gzip, count=b'"', final_newline=True,
                            first_read=min(block_size, FIRST_BLOCK))
    except StreamError as exc:
        raise ReadError("unreadable", str(exc)) from None
    try:
        names = _start(stream, sep)
        problems: list[RowProblem] = []
        skipped: list[int] = []
        handler = _RowHandler(problems, skipped, len(names))
        reader = pcsv.open_csv(
            BufferReads(stream) if BufferReads.usable(stream) else stream,
            read_options=pcsv.ReadOptions(use_threads=False, block_size=block_size),
            parse_options=pcsv.ParseOptions(delimiter=sep, newlines_in_values=True,
                                            invalid_row_handler=handler),
            convert_options=pcsv.ConvertOptions(
                column_types={n: pa.binary() for n in names}, strings_can_be_null=True,
                quoted_strings_can_be_null=True, null_values=list(null_values or [""])))
    except ReadError:
        stream.close()
        raise
    except (pa.ArrowException, OSError, StreamError) as exc:
        stream.close()
        raise _read_error(exc, stream) from None
    out = Batches(names=names, fmt=fmt, batches=iter(()), problems=problems, skipped=skipped,
                  closers=[stream.close], stream=stream, line_offset=1)
    header = stream.head.split(b"\n", 1)[0].count(b'"')
    out.exact_lines = lambda rows, wanted: _exact_lines(source, fmt, sep, stream.counted - header,
                                                        rows, wanted)
    out.batches = prefetch(_finishing(reader, out, source, fmt, sep),
                           lambda exc: _read_error(exc, stream))
    return out


def _start(stream: ByteStream, sep: str) -> list[str]:
    head = stream.head
    if not head:
        raise ReadError("empty-file", "the file is empty (0 bytes): expected a header row", line=1)
    reason = sniff_binary(head)
    if reason:
        raise ReadError("binary", reason)
    names = header_names(head, sep, complete=len(head) < HEAD_BYTES or b"\n" in head)
    _check_names(names)
    return names


class _RowHandler:
    """pyarrow's invalid_row_handler: note the row and skip it."""

    def __init__(self, problems: list[RowProblem], skipped: list[int], width: int):
        self.problems, self.skipped, self.width = problems, skipped, width

    def __call__(self, row: Any) -> str:
        try:
            data_row = (row.number - 1) if row.number else len(self.skipped) + 1
            text = row.text
            self.skipped.append(data_row)
            problem = _describe(data_row, row.expected_columns, row.actual_columns, text)
            problem.raw = text[:1 << 20]
            self.problems.append(problem)
        except Exception:  # noqa: BLE001 - a handler that raises would abort the read
            pass
        return "skip"


def _describe(data_row: int, expected: int, actual: int, text: str) -> RowProblem:
    if "\n" in text and '"' in text:
        lines = text.count("\n") + 1
        return RowProblem("broken-quote", data_row,
                          f"a quoted value opened in this row is never closed: the next "
                          f"{lines - 1} line(s) were read into it", text=text[:80])
    return RowProblem("ragged-row", data_row,
                      f"{actual} field{'s' if actual != 1 else ''} where the header has {expected}",
                      text=text[:80])


def _finishing(reader: Any, out: Batches, source: Source, fmt: Format, sep: str) -> Iterator[Any]:
    """The reader's batches, then the checks that need the whole file (quote parity)."""
    yield from reader
    stream = out.stream
    if stream is not None and stream.counted % 2 and not any(
            p.code == "broken-quote" for p in out.problems):
        line = _unclosed_quote_line(source, fmt)
        out.problems.append(RowProblem(
            "broken-quote", None, "a quoted value opened on this line is never closed "
            "(the file has an odd number of double quotes)", line=line))


def _unclosed_quote_line(source: Source, fmt: Format) -> int:
    """The line where the quote that never closes was opened (a second, rare pass)."""
    inside, opened, line = False, 1, 1
    with ByteStream(source.open(), gzip=fmt.gzip) as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            for part in chunk.split(b"\n"):
                if part.count(b'"') % 2:
                    inside = not inside
                    if inside:
                        opened = line
                line += 1
            line -= 1  # the last part continues in the next chunk
    return opened


def _exact_lines(source: Source, fmt: Format, sep: str, quotes: int, rows: int,
                 wanted: set[int]) -> dict[int, int]:
    """The line of each wanted data row, where rows and lines part: a quoted value that
    spans lines moves every later row down, and so does a blank line (no row counts it).

    Only a file with quotes in its rows can hold a value that spans lines; counting line
    breaks then tells whether any row does (or a blank line lies between rows), and only
    then does Python's csv module find where each wanted row starts. A blank line in a
    file without quotes is not noticed: line numbers would cost every check a pass.
    """
    if not wanted or not quotes or _lines(source, fmt) == rows + 1:
        return {}
    last, found = max(wanted), {}
    with ByteStream(source.open(), gzip=fmt.gzip) as again:
        text = io.TextIOWrapper(_Reads(again), encoding="utf-8", errors="replace", newline="")
        reader = csv.reader(text, delimiter=sep, strict=False)
        row, before = -1, 0  # the header is row 0
        try:
            for record in reader:
                if record:  # [] is a blank line, which no row counts
                    row += 1
                    if row in wanted:
                        found[row] = before + 1
                    if row >= last:
                        break
                before = reader.line_num
        except (csv.Error, StreamError, OSError):
            pass  # a field too large for the csv module: the lines found so far are right
    return found


def _lines(source: Source, fmt: Format) -> int:
    """The file's lines, the last one counted with or without its line break."""
    lines, last = 0, b"\n"
    with ByteStream(source.open(), gzip=fmt.gzip) as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            lines, last = lines + chunk.count(b"\n"), chunk[-1:]
    return lines + (last != b"\n")


class _Reads(io.RawIOBase):
    """A ByteStream as the raw file io.TextIOWrapper reads from."""

    def __init__(self, stream: ByteStream):
        self.stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self.stream.read(len(b))
        b[:len(data)] = data
        return len(data)


def _read_error(exc: BaseException, stream: ByteStream) -> ReadError:
    if isinstance(exc, ReadError):
        return exc
    if stream.error is not None:
        return ReadError("unreadable", str(stream.error))
    if isinstance(exc, StreamError):
        return ReadError("unreadable", str(exc))
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "straddling object" in text:  # pyarrow's words for a row longer than its block
        return ReadError("unreadable", f"a row is longer than the {BLOCK_SIZE >> 20} MiB the CSV "
                         "reader takes at once (a value that long is not tabular data)")
    return ReadError("unreadable", f"cannot be parsed as CSV: {text}")
