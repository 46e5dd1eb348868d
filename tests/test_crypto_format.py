"""The encrypted file format and protected values, in process: round trips,
determinism, every way a ciphertext can be damaged, and nonce uniqueness."""
from __future__ import annotations

import io
import os

import pytest

from gitgov.core.crypto import MissingKey, Tampered, Truncated, WrongKey
from gitgov.core.crypto.fileformat import (HEADER, MAGIC, NONCE, TAG, decrypt_stream, encrypt_stream,
                                           read_header)
from gitgov.core.crypto.values import Place, ValueCipher, mask, parse
from gitgov.core.keys import DataKey, KeyStore, key_id

SHIFT = 12  # 4 KiB chunks keep multi-chunk cases small
CHUNK = 1 << SHIFT


def make_key(seed: bytes = b"k", dataset: str = "d") -> DataKey:
    secret = (seed * 32)[:32]
    return DataKey(dataset=dataset, id=key_id(secret), secret=secret)


def encrypt(data: bytes, key: DataKey | None = None) -> bytes:
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(data), out.write, key or make_key(), SHIFT)
    return out.getvalue()


def decrypt(blob: bytes, key: DataKey | None = None) -> tuple[bytes, list[bytes]]:
    src, written = io.BytesIO(blob), []
    header = read_header(src, "f.csv")
    decrypt_stream(src, lambda b: written.append(bytes(b)), key or make_key(), header, "f.csv")
    return b"".join(written), written


def chunk_offset(i: int) -> int:
    return HEADER.size + i * (CHUNK + NONCE + TAG)


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17])
def test_round_trip_and_determinism(size):
    data = os.urandom(size)
    blob = encrypt(data)
    assert decrypt(blob)[0] == data
    assert encrypt(data) == blob  # same bytes, same key: same ciphertext (git status stays clean)
    assert encrypt(data, make_key(b"x")) != blob
    assert len(data) < 16 or data[:16] not in blob


def test_header_carries_magic_version_algorithm_and_key_id():
    key = make_key()
    blob = encrypt(b"a,b\n1,2\n", key)
    assert blob.startswith(MAGIC)
    header = read_header(io.BytesIO(blob), "f")
    assert (header.version, header.algorithm, header.chunk_size) == (1, 1, CHUNK)
    assert header.key_id == key.id and key.secret.hex()[:16] != key.id


def test_tampered_chunk_is_named_and_never_emitted():
    data = os.urandom(3 * CHUNK + 5)
    blob = bytearray(encrypt(data))
    blob[chunk_offset(2) + NONCE + 100] ^= 1
    written: list[bytes] = []
    src = io.BytesIO(bytes(blob))
    header = read_header(src, "f.csv")
    with pytest.raises(Tampered, match=r"f.csv: chunk 2 \(bytes 8192-12288\) failed to authenticate"):
        decrypt_stream(src, lambda b: written.append(bytes(b)), make_key(), header, "f.csv")
    assert b"".join(written) == data[:2 * CHUNK]  # chunks 0 and 1 only: chunk 2 was never handed on


def test_reordered_chunks_fail():
    blob = encrypt(os.urandom(3 * CHUNK + 5))
    a, b = chunk_offset(0), chunk_offset(1)
    size = CHUNK + NONCE + TAG
    swapped = blob[:a] + blob[b:b + size] + blob[a:a + size] + blob[b + size:]
    with pytest.raises(Tampered, match="chunk 0"):
        decrypt(swapped)


def test_truncation_at_a_chunk_boundary_and_inside_a_chunk():
    blob = encrypt(os.urandom(2 * CHUNK + 10))
    with pytest.raises(Truncated, match="truncated: it ends after chunk 1 without its last chunk"):
        decrypt(blob[:chunk_offset(2)])
    with pytest.raises(Tampered, match="chunk 1 .*truncated or was altered"):
        decrypt(blob[:chunk_offset(1) + 50])
    with pytest.raises(Truncated, match="inside the 20-byte header"):
        decrypt(blob[:10])


def test_trailing_data_and_header_changes_fail():
    blob = encrypt(b"x" * 100)
    with pytest.raises(Tampered, match="chunk 0 .*failed to authenticate"):
        decrypt(blob + b"more")
    changed = bytearray(blob)
    changed[10] = 13  # chunk shift 12 -> 13: the header is part of every chunk's associated data
    with pytest.raises(Tampered):
        decrypt(bytes(changed))


def test_file_nonces_never_repeat_at_scale():
    # 20,000 distinct chunks under one key: every synthetic nonce is distinct.
    data = b"".join(i.to_bytes(4, "big") * 8 for i in range(20_000))  # 32-byte rows
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(data), out.write, make_key(), 12)
    blob = out.getvalue()
    step = CHUNK + NONCE + TAG
    nonces = [blob[o:o + NONCE] for o in range(HEADER.size, len(blob), step)]
    assert len(nonces) == len(data) // CHUNK + 1
    assert len(set(nonces)) == len(nonces)


def test_value_nonces_never_repeat_at_scale():
    cipher = ValueCipher(make_key(), Place("d", "email", "f.csv"))
    values = ["same@example.com"] * 200_000
    sealed = cipher.encrypt(values, [f"row:{i}" for i in range(len(values))])
    nonces = {s.split(":")[3][:16] for s in sealed}  # base64 of the first 12 bytes: the nonce
    assert len(nonces) == len(values)


def test_values_are_recognizable_carry_the_key_and_round_trip():
    key = make_key()
    cipher = ValueCipher(key, Place("d", "email", "f.csv"))
    rows = ["row:0", "row:1"]
    sealed = cipher.encrypt(["a@example.com", ""], rows)
    assert parse(sealed[0])[:2] == ("enc", key.id) and sealed[1] == ""
    assert cipher.reveal(sealed, rows, ["row 2", "row 3"]) == ["a@example.com", ""]
    joinable = cipher.encrypt_joinable(["a@example.com", "a@example.com", "b@example.com"])
    assert joinable[0] == joinable[1] != joinable[2] and joinable[0].startswith(f"gg1:siv:{key.id}:")


def test_a_moved_value_is_caught_by_its_associated_data():
    cipher = ValueCipher(make_key(), Place("d", "email", "f.csv"))
    rows, names = ["key:C1", "key:C2", "key:C3"], ["row 2", "row 3", "row 4"]
    sealed = cipher.encrypt(["a@x.org", "b@x.org", "c@x.org"], rows)
    moved = [sealed[0], sealed[0], sealed[2]]
    with pytest.raises(Tampered, match="f.csv: row 3, column 'email': .*moved there from row 2"):
        cipher.reveal(moved, rows, names)
    other = ValueCipher(make_key(), Place("d", "phone", "f.csv")).encrypt(["x"], ["key:C1"])[0]
    with pytest.raises(Tampered, match="moved there from column 'phone'"):
        cipher.reveal([other, sealed[1], sealed[2]], rows, names, other_columns=["phone"])
    altered = sealed[1][:-3] + ("AAA" if not sealed[1].endswith("AAA") else "BBB")
    with pytest.raises(Tampered, match="row 3, column 'email': the value failed to authenticate: it was altered"):
        cipher.reveal([sealed[0], altered, sealed[2]], rows, names)


def test_a_value_of_another_key_is_a_wrong_key():
    sealed = ValueCipher(make_key(b"a"), Place("d", "c", "f")).encrypt(["v"], ["row:0"])
    with pytest.raises(WrongKey, match=r"wrong key: f: row 2, column 'c' is encrypted with key \w{12}, you hold \w{12}"):
        ValueCipher(make_key(b"b"), Place("d", "c", "f")).reveal(sealed, ["row:0"], ["row 2"])


def test_tokens_are_keyed_and_stable():
    a = ValueCipher(make_key(b"a"), Place("d", "c", "f"))
    b = ValueCipher(make_key(b"b"), Place("d", "c", "f"))
    assert a.pseudonymize(["x@y.org"]) == a.pseudonymize(["x@y.org"])
    assert a.pseudonymize(["x@y.org"]) != b.pseudonymize(["x@y.org"])
    import hashlib
    assert hashlib.sha256(b"x@y.org").hexdigest()[:20] not in a.pseudonymize(["x@y.org"])[0]


def test_masks_keep_the_shape():
    assert mask(["alice@example.com"], "email") == ["a***@example.com"]
    assert mask(["+49 151 2345678"], "phone") == ["+** *** *****78"]
    assert mask(["4111 1111 1111 1111"], "card") == ["**** **** **** 1111"]
    assert mask([""], "email") == [""]


def test_shredded_and_unknown_keys(tmp_path):
    store = KeyStore(tmp_path / "keys")
    store.create_master()
    key = store.active_key("customers", create=True)
    with pytest.raises(WrongKey, match=r"wrong key: f.csv is encrypted with key 0123456789ab, you hold "):
        store.key_by_id("0123456789abcdef", "f.csv")
    store.shred("customers")
    with pytest.raises(MissingKey, match=rf"missing key: f.csv is encrypted with key {key.id[:12]} of "
                                         r"dataset 'customers', which was shredded on \d{4}-\d\d-\d\d"):
        store.key_by_id(key.id, "f.csv")


def test_a_failing_writer_stops_the_read_ahead_thread():
    import threading

    calls = []

    def write(data):
        calls.append(len(data))
        if len(calls) > 4:
            raise BrokenPipeError("reader went away")

    before = threading.active_count()
    with pytest.raises(BrokenPipeError):
        encrypt_stream(io.BytesIO(os.urandom(40 * CHUNK)), write, make_key(), SHIFT)
    assert threading.active_count() == before
