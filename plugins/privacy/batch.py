"""The personal-data scan of many small files of one dataset at once.

A push brings many versions of one dataset's files. Scanned one by one, a
small file costs about ten milliseconds, nearly all of it fixed cost: every
detector's regular expression is compiled again for every column of every
file. Here the sampled values of each column name are laid end to end across
the files, each detector runs once per column name, and its matches are
counted back per file. Each file gets exactly the ColumnScans that
``scan.classify`` gives it alone; anything unusual (a file that is not plain
text columns, a detector that raises) is left to that per-file path.
"""
from __future__ import annotations

from bisect import bisect_left
from itertools import accumulate
from typing import TYPE_CHECKING, Any, Sequence

from gitgov.core.errors import InputError

from .scan import Classification, ColumnScan, plain, read_table, sample

if TYPE_CHECKING:
    from .detectors import Detector

SMALL = 1 << 20  # bytes: a larger file's own work dwarfs the fixed cost; it is scanned alone
BATCH_BYTES = 64 << 20  # bytes of files read for one batch
TEXT_FORMATS = ("csv", "tsv")  # every column is read as text, so columns line up across files
_ALONE = object()  # memo mark: scan this file by itself


def scans_for(event: Any, ctx: Any, fmt: str, detectors: Sequence["Detector"], rows: int
              ) -> list[ColumnScan] | InputError | None:
    """The event's scans from a batch with the other small files of its dataset that this
    run checks (``ctx.planned``, bytes in ``ctx.blobs``); None: scan it alone."""
    memo = ctx.__dict__.setdefault("_privacy_batch", {})
    key = _key(event)
    if key not in memo:
        group = _group(event, ctx, fmt, memo)
        if len(group) < 2:
            return None
        memo.update(_scan_group(group, ctx, fmt, detectors, rows))
    found = memo.pop(key, _ALONE)
    return None if found is _ALONE else found


def _key(event: Any) -> tuple:
    return (event.dataset, event.path, event.blob)


def _group(event: Any, ctx: Any, fmt: str, memo: dict) -> list[Any]:
    """The event and the other planned, not yet scanned small text files of its dataset."""
    from gitgov.core.crypto.fileformat import is_encrypted

    from .scan import format_of

    blobs = getattr(ctx, "blobs", None) or {}
    if fmt not in TEXT_FORMATS or event.blob not in blobs or len(blobs[event.blob]) > SMALL:
        return []
    ds = ctx.dataset(event.dataset)
    group, total = [event], len(blobs[event.blob])
    for other in getattr(ctx, "planned", ()):
        data = blobs.get(getattr(other, "blob", None) or "")
        if (data is None or other is event or getattr(other, "dataset", None) != event.dataset
                or _key(other) == _key(event) or _key(other) in memo or len(data) > SMALL
                or format_of(other.path, ds.format) != fmt or is_encrypted(data)):
            continue
        if total + len(data) > BATCH_BYTES:
            break
        group.append(other)
        total += len(data)
    return group


def _scan_group(group: list[Any], ctx: Any, fmt: str, detectors: Sequence["Detector"],
                rows: int) -> dict[tuple, Any]:
    import pyarrow as pa

    out: dict[tuple, Any] = {}
    tables = []
    for event in group:
        try:
            table = read_table(plain(ctx.blobs[event.blob]), fmt, event.path)
        except InputError as exc:
            out[_key(event)] = exc
            continue
        names = table.column_names
        if len(set(names)) != len(names) or any(t != pa.string() for t in table.schema.types):
            out[_key(event)] = _ALONE
            continue
        tables.append((event, sample(table, rows)))
    try:
        scans = classify_many([t for _, t in tables], detectors)
    except Exception:  # noqa: BLE001 - e.g. a plugin's detector check raised: each file alone
        return {**out, **{_key(e): _ALONE for e, _ in tables}}
    for (event, _), found in zip(tables, scans):
        out[_key(event)] = found
    return out


def classify_many(tables: Sequence[Any], detectors: Sequence["Detector"]) -> list[list[ColumnScan]]:
    """scan.classify for each of ``tables`` (sampled, text columns only), in one pass per
    column name."""
    by_name: dict[str, list[tuple[int, Any]]] = {}
    for i, table in enumerate(tables):
        for name in table.column_names:
            column = table.column(name)
            if column.null_count:
                column = column.drop_null()
            by_name.setdefault(name, []).append((i, column.combine_chunks()))
    scans: dict[tuple[int, str], ColumnScan] = {}
    for name, parts in by_name.items():
        for i, scan in zip((i for i, _ in parts), _classify_column(name, [a for _, a in parts], detectors)):
            scans[(i, name)] = scan
    return [[scans[(i, name)] for name in table.column_names] for i, table in enumerate(tables)]


def _classify_column(name: str, arrays: list[Any], detectors: Sequence["Detector"]) -> list[ColumnScan]:
    import pyarrow as pa
    from gitgov.core import arrow_kernels as pc

    raw = pa.concat_arrays(arrays) if len(arrays) > 1 else arrays[0]
    trimmed = pc.utf8_trim_whitespace(raw)
    # non-empty after trimming; no Python literal reaches a kernel (that would import pandas)
    kept = pc.cast(pc.utf8_length(trimmed), pa.bool_())
    values = trimmed.filter(kept)
    raw_ends = list(accumulate(len(a) for a in arrays))
    sampled = _per_part(pc.indices_nonzero(kept).to_pylist(), raw_ends)
    ends = list(accumulate(sampled))
    protected = _per_part(pc.indices_nonzero(pc.starts_with(values, pattern="gg1:")).to_pylist(), ends)
    scans = [ColumnScan(column=name, sampled=n, protected=p if n else 0)
             for n, p in zip(sampled, protected)]
    if not len(values):
        return scans
    for det in detectors:
        if not det.applies_to(name):
            continue
        mask = pc.match_substring_regex(values, f"^(?:{det.pattern})$")
        hits = pc.indices_nonzero(mask).to_pylist()
        if hits and det.check is not None:
            texts = values.filter(mask).to_pylist()
            hits = [h for h, v in zip(hits, texts) if det.check(v)]
        for scan, count in zip(scans, _per_part(hits, ends)):
            if count:
                scan.found.append(Classification(det.kind, det.label, count / scan.sampled, count,
                                                 scan.sampled))
    return scans


def _per_part(positions: list[int], ends: list[int]) -> list[int]:
    """How many of the sorted ``positions`` fall in each part ending (exclusive) at ``ends``."""
    out, start = [], 0
    for end in ends:
        stop = bisect_left(positions, end, start)
        out.append(stop - start)
        start = stop
    return out
