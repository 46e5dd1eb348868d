"""The queue writers of one ledger wait in: an flock on `<ledger>-lock`.

SQLite's busy handler sleeps 1, 2, 5, 10, 15, 20, 25 ... ms between tries for
the write lock. With several processes appending one entry per transaction (a
writer holds the lock for a fraction of a millisecond) the waiters slept while
the lock was free, and four processes together wrote fewer entries per second
than one. Writers therefore first take this flock, polled every 50 us growing
to 2 ms, and only then ask SQLite for its lock, which is then almost always free.

The flock is advisory: SQLite's own lock still decides who writes. A writer
that does not take it (the sqlite3 shell, another tool) stays correct; a
ledger whose directory is read-only just goes without; and after waiting
BUSY_TIMEOUT_S for the flock a writer goes on to SQLite's own wait (and its
clear error), so a stopped process can never hang the others for good.
Stdlib only (hook hot path).
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # no flock (Windows): SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]

FIRST_WAIT_S, MAX_WAIT_S = 0.00005, 0.002


class WriterQueue:
    """One per open ledger; `held()` around each write transaction."""

    def __init__(self, ledger_path: Path, timeout_s: float):
        self.path = f"{ledger_path}-lock"
        self._timeout_s = timeout_s
        self._fd: int | None = None
        self._pid = 0  # a forked child shares the parent's open file, and so its flock: reopen

    @contextmanager
    def held(self) -> Iterator[None]:
        fd = self._acquire()
        try:
            yield
        finally:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd, self._pid = None, 0

    def _acquire(self) -> int | None:
        """The locked descriptor, or None when writing without the queue."""
        fd = self._open()
        if fd is None:
            return None
        deadline, delay = 0.0, FIRST_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                pass
            except OSError:  # e.g. a file system without flock
                return None
            now = time.monotonic()
            deadline = deadline or now + self._timeout_s
            if now > deadline:
                return None
            time.sleep(delay)
            delay = min(delay * 1.5, MAX_WAIT_S)

    def _open(self) -> int | None:
        if fcntl is None:
            return None
        if self._pid != os.getpid():
            self._pid = os.getpid()
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError:  # read-only directory or file: SQLite's wait alone
                self._fd = None
        return self._fd
