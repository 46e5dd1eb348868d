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

import os
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

from .errors import InputError
from .store_copy import CHUNK, Digest, copy_hashing, hash_file, kernel_copy, reflink

__all__ = ["LINK_MODES", "Digest", "ObjectStore", "StoreError", "Stored", "hash_file"]

LINK_MODES = ("auto", "hardlink", "copy")


class StoreError(InputError):
    """The store or its remote cannot do what was asked; the message says which object."""


class Stored(NamedTuple):
    sha256: str
    size: int
    how: str  # present | reflink | hardlink | copy | bytes


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
            if mode != "copy" and reflink(src, tmp):
                digest, how = known or hash_file(tmp), "reflink"  # the clone: exactly the bytes kept
            elif known is not None:  # hashed just now by the caller: copying is all that is left
                kernel_copy(src, tmp)
                digest, how = known, "copy"
            else:
                digest, how = copy_hashing(src, tmp), "copy"
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
        import hashlib  # only here: see store_copy

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
        if link != "copy" and reflink(src, dest):
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

    def check_remote(self, *, must_exist: bool = True) -> None:
        """Raise StoreError unless [store] remote names a folder pyarrow can open: one that
        exists, unless ``must_exist`` is false (a push creates it)."""
        from pyarrow import fs as pafs

        filesystem, base = self._remote()
        with self._remote_errors():
            kind = filesystem.get_file_info(base).type
        if kind == pafs.FileType.File:
            raise StoreError(f"[store] remote {self.remote_uri}: not a folder")
        if must_exist and kind == pafs.FileType.NotFound:
            raise StoreError(f"[store] remote {self.remote_uri}: no such folder (nothing was pushed there yet)")

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

    @contextmanager
    def _remote_errors(self) -> Iterator[None]:
        """What the remote's file system raises, as one line naming the remote."""
        import pyarrow as pa

        try:
            yield
        except (OSError, pa.ArrowException) as exc:
            raise StoreError(f"[store] remote {self.remote_uri}: {exc}") from None

    def remote_has(self, digests: Iterable[str]) -> set[str]:
        from pyarrow import fs as pafs

        filesystem, base = self._remote()
        wanted = list(digests)
        with self._remote_errors():
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
            partial = f"{target}.partial-{os.getpid()}"
            with self._remote_errors():
                filesystem.create_dir(f"{base}/{digest[:2]}", recursive=True)
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
            try:
                with self._remote_errors(), \
                        filesystem.open_input_stream(f"{base}/{digest[:2]}/{digest[2:]}") as src, \
                        open(tmp, "wb") as out:
                    shutil.copyfileobj(src, out, CHUNK)
            except BaseException:
                tmp.unlink(missing_ok=True)  # no half object left in the store's tmp folder
                raise
            if hash_file(tmp).sha256 != digest:
                tmp.unlink(missing_ok=True)
                raise StoreError(f"object {digest[:12]} on the remote is corrupt (its bytes do not "
                                 "match its name); it was not used")
            self._commit(tmp, digest)
            fetched.append(digest)
        return fetched
