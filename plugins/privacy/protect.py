"""Applying a dataset's column protections to a table, and revealing them again.

Each column keeps its name and place, so CSV and Parquet files keep their
schema; only the protected columns' values change (Parquet stores a protected
column as text and records its original type in the file's metadata, so
`gitgov reveal` restores it). ``drop`` removes the column.

Encrypted values are bound to their row through the associated data: by the
dataset's primary key when the file has it, else by the row number.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gitgov.core import arrow_values as av
from gitgov.core.crypto.values import Place, ValueCipher, mask
from gitgov.core.errors import InputError

if TYPE_CHECKING:
    import pyarrow as pa

    from gitgov.core.config import DatasetPolicy
    from gitgov.core.keys import KeyStore

METHODS = ("encrypt", "pseudonymize", "mask", "drop")
KEYED = ("encrypt", "pseudonymize")
META_KEY = b"gitgov.protect"


@dataclass(frozen=True)
class Plan:
    column: str
    method: str
    joinable: bool = False
    kind: str | None = None  # the kind of personal data, for masking

    @property
    def label(self) -> str:
        return "encrypt (joinable)" if self.joinable else self.method


def first_row(fmt: str) -> int:
    """The line of a file's first row, which row numbers in the associated data start from:
    CSV and TSV have a header line."""
    return 2 if fmt in ("csv", "tsv") else 1


def plans(ds: "DatasetPolicy", detected: dict[str, str] | None = None) -> list[Plan]:
    """The columns ``ds`` declares a protection for, in gitgov.toml's order."""
    out = []
    for name, decl in ds.columns.items():
        method = decl.get("protect")
        if method in METHODS:
            kind = decl.get("pii") if isinstance(decl.get("pii"), str) else (detected or {}).get(name)
            out.append(Plan(name, method, bool(decl.get("joinable")), kind))
    return out


def row_keys(table: "pa.Table", ds: "DatasetPolicy", protected: set[str],
             first_line: int) -> tuple[list[str], list[str]]:
    """What binds each value to its row (for the associated data) and how to name the row."""
    key = [c for c in ds.primary_key if c in table.column_names and c not in protected]
    n = table.num_rows
    if key and len(key) == len(ds.primary_key):
        cols = [table.column(c).to_pylist() for c in key]
        ids = ["\x1f".join("" if v is None else str(v) for v in vals) for vals in zip(*cols)]
        names = [f"row {i + first_line} ({', '.join(key)} {ids[i].replace(chr(31), ', ')})"
                 for i in range(n)]
        return [f"key:{i}" for i in ids], names
    return [f"row:{i}" for i in range(n)], [f"row {i + first_line}" for i in range(n)]


def _text(column: "pa.ChunkedArray") -> list[Any]:
    import pyarrow as pa

    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = column.cast(pa.string())
    return column.to_pylist()


def protect_table(table: "pa.Table", ds: "DatasetPolicy", keys: "KeyStore", path: str,
                  plan: list[Plan], first_line: int = 1) -> tuple["pa.Table", dict[str, Any]]:
    """The table with each planned protection applied; and what was done (no values)."""
    import pyarrow as pa

    missing = [p.column for p in plan if p.column not in table.column_names and p.method != "drop"]
    if missing:
        raise InputError(f"{path}: column(s) {', '.join(missing)} declared in gitgov.toml "
                         f"(dataset '{ds.name}') are not in the file")
    key = keys.active_key(ds.name, create=True) if any(p.method in KEYED for p in plan) else None
    rows, _names = row_keys(table, ds, {p.column for p in plan if p.method != "mask"}, first_line)
    meta = _meta(table)
    done: dict[str, Any] = {"dataset": ds.name, "rows": table.num_rows, "columns": {},
                            "key_id": key.id if key else None}
    for p in plan:
        if p.column not in table.column_names:
            continue
        if p.method == "drop":
            table = table.drop_columns([p.column])
            done["columns"][p.column] = "drop"
            continue
        original = table.column(p.column).type
        values = _text(table.column(p.column))
        if p.method == "mask":
            new = mask(values, p.kind)
        else:
            cipher = ValueCipher(key, Place(ds.name, p.column, path))
            new = (cipher.pseudonymize(values) if p.method == "pseudonymize" else
                   cipher.encrypt_joinable(values) if p.joinable else cipher.encrypt(values, rows))
        index = table.column_names.index(p.column)
        table = table.set_column(index, pa.field(p.column, pa.string()), av.array(new, pa.string()))
        meta[p.column] = {"method": p.label, "type": str(original)}
        done["columns"][p.column] = p.label
    return _with_meta(table, meta), done


def reveal_table(table: "pa.Table", ds: "DatasetPolicy", keys: "KeyStore", path: str,
                 columns: list[str] | None = None, first_line: int = 1) -> tuple["pa.Table", dict]:
    """Encrypted columns decrypted; raises (and returns nothing) if any value fails."""
    import pyarrow as pa

    from gitgov.core.crypto.values import parse

    meta = _meta(table)
    encrypted = {}
    for name in table.column_names:
        if columns and name not in columns:
            continue
        values = _text(table.column(name))
        kids = {p[1] for v in values if v and (p := parse(v)) and p[0] in ("enc", "siv")}
        if kids:
            encrypted[name] = (values, sorted(kids))
    if not encrypted:
        raise InputError(f"{path}: no encrypted column to reveal" +
                         (f" among {', '.join(columns)}" if columns else ""))
    rows, names = bound_rows(table, ds, encrypted, first_line)
    plain: dict[str, list] = {}
    used = set()
    for name, (values, kids) in encrypted.items():
        used.update(kids)
        place = Place(ds.name, name, path)

        def resolve(kid: str, place: Place = place) -> ValueCipher:
            return ValueCipher(keys.key_by_id(kid, f"{path} column '{place.column}'"), place)

        others = [c for c in encrypted if c != name]
        plain[name] = resolve(kids[0]).reveal(values, rows, names, others, resolve)
    for name, values in plain.items():
        index = table.column_names.index(name)
        column = av.array(values, pa.string())
        original = meta.get(name, {}).get("type")
        if original and original not in ("string", "large_string"):
            column = _cast_back(column, original)
        table = table.set_column(index, pa.field(name, column.type), column)
    return table, {"dataset": ds.name, "columns": sorted(plain), "key_ids": sorted(used),
                   "rows": table.num_rows}


def bound_rows(table: "pa.Table", ds: "DatasetPolicy", encrypted: Any,
               first_line: int = 1) -> tuple[list[str], list[str]]:
    """What reveal takes each row's values to be bound to, as protect bound them as far as
    the file tells (the columns it protected, the ``encrypted`` ones), and the rows' names."""
    protected = {n for n, d in _meta(table).items() if d.get("method") != "mask"} | set(encrypted)
    return row_keys(table, ds, protected, first_line)


def _cast_back(column: "pa.Array", type_name: str) -> "pa.Array":
    import pyarrow as pa

    try:
        return column.cast(pa.type_for_alias(type_name))
    except (ValueError, pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return column  # an exotic original type: the text is still the value


def _meta(table: "pa.Table") -> dict[str, dict]:
    raw = (table.schema.metadata or {}).get(META_KEY)
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {}


def _with_meta(table: "pa.Table", meta: dict) -> "pa.Table":
    if not meta:
        return table
    existing = dict(table.schema.metadata or {})
    existing[META_KEY] = json.dumps(meta).encode()
    return table.replace_schema_metadata(existing)
