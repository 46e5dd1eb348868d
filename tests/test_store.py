"""The content-addressed object store: hashing, linking, restoring, the remote."""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat

import pytest

from gitgov.core.store import ObjectStore, StoreError, hash_file


def test_hash_file_gives_sha256_and_gits_blob_id_in_one_read(tmp_path):
    from conftest import git

    path = tmp_path / "a.csv"
    path.write_bytes(b"id,name\n1,ada\n")
    digest = hash_file(path, blob=True)
    assert digest.sha256 == hashlib.sha256(b"id,name\n1,ada\n").hexdigest() and digest.size == 14
    git(tmp_path, "init", "-q")
    assert digest.blob == git(tmp_path, "hash-object", "a.csv").stdout.strip()


def test_put_stores_once_and_makes_objects_read_only(tmp_path):
    store = ObjectStore(tmp_path / "objects", link="copy")
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"x" * 1000)
    b.write_bytes(b"x" * 1000)
    first, second = store.put(a), store.put(b)
    assert first.how == "copy" and second.how == "present" and first.sha256 == second.sha256
    obj = store.path(first.sha256)
    assert obj.read_bytes() == b"x" * 1000 and not obj.stat().st_mode & stat.S_IWUSR
    assert list(store.digests()) == [first.sha256]
    assert os.stat(a).st_ino != obj.stat().st_ino  # a copy: the workspace file stays independent


def test_hardlink_mode_links_and_protects_both_names(tmp_path):
    store = ObjectStore(tmp_path / "objects", link="hardlink")
    src = tmp_path / "model.bin"
    src.write_bytes(b"weights")
    stored = store.put(src)
    assert stored.how == "hardlink" and src.stat().st_ino == store.path(stored.sha256).stat().st_ino
    assert not src.stat().st_mode & stat.S_IWUSR  # an in-place write would corrupt the store


def test_large_files_are_copied_while_hashed_in_parallel(tmp_path):
    data = os.urandom(9 << 20)  # above the size where the copy runs in its own thread
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    stored = ObjectStore(tmp_path / "objects", link="copy").put(src)
    assert stored.sha256 == hashlib.sha256(data).hexdigest() and stored.size == len(data)
    assert ObjectStore(tmp_path / "objects").verify(stored.sha256)


def test_restore_and_remove(tmp_path):
    store = ObjectStore(tmp_path / "objects")
    digest = store.put_bytes(b"diff --git a/x b/x\n").sha256
    assert store.restore(digest, tmp_path / "out" / "x.diff") in ("copy", "reflink")
    assert (tmp_path / "out" / "x.diff").read_bytes() == b"diff --git a/x b/x\n"
    assert store.remove(digest) == 19 and not store.has(digest)
    with pytest.raises(StoreError, match="is not in the store"):
        store.restore(digest, tmp_path / "again")


def test_remote_push_and_pull_through_a_local_folder(tmp_path):
    remote = tmp_path / "shared"
    remote.mkdir()
    mine = ObjectStore(tmp_path / "mine", remote=str(remote))
    digests = [mine.put_bytes(b"one").sha256, mine.put_bytes(b"two").sha256]
    assert mine.push(digests) == (2, 0) and mine.push(digests) == (0, 2)
    theirs = ObjectStore(tmp_path / "theirs", remote=str(remote))
    assert sorted(theirs.pull(digests)) == sorted(digests)
    assert theirs.read_bytes(digests[0]) == b"one" and theirs.pull(digests) == []


def test_a_corrupt_remote_object_is_refused(tmp_path):
    remote = tmp_path / "shared"
    remote.mkdir()
    digest = ObjectStore(tmp_path / "a", remote=str(remote)).put_bytes(b"good")
    ObjectStore(tmp_path / "a", remote=str(remote)).push([digest.sha256])
    (remote / digest.sha256[:2] / digest.sha256[2:]).write_bytes(b"evil")
    with pytest.raises(StoreError, match="on the remote is corrupt"):
        ObjectStore(tmp_path / "b", remote=str(remote)).pull([digest.sha256])
    assert not ObjectStore(tmp_path / "b").has(digest.sha256)


def test_no_remote_configured_is_a_clear_error(tmp_path):
    store = ObjectStore(tmp_path / "objects")
    with pytest.raises(StoreError, match=r"no remote configured: set \[store\] remote"):
        store.push([store.put_bytes(b"x").sha256])


def test_a_remote_that_cannot_be_written_is_one_error_naming_it(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    remote = str(tmp_path / "a-file" / "shared")  # a folder cannot be made under a file
    store = ObjectStore(tmp_path / "objects", remote=remote)
    digest = store.put_bytes(b"x").sha256
    with pytest.raises(StoreError, match=rf"^\[store\] remote {re.escape(remote)}: "):
        store.push([digest])
    assert not list(tmp_path.rglob("*.partial*"))


def test_store_commands_refuse_a_remote_that_is_a_file_or_missing(initialized):
    from conftest import gitgov

    policy = initialized / "gitgov.toml"
    base = policy.read_text()
    (initialized.parent / "shared.txt").write_text("not a folder\n")
    policy.write_text(base + '\n[store]\nremote = "../shared.txt"\n')
    for command in ("pull", "push"):
        out = gitgov(initialized, "store", command)
        assert out.returncode == 2 and out.stderr.strip().endswith("shared.txt: not a folder"), out.stderr
    policy.write_text(base + '\n[store]\nremote = "../no-such-folder"\n')
    out = gitgov(initialized, "store", "pull")
    assert out.returncode == 2 and "no-such-folder: no such folder" in out.stderr
    assert gitgov(initialized, "store", "push").returncode == 0  # a push may create it
    # ... the folder, not a whole path a typo named
    policy.write_text(base + '\n[store]\nremote = "../no-such-parent/store"\n')
    out = gitgov(initialized, "store", "push")
    assert out.returncode == 2
    assert f"its parent folder {initialized.parent / 'no-such-parent'} does not exist" in out.stderr
    assert not (initialized.parent / "no-such-parent").exists()
    policy.write_text(base + '\n[store]\nremote = "../x\\u0000y"\n')
    out = gitgov(initialized, "store", "push")
    assert out.returncode == 2 and out.stderr.endswith("store.remote: contains a NUL character (\\u0000)\n")


def overwrite_in_place(path, data: bytes) -> None:
    """What a program does when it rewrites a file it may write: the same inode, new bytes.
    The read-only bit stops this for other users but not for root; chmod first, as a
    user forcing the write would, so that the test holds whoever runs it."""
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.truncate(0)
        f.write(data)


def test_hardlink_mode_only_takes_the_write_bits_away(tmp_path):
    store = ObjectStore(tmp_path / "objects", link="hardlink")
    script = tmp_path / "make.sh"
    script.write_text("#!/bin/sh\necho built\n")
    script.chmod(0o755)
    assert store.put(script).how == "hardlink"
    assert stat.S_IMODE(script.stat().st_mode) == 0o555  # still a program the user can run


def test_restore_refuses_an_object_a_hard_link_let_change_and_removes_it(tmp_path):
    from gitgov.core.store import CorruptObject

    store = ObjectStore(tmp_path / "objects", link="hardlink", workspace=tmp_path)
    src = tmp_path / "in.txt"
    src.write_bytes(b"v1\n")
    digest = store.put(src).sha256
    overwrite_in_place(src, b"v2\n")
    for link in ("hardlink", "copy", "auto"):
        store.put(src)  # "v2" is now stored too: it must not hide the corrupt "v1"
        dest = tmp_path / "restored" / link
        try:
            store.restore(digest, dest, link=link)
        except CorruptObject as exc:
            message = str(exc)
            break
    else:
        pytest.fail("a corrupt object was handed out")
    assert f"object {digest[:12]} is corrupt" in message and "a hard link to in.txt" in message
    assert "removed from the store" in message and not dest.exists()
    assert not store.has(digest) and store.why_missing(digest).startswith("removed as corrupt on ")
    with pytest.raises(StoreError, match="is not in the store"):
        store.restore(digest, dest)
    assert src.read_bytes() == b"v2\n"  # the user's file is left as it is


@pytest.mark.parametrize("link", ["hardlink", "copy", "auto"])
def test_every_restore_checks_the_bytes_it_hands_out(tmp_path, link):
    from gitgov.core.store import CorruptObject

    store = ObjectStore(tmp_path / "objects", link="copy")
    digest = store.put_bytes(b"good bytes").sha256
    overwrite_in_place(store.path(digest), b"rotten")
    with pytest.raises(CorruptObject, match=f"object {digest[:12]} is corrupt"):
        store.restore(digest, tmp_path / "out", link=link)
    assert not (tmp_path / "out").exists() and not store.has(digest)


def test_read_bytes_refuses_a_corrupt_object(tmp_path):
    from gitgov.core.store import CorruptObject

    store = ObjectStore(tmp_path / "objects")
    digest = store.put_bytes(b"diff --git a/x b/x\n").sha256
    overwrite_in_place(store.path(digest), b"something else")
    with pytest.raises(CorruptObject):
        store.read_bytes(digest)
    assert not store.has(digest)


def test_push_sends_the_good_objects_and_refuses_a_corrupt_one(tmp_path):
    from gitgov.core.store import CorruptObject

    remote = tmp_path / "shared"
    remote.mkdir()
    store = ObjectStore(tmp_path / "objects", link="hardlink", remote=str(remote), workspace=tmp_path)
    model = tmp_path / "models" / "m.bin"
    model.parent.mkdir()
    model.write_bytes(b"one")
    bad = store.put(model).sha256
    good = store.put_bytes(b"fine").sha256
    overwrite_in_place(model, b"two")
    with pytest.raises(CorruptObject) as caught:
        store.push([bad, good])
    message = str(caught.value)
    assert f"object {bad[:12]} is corrupt" in message and "a hard link to models/m.bin" in message
    assert "1 other object(s) were sent" in message
    assert store.remote_has([bad, good]) == {good} and not store.has(bad)
    assert not list(remote.rglob("*.partial*"))


def test_gc_keeps_an_unrecorded_object_for_an_hour_unless_told_now(initialized):
    """The bytes of a run's output are stored before its record is written: a gc in
    between must not take them (as `git gc` keeps recent loose objects)."""
    from conftest import gitgov

    out = initialized / "model.bin"
    out.write_bytes(b"weights" * 1000)
    digest = ObjectStore(initialized / ".gitgov" / "objects", link="copy").put(out).sha256
    kept = gitgov(initialized, "gc")
    assert kept.returncode == 0, kept.stderr
    assert ("removed 0 object(s), 0.0 MiB; kept 1 (1 named by no record yet, less than an hour old: "
            "`--now` removes them)") in kept.stdout
    assert ObjectStore(initialized / ".gitgov" / "objects").has(digest)
    gone = gitgov(initialized, "gc", "--now", "--json")
    assert gone.returncode == 0 and json.loads(gone.stdout)["removed"] == [digest]


def test_an_object_is_young_by_when_it_was_stored_not_by_its_files_mtime(tmp_path):
    """A hard link keeps the source's mtime, however old; linking changes the ctime."""
    import time

    from gitgov.core.gc import ORPHAN_GRACE_S, is_young

    src = tmp_path / "old_input.csv"
    src.write_text("id\n1\n")
    os.utime(src, (0, 0))  # 1970
    store = ObjectStore(tmp_path / "objects", link="hardlink")
    obj = store.path(store.put(src).sha256)
    assert obj.stat().st_mtime == 0 and obj.stat().st_ino == src.stat().st_ino
    assert is_young(obj, time.time())
    assert not is_young(obj, time.time() + ORPHAN_GRACE_S + 1)
