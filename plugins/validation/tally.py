"""Counting failures: per rule, how many rows fail and the first few of them.

Also the two rules that need more than one batch to decide: uniqueness (of
a column or of the primary key), whose keys are kept as compact Arrow
arrays until the end, when value_counts finds the repeated ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from gitgov.core import arrow_values as av

SAMPLES = 5  # failing rows shown per rule
MAX_SHOWN = 60  # characters of a value shown in a report


def mask_value(value: Any) -> str:
    """A value of a personal-data column, shape only: 'ada@x.io' -> 'xxx@x.xx'."""
    out = []
    for ch in str(value)[:MAX_SHOWN]:
        if ch.isdigit():
            out.append("9")
        elif ch.isalpha():
            out.append("X" if ch.isupper() else "x")
        else:
            out.append(ch)
    return "".join(out)


def shown(value: Any, masked: bool) -> Any:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    if masked:
        return mask_value(value)
    if isinstance(value, (int, float, bool)):
        return value
    text = str(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 1] + "…"


@dataclass
class Sample:
    row: int | None
    value: Any = None
    line: int | None = None
    note: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Sample":
        return cls(d.get("row"), d.get("value"), d.get("line"), d.get("note"))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"row": self.row}
        if self.line is not None:
            out["line"] = self.line
        out["value"] = self.value
        if self.note:
            out["note"] = self.note
        return out


def first_rows(samples: list[Sample]) -> list[Sample]:
    """The first SAMPLES of samples gathered at different times (empty keys while reading,
    repeated ones at the end), in row order."""
    return sorted(samples, key=lambda s: (s.row is None, s.row or 0))[:SAMPLES]


@dataclass
class Tally:
    """Failures of one rule: the count and the first SAMPLES rows with their values."""

    id: str
    rule: str
    column: str | None
    severity: str
    message: str
    param: Any = None
    count: int = 0
    samples: list[Sample] = field(default_factory=list)

    def add(self, row: int | None, value: Any = None, line: int | None = None,
            note: str | None = None, n: int = 1) -> None:
        self.count += n
        if len(self.samples) < SAMPLES:
            self.samples.append(Sample(row, value, line, note))

    def add_mask(self, mask: Any, where: Callable[[int], tuple[int, int | None]],
                 value_at: Callable[[int], Any], note_at: Callable[[int], str] | None = None) -> None:
        """Count the true rows of a batch's boolean mask; sample the first ones."""
        from gitgov.core import arrow_kernels as pc

        count = mask.true_count if hasattr(mask, "true_count") else int(pc.sum(mask).as_py() or 0)
        if not count:
            return
        room = SAMPLES - len(self.samples)
        if room > 0:
            for i in pc.indices_nonzero(mask)[:room].to_pylist():
                row, line = where(i)
                self.samples.append(Sample(row, value_at(i), line, note_at(i) if note_at else None))
        self.count += count

    @property
    def blocks(self) -> bool:
        return self.count > 0 and self.severity == "error"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Tally":
        """A tally as to_dict() wrote it (to the ledger): its values were masked then."""
        return cls(d["id"], d["rule"], d.get("column"), d["severity"], d["message"], d.get("param"),
                   int(d.get("failed") or 0), [Sample.from_dict(s) for s in d.get("samples") or []])

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "rule": self.rule, "column": self.column,
                "severity": self.severity, "failed": self.count, "message": self.message,
                "param": self.param, "samples": [s.to_dict() for s in self.samples]}


def _sorted_repeats(keys: Any) -> tuple[Any, int] | None:
    """For keys in ascending order (ids as exported), the repeats without hashing:
    a repeat is equal to the key before it. None when the keys are not in order."""
    from gitgov.core import arrow_kernels as pc

    if keys.null_count or len(keys) < 2:
        return None
    try:
        flat = keys.combine_chunks()
        before, after = flat.slice(0, len(flat) - 1), flat.slice(1)
        if not pc.all(pc.less_equal(before, after)).as_py():
            return None
        same = pc.equal(before, after)
    except Exception:  # noqa: BLE001 - a type without ordering: count instead
        return None
    if not same.true_count:
        return flat.slice(0, 0), 0
    return pc.unique(pc.filter(after, same)), same.true_count


class KeyTracker:
    """Finds repeated keys across the whole file with memory per key, not per row.

    With `known` (repeated keys found by an earlier pass) it flags the second
    and later occurrences batch by batch instead, for the quarantine split.
    """

    def __init__(self, known: Any = None):
        self.chunks: list[Any] = []
        self.known = known
        self.first_seen: set = set()

    def add(self, keys: Any) -> Any:
        """Keep the batch's keys; in the second pass, return the mask of repeats."""
        if self.known is None:
            self.chunks.append(keys)
            return None
        from gitgov.core import arrow_kernels as pc

        hit = pc.fill_null(pc.is_in(keys, value_set=self.known), False)
        if not hit.true_count:
            return hit
        flags = [False] * len(keys)
        for i in pc.indices_nonzero(hit).to_pylist():
            value = keys[i].as_py()
            if value in self.first_seen:
                flags[i] = True
            else:
                self.first_seen.add(value)
        return av.mask(flags)

    def repeated(self) -> tuple[Any, int]:
        """(the keys that occur more than once, the number of rows repeating one)."""
        import pyarrow as pa
        from gitgov.core import arrow_kernels as pc

        if not self.chunks:
            return None, 0
        keys = pa.chunked_array(self.chunks)
        ordered = _sorted_repeats(keys)
        if ordered is not None:
            return (ordered if ordered[1] else (None, 0))
        counts = pc.value_counts(keys)
        values, n = counts.field("values"), counts.field("counts")
        dup = pc.and_(pc.greater(n, 1), pc.is_valid(values))
        if not dup.true_count:
            return None, 0
        repeats = pc.sum(pc.subtract(pc.filter(n, dup), 1)).as_py()
        return pc.filter(values, dup), int(repeats)

    def finish(self, tally: Tally, where: Callable[[int], tuple[int, int | None]],
               show: Callable[[Any], Any]) -> Any:
        """Count rows that repeat an earlier key; sample them with the row they repeat."""
        from gitgov.core import arrow_kernels as pc

        dups, repeats = self.repeated()
        if dups is None:
            self.chunks.clear()
            return None
        first: dict[Any, int] = {}
        offset, sampled = 0, []
        for chunk in self.chunks:
            if len(sampled) >= SAMPLES:
                break
            hit = pc.fill_null(pc.is_in(chunk, value_set=dups), False)
            for i in pc.indices_nonzero(hit).to_pylist() if hit.true_count else ():
                value = chunk[i].as_py()
                row, line = where(offset + i)
                if value not in first:
                    first[value] = row
                elif len(sampled) < SAMPLES:
                    sampled.append(Sample(row, show(value), line, f"same as row {first[value]}"))
            offset += len(chunk)
        tally.count += repeats
        tally.samples = first_rows(tally.samples + sampled)
        self.chunks.clear()
        return dups
