"""Files as streams of Arrow record batches: CSV, TSV, Parquet, JSON Lines, Arrow IPC.

Memory is bounded by the block size, not the file size: CSV and JSON Lines
are parsed block by block from a byte stream (a `git cat-file` pipe or a
file), Parquet row group by row group. Formats that need random access
(Parquet, the Arrow IPC file format) are spooled to a temporary file first
when they come from a pipe.

Everything a broken file can do surfaces as a :class:`ReadError` or as
problems collected while reading (ragged rows), each naming the row, so the
engine turns them into findings instead of tracebacks.
"""
from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO, Any, Callable, Iterator

from .streams import HEAD_BYTES, ByteStream

BLOCK_SIZE = 8 << 20  # CSV/JSON parse block: ~20k rows of a typical table
PARQUET_BATCH = 65536
PREFETCH = 2  # batches read ahead on a second core while the checks run
EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet",
              ".jsonl": "jsonl", ".ndjson": "jsonl", ".arrow": "arrow", ".feather": "arrow",
              ".ipc": "arrow"}
ARROW_FILE_MAGIC = b"ARROW1"
PARQUET_MAGIC = b"PAR1"


class ReadError(Exception):
    """The file cannot be read as its format: one line for the user."""

    def __init__(self, code: str, message: str, row: int | None = None, line: int | None = None):
        super().__init__(message)
        self.code, self.message, self.row, self.line = code, message, row, line


class Reopen(Exception):
    """Raised by a batch iterator that must start over with another reader."""

    def __init__(self, batches: "Batches"):
        super().__init__("reopen")
        self.batches = batches


@dataclass(frozen=True)
class Format:
    name: str  # csv, tsv, parquet, jsonl, arrow
    gzip: bool = False

    def __str__(self) -> str:
        return self.name + (".gz" if self.gzip else "")


def detect(path: str, configured: str | None = None) -> Format:
    """The format from the dataset's `format`, else from the extension (".gz" means gzip)."""
    p = PurePosixPath(path.lower())
    gz = p.suffix == ".gz"
    ext = PurePosixPath(p.stem).suffix if gz else p.suffix
    name = configured or EXTENSIONS.get(ext)
    if name is None:
        raise ReadError("unknown-format", f"cannot tell the format from the name '{p.name}'; "
                        "set `format` (csv, tsv, parquet, jsonl, arrow) on its dataset")
    return Format(name, gz)


@dataclass
class Source:
    """Where a file's bytes come from: `open` streams them; `local` is a file to seek in."""

    path: str
    open: Callable[[], IO[bytes]]
    local: str | None = None


@dataclass
class RowProblem:
    """A row the reader could not use (too few or too many fields, a broken quote)."""

    code: str
    row: int | None  # 1-based data row, None when only the line is known
    message: str
    text: str = ""
    line: int | None = None
    raw: str = ""  # the row as read, for the quarantine file


@dataclass
class Batches:
    """An open file: its column names and an iterator of record batches.

    ``skipped`` lists, in order, the data rows the reader dropped (ragged
    rows); :meth:`data_row` maps a batch row back to the row a spreadsheet
    would show, counting those too.
    """

    names: list[str]
    fmt: Format
    batches: Iterator[Any]
    problems: list[RowProblem] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)
    stream: ByteStream | None = None
    line_offset: int | None = None  # line = row + this (CSV: 1 for the header); None: no lines
    # (rows read, data rows wanted) -> their lines, where they differ from row + line_offset
    exact_lines: Callable[[int, set[int]], dict[int, int]] | None = None

    def line_of(self, row: int | None) -> int | None:
        """The line of a data row, counting one line per row (quoted line breaks aside)."""
        return None if row is None or self.line_offset is None else row + self.line_offset

    def __iter__(self) -> Iterator[Any]:
        return self.batches

    def data_row(self, kept_index: int) -> int:
        """1-based data row of the kept_index-th row that the reader returned."""
        row = kept_index + 1
        for s in list(self.skipped):
            if s > row:
                break
            row += 1
        return row

    def close(self) -> None:
        for close in reversed(self.closers):
            try:
                close()
            except Exception:  # noqa: BLE001 - closing a broken pipe must not hide the report
                pass
        self.closers.clear()

    def __enter__(self) -> "Batches":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def open_batches(source: Source, fmt: Format, *, delimiter: str | None = None,
                 null_values: list[str] | None = None, block_size: int = BLOCK_SIZE,
                 raw_text: bool = True) -> Batches:
    """Open `source` as batches; ReadError if it cannot even start (empty, binary, corrupt)."""
    if fmt.name in ("csv", "tsv"):
        from .csvread import open_csv
        sep = delimiter or ("\t" if fmt.name == "tsv" else ",")
        return open_csv(source, fmt, sep, null_values, block_size)
    if fmt.name == "jsonl":
        from .jsonread import open_jsonl
        return open_jsonl(source, fmt, block_size)
    if fmt.name == "parquet":
        return _named_once(_open_parquet(source, fmt))
    if fmt.name == "arrow":
        return _named_once(_open_arrow(source, fmt))
    raise ReadError("unknown-format", f"unsupported format '{fmt.name}'")


def _named_once(opened: Batches) -> Batches:
    """Rules find a column by its name: a second column of the same name would go unchecked."""
    twice = repeated_name(opened.names)
    if twice is not None:
        opened.close()
        raise ReadError("duplicate-column", f"the schema names column '{twice}' twice")
    return opened


def repeated_name(names: list[str]) -> str | None:
    """The first column name that occurs a second time, or None."""
    seen: set[str] = set()
    return next((name for name in names if name in seen or seen.add(name)), None)


def prefetch(batches: Iterator[Any], convert: Callable[[Exception], Exception]) -> Iterator[Any]:
    """Read batches on a second thread (pyarrow releases the GIL while parsing).

    At most PREFETCH batches wait in the queue, so memory stays bounded.
    Reader errors come out of the iterator in order, converted by `convert`.
    """
    q: queue.Queue = queue.Queue(maxsize=PREFETCH)
    stop = threading.Event()
    done = object()

    def work() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        q.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(exc)

    thread = threading.Thread(target=work, daemon=True, name="gitgov-read")
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, Reopen):
                raise item
            if isinstance(item, BaseException):
                raise convert(item) if isinstance(item, Exception) else item
            yield item
    finally:
        stop.set()


# ---- formats that need random access -------------------------------------------

def local_copy(source: Source, closers: list[Callable[[], None]], check: Callable[[bytes], None]
               ) -> str:
    """A seekable file with the source's bytes: the file itself, or a spooled copy."""
    if source.local is not None:
        with open(source.local, "rb") as fh:
            check(fh.read(HEAD_BYTES))
        return source.local
    import shutil
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix="gitgov-", suffix=".spool")
    closers.append(lambda: os.unlink(tmp))
    with os.fdopen(fd, "wb") as out, source.open() as stream:
        head = stream.read(HEAD_BYTES)
        check(head)
        out.write(head)
        shutil.copyfileobj(stream, out, 1 << 20)
    return tmp


def _not_empty(what: str) -> Callable[[bytes], None]:
    def check(head: bytes) -> None:
        if not head:
            raise ReadError("empty-file", f"the file is empty (0 bytes), not {what}")
    return check


def _open_parquet(source: Source, fmt: Format) -> Batches:
    import pyarrow as pa
    import pyarrow.parquet as pq

    closers: list[Callable[[], None]] = []
    path = local_copy(source, closers, _not_empty("a Parquet file"))
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        for c in closers:
            c()
        raise ReadError("unreadable", _parquet_reason(exc)) from None
    closers.insert(0, pf.close)
    names = list(pf.schema_arrow.names)

    def convert(exc: Exception) -> Exception:
        return ReadError("unreadable", f"Parquet data cannot be read: {_first_line(exc)}")

    batches = prefetch(pf.iter_batches(batch_size=PARQUET_BATCH), convert)
    return Batches(names=names, fmt=fmt, batches=batches, closers=closers)


def _parquet_reason(exc: BaseException) -> str:
    text = _first_line(exc)
    if "magic bytes" in text or "footer" in text.lower():
        return ("not a complete Parquet file (truncated, or not Parquet at all): the footer "
                "that ends every Parquet file is missing")
    return f"not a readable Parquet file: {text}"


def _open_arrow(source: Source, fmt: Format) -> Batches:
    import pyarrow as pa

    closers: list[Callable[[], None]] = []
    stream = source.open()
    head = stream.read(len(ARROW_FILE_MAGIC))
    stream.close()
    if not head:
        raise ReadError("empty-file", "the file is empty (0 bytes), not an Arrow IPC file")
    try:
        if head.startswith(ARROW_FILE_MAGIC):
            path = local_copy(source, closers, lambda _h: None)
            reader = pa.ipc.open_file(path)
            it: Iterator[Any] = (reader.get_batch(i) for i in range(reader.num_record_batches))
        else:
            raw = source.open()
            closers.append(raw.close)
            reader = pa.ipc.open_stream(raw)
            it = iter(reader)
    except (pa.ArrowException, OSError) as exc:
        for c in closers:
            c()
        raise ReadError("unreadable", f"not a readable Arrow IPC / Feather file: "
                        f"{_first_line(exc)}") from None

    def convert(exc: Exception) -> Exception:
        return ReadError("unreadable", f"Arrow IPC data cannot be read: {_first_line(exc)}")

    return Batches(names=list(reader.schema.names), fmt=fmt, batches=prefetch(it, convert),
                   closers=closers)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


__all__ = ["Batches", "Format", "ReadError", "RowProblem", "Source", "detect", "open_batches",
           "prefetch"]
