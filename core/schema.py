"""The shape of gitgov.toml, as data.

A later feature that needs a new key adds a ``Field`` here; config.py walks
these tables generically (types, allowed values, named checks, unknown keys
with a nearest-key suggestion) and needs no new code for it.

Vocabulary:
- ``type``: one or more of TYPE_TESTS joined by "|", e.g. "str|list[str]".
- ``allowed``: the only values accepted (for a list: for each item).
- ``each``: names of CHECKS applied to the value, or to each item of a list.
- ``checks``: names of CHECKS applied to the value as a whole.
- ``keys``: for a table, the known keys; None means the keys are names
  chosen by the user (datasets, columns, roles) and each value follows ``extra``.
- ``extra``: spec for keys not in ``keys``. With ``keys`` set, a key that does
  not fit ``extra`` either is reported as unknown (so "enabel = [...]" in
  [plugins] is a typo, while "[plugins.privacy]" is a settings table).
  ``keys`` and ``extra`` both None: a free-form table, not checked.
"""
from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import NamedTuple

from .globs import glob_error


class Field(NamedTuple):
    """What one key of gitgov.toml may hold: its type and the rules on its value."""

    type: str
    allowed: tuple = ()
    each: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    keys: Mapping[str, Field] | None = None
    extra: Field | None = None
    required: tuple[str, ...] = ()
    doc: str = ""


# ---- defaults ------------------------------------------------------------

DEFAULT_MAX_FILE_SIZE = 50_000_000  # "50MB": SI units, as GitHub and most tools print them
DEFAULT_PLUGIN_TIMEOUT = 10.0
# A deadline must fit the clocks it is set on (threading.TIMEOUT_MAX, the
# faulthandler backstop); inf or 1e10 would crash every hook instead.
MAX_TIMEOUT = 86400
DEFAULT_CLASSIFICATION = "internal"

# Files that must never be committed. A glob without "/" matches the file
# name in any directory; [limits] secret_names adds to this list.
SECRET_NAMES: tuple[str, ...] = (
    ".gitgov/keys/**",
    "*.pem",
    "*.key",
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    ".env",
    "*.p12",
    "*.pfx",
    "credentials.json",
    ".netrc",
)

CLASSIFICATIONS = ("public", "internal", "confidential", "restricted")
FORMATS = ("csv", "tsv", "parquet", "jsonl", "arrow")
COLUMN_TYPES = ("string", "integer", "float", "boolean", "date", "timestamp")
PROTECTIONS = ("encrypt", "pseudonymize", "mask", "drop", "allow")
SEVERITIES = ("error", "warning", "info")


# ---- value parsers (also used by config.py to build the Policy) ----------

_SIZE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
               "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_DAYS = {"d": 1, "w": 7, "m": 30, "y": 365}


def parse_size(value: int | str) -> int:
    """Bytes from an int or "50MB" / "1.5GiB" / "500 kB" (MB = 10**6, MiB = 2**20)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value) if isinstance(value, str) else None
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"not a size: {value!r}")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


# Dates end in year 9999: a longer period could not be added to a date, and none is needed.
MAX_DURATION_DAYS = 1000 * _DAYS["y"]


def _bad_duration(value: object) -> str | None:
    try:
        days = parse_duration_days(value)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return "expected a duration such as 30d, 12w, 18m or 7y"
    return None if days <= MAX_DURATION_DAYS else "expected a duration of at most 1000y"


def parse_duration_days(value: str) -> int:
    """Days in "30d", "12w", "18m" (months of 30 days) or "7y" (365 days)."""
    match = re.fullmatch(r"\s*(\d+)\s*([dwmy])\s*", value) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"not a duration: {value!r}")
    return int(match.group(1)) * _DAYS[match.group(2)]


# ---- types and checks ----------------------------------------------------

def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


TYPE_TESTS: Mapping[str, Callable[[object], bool]] = MappingProxyType({
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "int": _is_int,
    "number": lambda v: _is_int(v) or isinstance(v, float),
    "list": lambda v: isinstance(v, list),
    "list[str]": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "table": lambda v: isinstance(v, dict),
    "scalar": lambda v: isinstance(v, (str, int, float, _dt.date, _dt.time)),
    "any": lambda v: True,
})

TYPE_NAMES: Mapping[str, str] = MappingProxyType({
    "str": "a string", "bool": "true or false", "int": "an integer", "number": "a number",
    "list": "a list", "list[str]": "a list of strings", "table": "a table",
    "scalar": "a string, number, boolean or date", "any": "any value",
})


def _accepts(parse: Callable[[object], object], rule: str) -> Callable[[object], str | None]:
    def check(value: object) -> str | None:
        try:
            parse(value)
        except (ValueError, TypeError):
            return rule
        return None
    return check


def _bad_glob(value: object) -> str | None:
    reason = glob_error(value)
    return f"bad glob {value!r}: {reason}" if reason else None


def _bad_regex(value: object) -> str | None:
    """Patterns run on RE2 (pyarrow) when it has the construct, else on Python's re: either
    must compile it (RE2 alone knows \\p{Greek}; re alone knows look-arounds)."""
    try:
        re.compile(value)
    except re.error as exc:
        if _re2_compiles(str(value)):
            return None
        return f"bad regular expression '{value}': {exc}"
    return None


def _re2_compiles(pattern: str) -> bool:
    try:
        from . import arrow_kernels as pc
        from .arrow_values import array

        pc.match_substring_regex(array([""]), pattern)
    except Exception:  # noqa: BLE001 - ArrowInvalid, or no pyarrow at all: RE2 cannot say yes
        return False
    return True


def _bad_relpath(value: object) -> str | None:
    if not str(value).strip():
        return "must be a path relative to the repository root, not empty"
    parts = str(value).replace("\\", "/").split("/")
    if str(value).startswith(("/", "~")) or ".." in parts or re.match(r"[A-Za-z]:", str(value)):
        return "must be a path relative to the repository root, without '..'"
    return None


# Each check returns None when the value is fine, else the rule it breaks.
CHECKS: Mapping[str, Callable[[object], str | None]] = MappingProxyType({
    "glob": _bad_glob,
    "regex": _bad_regex,
    "relpath": _bad_relpath,
    "size": _accepts(parse_size, "expected a size such as 50MB or 1GiB, or a number of bytes"),
    "duration": _bad_duration,
    "nonneg": lambda v: "must be 0 or more" if v < 0 else None,
    # `not v > 0`, not `v <= 0`: nan compares false both ways and must fail too.
    "positive": lambda v: "must be more than 0" if not v > 0 else None,
    "seconds": lambda v: (f"must be at most {MAX_TIMEOUT} seconds (a day)"
                          if v > MAX_TIMEOUT else None),
    "fraction": lambda v: "must be between 0 and 1" if not 0 <= v <= 1 else None,
    "days": lambda v: (f"must be at most {MAX_DURATION_DAYS} days (1000 years)"
                       if v > MAX_DURATION_DAYS else None),
    "nonempty": lambda v: "must not be empty" if len(v) == 0 else None,
    "distinct": lambda v: (None if isinstance(v, str) or len(set(v)) == len(v)
                           else f"names {next(x for x in v if v.count(x) > 1)!r} twice"),
    "colref": lambda v: None if re.fullmatch(r"[^.\s]+\.[^.\s]+", v) else "expected 'dataset.column'",
    "char": lambda v: None if len(v) == 1 else "expected a single character",
})


# ---- the schema ----------------------------------------------------------

def _f(type_: str, **kw: object) -> Field:
    return Field(type_, **kw)  # type: ignore[arg-type]


FREE_TABLE = _f("table")
STRINGS = _f("list[str]")
COUNT = _f("int", checks=("nonneg",))

# Severity of single rules, by rule name: { max = "warning", pattern = "error" }.
SEVERITY_MAP = _f("table", extra=_f("str", allowed=SEVERITIES))
# Rules that plugins add through `register_rules`: { rule_name = parameter }.
CUSTOM_CHECKS = _f("table", doc="rules added by plugins (register_rules): name = parameter")

COLUMN = _f("table", keys=MappingProxyType({
    "type": _f("str", allowed=COLUMN_TYPES),
    "description": _f("str"),
    "required": _f("bool", doc="no nulls or empty values"),
    "unique": _f("bool"),
    "min": _f("scalar"),
    "max": _f("scalar"),
    "min_length": COUNT,
    "max_length": COUNT,
    "allowed": _f("list", checks=("nonempty",), doc="an empty list would refuse every value"),
    "pattern": _f("str", each=("regex",)),
    "format": _f("str", doc="a named format such as email, url, uuid; refined by validation"),
    "severity": _f("str", allowed=SEVERITIES),
    "pii": _f("bool|str", doc="true, or the kind of identifier, e.g. 'email'"),
    "protect": _f("str", allowed=PROTECTIONS),
    "joinable": _f("bool", doc="with protect = 'encrypt': deterministic (AES-SIV), so equal values stay equal"),
    "max_null_fraction": _f("number", checks=("fraction",), doc="overrides [rules] max_null_fraction"),
    "severities": SEVERITY_MAP,
    "checks": CUSTOM_CHECKS,
}))

DRIFT = _f("table", keys=MappingProxyType({
    "max_row_change_pct": _f("number", checks=("nonneg",),
                             doc="rows may change by at most this percentage between versions"),
    "max_null_increase_pts": _f("number", checks=("nonneg",),
                                doc="a column's null share may rise by at most this many points"),
    "schema": _f("str", allowed=("block", "warn", "off"),
                 doc="removed columns and changed types: block unless acknowledged, warn, or off"),
    "severity": _f("str", allowed=SEVERITIES, doc="of row-count and null drift (default warning)"),
}))

RULES = _f("table", keys=MappingProxyType({
    "min_rows": COUNT,
    "max_rows": COUNT,
    "columns_exact": _f("bool", doc="no columns beyond those in [columns]"),
    "columns_required": STRINGS,
    "max_null_fraction": _f("number", checks=("fraction",)),
    "freshness_days": _f("number", checks=("nonneg", "days")),
    "freshness_column": _f("str"),
    "foreign_keys": _f("table", extra=_f("str", each=("colref",)), doc="column = 'dataset.column'"),
    "drift": DRIFT,
    "severity": _f("str", allowed=SEVERITIES),
    "severities": SEVERITY_MAP,
    "checks": CUSTOM_CHECKS,
}))

DATASET = _f("table", required=("paths",), keys=MappingProxyType({
    "description": _f("str"),
    "paths": _f("list[str]", each=("glob",), checks=("nonempty",)),
    "format": _f("str", allowed=FORMATS),
    "classification": _f("str", allowed=CLASSIFICATIONS),
    "owner": _f("str"),
    "stewards": STRINGS,
    "custodians": STRINGS,
    "consumers": STRINGS,
    "encrypt": _f("str|bool", allowed=("file", False)),
    "retention": _f("str", each=("duration",)),
    "retention_column": _f("str"),
    "hold": _f("bool", doc="legal hold: retention never disposes of it"),
    "primary_key": _f("str|list[str]", checks=("nonempty", "distinct")),
    "columns": _f("table", extra=COLUMN),
    "rules": RULES,
    "null_values": _f("list[str]", doc="CSV/TSV cells read as missing (default: the empty cell)"),
    "delimiter": _f("str", checks=("char",), doc="CSV field separator (default , or a tab for .tsv)"),
    "signed_commits": _f("bool", doc="changes must be signed commits (checked with git verify-commit); "
                                     "default: [plugins.access] signed_commits lists the classification"),
}))

# A named value format that columns use with `format = NAME`; a name that is
# also built in (postal_address, email, ...) replaces the built-in one.
FORMAT = _f("table", required=("pattern",), keys=MappingProxyType({
    "pattern": _f("str", each=("regex",), doc="the whole value must match"),
    "description": _f("str"),
}))

ROLE = _f("list[str]|table", keys=MappingProxyType({
    "members": STRINGS,
    "description": _f("str"),
}))

PLUGINS = _f("table", extra=FREE_TABLE, keys=MappingProxyType({
    "enable": _f("list[str]", doc="allow-list; absent means every installed plugin"),
    "disable": STRINGS,
    "local": _f("list[str]", each=("relpath",)),
    "timeout": _f("number", checks=("positive", "seconds")),
}))

LIMITS = _f("table", keys=MappingProxyType({
    "max_file_size": _f("int|str", checks=("size",)),
    "secret_names": _f("list[str]", each=("glob",)),
}))

WATCH = _f("table", keys=MappingProxyType({
    "enabled": _f("bool"),
    "paths": _f("list[str]", each=("glob",)),
    "ignore": _f("list[str]", each=("glob",)),
    "debounce_ms": COUNT,
    "rescan_seconds": _f("number", checks=("positive",)),
    "schedule_minutes": _f("number", checks=("positive",),
                           doc="how often the daemon asks plugins for due events (retention)"),
}))

RETENTION = _f("table", keys=MappingProxyType({
    "default": _f("str", each=("duration",)),
    "grace": _f("str", each=("duration",)),
    "action": _f("str", allowed=("report", "dispose")),
}))

RUNS = _f("table", keys=MappingProxyType({
    "outputs": _f("list[str]", each=("glob",),
                  doc="files compared before and after each run (default models/**, outputs/**, ...)"),
    "env": _f("list[str]", doc="extra environment variables (fnmatch patterns) a run snapshot records"),
}))

STORE = _f("table", keys=MappingProxyType({
    "link": _f("str", allowed=("auto", "hardlink", "copy"),
               doc="auto: reflink or copy; hardlink: link (files become read-only); copy"),
    "remote": _f("str", doc="a shared folder (relative to the repository) or s3://bucket/prefix"),
}))

ROOT = _f("table", keys=MappingProxyType({
    "version": _f("int", allowed=(1,)),
    "datasets": _f("table", extra=DATASET),
    "roles": _f("table", extra=ROLE),
    "plugins": PLUGINS,
    "limits": LIMITS,
    "watch": WATCH,
    "retention": RETENTION,
    "formats": _f("table", extra=FORMAT),
    "runs": RUNS,
    "store": STORE,
}))
