"""Protected values: one column value at a time, recognizable and carrying their key id.

Formats (``gg1`` is the format version, KEYID the 16 hex digits of the data key id)::

    gg1:enc:KEYID:BASE64URL   AES-256-GCM, random nonce; associated data binds the value
                              to its dataset, column and row, so a moved value is caught
    gg1:siv:KEYID:BASE64URL   AES-SIV, deterministic: equal values stay equal (joinable);
                              associated data binds dataset and column
    gg1:tok:KEYID:BASE32      pseudonym: HMAC-SHA256 under the data key, never a plain hash

Tokens cannot be reversed; encrypted values can, by whoever holds the key.
"""
from __future__ import annotations

import base64
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from . import Tampered, WrongKey, short_id

if TYPE_CHECKING:
    from ..keys import DataKey

PREFIX = "gg1:"
VALUE = re.compile(r"\Agg1:(enc|siv|tok):([0-9a-f]{16}):([A-Za-z0-9_=\-]+)\Z")
NONCE = 12


def is_protected(value: str | None, kinds: Iterable[str] = ("enc", "siv", "tok")) -> bool:
    if not value or not value.startswith(PREFIX):
        return False
    m = VALUE.match(value)
    return bool(m) and m.group(1) in kinds


def parse(value: str) -> tuple[str, str, str] | None:
    """(kind, key id, payload) of a protected value, else None."""
    m = VALUE.match(value) if value and value.startswith(PREFIX) else None
    return (m.group(1), m.group(2), m.group(3)) if m else None


def _ad(dataset: str, column: str, row: str | None) -> bytes:
    parts = ["gg1", dataset, column] + ([row] if row is not None else [])
    return "\x00".join(parts).encode("utf-8", "surrogatepass")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Place:
    """Where a value sits: what the associated data binds it to, and how to name it."""

    dataset: str
    column: str
    path: str


class ValueCipher:
    """Protects and reveals the values of one column under one data key."""

    def __init__(self, key: "DataKey", place: Place):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV

        self.key, self.place = key, place
        self._gcm = AESGCM(key.subkey("value-gcm"))
        self._siv = AESSIV(key.subkey("value-siv", 64))
        self._token_key = key.subkey("value-token")

    # ---- protect -----------------------------------------------------------------

    def encrypt(self, values: Sequence[str | None], rows: Sequence[str]) -> list[str | None]:
        head = f"{PREFIX}enc:{self.key.id}:"
        out: list[str | None] = []
        for value, row in zip(values, rows):
            if not value or value.startswith(PREFIX):
                out.append(value)  # empty stays empty; protecting twice changes nothing
                continue
            nonce = secrets.token_bytes(NONCE)  # 96 random bits: no repeat in 2**32 values
            sealed = self._gcm.encrypt(nonce, value.encode(), _ad(self.place.dataset, self.place.column, row))
            out.append(head + _b64(nonce + sealed))
        return out

    def encrypt_joinable(self, values: Sequence[str | None]) -> list[str | None]:
        head = f"{PREFIX}siv:{self.key.id}:"
        ad = [_ad(self.place.dataset, self.place.column, None)]
        cache: dict[str, str] = {}
        out: list[str | None] = []
        for value in values:
            if not value or value.startswith(PREFIX):
                out.append(value)
                continue
            if value not in cache:
                cache[value] = head + _b64(self._siv.encrypt(value.encode(), ad))
            out.append(cache[value])
        return out

    def pseudonymize(self, values: Sequence[str | None]) -> list[str | None]:
        head = f"{PREFIX}tok:{self.key.id}:"
        out: list[str | None] = []
        for value in values:
            if not value or value.startswith(PREFIX):
                out.append(value)
                continue
            digest = hmac.digest(self._token_key, value.encode(), "sha256")[:20]
            out.append(head + base64.b32encode(digest).decode().lower())
        return out

    # ---- reveal --------------------------------------------------------------------

    def reveal(self, values: Sequence[str | None], rows: Sequence[str], row_names: Sequence[str],
               other_columns: Sequence[str] = (),
               resolve: "Callable[[str], ValueCipher] | None" = None) -> list[str | None]:
        """Plain values; raise on the first value that does not authenticate (nothing is returned).

        ``resolve`` gives the cipher for another key id (a column protected
        before and after a key rotation holds values of both keys).
        """
        out: list[str | None] = []
        ciphers = {self.key.id: self}
        for i, (value, row) in enumerate(zip(values, rows)):
            parsed = parse(value) if value else None
            if parsed is None or parsed[0] == "tok":
                out.append(value)
                continue
            kind, kid, payload = parsed
            if kid not in ciphers:
                if resolve is None:
                    raise WrongKey(f"wrong key: {self._where(row_names[i])} is encrypted with key "
                                   f"{short_id(kid)}, you hold {short_id(self.key.id)}")
                ciphers[kid] = resolve(kid)
            cipher = ciphers[kid]
            plain = cipher._open(kind, payload, row)
            if plain is None:
                raise Tampered(cipher._diagnose(kind, payload, row_names[i], rows, row_names,
                                                other_columns))
            out.append(plain)
        return out

    def _open(self, kind: str, payload: str, row: str | None, column: str | None = None) -> str | None:
        from cryptography.exceptions import InvalidTag

        column = column or self.place.column
        try:
            blob = _unb64(payload)
            if kind == "siv":
                return self._siv.decrypt(blob, [_ad(self.place.dataset, column, None)]).decode()
            return self._gcm.decrypt(blob[:NONCE], blob[NONCE:], _ad(self.place.dataset, column, row)).decode()
        except (InvalidTag, ValueError):
            return None

    def _where(self, row_name: str) -> str:
        return f"{self.place.path}: {row_name}, column '{self.place.column}'"

    def _diagnose(self, kind: str, payload: str, row_name: str, rows: Sequence[str],
                  row_names: Sequence[str], other_columns: Sequence[str]) -> str:
        """Why a value failed: moved from another column or row, or altered."""
        where = self._where(row_name)
        me = rows[row_names.index(row_name)] if kind == "enc" else None
        for column in other_columns:
            if self._open(kind, payload, me, column) is not None:
                return (f"{where}: the value failed to authenticate: it was moved there from "
                        f"column '{column}'")
        if kind == "enc":
            for other, name in list(zip(rows, row_names))[:100_000]:
                if other != me and self._open(kind, payload, other) is not None:
                    return (f"{where}: the value failed to authenticate: it was moved there "
                            f"from {name}")
        return f"{where}: the value failed to authenticate: it was altered"


MaskFn = Callable[[str], str]


def mask_email(value: str) -> str:
    local, at, domain = value.partition("@")
    return f"{local[:1]}***@{domain}" if at else mask_default(value)


def mask_digits(value: str, keep: int) -> str:
    """Each digit but the last ``keep`` becomes '*'; separators stay, so the shape does."""
    total = sum(c.isdigit() for c in value)
    seen, out = 0, []
    for c in value:
        if c.isdigit():
            seen += 1
            out.append(c if seen > total - keep else "*")
        else:
            out.append(c)
    return "".join(out)


def mask_default(value: str) -> str:
    return value[:1] + "***" if len(value) > 1 else "*"


MASKS: dict[str, MaskFn] = {
    "email": mask_email,
    "phone": lambda v: mask_digits(v, 2),
    "card": lambda v: mask_digits(v, 4),
    "ssn": lambda v: mask_digits(v, 4),
    "iban": lambda v: v[:2] + mask_digits(v[2:], 4),
    "ipv4": lambda v: ".".join(v.split(".")[:2] + ["*", "*"]),
    "dob": lambda v: mask_digits(v, 0),
}


def mask(values: Sequence[str | None], kind: str | None) -> list[str | None]:
    fn = MASKS.get(kind or "", mask_default)
    return [v if not v or "*" in v else fn(v) for v in values]
