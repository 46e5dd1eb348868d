"""JSON Lines that pyarrow refused for a few lines: find them, then let pyarrow read the rest.

pyarrow's reader stops at the first broken line (and skips blank lines
without a word), and reading the whole file again line by line with Python's
json module costs about eight times as much. Most such files are clean but
for a few lines, so those are found first: the file is cut into blocks of
whole lines, pyarrow parses each block, and only a block it refuses (or whose
rows and lines disagree: blank lines) is looked at line by line. pyarrow then
reads the file with those lines left out, and they stay in their place in the
row numbers. A block that pyarrow refuses with no broken line in it holds
fields whose types vary: that file goes to the line-by-line reader.
"""
from __future__ import annotations

import bisect
import io
from typing import Any, Callable, Iterator

from .formats import Format, RowProblem, Source
from .streams import ByteStream

BLOCK = 4 << 20  # bytes of whole lines parsed at once in the first pass


def blocks(source: Source, fmt: Format) -> Iterator[tuple[int, bytes]]:
    """(number of the block's first line, the block): whole lines, the last one completed
    with a line break."""
    with ByteStream(source.open(), gzip=fmt.gzip) as stream:
        rest, first = b"", 1
        for chunk in iter(lambda: stream.read(BLOCK), b""):
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            if not cut:
                rest = data  # a line longer than a block: wait for its end
                continue
            block, rest = data[:cut], data[cut:]
            yield first, block
            first += block.count(b"\n")
        if rest:
            yield first, rest + b"\n"


def broken_lines(source: Source, fmt: Format,
                 parse: Callable[[bytes], tuple[Any, str | None]]) -> tuple[set[int], list[RowProblem]] | None:
    """The numbers of the lines to leave out (broken or blank) and the problems of the broken
    ones; None when a block fails with none broken (the types of a field vary)."""
    import pyarrow as pa
    import pyarrow.json as pj

    drop: set[int] = set()
    problems: list[RowProblem] = []
    for first, block in blocks(source, fmt):
        lines = block.count(b"\n")
        try:
            table = pj.read_json(io.BytesIO(block), read_options=pj.ReadOptions(
                use_threads=False, block_size=len(block) + 1))
            if table.num_rows == lines:
                continue
        except (pa.ArrowException, OSError):
            table = None
        found = _look(first, block, parse, drop, problems)
        if table is None and not found:
            return None
    return drop, problems


def _look(first: int, block: bytes, parse: Callable, drop: set[int], problems: list[RowProblem]) -> int:
    """Each line of one block, with Python's json module: the broken ones found."""
    broken = 0
    for number, line in enumerate(block.split(b"\n")[:-1], first):
        value, problem = parse(line)
        if value is None:
            drop.add(number)  # blank or broken: rows are lines, it keeps its place
            if problem:
                broken += 1
                problems.append(RowProblem("bad-json", number, problem, line=number,
                                           text=line[:80].decode("utf-8", "replace")))
    return broken


class Without(io.RawIOBase):
    """The file's bytes without the lines in `drop`, for pyarrow to read."""

    def __init__(self, source: Source, fmt: Format, drop: set[int]):
        self.drop, self.dropped = drop, sorted(drop)
        self._blocks = blocks(source, fmt)
        self._buffer = b""
        self.lines = 0  # lines handed out

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while len(self._buffer) < len(b):
            nxt = next(self._blocks, None)
            if nxt is None:
                break
            self._buffer += self._kept(*nxt)
        n = min(len(b), len(self._buffer))
        b[:n], self._buffer = self._buffer[:n], self._buffer[n:]
        return n

    def _kept(self, first: int, block: bytes) -> bytes:
        last = first + block.count(b"\n")
        at = bisect.bisect_left(self.dropped, first)
        if at == len(self.dropped) or self.dropped[at] >= last:
            self.lines += last - first
            return block
        kept = [line for n, line in enumerate(block.split(b"\n")[:-1], first) if n not in self.drop]
        self.lines += len(kept)
        return b"".join(line + b"\n" for line in kept)
