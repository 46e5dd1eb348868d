"""PII detectors: what a column of personal data looks like.

A detector is a regular expression in RE2 syntax (pyarrow runs it over a
whole column at once), an optional check that each match must pass (the
Luhn digit of a card number, the checksum of an IBAN), and optionally a
column-name pattern that must match too (a date is a date of birth only in a
column named like one). Plugins add detectors with the ``register_detectors``
hook; they are matched the same way.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import date
from typing import Callable


@dataclass(frozen=True)
class Detector:
    """One kind of personal data.

    :param kind: short name used in gitgov.toml (``pii = "email"``) and in findings.
    :param label: what the values are, in a sentence ("email addresses").
    :param pattern: RE2 pattern a whole value must match (``^...$`` is added).
    :param check: optional test each matching value must also pass.
    :param column_names: optional regex (Python syntax, case-insensitive, searched);
        when set, only columns whose name matches are considered.
    """

    kind: str
    label: str
    pattern: str
    check: Callable[[str], bool] | None = None
    column_names: str | None = None

    def applies_to(self, column: str) -> bool:
        return self.column_names is None or re.search(self.column_names, column, re.I) is not None


def luhn(value: str) -> bool:
    digits = [int(c) for c in value if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(value: str) -> bool:
    s = value.replace(" ", "").upper()
    if not 15 <= len(s) <= 34:
        return False
    rotated = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in rotated)) % 97 == 1


def ssn_ok(value: str) -> bool:
    area, group, serial = value.split("-")
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


# Shapes that the phone pattern also matches: dates and dotted IPv4 addresses.
_NOT_PHONE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}"
                        r"|\d{1,3}(\.\d{1,3}){3}")


def phone_ok(value: str) -> bool:
    digits = sum(c.isdigit() for c in value)
    return 7 <= digits <= 15 and not _NOT_PHONE.fullmatch(value)


def ipv6_ok(value: str) -> bool:
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def birth_date_ok(value: str) -> bool:
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})|(\d{1,2})[/.](\d{1,2})[/.](\d{4})", value)
    if not m:
        return False
    year = int(m.group(1) or m.group(6))
    return 1900 <= year <= date.today().year


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"

BUILTIN: tuple[Detector, ...] = (
    Detector("email", "email addresses",
             r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"),
    Detector("card", "payment card numbers", r"[0-9][0-9 \-]{11,21}[0-9]", luhn),
    Detector("ssn", "US social security numbers", r"[0-9]{3}-[0-9]{2}-[0-9]{4}", ssn_ok),
    Detector("iban", "IBANs", r"[A-Za-z]{2}[0-9]{2}[A-Za-z0-9 ]{11,32}", iban_ok),
    Detector("phone", "phone numbers",
             r"(\+|00)[1-9][0-9 ().\-/]{5,18}[0-9]|\(?0?[0-9]{2,4}\)?[ .\-/][0-9 .\-/]{4,14}[0-9]",
             phone_ok),
    Detector("ipv4", "IPv4 addresses", rf"{_OCTET}(\.{_OCTET}){{3}}"),
    Detector("ipv6", "IPv6 addresses", r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*", ipv6_ok),
    Detector("dob", "dates of birth",
             r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}[/.][0-9]{1,2}[/.][0-9]{4}", birth_date_ok,
             column_names=r"(^|[^a-z])(dob|birth|birthday|birthdate|born|geburtsdatum)([^a-z]|$)"
                          r"|date_?of_?birth"),
)
