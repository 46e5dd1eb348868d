"""The key store in process: envelope, ids, rotation, shredding, export and import."""
from __future__ import annotations

import json
import os
import stat

import pytest

from gitgov.core.crypto import CryptoError, MissingKey
from gitgov.core.keys import KeyStore, key_id


@pytest.fixture
def store(tmp_path) -> KeyStore:
    s = KeyStore(tmp_path / "keys")
    assert s.create_master() and not s.create_master()
    return s


def test_master_key_is_private_and_data_keys_are_wrapped(store):
    assert stat.S_IMODE(os.stat(store.master_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.ring_path).st_mode) == 0o600
    key = store.active_key("customers", create=True)
    ring = store.ring_path.read_text()
    assert key.secret.hex() not in ring and key.id in ring
    assert key.id == key_id(key.secret) and len(key.id) == 16 and key.id not in key.secret.hex()
    assert store.active_key("customers") == key


def test_rotations(store):
    old = store.active_key("customers", create=True)
    before = store.master_id
    assert store.rotate_master()[0] == before and store.master_id != before
    fresh = KeyStore(store.dir)
    assert fresh.key_by_id(old.id).secret == old.secret  # re-wrapped, not replaced
    prev, new = fresh.rotate_dataset("customers")
    assert prev == old.id and fresh.active_key("customers").id == new != old.id
    assert fresh.key_by_id(old.id).secret == old.secret


def test_shred_leaves_only_a_tombstone(store):
    key = store.active_key("customers", create=True)
    assert store.shred("customers") == [key.id]
    text = store.ring_path.read_text()
    assert key.id in text and "wrapped" not in text
    with pytest.raises(MissingKey, match="shredded"):
        KeyStore(store.dir).key_by_id(key.id)
    with pytest.raises(CryptoError, match="no data key to shred"):
        store.shred("customers")


def test_export_import_merges_and_keeps_shredded_keys_dead(store, tmp_path):
    a = store.active_key("a", create=True)
    exported = store.export(b"passphrase-1")
    assert a.secret.hex() not in exported and json.loads(exported)["kdf"]["name"] == "scrypt"
    other = KeyStore(tmp_path / "other")
    other.create_master()
    b = other.active_key("b", create=True)
    other.shred("b")
    c = other.active_key("c", create=True)
    with pytest.raises(CryptoError, match="wrong passphrase"):
        other.import_(exported, b"passphrase-2", "keys.export")
    assert other.import_(exported, b"passphrase-1", "keys.export") == store.master_id
    merged = KeyStore(other.dir)
    assert merged.key_by_id(a.id).secret == a.secret and merged.key_by_id(c.id).secret == c.secret
    with pytest.raises(MissingKey, match="shredded"):
        merged.key_by_id(b.id)


@pytest.mark.parametrize("change", [
    {"kdf": {"n": "many"}}, {"kdf": {"n": 3}}, {"kdf": {"n": 2**40}}, {"kdf": {"r": 0}},
    {"kdf": {"p": 10**6}},  # would run scrypt for hours
    {"nonce": "AAAA"}, {"ciphertext": 5}, {"kdf": {"salt": None}},
])
def test_a_garbled_export_is_refused_with_one_line(store, tmp_path, change):
    doc = json.loads(store.export(b"passphrase-1"))
    for key, value in change.items():
        doc[key] = {**doc[key], **value} if isinstance(value, dict) else value
    other = KeyStore(tmp_path / "other")
    with pytest.raises(CryptoError, match=r"^keys\.export: (not a gitgov key export|wrong passphrase)"):
        other.import_(json.dumps(doc), b"passphrase-1", "keys.export")
    assert not other.has_master()


def test_gitgov_key_token(store, tmp_path):
    key = store.active_key("a", create=True)
    env = KeyStore(tmp_path / "none", store.env_line())
    assert env.key_by_id(key.id).secret == key.secret
    with pytest.raises(CryptoError, match="cannot change keys: the keys come from GITGOV_KEY"):
        env.rotate_dataset("a")
    with pytest.raises(CryptoError, match="GITGOV_KEY is damaged"):
        KeyStore(tmp_path / "none", "gitgov-key-v1:bm90IGpzb24").key_by_id(key.id)
    with pytest.raises(CryptoError, match="not a gitgov key token"):
        KeyStore(tmp_path / "none", "hunter2").key_by_id(key.id)


@pytest.mark.parametrize("ring, why", [
    ([], "not a JSON object"),
    ({"version": 1, "datasets": {}}, "no master key id"),
    ({"version": 1, "master": "m", "datasets": {"c": "nope"}}, "the keys of dataset 'c' are not a list"),
    ({"version": 1, "master": "m", "datasets": {"c": [{"wrapped": "AA"}]}}, "the keys of dataset 'c'"),
    ({"version": 1, "master": "m", "datasets": {}, "shredded": "c"}, "'shredded' is not a list"),
])
def test_a_key_ring_of_the_wrong_shape_is_one_line_naming_the_file(store, ring, why):
    store.ring_path.write_text(json.dumps(ring))
    again = KeyStore(store.dir)
    with pytest.raises(CryptoError) as err:
        again.datasets()
    assert str(err.value).startswith(f"{store.ring_path}: {why}")
    assert str(err.value).endswith("the key store was altered; restore it from a `gitgov keys export`")


def test_a_damaged_wrapped_key_or_a_binary_master_key_is_one_line(store):
    key = store.active_key("m", create=True)
    ring = json.loads(store.ring_path.read_text())
    ring["datasets"]["m"][0]["wrapped"] = "AAAA"  # base64, but too short for a nonce and a tag
    store.ring_path.write_text(json.dumps(ring))
    with pytest.raises(CryptoError, match=rf"^data key {key.id[:12]} of dataset 'm' does not unwrap"):
        KeyStore(store.dir).key_by_id(key.id)
    store.master_path.write_bytes(b"\xff" * 32)
    with pytest.raises(CryptoError, match=r"master\.key is not valid base64$"):
        KeyStore(store.dir).datasets()
