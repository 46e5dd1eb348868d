"""Ledger entries for key operations and for every reveal of protected data.

Payloads name datasets, columns, paths and key ids; never a key, never a value.
"""
from __future__ import annotations

from typing import Any

from ..errors import InputError


def record(repo: Any, kind: str, subject: str, payload: dict[str, Any]) -> None:
    """Append one entry; an access that cannot be recorded must not happen, so this raises."""
    from ..ledger import Entry, open_ledger

    if not repo.ledger_path.exists():
        raise InputError(f"no ledger at {repo.ledger_path}: run `gitgov init` first "
                         "(key operations and reveals are recorded there)")
    with open_ledger(repo.ledger_path) as ledger:
        ledger.append([Entry(kind=kind, subject=subject, payload=payload, actor=repo.identity(),
                             source="cli")])
