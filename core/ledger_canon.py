"""Canonical JSON and entry ids: the bytes the ledger's hash chain is computed over.

The canonical form is what `json.dumps(obj, sort_keys=True, separators=(",", ":"),
ensure_ascii=False, allow_nan=False)` writes, encoded as UTF-8. Ledgers written
with it must keep verifying, so it never changes.

orjson (a dependency, but optional here, and loaded only for batches and verify)
writes the same bytes about five times faster for *plain* values: dicts with str keys, lists, str, int (64-bit), bool
and None. It differs on floats (1e-05 vs 0.00001, NaN as null), on Enum, UUID,
date and dataclass values (it serialises them, json refuses), and on integers
beyond 64 bits (it refuses). So it only ever sees values `plain()` accepted,
everything else (and anything orjson refuses) goes through the stdlib
encoder, and without orjson the stdlib encoder does it all: same bytes either
way (tests compare both paths). Stdlib otherwise: this is the hook hot path.
"""
from __future__ import annotations

import json
from json.encoder import encode_basestring as _quote  # what _CANON uses for str (ensure_ascii=False)
from typing import Any

from gitgov.core.small_hash import sha256 as _sha256

# An entry's id hashes a few hundred bytes: a process that appends a few entries
# (a hook, `gitgov run`) need not load OpenSSL for them (see small_hash). OpenSSL
# is ~3x faster per entry, so use_orjson() switches to it for batches and verify.

_orjson: Any = None  # the module once use_orjson() loaded it; None: the stdlib writes everything
_loaded = False
_SORT_KEYS = 0
GENESIS = "0" * 64  # the `prev` of entry 1
BATCH = 32  # entries in one append from which orjson is worth loading

# check_circular=False: skips per-container bookkeeping; a cycle still fails (RecursionError).
_CANON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                          check_circular=False)
_ID_TEMPLATE = '{"actor":%s,"kind":%s,"payload":%s,"prev":%s,"seq":%d,"source":%s,"subject":%s,"time":%s}'
_LEAVES = frozenset((str, int, bool, type(None)))
_CONTAINERS = frozenset((dict, list))
_NODES = _LEAVES | _CONTAINERS


def use_orjson() -> None:
    """Load orjson for work large enough to repay its import (about 9 ms, mostly uuid and
    platform): a batch of entries, a verify. A single entry is written by the stdlib."""
    global _orjson, _loaded, _SORT_KEYS, _sha256
    if not _loaded:
        _loaded = True
        import hashlib

        _sha256 = hashlib.sha256
        try:
            import orjson
        except ImportError:  # pragma: no cover - exercised by forcing the fallback in tests
            return
        _orjson, _SORT_KEYS = orjson, orjson.OPT_SORT_KEYS


def fast() -> bool:
    """Whether orjson is in use (else the stdlib encoder writes everything)."""
    return _orjson is not None


def plain(obj: Any) -> bool:
    """True if `obj` holds only types orjson and json write alike (see the module doc;
    orjson itself refuses integers beyond 64 bits). Such a value also parses back
    from its JSON as an equal value of the same types."""
    kind = type(obj)
    if kind is dict:
        return _plain_dict(obj)
    if kind is list:
        return _plain_list(obj)
    return kind in _LEAVES


def _plain_dict(obj: dict[Any, Any]) -> bool:
    # A plain loop: payload dicts are small, and this beats set(map(type, ...)) there.
    for key, value in obj.items():
        if type(key) is not str:
            return False
        kind = type(value)
        if kind in _LEAVES:
            continue
        if kind is dict:
            if value and not _plain_dict(value):
                return False
        elif kind is list:
            if value and not _plain_list(value):
                return False
        else:
            return False
    return True


def _plain_list(obj: list[Any]) -> bool:
    types = set(map(type, obj))  # lists may be long: their types are checked in C
    if types <= _LEAVES:
        return True
    if not types <= _NODES:
        return False
    for value in obj:
        if value and type(value) in _CONTAINERS and not plain(value):
            return False
    return True


def canonical_text(obj: Any) -> tuple[str, bool]:
    """(canonical JSON text of `obj`, whether obj is plain) - raises like json.dumps."""
    if _orjson is not None:
        try:
            if plain(obj):
                return _orjson.dumps(obj, option=_SORT_KEYS).decode(), True
        except (RecursionError, _orjson.JSONEncodeError):  # too deep; lone surrogates
            pass
    return _CANON.encode(obj), False


def canonical_json(obj: Any) -> bytes:
    """The one serialisation that ids are computed over (NaN/Infinity refused: not JSON)."""
    return canonical_text(obj)[0].encode()


def entry_id(seq: int, prev: str, time: str, kind: str, actor: str, source: str,
             subject: str, payload: str) -> str:
    """Id of a journal entry; `payload` is its canonical JSON text.

    Equal to sha256 of canonical_json() of the dict with these 8 keys (a test
    checks it); the keys are given pre-sorted because this runs once per entry
    on append and on verify.
    """
    if (_orjson is not None and type(seq) is int and type(prev) is str and type(time) is str
            and type(kind) is str and type(actor) is str and type(source) is str
            and type(subject) is str and type(payload) is str):
        try:
            text = _orjson.dumps({"actor": actor, "kind": kind, "payload": payload, "prev": prev,
                                  "seq": seq, "source": source, "subject": subject, "time": time})
            return _sha256(text).hexdigest()
        except _orjson.JSONEncodeError:  # lone surrogates: the stdlib path raises UnicodeEncodeError
            pass
    return _entry_id_stdlib(seq, prev, time, kind, actor, source, subject, payload)


def _entry_id_stdlib(seq: int, prev: str, time: str, kind: str, actor: str, source: str,
                     subject: str, payload: str) -> str:
    text = _ID_TEMPLATE % (_quote(actor), _quote(kind), _quote(payload), _quote(prev), seq,
                           _quote(source), _quote(subject), _quote(time))
    return _sha256(text.encode()).hexdigest()
