"""Removing rows from a data file, atomically: what retention and erasure share.

CSV, TSV and JSON Lines are filtered line by line and the kept lines are
written back byte for byte (quoting, number formats and line endings stay as
they were, so `git diff` shows only the removed rows). Parquet and Arrow go
through pyarrow. The new file is written beside the old one under a
temporary name and renamed over it, so a reader sees the old file or the new
one, never half of either; on any error the old file is untouched.
"""
from __future__ import annotations

import csv
import os
import secrets
import stat as statmod
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, TextIO

from . import arrow_values as av
from .atomic import TEMP_PREFIX
from .errors import InputError
from .jsonlines import json_object
from .watch.hashing import hash_file

EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
              ".parquet": "parquet", ".pq": "parquet", ".arrow": "arrow", ".feather": "arrow",
              ".ipc": "arrow"}
TEXT_FORMATS = ("csv", "tsv", "jsonl")

Drop = Callable[[Any], bool]  # may raise ValueError("why") for a value it cannot judge


class RowError(InputError):
    """A row or column that cannot be judged; the message names file, line or row, and key."""


@dataclass(frozen=True)
class Filtered:
    rows_before: int
    rows_after: int
    sha256_before: str
    sha256_after: str | None  # None when nothing was written

    @property
    def removed(self) -> int:
        return self.rows_before - self.rows_after


def format_of(path: str, declared: str | None = None) -> str | None:
    """The table format: the dataset's ``format``, else the file extension ("x.csv.gz" is a
    CSV, which filter_rows then refuses to rewrite: see _rows_readable)."""
    if declared:
        return declared
    stem, ext = os.path.splitext(path.lower())
    if ext == ".gz":
        ext = os.path.splitext(stem)[1]
    return EXTENSIONS.get(ext)


def filter_rows(path: Path, fmt: str, column: str, drop: Drop, *, write: bool, show: str,
                label: str, swap: Mapping[str, str] | None = None) -> Filtered:
    """Count (and with write=True, remove) the rows whose `column` value `drop` accepts.

    `show` is how the file is named in messages, `label` the policy key that
    named the column (e.g. "datasets.customers.retention_column"). `swap`
    replaces whole cell values in the kept rows: values that need no quoting or
    escaping (such as encrypted values bound to a row number that changes), so
    a text line is edited in place and stays otherwise byte for byte.
    """
    _rows_readable(path, show)
    before = hash_file(path).sha256
    reader = {"csv": _csv, "tsv": _csv, "jsonl": _jsonl, "parquet": _table, "arrow": _table}.get(fmt)
    if reader is None:
        raise RowError(f"{show}: cannot remove rows from a '{fmt}' file (csv, tsv, jsonl, parquet "
                       "and arrow can be filtered)")
    tmp = path.with_name(f"{TEMP_PREFIX}{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        total, kept = reader(path, fmt, column, drop, tmp if write else None, show, label, swap or {})
        if not write or kept == total:
            return Filtered(total, kept, before, None)  # a dry run, or nothing to remove
        after = _replace(path, tmp)
        return Filtered(total, kept, before, after)
    finally:
        tmp.unlink(missing_ok=True)


def _rows_readable(path: Path, show: str) -> None:
    """Refuse, by its first bytes, a file whose rows cannot be read or removed in place, rather
    than read its bytes as rows: gitgov's ciphertext (an encrypted dataset in a clone without
    its key, whose header would read as binary column names) or gzip-compressed data."""
    from .crypto.fileformat import MAGIC
    from .keys import UNLOCK_HINT
    from .textsniff import GZIP_MAGIC

    try:
        with open(path, "rb") as f:
            head = f.read(max(len(MAGIC), len(GZIP_MAGIC)))
    except OSError:
        return  # the reader says what is wrong with the file
    if head.startswith(MAGIC):
        raise RowError(f"{show}: encrypted, and this clone holds no key to read it; {UNLOCK_HINT}, "
                       "then run `gitgov unlock`")
    if head.startswith(GZIP_MAGIC):
        raise RowError(f"{show}: gzip-compressed; rows of it cannot be read or removed in place: "
                       "decompress it (gunzip), commit that, then run this again")


def _replace(path: Path, tmp: Path) -> str:
    os.chmod(tmp, statmod.S_IMODE(os.stat(path).st_mode))
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    after = hash_file(tmp).sha256
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    return after


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _judge(drop: Drop, value: Any, where: str) -> bool:
    try:
        return bool(drop(value))
    except ValueError as exc:
        raise RowError(f"{where}: {exc}") from None


# ---- text formats: kept lines are copied byte for byte ------------------------------

class _Tap:
    """Iterates a file's lines for csv.reader and remembers the raw text of each record."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.raw: list[str] = []
        self.line = 0

    def __iter__(self) -> "_Tap":
        return self

    def __next__(self) -> str:
        text = next(self.stream)
        self.raw.append(text)
        self.line += 1
        return text

    def take(self) -> str:
        text = "".join(self.raw)
        self.raw.clear()
        return text


def _open_text(path: Path, mode: str):
    return open(path, mode, encoding="utf-8", errors="surrogateescape", newline="")


def _csv(path: Path, fmt: str, column: str, drop: Drop, out: Path | None, show: str,
         label: str, swap: Mapping[str, str]) -> tuple[int, int]:
    csv.field_size_limit(sys.maxsize)
    with _open_text(path, "r") as src, _maybe(out) as dst:
        tap = _Tap(src)
        rows = csv.reader(tap, delimiter="\t" if fmt == "tsv" else ",")
        try:
            header = next(rows)
        except StopIteration:
            raise RowError(f"{show}: empty file, no header row with column '{column}' ({label})") from None
        names = [h.lstrip("\ufeff").strip() for h in header]
        if column not in names:
            raise RowError(f"{show}: no column '{column}' ({label}); its columns are "
                           f"{', '.join(names)}")
        index = names.index(column)
        head = tap.take()
        dst.write(head)
        total = kept = 0
        quotes, start = head.count('"'), 1
        try:
            for row in rows:
                start = tap.line - len(tap.raw) + 1
                raw = tap.take()
                quotes += raw.count('"')
                if not row:  # a blank line is not a row
                    dst.write(raw)
                    continue
                total += 1
                value = row[index] if index < len(row) else None
                if not _judge(drop, value, f"{show}: line {start}"):
                    kept += 1
                    dst.write(_swapped(raw, row, swap))
        except csv.Error as exc:
            raise RowError(f"{show}: line {tap.line}: not valid {fmt.upper()}: {exc}") from None
        if quotes % 2:  # the reader took the rest of the file into that one value
            raise RowError(f"{show}: line {start}: a quoted value opened on this line is never "
                           "closed; repair the file first")
    return total, kept


def _jsonl(path: Path, fmt: str, column: str, drop: Drop, out: Path | None, show: str,
           label: str, swap: Mapping[str, str]) -> tuple[int, int]:
    total = kept = 0
    seen = False
    with _open_text(path, "r") as src, _maybe(out) as dst:
        for number, line in enumerate(src, 1):
            if not line.strip():
                dst.write(line)
                continue
            try:
                record = json_object(line, number)
            except ValueError as exc:
                raise RowError(f"{show}: {exc}") from None
            seen |= column in record
            total += 1
            if not _judge(drop, record.get(column), f"{show}: line {number}"):
                kept += 1
                dst.write(_swapped(line, record.values(), swap))
    if total and not seen:
        raise RowError(f"{show}: no record has the field '{column}' ({label})")
    return total, kept


def _swapped(raw: str, cells: Any, swap: Mapping[str, str]) -> str:
    for cell in cells if swap else ():
        if isinstance(cell, str) and cell in swap:
            raw = raw.replace(cell, swap[cell])
    return raw


class _Null:
    def write(self, text: str) -> None:
        pass

    def __enter__(self) -> "_Null":
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def _maybe(out: Path | None):
    return _open_text(out, "w") if out is not None else _Null()


# ---- columnar formats ------------------------------------------------------------------

def _table(path: Path, fmt: str, column: str, drop: Drop, out: Path | None, show: str,
           label: str, swap: Mapping[str, str]) -> tuple[int, int]:
    table = _read_table(path, fmt, show)
    if column not in table.column_names:
        raise RowError(f"{show}: no column '{column}' ({label}); its columns are "
                       f"{', '.join(table.column_names)}")
    mask = [not _judge(drop, v, f"{show}: row {n}") for n, v in _values(table, column)]
    kept = sum(mask)
    if out is not None and kept != len(mask):
        _write_table(_swapped_table(table.filter(av.mask(mask)), swap), out, fmt, path)
    return len(mask), kept


def _swapped_table(table: Any, swap: Mapping[str, str]) -> Any:
    import pyarrow as pa

    for index, field in enumerate(table.schema):
        if swap and (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)):
            values = table.column(index).to_pylist()
            if any(v in swap for v in values):
                new = av.array([swap.get(v, v) for v in values], field.type)
                table = table.set_column(index, field, new)
    return table


def _values(table: Any, column: str) -> Iterator[tuple[int, Any]]:
    n = 0
    for chunk in table.column(column).chunks:
        for value in chunk.to_pylist():
            n += 1
            yield n, value


def _read_table(path: Path, fmt: str, show: str):
    import pyarrow as pa

    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq
            return pq.read_table(path)
        import pyarrow.feather as feather
        return feather.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise RowError(f"{show}: cannot read as {fmt}: {exc}") from None


def _write_table(table: Any, out: Path, fmt: str, original: Path) -> None:
    if fmt == "parquet":
        import pyarrow.parquet as pq
        compression = _parquet_compression(original)
        pq.write_table(table, out, compression=compression)
    else:
        import pyarrow.feather as feather
        feather.write_feather(table, out)


def _parquet_compression(path: Path) -> str:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
        return meta.row_group(0).column(0).compression.lower() if meta.num_row_groups else "snappy"
    except Exception:  # noqa: BLE001 - only a preference
        return "snappy"
