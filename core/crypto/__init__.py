"""Authenticated encryption for gitgov: the file format, protected values and the Git filter.

Only the error classes live here, so that importing them costs nothing; the
modules that need `cryptography` import it themselves.
"""
from __future__ import annotations

from ..errors import InputError


class CryptoError(InputError):
    """A key or a ciphertext problem, shown to the user as one line (exit 2)."""


class MissingKey(CryptoError):
    """No key at all, or not the one a ciphertext names (shredded, never imported)."""


class Shredded(MissingKey):
    """The ciphertext's key was shredded: nothing encrypted with it can be read again."""


class WrongKey(CryptoError):
    """The ciphertext names a key this repository does not hold."""


class Tampered(CryptoError):
    """A chunk or value failed to authenticate."""


class Truncated(CryptoError):
    """A file ends before its last chunk."""


class NotEncrypted(CryptoError):
    """The bytes are not in gitgov's encrypted format."""


def short_id(key_id: str) -> str:
    """Key ids are shown by their first 12 hex digits, like short commit ids."""
    return key_id[:12]
