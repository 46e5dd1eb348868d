"""One run of gitgov against one repository: policy, plugins and context together.

Both the CLI and the Git hooks open a Session; nothing is loaded at import
time, and a Session that is never opened costs nothing.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .bus import Outcome, emit
from .config import Policy, fastpath_cache_payload, load_policy
from .context import Context
from .events import Event
from .git import Repo
from .plugins import Host, load_host


@dataclass
class Session:
    repo: Repo
    policy: Policy
    host: Host
    ctx: Context

    @classmethod
    def open(cls, start: Path | str = ".", *, extra_plugins: Iterable[tuple[str, object]] = (),
             require_ledger: bool = True) -> "Session":
        repo = Repo.discover(start)
        policy = load_policy(repo.policy_path)
        host = load_host(policy, repo.root, extra=extra_plugins)
        ledger = repo.ledger_path if (require_ledger or repo.ledger_path.exists()) else None
        return cls(repo=repo, policy=policy, host=host,
                   ctx=Context(policy=policy, repo=repo, ledger_path=ledger))

    def emit(self, events: Iterable[Event], *, record: bool = True) -> Outcome:
        return emit(events, self.host, self.ctx, record=record)

    def actor(self) -> str:
        return self.repo.identity()

    def write_fastpath_cache(self) -> None:
        """Refresh the matcher the pre-commit fast path reads (see hookrun.py)."""
        path = self.repo.local_dir / "cache" / "fastpath.json"
        try:
            st = os.stat(self.repo.policy_path)
            stamp = [st.st_size, st.st_mtime_ns]
        except FileNotFoundError:
            stamp = None
        payload = {"version": 1, "stamp": stamp, **fastpath_cache_payload(self.policy)}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(payload), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only .gitgov only costs the fast path, never correctness

    def close(self) -> None:
        self.ctx.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
