"""The id Git gives a file's bytes, computed without Git, and remembered by the file's stat.

Hashing a 100 MB file costs about 0.13 s of CPU, on every `gitgov check` of it,
and on every re-check of a file that already passed, where the hash is the
whole cost. So the ids of large files are kept in ``.gitgov/cache/blob-ids.json``
with the file's size, inode, mtime and ctime, as Git's index keeps them, and
reused while all four are unchanged. As in Git, an entry is trusted only when
the file had not changed for a while (RACY_NS) before it was hashed: a write in
the same clock tick as the hashing could leave mtime and size as they were. A
write always moves ctime, and replacing the file moves its inode.

The commit hooks do not use this: they take the ids Git computed for the index.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from pathlib import Path
from typing import Iterable

from .cachefile import write_whole

CACHED_FROM = 1 << 20  # smaller files hash in about a millisecond: not worth an entry
RACY_NS = 2_000_000_000  # FAT keeps mtime to 2 s; other file systems far finer
MAX_ENTRIES = 20_000


def blob_id(path: Path | str) -> str | None:
    """sha1 of "blob <size>\\0" + the bytes, read in chunks; None when the file cannot be read.

    Not `git hash-object`: it maps the whole file into memory, which would make
    checking a large file look (and, on a small machine, be) as big as the file.
    """
    try:
        with open(path, "rb") as fh:
            digest = hashlib.sha1(b"blob %d\0" % os.fstat(fh.fileno()).st_size)
            buf = bytearray(1 << 20)
            view = memoryview(buf)
            while n := fh.readinto(buf):
                digest.update(view[:n])  # hashlib releases the GIL for large chunks
    except OSError:
        return None
    return digest.hexdigest()


def blob_ids(root: Path, paths: Iterable[str], cache: Path | None) -> dict[str, str]:
    """path -> blob id of each readable regular file among ``paths`` (relative to ``root``);
    ``cache``: the file that remembers the ids of large files (None: hash them all)."""
    memory = _Memory(cache)
    ids: dict[str, str] = {}
    for rel in paths:
        blob = _id(root / rel, rel, memory)
        if blob is not None:
            ids[rel] = blob
    memory.save()
    return ids


class _Memory:
    """The remembered ids, read only when a large file asks (a hook checking small files
    never opens the cache) and written back only when they changed."""

    def __init__(self, cache: Path | None):
        self.cache, self._known, self.changed = cache, None, False

    @property
    def known(self) -> dict[str, list]:
        if self._known is None:
            self._known = _load(self.cache) if self.cache is not None else {}
        return self._known

    def put(self, rel: str, entry: list | None) -> None:
        if self.known.get(rel) != entry:
            if entry is None:
                del self.known[rel]
            else:
                self.known[rel] = entry
            self.changed = True

    def save(self) -> None:
        if self.changed and self.cache is not None:
            _save(self.cache, self.known)


def cache_file(repo) -> Path | None:
    """Where ``repo`` remembers blob ids: None for a bare repository (it has no files), and
    where gitgov was never set up (a check there must leave nothing behind)."""
    if repo is None or repo.bare or not repo.state_dir.is_dir():
        return None
    return repo.state_dir / "cache" / "blob-ids.json"


def _stamp(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns]


def _id(path: Path, rel: str, memory: _Memory) -> str | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    if st.st_size < CACHED_FROM:
        return blob_id(path)
    entry = memory.known.get(rel)
    if entry is not None and entry[:4] == _stamp(st):
        return entry[4]
    hashed_at = time.time_ns()
    blob = blob_id(path)
    try:
        unchanged = _stamp(os.stat(path)) == _stamp(st)  # not written while it was hashed
    except OSError:
        unchanged = False
    # Nor just before: a same-size write in the same tick as the hashing would go unseen.
    settled = max(st.st_mtime_ns, st.st_ctime_ns) < hashed_at - RACY_NS
    memory.put(rel, [*_stamp(st), blob] if blob is not None and unchanged and settled else None)
    return blob


def _load(cache: Path) -> dict[str, list]:
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet, or cut short: it is only a cache
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items()
            if isinstance(v, list) and len(v) == 5 and all(isinstance(x, int) for x in v[:4])
            and isinstance(v[4], str)}


def _save(cache: Path, known: dict[str, list]) -> None:
    if len(known) > MAX_ENTRIES:  # the files changed longest ago (by ctime) go first
        keep = sorted(known.items(), key=lambda kv: kv[1][3])[-MAX_ENTRIES:]
        known = dict(keep)
    write_whole(cache, json.dumps(known, separators=(",", ":")))  # read-only: hash again next time
