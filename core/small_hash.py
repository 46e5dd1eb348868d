"""SHA-256 of a few hundred bytes, without loading OpenSSL.

hashlib's SHA-256 comes from OpenSSL, which costs a process ~4 ms to load;
the interpreter's own implementation gives the same digest. It is ~3x slower
per byte, so it is meant for short texts only (an entry id, gitgov.toml):
whatever hashes files or many entries uses hashlib.
"""
from __future__ import annotations

try:
    from _sha256 import sha256  # CPython up to 3.11
except ImportError:  # pragma: no cover - other interpreters and versions
    try:
        from _sha2 import sha256  # CPython 3.12+
    except ImportError:
        from hashlib import sha256

__all__ = ["sha256"]
