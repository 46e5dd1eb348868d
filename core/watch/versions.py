"""What the ledger already holds for a path: the one place that decides "no-op".

A version is a path with its bytes. The ledger holds it when the newest
working-tree entry for the path (any stage but "pushed", which is about
history, not the worktree) added those bytes, named by SHA-256 (watcher,
`gitgov check`) or by Git blob id (commit hooks). Recording such a version
again is a no-op: that is how the hook and the daemon never record the same
version twice, and how a restart after a crash records nothing twice.
"""
from __future__ import annotations

import sqlite3
from typing import Iterable, NamedTuple

from .hashing import Hashed

_LATEST = ("SELECT path, change, sha256, blob, MAX(seq) FROM dataset_versions"
           " WHERE stage IS NOT 'pushed'")
_CHUNK = 500  # SQLite's default limit on bound parameters is far above; this keeps plans simple


class Known(NamedTuple):
    change: str  # added | removed
    sha256: str | None
    blob: str | None
    seq: int

    def holds(self, h: Hashed) -> bool:
        return self.change == "added" and (self.sha256 == h.sha256 or self.blob == h.blob)

    @property
    def present(self) -> bool:
        return self.change == "added"


def latest(db: sqlite3.Connection, paths: Iterable[str] | None = None) -> dict[str, Known]:
    """The newest worktree entry per path: for every path, or only for `paths`."""
    if paths is None:
        rows = db.execute(_LATEST + " GROUP BY path").fetchall()
        return {p: Known(c, s, b, q) for p, c, s, b, q in rows}
    out: dict[str, Known] = {}
    todo = list(dict.fromkeys(paths))
    for i in range(0, len(todo), _CHUNK):
        part = todo[i:i + _CHUNK]
        sql = _LATEST + f" AND path IN ({','.join('?' * len(part))}) GROUP BY path"
        for p, c, s, b, q in db.execute(sql, part):
            out[p] = Known(c, s, b, q)
    return out


def newer(db: sqlite3.Connection, after_seq: int) -> list[tuple[str, Known]]:
    """Worktree entries after `after_seq`, oldest first: keeps a copy of `latest` current."""
    rows = db.execute("SELECT path, change, sha256, blob, seq FROM dataset_versions WHERE seq > ?"
                      " AND stage IS NOT 'pushed' ORDER BY seq", (after_seq,)).fetchall()
    return [(p, Known(c, s, b, q)) for p, c, s, b, q in rows]


def already_recorded(db: sqlite3.Connection, path: str, h: Hashed) -> bool:
    """True when appending this version of `path` would be a no-op."""
    known = latest(db, [path]).get(path)
    return known is not None and known.holds(h)
