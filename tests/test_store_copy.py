"""Storing large files in copy mode: the copy runs in steps on a thread while the
object is hashed as it lands; when the kernel or the file system cannot help, one
pass in Python does both."""
from __future__ import annotations

import errno
import hashlib
import mmap
import os

from gitgov.core import store as store_mod
from gitgov.core import store_copy
from gitgov.core.store import ObjectStore


def _big(tmp_path, size: int):
    data = os.urandom(size)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    return src, data


def test_a_copy_in_several_steps_is_named_by_the_hash_of_its_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(store_copy, "STEP", 4 << 20)  # 9 MiB: three steps, the last one short
    src, data = _big(tmp_path, (9 << 20) + 123)
    objects = ObjectStore(tmp_path / "objects", link="copy")
    stored = objects.put(src)
    assert stored.how == "copy" and stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert objects.path(stored.sha256).read_bytes() == data
    assert not list((tmp_path / "objects" / "tmp").iterdir())  # nothing left half-written


def test_when_the_kernel_cannot_copy_the_file_is_copied_in_one_pass(tmp_path, monkeypatch):
    def refuse(*_args, **_kw):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", refuse)
    src, data = _big(tmp_path, 9 << 20)
    stored = ObjectStore(tmp_path / "objects", link="copy").put(src)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert ObjectStore(tmp_path / "objects").path(stored.sha256).read_bytes() == data


def test_when_the_copy_cannot_be_mapped_it_is_read_to_be_hashed(tmp_path, monkeypatch):
    def no_map(*_args, **_kw):
        raise OSError(errno.ENODEV, "No such device")

    monkeypatch.setattr(mmap, "mmap", no_map)
    src, data = _big(tmp_path, 9 << 20)
    stored = ObjectStore(tmp_path / "objects", link="copy").put(src)
    assert stored.sha256 == hashlib.sha256(data).hexdigest() and stored.size == len(data)


def test_a_failing_copy_is_reported_with_the_file_and_leaves_no_object(tmp_path, monkeypatch):
    import pytest

    calls = []

    def fail_later(src, dst, count, offset_src=None, offset_dst=None):
        calls.append(count)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return os.pwrite(dst, os.pread(src, count, offset_src), offset_dst)

    monkeypatch.setattr(store_copy, "STEP", 4 << 20)
    monkeypatch.setattr(os, "copy_file_range", fail_later)
    src, _data = _big(tmp_path, 9 << 20)
    objects = ObjectStore(tmp_path / "objects", link="copy")
    with pytest.raises(store_mod.StoreError, match=r"cannot store .*big\.bin: No space left on device"):
        objects.put(src)
    assert list(objects.digests()) == [] and not list((tmp_path / "objects" / "tmp").iterdir())
