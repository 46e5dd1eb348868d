"""Checking a ledger's hash chain, row by row, against itself and its anchors.

A row is sound when its id is the hash of its own content (ledger_canon.entry_id),
its seq follows the one before, and its `prev` is that row's id. Anchors are
heads kept outside the file (git notes): they also catch a rewritten or a
truncated tail, which a chain that is only checked against itself cannot show.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from gitgov.core.errors import LedgerError
from gitgov.core.ledger_canon import GENESIS, entry_id

APPEND_ONLY_TRIGGERS = frozenset({"journal_no_update", "journal_no_delete", "journal_no_replace"})


class VerifyReport(NamedTuple):
    """What verify found: ok, how many rows it read, and the first bad seq with why."""

    ok: bool
    count: int
    first_bad_seq: int | None = None
    reason: str = ""


def normalise_anchors(anchors: Mapping[Any, Any]) -> dict[int, str]:
    """Anchors often come back from JSON, where the seq keys are strings."""
    try:
        return {int(seq): str(rid) for seq, rid in anchors.items()}
    except (TypeError, ValueError, AttributeError):
        raise LedgerError("anchors must map entry seq numbers to entry ids") from None


def verify_rows(rows: Iterator[tuple[Any, ...]], anchors: Mapping[int, str]) -> VerifyReport:
    """`rows` are (id, seq, prev, time, kind, actor, source, subject, payload) in seq order."""
    expected, prev, count = 1, GENESIS, 0
    for row in rows:
        count += 1
        try:  # the common case inline: _check_row says why a row is bad
            sound = entry_id(*row[1:]) == row[0] and row[1] == expected and row[2] == prev
        except (TypeError, ValueError):
            sound = False
        rid, seq = row[0], row[1]
        if not sound or seq in anchors:
            bad = _check_row(expected, prev, seq, rid, row[2], list(row[3:]), anchors)
            if bad:
                return VerifyReport(False, count, min(seq, expected), bad)
        expected, prev = seq + 1, rid
    last = expected - 1
    beyond = sorted(s for s in anchors if s > last)
    if beyond:
        return VerifyReport(False, count, last + 1,
                            f"journal ends at seq {last} but seq {beyond[-1]} is anchored (tail truncated)")
    return VerifyReport(True, count)


def _check_row(expected: int, prev: str, seq: int, rid: str, rprev: str,
               content: list[Any], anchors: Mapping[int, str]) -> str:
    """Reason this row breaks the chain, or '' if it is sound."""
    if seq > expected:
        return f"seq {expected} is missing (row deleted); next row is seq {seq}"
    if seq < expected:
        return f"unexpected seq {seq} before seq {expected} (row inserted)"
    try:
        recomputed = entry_id(seq, rprev, *content)  # the row against itself first
    except (TypeError, ValueError):
        recomputed = None
    if recomputed != rid:
        return f"seq {seq}: content does not match its id (row edited, inserted or moved)"
    if rprev != prev:
        return f"seq {seq}: prev does not match the id of seq {seq - 1} (rows inserted, deleted or reordered)"
    if seq in anchors and anchors[seq] != rid:
        return f"seq {seq}: id differs from the anchored id (history rewritten)"
    return ""


def triggers_present(db: sqlite3.Connection) -> bool:
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                                      " AND tbl_name = 'journal'")}
    return APPEND_ONLY_TRIGGERS <= names
