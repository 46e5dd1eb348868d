"""Reading a data file and classifying its columns.

A column's classification is a kind of personal data with a confidence: the
share of its sampled non-empty values that the kind's detector matches. The
sample is evenly spread over the file (10,000 rows by default), so a large
file costs one read and a few vectorised regular expressions per column.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from gitgov.core import arrow_values as av
from gitgov.core.errors import InputError

from .detectors import BUILTIN, Detector

if TYPE_CHECKING:
    import pyarrow as pa

SAMPLE_ROWS = 10_000
SAMPLE_BLOCKS = 100  # runs of consecutive lines a large CSV is sampled in
SAMPLE_FROM_BYTES = 8 << 20  # smaller files are read whole
GUNZIP_LIMIT = 64 << 20  # bytes of a gzip-compressed file decompressed to sample from
THRESHOLD = 0.5
FORMATS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl",
           ".ndjson": "jsonl"}


@dataclass(frozen=True)
class Classification:
    kind: str
    label: str
    confidence: float
    matched: int
    sampled: int

    @property
    def percent(self) -> str:
        return f"{self.confidence * 100:.0f}%"


@dataclass
class ColumnScan:
    column: str
    sampled: int
    protected: int = 0  # values already in gg1: form
    found: list[Classification] = field(default_factory=list)

    def best(self, threshold: float = THRESHOLD) -> Classification | None:
        hits = [c for c in self.found if c.confidence >= threshold]
        return max(hits, key=lambda c: c.confidence) if hits else None

    def to_dict(self, threshold: float = THRESHOLD) -> dict[str, Any]:
        best = self.best(threshold)
        return {"column": self.column, "sampled": self.sampled, "protected": self.protected,
                "kind": best.kind if best else None,
                "confidence": round(best.confidence, 4) if best else 0.0,
                "candidates": [c.__dict__ for c in self.found]}


def format_of(path: str, declared: str | None = None) -> str | None:
    """The dataset's format, else the extension's; "x.csv.gz" is a CSV (read through gzip)."""
    name = Path(path.lower())
    if name.suffix == ".gz":
        name = Path(name.stem)
    return declared or FORMATS.get(name.suffix)


def plain(data: bytes) -> bytes:
    """gzip-compressed bytes decompressed, every member of them (`cat a.gz b.gz`, pigz,
    bgzip) up to GUNZIP_LIMIT, cut at a line break (the sample is then taken from the file's
    head); other bytes as they are. ValueError says what is wrong with the gzip data."""
    import gzip
    import zlib

    from gitgov.core.textsniff import GZIP_MAGIC

    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as z:
            out = z.read(GUNZIP_LIMIT + 1)
    except EOFError:
        raise ValueError("the gzip data ends too early (a truncated file)") from None
    except (OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"the gzip data is corrupt ({exc})") from None
    if len(out) > GUNZIP_LIMIT:
        out = out[:out.rfind(b"\n", 0, GUNZIP_LIMIT) + 1]
    return out


# ---- reading ----------------------------------------------------------------------

def read_table(data: bytes, fmt: str, what: str) -> "pa.Table":
    """The file as a table; CSV and TSV columns stay text, exactly as written."""
    import pyarrow as pa

    try:
        if fmt in ("csv", "tsv"):
            return _unique_names(_read_csv(data, "\t" if fmt == "tsv" else ","), what)
        if fmt == "parquet":
            import pyarrow.parquet as pq
            return pq.read_table(pa.BufferReader(data))
        if fmt == "jsonl":
            import pyarrow.json as pj
            _text_only(data)
            try:
                return pj.read_json(pa.BufferReader(data))
            except pa.ArrowInvalid:
                return _jsonl_as_text(data)  # a field whose type varies between lines, say
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, ValueError) as exc:
        raise InputError(f"{what}: cannot read as {fmt}: {str(exc).splitlines()[0]}") from None
    raise InputError(f"{what}: format {fmt!r} cannot be scanned (csv, tsv, parquet, jsonl)")


def _jsonl_as_text(data: bytes) -> "pa.Table":
    """JSON Lines that Arrow cannot type, one field as a number here and a string there: every
    value as text, as a person reads it, so that nothing escapes the detectors."""
    import pyarrow as pa

    from gitgov.core.jsonlines import json_object

    rows = [json_object(line, number) for number, line in enumerate(data.splitlines(), 1)
            if line.strip()]
    names = list(dict.fromkeys(k for row in rows for k in row))
    text = {n: [_as_text(row.get(n)) for row in rows] for n in names}
    return pa.table({n: pa.array(v, pa.string()) for n, v in text.items()})


def _as_text(value: Any) -> str | None:
    import json

    return value if isinstance(value, str) or value is None else json.dumps(value, ensure_ascii=False)


def _unique_names(table: "pa.Table", what: str) -> "pa.Table":
    """Columns are looked up by name: a header naming one twice would make that fail."""
    seen: set[str] = set()
    for name in table.column_names:
        if name in seen:
            raise InputError(f"{what}: line 1 (the header) names column '{name}' twice")
        seen.add(name)
    return table


def _text_only(data: bytes) -> None:
    """pyarrow would read binary data as text of some sort: say what it is instead."""
    from gitgov.core.textsniff import sniff_binary

    reason = sniff_binary(data[:1 << 16])
    if reason:
        raise ValueError(reason)


def _read_csv(data: bytes, delimiter: str) -> "pa.Table":
    import pyarrow as pa
    import pyarrow.csv as pcsv

    _text_only(data)
    first = data.split(b"\n", 1)[0].decode("utf-8-sig", "replace").rstrip("\r")
    try:
        names = next(csv.reader(io.StringIO(first), delimiter=delimiter), [])
    except csv.Error as exc:  # a stray carriage return, say: one line, not a plugin failure
        raise ValueError(f"line 1 (the header) cannot be parsed: {exc}") from None
    bad: list[Any] = []

    def first_bad(row: Any) -> str:  # pyarrow's own message quotes the row, not its line
        bad.append(row)
        return "error"

    try:
        return pcsv.read_csv(
            pa.py_buffer(data),
            read_options=pcsv.ReadOptions(block_size=1 << 24),
            parse_options=pcsv.ParseOptions(delimiter=delimiter, invalid_row_handler=first_bad),
            convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                strings_can_be_null=False,
                                                quoted_strings_can_be_null=False))
    except pa.ArrowInvalid as exc:
        raise ValueError(_where(data, bad[0] if bad else None, exc)) from None


def _where(data: bytes, row: Any, exc: Exception) -> str:
    """pyarrow's complaint about a CSV, with the line it is about, as `gitgov check` says it."""
    if row is not None:
        line = row.number if row.number and row.number > 0 else _line_of(data, row.text)
        at = f"line {line}: " if line else ""
        n = row.actual_columns
        return f"{at}{n} field{'' if n == 1 else 's'} where the header has {row.expected_columns}"
    if "invalid UTF8" in str(exc):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as err:
            return f"line {_line_at(data, err.start)} is not UTF-8 text"
    return str(exc).splitlines()[0]


def _line_of(data: bytes, text: str) -> int | None:
    at = data.find(text.encode("utf-8", "surrogateescape")) if text else -1
    return _line_at(data, at) if at >= 0 else None


def _line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def read_sample(data: bytes, fmt: str, what: str, rows: int) -> "pa.Table":
    """About ``rows`` rows of the file spread over it, for classifying its columns.

    A large CSV without quotes is cut into SAMPLE_BLOCKS runs of whole lines
    at even offsets, and only those are parsed: reading 100 MB of text to keep
    10,000 rows costs seconds. Without quotes a line break always ends a row,
    so every run holds whole rows. Other files are read whole, then sampled.
    """
    try:
        data = plain(data)
    except ValueError as exc:
        raise InputError(f"{what}: cannot read as {fmt}: {exc}") from None
    if fmt in ("csv", "tsv") and len(data) > SAMPLE_FROM_BYTES and b'"' not in data:
        try:
            return sample(read_table(_line_runs(data, rows), fmt, what), rows)
        except InputError:
            pass  # its line would be the sample's: the whole file names the right one
    return sample(read_table(data, fmt, what), rows)


def _line_runs(data: bytes, rows: int) -> bytes:
    header_end = data.find(b"\n") + 1
    if not header_end:
        return data
    per_run, parts, done = max(1, rows // SAMPLE_BLOCKS), [data[:header_end]], header_end
    for i in range(SAMPLE_BLOCKS):
        start = header_end + i * (len(data) - header_end) // SAMPLE_BLOCKS
        if start > done:  # to the start of the next whole line
            start = data.find(b"\n", start - 1) + 1 or len(data)
        start = max(start, done)
        end = start
        for _ in range(per_run):
            end = data.find(b"\n", end) + 1 or len(data)
            if end == len(data):
                break
        parts.append(data[start:end])
        done = end
    body = b"".join(parts)
    return body if body.endswith(b"\n") else body + b"\n"


def sample(table: "pa.Table", rows: int) -> "pa.Table":
    """At most ``rows`` rows, evenly spread over the table (deterministic)."""
    n = table.num_rows
    if n <= rows:
        return table
    step = n / rows
    return table.take(av.array([int(i * step) for i in range(rows)]))


# ---- classifying ----------------------------------------------------------------------

def text_column(column: "pa.ChunkedArray") -> "pa.ChunkedArray | None":
    import pyarrow as pa
    from gitgov.core import arrow_kernels as pc

    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    if pa.types.is_nested(column.type) or pa.types.is_binary(column.type):
        return None
    return pc.try_cast(column, pa.string())


def classify(table: "pa.Table", detectors: Sequence[Detector], rows: int = SAMPLE_ROWS) -> list[ColumnScan]:
    from gitgov.core import arrow_kernels as pc

    table = sample(table, rows)
    scans = []
    for name in table.column_names:
        column = text_column(table.column(name))
        if column is None:
            continue
        values = pc.utf8_trim_whitespace(pc.drop_null(column))
        values = pc.filter(values, pc.not_equal(values, av.scalar("", values.type)))
        scan = ColumnScan(column=name, sampled=len(values))
        if scan.sampled:
            scan.protected = pc.sum(pc.starts_with(values, "gg1:")).as_py() or 0
            scan.found = [c for d in detectors if d.applies_to(name)
                          if (c := _match(values, d)) is not None]
        scans.append(scan)
    return scans


def _match(values: "pa.ChunkedArray", detector: Detector) -> Classification | None:
    from gitgov.core import arrow_kernels as pc

    hits = pc.filter(values, pc.match_substring_regex(values, f"^(?:{detector.pattern})$"))
    count = len(hits)
    if count and detector.check is not None:
        count = sum(1 for v in hits.to_pylist() if detector.check(v))
    if not count:
        return None
    return Classification(detector.kind, detector.label, count / len(values), count, len(values))


# ---- detectors from every plugin ---------------------------------------------------------

_CACHE: dict[int, tuple[list[Detector], list[str]]] = {}


def all_detectors(policy: Any = None, root: Path | None = None) -> tuple[list[Detector], list[str]]:
    """Built-in detectors plus those of every plugin's ``register_detectors``; and warnings."""
    from gitgov.core.bus import DEFAULT_TIMEOUT, collect_named
    from gitgov.core.plugins import load_host

    key = id(policy)
    if key in _CACHE:  # with its problems: each file it scans was scanned without them
        return _CACHE[key]
    host = load_host(policy, root)
    # Half the deadline: this runs inside privacy's own call, whose deadline would otherwise
    # end first and blame privacy for the plugin that hangs here.
    timeout = (policy.plugins.timeout if policy is not None else DEFAULT_TIMEOUT) / 2
    results, failures = collect_named(host, "register_detectors", timeout)
    found: dict[str, Detector] = {}
    warnings = [f.message for f in failures]
    for plugin, result in results:
        items = [result] if isinstance(result, Detector) else \
            list(result) if isinstance(result, (list, tuple, set)) else [result]
        wrong = [d for d in items if not isinstance(d, Detector)]
        if wrong:
            warnings.append(f"plugin '{plugin}' answered register_detectors with a "
                            f"{type(wrong[0]).__name__}, expected "
                            "gitgov.plugins.privacy.detectors.Detector")
            continue
        for det in items:
            if det not in BUILTIN or det.kind not in found:  # plugins replace built-ins
                found[det.kind] = det
    if not found:
        found = {d.kind: d for d in BUILTIN}
    _CACHE[key] = (list(found.values()), warnings)
    return _CACHE[key]
