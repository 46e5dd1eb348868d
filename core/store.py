"""The content-addressed object store in .gitgov/objects.

It keeps the bytes that Git does not: run outputs, untracked inputs, the
uncommitted diff of a run, registered models. An object is named by the
SHA-256 of its content (objects/ab/cdef...), so the same bytes are kept once
however often they are stored.

Storing a file links it in when it can and copies it otherwise:
- ``auto``: a reflink (copy-on-write clone: instant, and the two files stay
  independent), else a copy;
- ``hardlink``: a hard link where the file system allows one, else as auto.
  The object and the workspace file are then one inode, so both are made
  read-only: a later in-place write would otherwise corrupt the store;
- ``copy``: always a plain copy.

Objects are written to a temporary name and renamed into place, so a reader
never sees half an object, and they are made read-only.

An optional remote (``[store] remote`` in gitgov.toml) is any pyarrow file
system: a local or mounted folder, or an S3-compatible bucket.
"""
from __future__ import annotations

import errno
import hashlib
import mmap
import os
import stat
import sys
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

from .errors import InputError

LINK_MODES = ("auto", "hardlink", "copy")
CHUNK = 1 << 20
PARALLEL_MIN = 8 << 20  # below this a thread costs more than it saves
STEP = 64 << 20  # what the copying thread hands the hashing one at a time (page-aligned)
_FICLONE = 0x40049409  # Linux ioctl: clone a file's extents (btrfs, xfs, ...)
# copy_file_range cannot copy between these two files (old kernel, other file systems, ...)
_NO_COPY_RANGE = {getattr(errno, n) for n in ("EXDEV", "ENOSYS", "EINVAL", "EOPNOTSUPP", "ENOTSUP", "EPERM")
                  if hasattr(errno, n)}


class StoreError(InputError):
    """The store or its remote cannot do what was asked; the message says which object."""


class Digest(NamedTuple):  # NamedTuples: defined faster than dataclasses at start-up
    """What hashing a file found: its SHA-256, its size, and Git's blob id if asked."""

    sha256: str
    size: int
    blob: str | None = None


class Stored(NamedTuple):
    sha256: str
    size: int
    how: str  # present | reflink | hardlink | copy | bytes


def hash_file(path: Path | str, *, blob: bool = False) -> Digest:
    """SHA-256 (and Git's blob id, which links the file to commits) in one read."""
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


def _reflink(src: Path, dst: Path) -> bool:
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


def _kernel_copy(src: Path, dst: Path) -> None:
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
    sha, size = hashlib.sha256(), 0
    with open(src, "rb", buffering=0) as s, open(dst, "wb") as d:
        while chunk := s.read(CHUNK):
            sha.update(chunk)
            d.write(chunk)
            size += len(chunk)
    return Digest(sha.hexdigest(), size)


def _copy_hashing(src: Path, dst: Path) -> Digest:
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


class ObjectStore:
    """One repository's objects, and optionally the remote they are shared through."""

    def __init__(self, root: Path, *, link: str = "auto", remote: str | None = None):
        if link not in LINK_MODES:
            raise StoreError(f"[store] link must be one of {', '.join(LINK_MODES)}, not {link!r}")
        self.root = Path(root)
        self.link = link
        self.remote_uri = remote

    @classmethod
    def for_repo(cls, repo, policy=None) -> "ObjectStore":
        """The store in the repository's state dir, configured by ``[store]``."""
        settings = dict((policy.raw if policy is not None else {}).get("store", {}))
        remote = settings.get("remote")
        if remote and "://" not in remote and not os.path.isabs(remote):
            remote = str((Path(repo.root) / remote).resolve())  # relative to the repository
        return cls(repo.state_dir / "objects", link=settings.get("link", "auto"), remote=remote)

    # ---- local objects ---------------------------------------------------

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:]

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def _tmp(self) -> Path:
        import tempfile

        tmp = self.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp, prefix="in-")
        os.close(fd)
        os.unlink(name)
        return Path(name)

    def _commit(self, tmp: Path, digest: str) -> bool:
        """Move a finished temporary file into place; False if the object was there."""
        final = self.path(digest)
        if final.is_file():
            tmp.unlink(missing_ok=True)
            return False
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        os.replace(tmp, final)
        return True

    def put(self, src: Path | str, *, link: str | None = None, known: Digest | None = None) -> Stored:
        """Store a file's bytes; returns its digest and how it was stored."""
        src = Path(src)
        mode = link or self.link
        if known is not None and self.has(known.sha256):
            return Stored(known.sha256, known.size, "present")
        if mode == "hardlink":
            stored = self._put_hardlink(src, known)
            if stored is not None:
                return stored
        tmp = self._tmp()
        try:
            if mode != "copy" and _reflink(src, tmp):
                digest, how = known or hash_file(tmp), "reflink"  # the clone: exactly the bytes kept
            elif known is not None:  # hashed just now by the caller: copying is all that is left
                _kernel_copy(src, tmp)
                digest, how = known, "copy"
            else:
                digest, how = _copy_hashing(src, tmp), "copy"
            return Stored(digest.sha256, digest.size, how if self._commit(tmp, digest.sha256) else "present")
        except OSError as exc:
            raise StoreError(f"cannot store {src}: {exc.strerror or exc}") from None
        finally:
            tmp.unlink(missing_ok=True)

    def _put_hardlink(self, src: Path, known: Digest | None) -> Stored | None:
        digest = known or hash_file(src)
        if self.has(digest.sha256):
            return Stored(digest.sha256, digest.size, "present")
        tmp = self._tmp()
        try:
            os.link(src, tmp)
        except OSError:
            return None  # another file system, or links not allowed: copy instead
        self._commit(tmp, digest.sha256)
        return Stored(digest.sha256, digest.size, "hardlink")

    def put_bytes(self, data: bytes) -> Stored:
        digest = hashlib.sha256(data).hexdigest()
        if self.has(digest):
            return Stored(digest, len(data), "present")
        tmp = self._tmp()
        tmp.write_bytes(data)
        self._commit(tmp, digest)
        return Stored(digest, len(data), "bytes")

    def read_bytes(self, digest: str) -> bytes:
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError:
            raise StoreError(f"object {digest[:12]} is not in the store") from None

    def restore(self, digest: str, dest: Path | str, *, link: str = "auto") -> str:
        """Put an object's bytes at ``dest``; hard links give read-only files."""
        src, dest = self.path(digest), Path(dest)
        if not src.is_file():
            raise StoreError(f"object {digest[:12]} is not in the store")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.unlink(missing_ok=True)
        if link == "hardlink":
            try:
                os.link(src, dest)
                return "hardlink"
            except OSError:
                pass
        if link != "copy" and _reflink(src, dest):
            os.chmod(dest, 0o644)
            return "reflink"
        import shutil

        shutil.copyfile(src, dest)
        os.chmod(dest, 0o644)
        return "copy"

    def remove(self, digest: str) -> int:
        path = self.path(digest)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size

    def digests(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for sub in sorted(self.root.iterdir()):
            if len(sub.name) != 2 or not sub.is_dir():
                continue
            for obj in sorted(sub.iterdir()):
                if len(obj.name) == 62:
                    yield sub.name + obj.name

    def verify(self, digest: str) -> bool:
        """Whether the object's bytes still hash to its name."""
        return self.has(digest) and hash_file(self.path(digest)).sha256 == digest

    # ---- remote ------------------------------------------------------------

    def _remote(self):
        if not self.remote_uri:
            raise StoreError("no remote configured: set [store] remote in gitgov.toml "
                             "(a folder, or s3://bucket/prefix)")
        from pyarrow import fs as pafs

        try:
            filesystem, base = pafs.FileSystem.from_uri(self.remote_uri)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises ArrowInvalid, OSError, ...
            raise StoreError(f"[store] remote {self.remote_uri!r} is not usable: {exc}") from None
        return filesystem, base.rstrip("/")

    def remote_has(self, digests: Iterable[str]) -> set[str]:
        from pyarrow import fs as pafs

        filesystem, base = self._remote()
        wanted = list(digests)
        infos = filesystem.get_file_info([f"{base}/{d[:2]}/{d[2:]}" for d in wanted])
        return {d for d, info in zip(wanted, infos) if info.type == pafs.FileType.File}

    def push(self, digests: Iterable[str]) -> tuple[int, int]:
        """Upload objects the remote lacks; returns (sent, already there)."""
        import shutil

        filesystem, base = self._remote()
        local = [d for d in dict.fromkeys(digests) if self.has(d)]
        there = self.remote_has(local)
        sent = 0
        for digest in local:
            if digest in there:
                continue
            target = f"{base}/{digest[:2]}/{digest[2:]}"
            filesystem.create_dir(f"{base}/{digest[:2]}", recursive=True)
            partial = f"{target}.partial-{os.getpid()}"
            with open(self.path(digest), "rb") as src, filesystem.open_output_stream(partial) as out:
                shutil.copyfileobj(src, out, CHUNK)
            filesystem.move(partial, target)  # readers never see half an object
            sent += 1
        return sent, len(there)

    def pull(self, digests: Iterable[str]) -> list[str]:
        """Download the objects the remote has and this store lacks; returns those fetched."""
        import shutil

        missing = [d for d in dict.fromkeys(digests) if not self.has(d)]
        if not missing:
            return []
        filesystem, base = self._remote()
        fetched = []
        for digest in self.remote_has(missing):
            tmp = self._tmp()
            with filesystem.open_input_stream(f"{base}/{digest[:2]}/{digest[2:]}") as src, \
                    open(tmp, "wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
            if hash_file(tmp).sha256 != digest:
                tmp.unlink(missing_ok=True)
                raise StoreError(f"object {digest[:12]} on the remote is corrupt (its bytes do not "
                                 "match its name); it was not used")
            self._commit(tmp, digest)
            fetched.append(digest)
        return fetched
