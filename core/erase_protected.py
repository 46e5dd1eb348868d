"""Finding a data subject's rows through a protected column (`gitgov erase`).

A column that `gitgov protect` encrypted or pseudonymized no longer holds the
value the user types, so comparing text finds nothing and the subject's rows
would silently stay. Joinable encryption (AES-SIV) and pseudonyms are
deterministic: the value is protected with each key the column names and
compared. Plain encryption uses a random nonce and binds each value to its
row, so the column is decrypted as `gitgov reveal` decrypts it, under the same
access rule. What comes out is the set of the subject's cells exactly as the
file holds them, so the rows are then removed by the same row filter as
plain values. A masked column has lost the value: it is refused, never
reported as "no rows". Encrypted values bound to row numbers (a file without
the primary key) are re-encrypted for the numbers their rows will have, so
the rows that stay still decrypt.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from .crypto import CryptoError, Shredded
from .crypto.values import PREFIX, Place, ValueCipher, is_protected, parse
from .errors import InputError, PolicyBlocked

DETERMINISTIC = ("siv", "tok")


class Probe:
    """The plain-text match erase always makes, noting on the way whether the column holds
    protected values: then the text cannot match and the keys must be used."""

    def __init__(self, value: str):
        self.value, self.protected = value, False

    def __call__(self, cell: Any) -> bool:
        from .erase import as_text

        if isinstance(cell, str) and cell.startswith(PREFIX) and is_protected(cell):
            self.protected = True
        return as_text(cell) == self.value


def matcher(value: str, cells: frozenset[str]) -> Callable[[Any], bool]:
    """A cell of the subject: the value itself, or one of its protected forms in this file."""
    from .erase import as_text

    return lambda cell: as_text(cell) == value or (isinstance(cell, str) and cell in cells)


def refuse_masked(ds: Any, column: str) -> None:
    """A masked value ("a***@example.com") no longer says whose row it is; searching by it
    would report "no rows" while the subject's rows stay."""
    if (ds.columns.get(column) or {}).get("protect") != "mask":
        return
    hidden = {c for c, d in ds.columns.items() if (d or {}).get("protect") in ("mask", "drop")}
    keyed = [c for c, d in ds.columns.items() if (d or {}).get("protect") in ("encrypt", "pseudonymize")]
    other = next((c for c in [*ds.primary_key, *keyed] if c != column and c not in hidden), None)
    hint = f", e.g. --subject {other}=..." if other else ""
    raise InputError(f"--subject {column}=...: column '{column}' of dataset '{ds.name}' is masked "
                     f"(protect = \"mask\"), so its rows cannot be found by it; erase by another "
                     f"column{hint}")


class AllShredded(Exception):
    """The column's every value was encrypted with keys since shredded: nothing is left to find."""


def subject_cells(session: Any, rel: str, ds: Any, fmt: str, column: str, value: str) -> frozenset[str]:
    """The protected cells of ``column`` in this file whose value is ``value``."""
    from .keys import KeyStore

    _may_search(session, ds, rel, column)
    table = _read(session.repo.root / rel, fmt, rel)
    cells = _cells(table, column)
    kinds = {(p[0], p[1]) for c in cells if c and (p := parse(c))}
    keys = KeyStore.for_repo(session.repo)
    if kinds and all(_shredded(keys, kid) for _kind, kid in kinds):
        raise AllShredded(rel)  # crypto-shredded already: an erasure has nothing to read or remove
    try:
        found = {_protect(keys, kind, kid, ds, column, rel, value)
                 for kind, kid in sorted(kinds) if kind in DETERMINISTIC}
        if any(kind == "enc" for kind, _kid in kinds):
            found |= _decrypted(table, cells, keys, ds, fmt, column, rel, value)
    except CryptoError as exc:  # no key, a shredded one, a value that fails to authenticate
        text = str(exc) if rel in str(exc) else f"{rel} column '{column}': {exc}"
        raise type(exc)(f"--subject {column}=...: {text}") from None
    return frozenset(found)


def rebind(repo: Any, rel: str, ds: Any, fmt: str, column: str, drop: Callable[[Any], bool],
           counted: Any) -> dict[str, str]:
    """{ciphertext: the same value re-encrypted} for the rows that stay but change number
    (when erase, or retention's disposal of expired rows, removes rows from a file).

    Without the primary key in the file, a value encrypted with a random nonce is bound to
    its row number; every row after a removed one moves up, and reveal would then say its
    values were moved there from another row. Each is re-encrypted under its own key for
    the number it is about to have. Values bound by the primary key keep their bytes."""
    from gitgov.core import arrow_values as av
    from gitgov.plugins.privacy.protect import bound_rows, first_row

    path = repo.root / rel
    if fmt in ("csv", "tsv", "jsonl") and f"{PREFIX}enc:".encode() not in path.read_bytes():
        return {}  # the common case, plain text: not parsed a second time
    table = _read(path, fmt, rel)
    cells = {c: _cells(table, c) for c in table.column_names}
    kinds = {c: {p[0] for v in vs if v and (p := parse(v))} for c, vs in cells.items()}
    if not any("enc" in k for k in kinds.values()):
        return {}
    keep = [not drop(v) for v in table.column(column).to_pylist()]
    if (len(keep), sum(keep)) != (counted.rows_before, counted.rows_after):  # never guess which row is which
        raise InputError(f"{rel}: its encrypted values are bound to their rows, and its rows could not "
                         "be matched up for re-encrypting them; erase from it by hand")
    encrypted = [c for c, k in kinds.items() if k & {"enc", "siv"}]
    first = first_row(fmt)
    old, names = bound_rows(table, ds, encrypted, first)
    new, _ = bound_rows(table.filter(av.mask(keep)), ds, encrypted, first)
    moved = [(i, n) for i, n in zip((i for i, k in enumerate(keep) if k), new) if old[i] != n]
    try:
        return {k: v for c in encrypted for k, v in _rebound(repo, ds, rel, c, cells[c], moved, old,
                                                              names).items()}
    except CryptoError as exc:
        raise type(exc)(f"{rel}: its encrypted values are bound to row numbers, so the rows after a "
                        f"removed one must be re-encrypted: {exc}") from None


def _rebound(repo: Any, ds: Any, rel: str, column: str, cells: list, moved: list, old: list,
             names: list) -> dict[str, str]:
    """One column's moved values, decrypted for their old row and encrypted for the new one,
    under the key each was encrypted with."""
    from .keys import KeyStore

    by_key: dict[str, list[tuple[int, str]]] = {}
    for i, row in moved:
        parsed = parse(cells[i]) if cells[i] else None
        if parsed and parsed[0] == "enc":
            by_key.setdefault(parsed[1], []).append((i, row))
    out: dict[str, str] = {}
    for kid, items in by_key.items():
        key = KeyStore.for_repo(repo).key_by_id(kid, f"{rel} column '{column}'")
        cipher = ValueCipher(key, Place(ds.name, column, rel))
        before = [cells[i] for i, _row in items]
        plain = cipher.reveal(before, [old[i] for i, _row in items], [names[i] for i, _row in items])
        out.update(zip(before, cipher.encrypt(plain, [row for _i, row in items])))
    return out


def _may_search(session: Any, ds: Any, rel: str, column: str) -> None:
    """Finding whose row a protected value is re-identifies the person: the access table's
    `reveal` rule applies, and a refusal is recorded, as for `gitgov reveal`."""
    from gitgov.plugins.privacy.commands import _may_reveal

    try:
        _may_reveal(session.repo, session.policy, ds, rel)
    except PolicyBlocked as exc:
        raise PolicyBlocked(f"--subject {column}=...: {rel} column '{column}' is protected, and "
                            f"finding the subject's rows in it means revealing it: {exc}") from None


def _shredded(keys: Any, kid: str) -> bool:
    try:
        keys.key_by_id(kid)
    except Shredded:
        return True
    except CryptoError:
        return False  # missing or wrong: reported when the column is searched
    return False


def _protect(keys: Any, kind: str, kid: str, ds: Any, column: str, rel: str, value: str) -> str:
    """The value as the column would hold it under key ``kid`` (deterministic kinds only)."""
    cipher = ValueCipher(keys.key_by_id(kid, f"{rel} column '{column}'"), Place(ds.name, column, rel))
    out = cipher.encrypt_joinable([value]) if kind == "siv" else cipher.pseudonymize([value])
    return out[0] or ""


def _decrypted(table: Any, cells: list, keys: Any, ds: Any, fmt: str, column: str, rel: str,
               value: str) -> set[str]:
    """The randomly encrypted cells that decrypt to the value: reveal's own decryption, so
    each value is checked against the row it is bound to."""
    from gitgov.plugins.privacy.protect import first_row, reveal_table

    from .erase import as_text

    first = first_row(fmt)
    plain, _done = reveal_table(table, ds, keys, rel, [column], first)
    return {cell for cell, text in zip(cells, plain.column(column).to_pylist())
            if cell and cell.startswith(f"{PREFIX}enc:") and as_text(text) == value}


def _cells(table: Any, column: str) -> list:
    import pyarrow as pa

    values = table.column(column)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return [None] * len(values)  # not text: it holds no protected value
    return values.to_pylist()


def _read(path: Path, fmt: str, rel: str) -> Any:
    """The file as `gitgov protect` and `gitgov reveal` read it, so rows line up with the
    associated data they bound each value to."""
    if fmt == "arrow":
        import pyarrow as pa
        import pyarrow.feather as feather

        try:
            return feather.read_table(path)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"{rel}: cannot read as arrow: {exc}") from None
    from gitgov.plugins.privacy.scan import read_table

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{rel}: cannot read: {exc.strerror}") from None
    return read_table(data, fmt, rel)
