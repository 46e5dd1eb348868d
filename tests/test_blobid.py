"""Git blob ids of working-tree files, and the stat cache that spares re-hashing large ones."""
from __future__ import annotations

import json
import os
import time

import pytest

from conftest import git, gitgov, governed_repo, write

from gitgov.core import blobid

HOUR_AGO = time.time() - 3600


def _large(root, rel="data/big.csv", fill=b"x", size=blobid.CACHED_FROM + 10, old=True):
    path = write(root, rel, b"id\n" + fill * (size - 4) + b"\n")
    if old:
        os.utime(path, (HOUR_AGO, HOUR_AGO))
    return path


@pytest.fixture
def counted(monkeypatch):
    """How many files blob_ids actually read and hashed. A file a test just wrote counts
    as changed long ago (its ctime is now, and no test waits the racy window out)."""
    monkeypatch.setattr(blobid, "RACY_NS", 0)
    calls = []
    real = blobid.blob_id
    monkeypatch.setattr(blobid, "blob_id", lambda path: calls.append(path) or real(path))
    return calls


def test_ids_are_gits_for_small_and_large_files(tmp_path):
    git(tmp_path, "init", "-q")
    write(tmp_path, "small.csv", "id\n1\n")
    _large(tmp_path, "big.csv")
    ids = blobid.blob_ids(tmp_path, ["small.csv", "big.csv", "missing.csv"], tmp_path / "cache.json")
    assert ids == {p: git(tmp_path, "hash-object", p).stdout.strip() for p in ("small.csv", "big.csv")}


def test_an_unchanged_large_file_is_hashed_once(tmp_path, counted):
    _large(tmp_path)
    cache = tmp_path / "cache.json"
    first = blobid.blob_ids(tmp_path, ["data/big.csv"], cache)
    second = blobid.blob_ids(tmp_path, ["data/big.csv"], cache)
    assert first == second and len(counted) == 1
    assert list(json.loads(cache.read_text())) == ["data/big.csv"]


def test_a_same_size_change_with_its_mtime_put_back_is_seen(tmp_path, counted):
    path = _large(tmp_path)
    cache = tmp_path / "cache.json"
    before = blobid.blob_ids(tmp_path, ["data/big.csv"], cache)["data/big.csv"]
    data = bytearray(path.read_bytes())
    data[5] = ord("y")  # same size; then the old mtime again, as `touch -d` or a copy tool would
    path.write_bytes(bytes(data))
    os.utime(path, (HOUR_AGO, HOUR_AGO))
    after = blobid.blob_ids(tmp_path, ["data/big.csv"], cache)["data/big.csv"]
    assert after != before and len(counted) == 2  # ctime moved: hashed again


def test_a_file_replaced_by_another_of_the_same_size_and_mtime_is_seen(tmp_path, counted):
    path = _large(tmp_path)
    cache = tmp_path / "cache.json"
    before = blobid.blob_ids(tmp_path, ["data/big.csv"], cache)["data/big.csv"]
    other = _large(tmp_path, "data/other.csv", fill=b"z")
    os.replace(other, path)
    assert blobid.blob_ids(tmp_path, ["data/big.csv"], cache)["data/big.csv"] != before
    assert len(counted) == 2


def test_a_file_changed_just_before_it_was_hashed_is_not_remembered(tmp_path, counted, monkeypatch):
    monkeypatch.setattr(blobid, "RACY_NS", 2_000_000_000)
    _large(tmp_path)  # ctime is now: a write in the same tick as the hashing could go unseen
    cache = tmp_path / "cache.json"
    blobid.blob_ids(tmp_path, ["data/big.csv"], cache)
    blobid.blob_ids(tmp_path, ["data/big.csv"], cache)
    assert len(counted) == 2 and not cache.exists()


def test_small_files_are_not_remembered(tmp_path, counted):
    write(tmp_path, "small.csv", "id\n1\n")
    blobid.blob_ids(tmp_path, ["small.csv"], tmp_path / "cache.json")
    assert len(counted) == 1 and not (tmp_path / "cache.json").exists()


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"data/big.csv": [1, 2, "x"]}', ""])
def test_a_damaged_cache_is_ignored_and_rewritten(tmp_path, counted, content):
    _large(tmp_path)
    cache = write(tmp_path, "cache.json", content)
    ids = blobid.blob_ids(tmp_path, ["data/big.csv"], cache)
    assert ids["data/big.csv"] == blobid.blob_id(tmp_path / "data/big.csv")
    assert json.loads(cache.read_text())["data/big.csv"][4] == ids["data/big.csv"]


POLICY = """\
[datasets.big]
paths = ["data/*.csv"]

[datasets.big.columns.v]
pattern = "^x+$"

[plugins]
enable = ["validation"]
"""


def _status(root) -> tuple[int, str]:
    out = gitgov(root, "check", "data/big.csv", "--json")
    return out.returncode, json.loads(out.stdout)["files"][0]["status"]


def test_gitgov_check_of_a_passed_file_changed_in_place_checks_it_again(tmp_path):
    root = governed_repo(tmp_path, POLICY)
    path = write(root, "data/big.csv", "v\n" + ("x" * 99 + "\n") * 11_000)
    os.utime(path, (HOUR_AGO, HOUR_AGO))
    time.sleep(blobid.RACY_NS / 1e9 + 0.1)  # so that its id may be remembered
    assert _status(root) == (0, "pass")
    assert list(json.loads((root / ".gitgov/cache/blob-ids.json").read_text())) == ["data/big.csv"]
    assert _status(root) == (0, "skipped")  # the same bytes passed under the same rules
    data = bytearray(path.read_bytes())
    data[500] = ord("y")  # the same size and, put back, the same mtime: only ctime tells
    path.write_bytes(bytes(data))
    os.utime(path, (HOUR_AGO, HOUR_AGO))
    assert _status(root) == (1, "fail")


def test_a_check_where_gitgov_was_never_set_up_leaves_nothing_behind(tmp_path):
    root = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(root))
    write(root, "gitgov.toml", POLICY)
    path = write(root, "data/big.csv", "v\n" + ("x" * 99 + "\n") * 11_000)
    os.utime(path, (HOUR_AGO, HOUR_AGO))
    time.sleep(blobid.RACY_NS / 1e9 + 0.1)  # old enough to be remembered, were there a place
    assert _status(root) == (0, "pass")
    assert not (root / ".gitgov").exists()


def test_small_files_alone_never_open_the_cache(tmp_path, monkeypatch):
    loads = []
    real = blobid._load
    monkeypatch.setattr(blobid, "_load", lambda cache: loads.append(cache) or real(cache))
    write(tmp_path, "a.csv", "id\n1\n")
    write(tmp_path, "b.csv", "id\n2\n")
    cache = write(tmp_path, "cache.json", "{}")
    assert len(blobid.blob_ids(tmp_path, ["a.csv", "b.csv"], cache)) == 2 and loads == []
    _large(tmp_path)
    blobid.blob_ids(tmp_path, ["a.csv", "data/big.csv"], cache)
    assert loads == [cache]
