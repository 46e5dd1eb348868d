"""What the catalog reads: the repository's policy and its ledger, opened once."""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from gitgov.core.config import DatasetPolicy, Policy


@dataclass
class Sources:
    """The policy, the ledger's connection and the day everything is judged on."""

    root: Path
    policy: Policy
    db: sqlite3.Connection
    today: date
    repo: Any = None  # gitgov.core.git.Repo, for the anchors in git notes
    ledger: Any = None  # gitgov.core.ledger.Ledger, for verify
    cache: dict[str, Any] = field(default_factory=dict)  # answers asked for more than once

    def dataset(self, name: str) -> DatasetPolicy | None:
        return self.policy.datasets.get(name)

    def rows(self, sql: str, args: tuple | list = ()) -> list[tuple]:
        return self.db.execute(sql, args).fetchall()

    def dicts(self, sql: str, args: tuple | list = ()) -> list[dict[str, Any]]:
        cur = self.db.execute(sql, args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur]


@contextmanager
def open_sources(start: Path | str = ".", today: date | None = None) -> Iterator[Sources]:
    """The repository around `start`, its gitgov.toml and its ledger (LedgerError if none)."""
    from gitgov.core.git import Repo
    from gitgov.core.ledger import open_ledger
    from gitgov.core.session import load_repo_policy

    repo = Repo.discover(start)
    policy = load_repo_policy(repo)
    ledger = open_ledger(repo.ledger_path)
    try:
        yield Sources(root=repo.root, policy=policy, db=ledger.db,
                      today=today or datetime.now(timezone.utc).date(), repo=repo, ledger=ledger)
    finally:
        ledger.close()


def ids_json(values: Any) -> str:
    """A list for `IN (SELECT value FROM json_each(?))`: one parameter, any length."""
    return json.dumps(sorted(set(v for v in values if v is not None)))


def loads(text: str | None) -> Any:
    """JSON from a projection column; None for empty or unreadable text."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
