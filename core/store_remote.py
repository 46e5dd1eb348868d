"""The object store's optional remote: any pyarrow file system (a local or mounted
folder, an S3-compatible bucket), set by ``[store] remote`` in gitgov.toml.

Objects go up hashed as they are sent and come down hashed before they are
used, so a corrupt object never moves in either direction.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterable, Iterator

from .store import CorruptObject, StoreError
from .store_copy import CHUNK

if TYPE_CHECKING:
    from .store import ObjectStore

REMOTE_RETRY_S = 20  # how long a cloud remote that does not answer is retried


def check_remote(store: "ObjectStore", *, must_exist: bool = True) -> None:
    """Raise StoreError unless [store] remote names a folder pyarrow can open: one that
    exists, unless ``must_exist`` is false (a push creates it)."""
    from pyarrow import fs as pafs

    filesystem, base = _remote(store)
    with _remote_errors(store):
        kind = filesystem.get_file_info(base).type
    if kind == pafs.FileType.File:
        raise StoreError(f"[store] remote {store.remote_uri}: not a folder")
    if must_exist and kind == pafs.FileType.NotFound:
        raise StoreError(f"[store] remote {store.remote_uri}: no such folder (nothing was pushed there yet)")
    if kind == pafs.FileType.NotFound and isinstance(filesystem, pafs.LocalFileSystem):
        parent = os.path.dirname(base)
        if parent and not os.path.isdir(parent):  # a push makes the folder, not a whole path
            raise StoreError(f"[store] remote {store.remote_uri}: its parent folder {parent} does "
                             "not exist; create it (or correct the path) first")


def _remote(store: "ObjectStore"):
    if not store.remote_uri:
        raise StoreError("no remote configured: set [store] remote in gitgov.toml "
                         "(a folder, or s3://bucket/prefix)")
    from pyarrow import fs as pafs

    try:
        filesystem, base = pafs.FileSystem.from_uri(store.remote_uri)
        if isinstance(filesystem, getattr(pafs, "GcsFileSystem", ())) and "?" not in store.remote_uri:
            # Its default retries a bucket it cannot reach for 15 minutes: say so in seconds
            # (a URI with options, such as an endpoint, keeps them and pyarrow's retries).
            import datetime

            filesystem = pafs.GcsFileSystem(retry_time_limit=datetime.timedelta(seconds=REMOTE_RETRY_S))
    except Exception as exc:  # noqa: BLE001 - pyarrow raises ArrowInvalid, OSError, ...
        raise StoreError(f"[store] remote {store.remote_uri!r} is not usable: {exc}") from None
    return filesystem, base.rstrip("/")


@contextmanager
def _remote_errors(store: "ObjectStore") -> Iterator[None]:
    """What the remote's file system raises, as one line naming the remote."""
    import pyarrow as pa

    try:
        yield
    except (OSError, pa.ArrowException) as exc:
        raise StoreError(f"[store] remote {store.remote_uri}: {exc}") from None


def remote_has(store: "ObjectStore", digests: Iterable[str]) -> set[str]:
    from pyarrow import fs as pafs

    filesystem, base = _remote(store)
    wanted = list(digests)
    with _remote_errors(store):
        infos = filesystem.get_file_info([f"{base}/{d[:2]}/{d[2:]}" for d in wanted])
    return {d for d, info in zip(wanted, infos) if info.type == pafs.FileType.File}


def push(store: "ObjectStore", digests: Iterable[str]) -> tuple[int, int]:
    """Upload objects the remote lacks; returns (sent, already there).

    Each object is hashed as it is sent; one whose bytes no longer match its
    name is not moved into place on the remote, and is removed here. The
    others are still sent, then CorruptObject names the ones refused.
    """
    filesystem, base = _remote(store)
    local = [d for d in dict.fromkeys(digests) if store.has(d)]
    there = remote_has(store, local)
    sent, corrupt = 0, []
    for digest in local:
        if digest in there:
            continue
        target = f"{base}/{digest[:2]}/{digest[2:]}"
        partial = f"{target}.partial-{os.getpid()}"
        with _remote_errors(store):
            filesystem.create_dir(f"{base}/{digest[:2]}", recursive=True)
            now = _upload(store, digest, filesystem, partial)
            if now != digest:
                filesystem.delete_file(partial)
                corrupt.append(store._discard(digest, now))
                continue
            filesystem.move(partial, target)  # readers never see half an object
        sent += 1
    if corrupt:
        more = f" ({len(corrupt) - 1} more corrupt object(s) were refused too)" if len(corrupt) > 1 else ""
        raise CorruptObject(f"{corrupt[0]}{more}; {sent} other object(s) were sent", corrupt[0].digest)
    return sent, len(there)


def _upload(store: "ObjectStore", digest: str, filesystem, dest: str) -> str:
    """Copy an object to the remote, hashing what is sent; returns that hash."""
    import hashlib

    sha = hashlib.sha256()
    with open(store.path(digest), "rb", buffering=0) as src, filesystem.open_output_stream(dest) as out:
        while chunk := src.read(CHUNK):
            sha.update(chunk)
            out.write(chunk)
    return sha.hexdigest()


def pull(store: "ObjectStore", digests: Iterable[str]) -> list[str]:
    """Download the objects the remote has and this store lacks (hashed as they are written);
    returns those fetched."""
    missing = [d for d in dict.fromkeys(digests) if not store.has(d)]
    if not missing:
        return []
    filesystem, base = _remote(store)
    fetched = []
    for digest in remote_has(store, missing):
        tmp = store._tmp()
        try:
            with _remote_errors(store):
                now = _download(filesystem, f"{base}/{digest[:2]}/{digest[2:]}", tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)  # no half object left in the store's tmp folder
            raise
        if now != digest:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"object {digest[:12]} on the remote is corrupt (its bytes do not "
                             "match its name); it was not used")
        store._commit(tmp, digest)
        store.bad_note(digest).unlink(missing_ok=True)  # good bytes again
        fetched.append(digest)
    return fetched


def _download(filesystem, src: str, dest) -> str:
    """Copy an object from the remote, hashing what is written; returns that hash."""
    import hashlib

    sha = hashlib.sha256()
    with filesystem.open_input_stream(src) as stream, open(dest, "wb") as out:
        while chunk := stream.read(CHUNK):
            sha.update(chunk)
            out.write(chunk)
    return sha.hexdigest()


# ---- small text files beside the objects (run records: run_share.py) ----------------

def list_files(store: "ObjectStore", folder: str) -> list[str]:
    """The names of the files in the remote's ``folder`` (none when it does not exist)."""
    from pyarrow import fs as pafs

    filesystem, base = _remote(store)
    with _remote_errors(store):
        if filesystem.get_file_info(f"{base}/{folder}").type != pafs.FileType.Directory:
            return []
        infos = filesystem.get_file_info(pafs.FileSelector(f"{base}/{folder}"))
    return sorted(i.base_name for i in infos if i.type == pafs.FileType.File)


def write_text(store: "ObjectStore", name: str, text: str) -> None:
    """Write ``name`` (a path under the remote) whole: readers see the old file or the new one."""
    filesystem, base = _remote(store)
    target = f"{base}/{name}"
    partial = f"{target}.partial-{os.getpid()}"
    with _remote_errors(store):
        filesystem.create_dir(target.rsplit("/", 1)[0], recursive=True)
        with filesystem.open_output_stream(partial) as out:
            out.write(text.encode("utf-8"))
        filesystem.move(partial, target)


def read_text(store: "ObjectStore", name: str) -> str:
    """The text of ``name`` under the remote; StoreError when it cannot be read as UTF-8."""
    filesystem, base = _remote(store)
    with _remote_errors(store):
        with filesystem.open_input_stream(f"{base}/{name}") as stream:
            data = stream.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StoreError(f"[store] remote {store.remote_uri}: {name}: not UTF-8 text "
                         f"(byte {exc.start})") from None


def uri_of(store: "ObjectStore", name: str) -> str:
    """How messages name a file of the remote."""
    return f"{store.remote_uri.rstrip('/')}/{name}"
