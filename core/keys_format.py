"""How keys are written down: base64, and the passphrase-sealed export.

An export is JSON naming its format, the master key id, the scrypt
parameters and salt, and the key store (master key and wrapped data keys)
encrypted with AES-256-GCM under the key scrypt derives from the passphrase.
A wrong passphrase and an altered file fail the same authentication check.
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets

from .crypto import CryptoError

EXPORT_FORMAT = "gitgov-keys-v1"
SCRYPT = {"n": 2**15, "r": 8, "p": 1}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise CryptoError(f"{what} is not valid base64") from None


def seal(bundle: dict, master_id: str, passphrase: bytes) -> str:
    """The export text of a key store ``bundle`` (see KeyStore.bundle)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    box = AESGCM(_scrypt(passphrase, salt, SCRYPT)).encrypt(
        nonce, json.dumps(bundle).encode(), EXPORT_FORMAT.encode())
    return json.dumps({"format": EXPORT_FORMAT, "master_id": master_id,
                       "kdf": {"name": "scrypt", **SCRYPT, "salt": b64(salt)},
                       "nonce": b64(nonce), "ciphertext": b64(box)}, indent=1) + "\n"


def _scrypt(passphrase: bytes, salt: bytes, params: dict) -> bytes:
    return hashlib.scrypt(passphrase, salt=salt, n=params["n"], r=params["r"], p=params["p"],
                          maxmem=256 * 1024 * 1024, dklen=32)


def open_sealed(text: str, passphrase: bytes, source: str) -> dict:
    """The bundle inside an export; `source` names the file in every error."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        doc = json.loads(text)
        kdf = doc["kdf"]
        if doc.get("format") != EXPORT_FORMAT or kdf.get("name") != "scrypt":
            raise KeyError("format")
        salt, nonce = unb64(kdf["salt"], source), unb64(doc["nonce"], source)
        box = unb64(doc["ciphertext"], source)
        params = _params(kdf)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise CryptoError(f"{source}: not a gitgov key export (made by `gitgov keys export`)") from None
    try:
        key = _scrypt(passphrase, salt, params)
        return json.loads(AESGCM(key).decrypt(nonce, box, EXPORT_FORMAT.encode()))
    except (InvalidTag, ValueError):  # ValueError: a nonce or scrypt cost no export has
        raise CryptoError(f"{source}: wrong passphrase (or the file was altered)") from None


def _params(kdf: dict) -> dict:
    """scrypt's cost parameters, within bounds: an altered file must not make import run for
    hours (scrypt's own memory limit catches only n and r)."""
    params = {k: kdf[k] for k in ("n", "r", "p")}
    if not all(type(v) is int and v > 0 for v in params.values()) or params["p"] > 16:
        raise ValueError("scrypt parameters")
    return params
