"""Which changed files are ready to be read: stable for ``debounce``, closed by their writer.

A hint only schedules a look. The stat taken then is what the file must still
match ``debounce`` seconds later: stable since its latest event, not since its
first (a create comes before the writes). A file created and not yet closed
waits up to ``open_grace`` more. What settles is gathered, so that a burst is
recorded in batches rather than one transaction per file.
"""
from __future__ import annotations

import heapq
import time
from typing import Callable

from .hashing import Stat, stat_or_reason
from .settings import LINGER_S


class Settling:
    def __init__(self, abspath: Callable[[str], str], debounce: float, open_grace: float):
        self.abspath = abspath
        self.debounce, self.open_grace = debounce, open_grace
        self.pending: dict[str, tuple[Stat | str, float]] = {}  # path -> (stat to match, when due)
        self._heap: list[tuple[float, str]] = []
        self._writing: dict[str, float] = {}  # created and not closed yet -> when it was created
        self._ready: list[tuple[str, Stat]] = []  # settled, not yet recorded
        self._removed: list[str] = []
        self.since = 0.0  # when the oldest of them settled (0: none waiting)

    def touch(self, rel: str, due: float | None = None) -> None:
        """Look at `rel` again at `due` (after a debounce from now by default)."""
        due = time.monotonic() + self.debounce if due is None else due
        self.pending[rel] = (stat_or_reason(self.abspath(rel)), due)
        heapq.heappush(self._heap, (due, rel))

    def created(self, rel: str) -> None:
        self._writing[rel] = time.monotonic()

    def closed(self, rel: str) -> None:
        self._writing.pop(rel, None)

    def waiting(self) -> bool:
        """Files still to settle, or settled and not yet taken."""
        return bool(self.pending) or bool(self.since)

    def next_wake(self) -> float:
        """When something is due (monotonic), or infinity."""
        wake = self._heap[0][0] if self._heap else float("inf")
        return min(wake, self.since + LINGER_S) if self.since else wake

    def collect(self, now: float) -> list[tuple[str, str]]:
        """Move the files that are due and stable (or gone) to the settled ones; returns
        the files that cannot be read, with why."""
        unreadable: list[tuple[str, str]] = []
        settled = len(self._ready) + len(self._removed)
        while self._heap and self._heap[0][0] <= now:
            due, rel = heapq.heappop(self._heap)
            entry = self.pending.get(rel)
            if entry is None or entry[1] != due:
                continue  # superseded by a later hint
            current = stat_or_reason(self.abspath(rel))
            if isinstance(current, str):
                del self.pending[rel]
                self._writing.pop(rel, None)
                if current == "gone":
                    self._removed.append(rel)
                else:
                    unreadable.append((rel, current))
            elif current == entry[0] and not self._still_open(rel, now):
                del self.pending[rel]
                self._ready.append((rel, current))
            else:  # still changing: wait another debounce from now
                self.pending[rel] = (current, now + self.debounce)
                heapq.heappush(self._heap, (now + self.debounce, rel))
        if len(self._ready) + len(self._removed) > settled:
            self.since = self.since or now
        return unreadable

    def take(self, now: float, batch: int, force: bool = False) -> tuple[list[tuple[str, Stat]], list[str]] | None:
        """What settled, when it is time to record it: during a burst, what settles within
        LINGER_S goes together (each record is one transaction and one pass over the
        plugins); a lone file goes at once. None: nothing, or not yet."""
        if not (self._ready or self._removed):
            return None
        more_soon = bool(self._heap) and self._heap[0][0] <= self.since + LINGER_S
        if (force or not more_soon or now - self.since >= LINGER_S
                or len(self._ready) + len(self._removed) >= batch):
            taken = (self._ready, self._removed)
            self._ready, self._removed, self.since = [], [], 0.0
            return taken
        return None

    def seconds_to_next(self) -> float | None:
        """How long until the next file is due, or None when none is pending."""
        return self._heap[0][0] - time.monotonic() if self._heap else None

    def _still_open(self, rel: str, now: float) -> bool:
        """Created and not yet closed by its writer (for at most `open_grace` seconds)."""
        opened = self._writing.get(rel)
        if opened is None:
            return False
        if now - opened < self.open_grace:
            return True
        del self._writing[rel]  # a writer that keeps it open: stable size and mtime decide
        return False
