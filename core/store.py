"""The content-addressed object store in .gitgov/objects.

It keeps the bytes that Git does not: run outputs, untracked inputs, the
uncommitted diff of a run, registered models. An object is named by the
SHA-256 of its content (objects/ab/cdef...), so the same bytes are kept once
however often they are stored.

Storing a file links it in when it can and copies it otherwise:
- ``auto``: a reflink (copy-on-write clone: instant, and the two files stay
  independent), else a copy;
- ``hardlink``: a hard link where the file system allows one, else as auto.
  The object and the workspace file are then one inode, so its write bits are
  taken away (as DVC's protected mode does): a later in-place write would
  otherwise change the object's bytes under its name. Root ignores those bits,
  and a user may force the write: the check below is the real guard;
- ``copy``: always a plain copy.

Objects are written to a temporary name and renamed into place, so a reader
never sees half an object, and they are made read-only.

Whatever the store hands out is hashed on the way: a restore, the bytes read,
an upload to the remote, a download from it. An object whose bytes no longer
hash to its name is refused (CorruptObject names it, and the workspace file it
still shares its inode with, if any) and removed, with a note (bad/<digest>)
that says when and why, so that a later reader is told it is missing rather
than given wrong bytes. ``put`` neither hashes what is already there nor
writes anything beside the object: storing stays as fast as the copy or the link.

An optional remote (``[store] remote`` in gitgov.toml) is any pyarrow file
system: a local or mounted folder, or an S3-compatible bucket.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

from .errors import InputError
from .store_copy import Digest, copy_hashing, hash_file, kernel_copy, reflink

__all__ = ["LINK_MODES", "CorruptObject", "Digest", "ObjectStore", "StoreError", "Stored", "hash_file"]

LINK_MODES = ("auto", "hardlink", "copy")
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
NO_WRITE = ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)  # a-w: a linked program stays runnable


class StoreError(InputError):
    """The store or its remote cannot do what was asked; the message says which object."""


class CorruptObject(StoreError):
    """An object's bytes no longer hash to its name; it has been removed from the store."""

    def __init__(self, message: str, digest: str):
        super().__init__(message)
        self.digest = digest


class Stored(NamedTuple):
    sha256: str
    size: int
    how: str  # present | reflink | hardlink | copy | bytes


class ObjectStore:
    """One repository's objects, and optionally the remote they are shared through."""

    def __init__(self, root: Path, *, link: str = "auto", remote: str | None = None,
                 workspace: Path | None = None):
        if link not in LINK_MODES:
            raise StoreError(f"[store] link must be one of {', '.join(LINK_MODES)}, not {link!r}")
        self.root = Path(root)
        self.link = link
        self.remote_uri = remote
        self.workspace = Path(workspace) if workspace is not None else None  # where linked files live

    @classmethod
    def for_repo(cls, repo, policy=None) -> "ObjectStore":
        """The store in the repository's state dir, configured by ``[store]``."""
        settings = dict((policy.raw if policy is not None else {}).get("store", {}))
        remote = settings.get("remote")
        if remote and "://" not in remote and not os.path.isabs(remote):
            remote = str((Path(repo.root) / remote).resolve())  # relative to the repository
        return cls(repo.state_dir / "objects", link=settings.get("link", "auto"), remote=remote,
                   workspace=repo.root)

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

    def _commit(self, tmp: Path, digest: str, *, mode: int = READ_ONLY) -> bool:
        """Move a finished temporary file into place; False if the object was there."""
        final = self.path(digest)
        if final.is_file():
            tmp.unlink(missing_ok=True)
            return False
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, mode)
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
        self._commit(tmp, digest.sha256, mode=stat.S_IMODE(os.stat(tmp).st_mode) & NO_WRITE)
        return Stored(digest.sha256, digest.size, "hardlink")

    @staticmethod
    def _note(path: Path, text: str) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text + "\n", encoding="utf-8", errors="surrogateescape")
        except OSError:
            pass  # a note only helps a later message

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
        """The object's bytes, checked against its name."""
        import hashlib  # only here: see store_copy

        try:
            data = self.path(digest).read_bytes()
        except FileNotFoundError:
            raise StoreError(f"object {digest[:12]} is not in the store") from None
        now = hashlib.sha256(data).hexdigest()
        if now != digest:
            raise self._discard(digest, now)
        return data

    def restore(self, digest: str, dest: Path | str, *, link: str = "auto") -> str:
        """Put an object's bytes at ``dest``, checked against its name (CorruptObject if
        they do not match: nothing is left at ``dest`` and the object is removed).

        A hard link gives a read-only file that shares the object's inode; a
        reflink or a copy gives an independent, writable one. The check costs one
        hash of the bytes; a copy hashes them as they land, in the same pass.
        """
        src, dest = self.path(digest), Path(dest)
        if not src.is_file():
            raise StoreError(f"object {digest[:12]} is not in the store")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.unlink(missing_ok=True)
        how = None
        if link == "hardlink":
            try:
                os.link(src, dest)
                how = "hardlink"
            except OSError:
                pass
        if how is None and link != "copy" and reflink(src, dest):
            how = "reflink"
        if how is None:
            now = copy_hashing(src, dest).sha256  # the copy's own bytes, hashed as they land
            how = "copy"
        else:
            now = hash_file(dest).sha256
        if now != digest:
            dest.unlink(missing_ok=True)
            raise self._discard(digest, now)
        if how != "hardlink":
            os.chmod(dest, 0o644)
        return how

    def linked_with(self, digest: str) -> str | None:
        """A file of the workspace that is the object's inode (a hard link), if there is one.

        Only asked when an object turned out corrupt, so nothing is noted when
        objects are stored: the workspace is walked, by the inode numbers its
        folders list (no stat per file), skipping .git and the store's folder.
        """
        try:
            st = os.stat(self.path(digest))
        except OSError:
            return None
        if st.st_nlink < 2 or self.workspace is None:
            return None
        skip = {os.path.abspath(p) for p in (self.workspace / ".git", self.workspace / ".gitgov", self.root)}
        pending = [os.path.abspath(self.workspace)]
        while pending:
            try:
                entries = list(os.scandir(pending.pop()))
            except OSError:
                continue
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if entry.path not in skip:
                            pending.append(entry.path)
                    elif entry.inode() == st.st_ino and entry.stat(follow_symlinks=False).st_dev == st.st_dev:
                        return os.path.relpath(entry.path, self.workspace)
                except OSError:
                    continue
        return None

    def bad_note(self, digest: str) -> Path:
        """Where the store says why it removed an object as corrupt."""
        return self.root / "bad" / digest

    def why_missing(self, digest: str) -> str | None:
        """Why an object is gone, when the store removed it as corrupt."""
        try:
            return self.bad_note(digest).read_text(encoding="utf-8", errors="surrogateescape").strip()
        except OSError:
            return None

    def _discard(self, digest: str, found: str) -> CorruptObject:
        """Remove an object whose bytes hash to ``found``; the error to raise, naming it."""
        import time

        linked = self.linked_with(digest)
        how = ""
        if linked:
            how = (f"; it is a hard link to {linked}, which was written after it was stored "
                   "(hard-linked files are read-only, but root, or a user forcing the write, "
                   "can still change them)")
        self.remove(digest)
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self._note(self.bad_note(digest), f"removed as corrupt on {when}: its bytes hashed to "
                                          f"{found[:12]}{how}")
        return CorruptObject(f"object {digest[:12]} is corrupt: its bytes hash to {found[:12]}, not to its "
                             f"name{how}. It was removed from the store and was not used", digest)

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

    def check(self, digest: str) -> None:
        """Raise CorruptObject (and remove the object) unless its bytes hash to its name."""
        if self.has(digest):
            now = hash_file(self.path(digest)).sha256
            if now != digest:
                raise self._discard(digest, now)

    # ---- remote (store_remote.py) -------------------------------------------

    def check_remote(self, *, must_exist: bool = True) -> None:
        from . import store_remote

        store_remote.check_remote(self, must_exist=must_exist)

    def remote_has(self, digests: Iterable[str]) -> set[str]:
        from . import store_remote

        return store_remote.remote_has(self, digests)

    def push(self, digests: Iterable[str]) -> tuple[int, int]:
        from . import store_remote

        return store_remote.push(self, digests)

    def pull(self, digests: Iterable[str]) -> list[str]:
        from . import store_remote

        return store_remote.pull(self, digests)
