"""Column statistics computed batch by batch: nulls, distinct values, range, mean, spread, top values.

Two depths. "lite" runs inside every check and keeps to what Arrow kernels
give per batch (counts, min/max, mean and variance merged across batches,
value counts for text and boolean columns of at most 1,000 values; numbers
and dates get no value counts, which cost a hash of every value). "full" (`gitgov profile`) adds
string lengths and, past the exact-count limit, a k-minimum-values sketch
for the distinct estimate and lossy counting for the top values. Memory is
bounded in both: by the caps, never by the number of rows.
"""
from __future__ import annotations

import datetime as dt
import heapq
import math
from typing import Any

from gitgov.core import arrow_values as av

TOP = 5
SHOWN = 200  # characters of a text statistic (min, max, a top value) kept
CAPS = {"lite": 1000, "full": 50_000}
KMV_K = 2048
_MASK64 = (1 << 64) - 1


def json_value(value: Any) -> Any:
    """A statistic as JSON: dates as ISO text, bytes as text (cut at SHOWN characters: a top
    value of a file whose quote never closes is the rest of the file), NaN/inf as None."""
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value if len(value) <= SHOWN else value[:SHOWN - 1] + "…"
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "is_integer") and not isinstance(value, (int, float)):
        return float(value)  # Decimal
    return value


class _Moments:
    """Count, mean and M2 merged across batches (Chan et al.)."""

    def __init__(self) -> None:
        self.n, self.mean, self.m2 = 0, 0.0, 0.0

    def add(self, values: Any) -> None:
        from gitgov.core import arrow_kernels as pc

        n = len(values) - values.null_count
        if n == 0:
            return
        total = pc.sum(values).as_py()
        mean = total / n if total is not None else None
        var = pc.variance(values, ddof=0).as_py() or 0.0
        if mean is None or not math.isfinite(mean) or not math.isfinite(var):
            return  # NaN or inf in the data: moments are meaningless, keep the rest
        total = self.n + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += var * n + delta * delta * self.n * n / total
        self.n = total

    def result(self) -> tuple[float | None, float | None]:
        if self.n == 0:
            return None, None
        std = math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else 0.0
        return self.mean, std


class _Distinct:
    """Exact value counts up to a cap; past it, a KMV sketch (full) or nothing (lite)."""

    def __init__(self, mode: str):
        self.mode, self.cap = mode, CAPS[mode]
        self.counts: dict[Any, int] | None = {}
        self.approximate = False
        self.kmv: list[int] = []  # max-heap (negated) of the KMV_K smallest hashes
        self.kmv_members: set[int] = set()

    def add(self, values: Any) -> None:
        if self.counts is None and self.mode == "lite":
            return
        counted = self._count(values)
        if counted is None:
            self.counts = None  # too many distinct values to count (lite)
            return
        found, counts = counted
        if self.counts is not None:
            for value, count in zip(found, counts):
                if value is not None:
                    self.counts[value] = self.counts.get(value, 0) + count
            if len(self.counts) > self.cap:
                self._over_cap()
        if self.mode == "full":
            self._sketch(found)

    def _count(self, values: Any) -> tuple[list, list] | None:
        """(values, counts) of a batch in the order they first occur; None: over the cap."""
        import pyarrow.types as pt
        from gitgov.core import arrow_kernels as pc

        if pt.is_boolean(values.type):  # two values: counted without hashing
            trues = values.true_count
            pairs = [(True, trues), (False, len(values) - values.null_count - trues)]
            head = [v for v in values.slice(0, 1024).to_pylist() if v is not None][:1]
            if head == [False]:
                pairs.reverse()
            return [v for v, n in pairs if n], [n for _v, n in pairs if n]
        if self.mode == "lite" and pc.count_distinct(values.slice(0, 4 * self.cap)).as_py() > self.cap:
            # An identifier-like column: counting its values is not worth it. A batch's first
            # rows tell (more distinct values there than the cap means more in all), and
            # hashing a few thousand values costs far less than the whole batch.
            return None
        vc = pc.value_counts(values)
        if self.mode == "lite" and len(vc) > self.cap:
            return None  # found before a Python loop over them
        return av.pylist(vc.field("values")), vc.field("counts").to_pylist()

    def _over_cap(self) -> None:
        if self.mode == "lite":
            self.counts = None
            return
        self.approximate = True  # lossy counting: keep the heavy half
        keep = heapq.nlargest(self.cap // 2, self.counts.items(), key=lambda kv: kv[1])
        self.counts = dict(keep)

    def _sketch(self, values: list) -> None:
        heap, members = self.kmv, self.kmv_members
        for value in values:
            if value is None:
                continue
            h = hash((value, 0x9E3779B97F4A7C15)) & _MASK64
            if h in members:
                continue
            if len(heap) < KMV_K:
                heapq.heappush(heap, -h)
                members.add(h)
            elif h < -heap[0]:
                members.discard(-heapq.heappushpop(heap, -h))
                members.add(h)

    def result(self) -> dict[str, Any]:
        if self.counts is None:
            return {"distinct": None, "top": None}
        top = heapq.nlargest(TOP, self.counts.items(), key=lambda kv: kv[1])
        out = {"top": [{"value": json_value(v), "count": c} for v, c in top]}
        if not self.approximate:
            out["distinct"] = len(self.counts)
        elif len(self.kmv) < KMV_K:
            out["distinct"] = len(self.kmv)
        else:
            kth = -self.kmv[0]
            out["distinct"] = int((KMV_K - 1) * (_MASK64 + 1) / max(kth, 1))
            out["distinct_estimated"] = True
            out["top_approximate"] = True
        return out


class ColumnProfile:
    """The statistics of one column, fed the typed values of each batch."""

    def __init__(self, name: str, mode: str = "lite", masked: bool = False):
        self.name, self.mode, self.masked = name, mode, masked
        self.rows = 0
        self.nulls = 0
        self.logical: str | None = None
        self.declared: str | None = None
        self.low: Any = None
        self.high: Any = None
        self.moments = _Moments()
        self.lengths: tuple[int, int] | None = None
        self.distinct = _Distinct(mode)

    def update(self, typed: Any, logical: str, nulls: int, text: Any = None) -> None:
        from gitgov.core import arrow_kernels as pc

        self.rows += len(typed)
        self.nulls += nulls
        if logical != self.logical:
            if self.logical is not None and not _widens(self.logical, logical):
                self.low = self.high = None
                self.moments = _Moments()
            self.logical = logical
        if len(typed) == typed.null_count or "<" in logical:
            return
        if logical != "boolean" and (self.mode == "full" or logical != "string"):
            mm = pc.min_max(typed)
            lo, hi = av.py(mm["min"]), av.py(mm["max"])
            self.low = lo if self.low is None or (lo is not None and lo < self.low) else self.low
            self.high = hi if self.high is None or (hi is not None and hi > self.high) else self.high
        if logical in ("integer", "float"):
            self.moments.add(typed)
        if self.mode == "lite" and logical not in ("string", "boolean"):
            self.distinct.counts = None  # value counts of numbers and dates cost time, say little
            return
        if self.mode == "full" and text is not None:
            lengths = pc.min_max(pc.utf8_length(text))
            lo, hi = lengths["min"].as_py(), lengths["max"].as_py()
            if lo is not None:
                old = self.lengths or (lo, hi)
                self.lengths = (min(old[0], lo), max(old[1], hi))
        self.distinct.add(typed)

    def result(self) -> dict[str, Any]:
        mean, std = self.moments.result()
        out: dict[str, Any] = {
            "name": self.name, "type": self.logical or "string", "declared": self.declared,
            "nulls": self.nulls, "null_fraction": (self.nulls / self.rows) if self.rows else 0.0,
            "masked": self.masked,
        }
        out.update(self.distinct.result())
        if self.masked:  # personal data: counts only, no values (a mean of few rows is one)
            out["top"] = None
            return out
        if self.logical in ("integer", "float"):
            out["mean"] = json_value(mean)
            if std is not None:
                out["std"] = json_value(std)
        out.update(min=json_value(self.low), max=json_value(self.high))
        if self.lengths:
            out.update(min_length=self.lengths[0], max_length=self.lengths[1])
        return out


def _widens(old: str, new: str) -> bool:
    return (old, new) == ("integer", "float")  # a date is not comparable with a timestamp
