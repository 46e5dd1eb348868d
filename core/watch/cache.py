"""The hash cache: (path, size, mtime_ns, inode) -> hashes, so unchanged files are never read.

It lives in its own SQLite file (.gitgov/cache/watch.db), not in the ledger:
it is a cache, not a fact, and the daemon's cache writes must never compete
with the ledger's write lock. It is written only after the ledger, so after a
crash it may lag behind (a file is hashed again) but never run ahead. A cache
that cannot be opened is rebuilt; nothing depends on it but speed.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterable

from .hashing import Hashed, Stat

SCHEMA = ("CREATE TABLE IF NOT EXISTS file_hashes (path TEXT PRIMARY KEY, size INTEGER NOT NULL,"
          " mtime_ns INTEGER NOT NULL, ino INTEGER NOT NULL, sha256 TEXT NOT NULL, blob TEXT NOT NULL)"
          " WITHOUT ROWID")


def cache_path(local_dir: Path) -> Path:
    return Path(local_dir) / "cache" / "watch.db"


class HashCache:
    """Not thread-safe: one per thread."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = self._connect()
        except sqlite3.DatabaseError:
            for suffix in ("", "-wal", "-shm"):  # a corrupt cache is thrown away
                Path(str(self.path) + suffix).unlink(missing_ok=True)
            self.db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute(SCHEMA)
        return db

    def load(self) -> dict[str, Hashed]:
        rows = self.db.execute("SELECT path, size, mtime_ns, ino, sha256, blob FROM file_hashes")
        return {p: Hashed(Stat(s, m, i), sha, blob) for p, s, m, i, sha, blob in rows}

    def get(self, rel: str) -> Hashed | None:
        row = self.db.execute("SELECT size, mtime_ns, ino, sha256, blob FROM file_hashes WHERE path = ?",
                              (rel,)).fetchone()
        return Hashed(Stat(*row[:3]), row[3], row[4]) if row else None

    def update(self, put: Iterable[tuple[str, Hashed]] = (), drop: Iterable[str] = ()) -> None:
        """Store and forget entries in one transaction; a cache that stays locked is skipped."""
        put, drop = list(put), list(drop)
        if not put and not drop:
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany(
                "INSERT OR REPLACE INTO file_hashes VALUES (?, ?, ?, ?, ?, ?)",
                [(rel, h.stat.size, h.stat.mtime_ns, h.stat.ino, h.sha256, h.blob) for rel, h in put])
            self.db.executemany("DELETE FROM file_hashes WHERE path = ?", [(rel,) for rel in drop])
            self.db.execute("COMMIT")
        except sqlite3.Error:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")

    def close(self) -> None:
        self.db.close()
