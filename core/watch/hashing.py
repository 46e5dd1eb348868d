"""Reading a file once: its SHA-256 and its Git blob id in one pass.

The Git blob id lets the daemon recognise a version that a commit hook
recorded by blob only, without running git. A file that changes, vanishes or
is replaced while it is read raises instead of yielding a hash of bytes that
never existed together on disk.
"""
from __future__ import annotations

import errno
import hashlib
import mmap
import os
import stat as statmod
from typing import NamedTuple

BUFFER = 1 << 20  # page-aligned (mmap) buffers read about 3x faster than a bytearray
SMALL = 1 << 16


class Unhashable(Exception):
    """The file could not be read as one consistent version."""


class Vanished(Unhashable):
    """Deleted before or while it was read."""


class Changed(Unhashable):
    """Written to, truncated or replaced while it was read."""


class Unreadable(Unhashable):
    """Cannot be read at all (permission, symlink loop, not a regular file)."""


class Stat(NamedTuple):
    """What a cheap stat says about a version: equal Stats mean unchanged bytes.

    Tuples, not dataclasses: a scan builds one per file and compares it with
    the cache, and tuples are several times cheaper to make and compare."""

    size: int
    mtime_ns: int
    ino: int

    @classmethod
    def of(cls, st: os.stat_result) -> "Stat":
        return cls(st.st_size, st.st_mtime_ns, st.st_ino)


class Hashed(NamedTuple):
    stat: Stat
    sha256: str
    blob: str  # git's object id for these bytes


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return exc.strerror or str(exc)


def stat_file(path: str | os.PathLike) -> Stat:
    """Stat following symlinks; Vanished or Unreadable instead of OSError."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise Vanished("no longer exists") from None
    except OSError as exc:
        raise Unreadable(_reason(exc)) from None
    if not statmod.S_ISREG(st.st_mode):
        raise Unreadable("not a regular file")
    return Stat.of(st)


def stat_or_reason(path: str | os.PathLike) -> Stat | str:
    """A Stat, or "gone", or the reason the file cannot be read."""
    try:
        return stat_file(path)
    except Vanished:
        return "gone"
    except Unhashable as exc:
        return str(exc)


def _open(path: str | os.PathLike) -> int:
    try:
        # O_NONBLOCK: a FIFO named like data must not hang the daemon on open.
        return os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise Vanished("no longer exists") from None
    except OSError as exc:
        raise Unreadable(_reason(exc)) from None


def _digest(fd: int, size: int) -> tuple[str, str, int]:
    sha, blob = hashlib.sha256(), hashlib.sha1(b"blob %d\0" % size)
    total = 0
    if size < SMALL:
        while chunk := os.read(fd, SMALL):
            sha.update(chunk)
            blob.update(chunk)
            total += len(chunk)
        return sha.hexdigest(), blob.hexdigest(), total
    with mmap.mmap(-1, BUFFER) as buf, os.fdopen(os.dup(fd), "rb", buffering=0) as stream:
        view = memoryview(buf)
        try:
            while n := stream.readinto(view):
                part = view[:n]
                sha.update(part)
                blob.update(part)
                total += n
                part.release()
        finally:
            view.release()
    return sha.hexdigest(), blob.hexdigest(), total


def hash_file(path: str | os.PathLike) -> Hashed:
    """Hash one consistent version of the file at `path`."""
    fd = _open(path)
    try:
        st = os.fstat(fd)
        if not statmod.S_ISREG(st.st_mode):
            raise Unreadable("not a regular file")
        before = Stat.of(st)
        try:
            sha, blob, total = _digest(fd, before.size)
        except OSError as exc:
            raise Unreadable(_reason(exc)) from None
        if Stat.of(os.fstat(fd)) != before or total != before.size:
            raise Changed("changed while it was read")
    finally:
        os.close(fd)
    try:
        now = Stat.of(os.stat(path))
    except FileNotFoundError:
        raise Vanished("deleted while it was read") from None
    except OSError as exc:
        raise Unreadable(_reason(exc)) from None
    if now != before:
        raise Changed("replaced while it was read")
    return Hashed(before, sha, blob)
