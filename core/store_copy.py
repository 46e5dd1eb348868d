"""How bytes get into the object store: hashed, cloned, or copied in the kernel.

A copy of a large file runs copy_file_range on one thread while this one hashes
what has landed (both on two cores cost about the hash alone); a clone
(reflink) shares the source's extents; a small file is hashed as it is copied.
"""
from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import NamedTuple

# hashlib and mmap are imported where a file is hashed: loading OpenSSL costs ~4 ms,
# and a run that reads and writes no file (its snapshot still opens the store) never
# hashes one.

CHUNK = 1 << 20
PARALLEL_MIN = 8 << 20  # below this a thread costs more than it saves
STEP = 64 << 20  # what the copying thread hands the hashing one at a time (page-aligned)
_FICLONE = 0x40049409  # Linux ioctl: clone a file's extents (btrfs, xfs, ...)
# copy_file_range cannot copy between these two files (old kernel, other file systems, ...)
_NO_COPY_RANGE = {getattr(errno, n) for n in ("EXDEV", "ENOSYS", "EINVAL", "EOPNOTSUPP", "ENOTSUP", "EPERM")
                  if hasattr(errno, n)}


class Digest(NamedTuple):  # NamedTuples: defined faster than dataclasses at start-up
    """What hashing a file found: its SHA-256, its size, and Git's blob id if asked."""

    sha256: str
    size: int
    blob: str | None = None


def hash_file(path: Path | str, *, blob: bool = False) -> Digest:
    """SHA-256 (and Git's blob id, which links the file to commits) in one read."""
    import hashlib
    import mmap

    sha = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size
        git = hashlib.sha1(b"blob %d\0" % size) if blob else None
        buf = mmap.mmap(-1, CHUNK)  # page-aligned: reads into it are much faster
        view = memoryview(buf)
        try:
            while n := f.readinto(buf):
                sha.update(view[:n])
                if git is not None:
                    git.update(view[:n])
        finally:
            view.release()
            buf.close()
    return Digest(sha.hexdigest(), size, git.hexdigest() if git else None)


def reflink(src: Path, dst: Path) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    import fcntl

    try:
        with open(src, "rb") as s, open(dst, "wb") as d:
            fcntl.ioctl(d.fileno(), _FICLONE, s.fileno())
        return True
    except OSError:
        dst.unlink(missing_ok=True)
        return False


def kernel_copy(src: Path, dst: Path) -> None:
    """Copy inside the kernel as cp does: copy_file_range (a clone on btrfs/XFS, a
    server-side copy on NFS), else sendfile through shutil."""
    if hasattr(os, "copy_file_range"):
        with open(src, "rb", buffering=0) as s, open(dst, "wb", buffering=0) as d:
            try:
                while os.copy_file_range(s.fileno(), d.fileno(), 1 << 30):
                    pass
                return
            except OSError as exc:
                if exc.errno not in _NO_COPY_RANGE:
                    raise
    import shutil

    shutil.copyfile(src, dst)  # starts dst over


def _copy_small(src: Path, dst: Path) -> Digest:
    """One read: each chunk is hashed and written, so the object is the hashed bytes."""
    import hashlib

    sha, size = hashlib.sha256(), 0
    with open(src, "rb", buffering=0) as s, open(dst, "wb") as d:
        while chunk := s.read(CHUNK):
            sha.update(chunk)
            d.write(chunk)
            size += len(chunk)
    return Digest(sha.hexdigest(), size)


def copy_hashing(src: Path, dst: Path) -> Digest:
    """Copy in the kernel on one thread while this one hashes the copy as it lands.

    The two overlap on two cores, so storing costs about the hash alone (which
    the run needs anyway). Hashing the object rather than the source also means
    its name is the hash of exactly the bytes it holds, even if the source
    changes meanwhile; and the hash reads pages the copy has just put in the
    cache, through a mapping, so no byte passes through a Python buffer.
    """
    size = src.stat().st_size
    if size < PARALLEL_MIN or not hasattr(os, "copy_file_range"):
        return _copy_small(src, dst)
    with open(src, "rb", buffering=0) as s, open(dst, "w+b", buffering=0) as d:
        copier = _StepCopier(s.fileno(), d.fileno(), size)
        digest = copier.hash_as_copied()
    if copier.failed is None:
        return digest
    if copier.done == 0 and getattr(copier.failed, "errno", None) in _NO_COPY_RANGE:
        return _copy_small(src, dst)  # the kernel cannot copy between these two: one pass here
    raise copier.failed


class _StepCopier:
    """copy_file_range in steps of STEP bytes on a thread; hash_as_copied() follows it."""

    def __init__(self, src_fd: int, dst_fd: int, size: int) -> None:
        import threading

        self.src_fd, self.dst_fd, self.size = src_fd, dst_fd, size
        self.done = 0  # bytes copied so far, published after each step
        self.finished = False
        self.stop = False  # set when hashing failed: the copy is of no use then
        self.failed: BaseException | None = None
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._copy, name="gitgov-store-copy")

    def _copy(self) -> None:
        off = 0
        try:
            while off < self.size and not self.stop:
                end = min(off + STEP, self.size)
                while off < end:
                    n = os.copy_file_range(self.src_fd, self.dst_fd, end - off, off, off)
                    if n == 0:  # the source shrank: the object is what was there
                        end = self.size = off
                        break
                    off += n
                with self._cond:
                    self.done = off
                    self._cond.notify()
        except BaseException as exc:  # noqa: BLE001 - the hashing thread re-raises it
            self.failed = exc
        finally:
            with self._cond:
                self.finished = True
                self._cond.notify()

    def hash_as_copied(self) -> Digest:
        import hashlib

        sha, hashed = hashlib.sha256(), 0
        self._thread.start()
        try:
            while True:
                with self._cond:
                    while self.done == hashed and not self.finished:
                        self._cond.wait()
                    upto, finished = self.done, self.finished
                if upto > hashed:
                    _hash_region(sha, self.dst_fd, hashed, upto - hashed)
                    hashed = upto
                elif finished:
                    break
        finally:
            self.stop = True
            self._thread.join()
        return Digest(sha.hexdigest(), hashed)


def _hash_region(sha, fd: int, offset: int, length: int) -> None:
    """Hash ``length`` bytes of a file at ``offset`` (a multiple of the page size) through
    a mapping: the pages are already in the cache, so mapping them costs little."""
    import mmap

    flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
    try:
        region = mmap.mmap(fd, length, flags=flags, prot=mmap.PROT_READ, offset=offset)
    except OSError:  # a file system that cannot map files: read them
        _hash_read(sha, fd, offset, length)
        return
    view = memoryview(region)
    try:
        for start in range(0, length, CHUNK):
            sha.update(view[start:start + CHUNK])  # hashlib lets go of the interpreter lock
    finally:
        view.release()
        region.close()


def _hash_read(sha, fd: int, offset: int, length: int) -> None:
    end = offset + length
    while offset < end:
        chunk = os.pread(fd, min(CHUNK, end - offset), offset)
        if not chunk:
            raise OSError(errno.EIO, "the copy is shorter than what was copied")
        sha.update(chunk)
        offset += len(chunk)
