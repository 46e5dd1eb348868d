"""The watch daemon's retention sweep (the ``due_events`` hook).

Each sweep fires RetentionExpired for what expired since the last one, and
with ``[retention] action = "dispose"`` disposes of everything expired and
not on hold. It opens its own ledger connection: it runs on a plugin thread.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from gitgov.core.errors import GitgovError
from gitgov.core.events import Event

from .dispose import dispose
from .expiry import already_reported, find


def due(now: datetime, ctx: Any) -> list[Event]:
    from gitgov.core.ledger import open_ledger
    from gitgov.core.watch.cache import HashCache, cache_path

    policy, root = ctx.policy, ctx.root
    if not any(ds.retention for ds in policy.datasets.values()) or ctx.ledger_path is None:
        return []
    today = now.date()
    errors: list[str] = []
    cache = HashCache(cache_path(ctx.repo.local_dir)) if ctx.repo is not None else None
    try:
        with open_ledger(ctx.ledger_path) as ledger:
            found = find(root, policy, ledger.db, today, cache=cache, errors=errors)
            events: list[Event] = [i.event("scheduler") for i in found.items
                                   if not already_reported(ledger.db, i)]
    finally:
        if cache is not None:
            cache.close()
    if policy.retention.get("action") == "dispose" and ctx.repo is not None:
        events += _dispose_each(ctx.repo, [i for i in found.items if not i.held], policy, today, errors)
    for message in errors:  # the daemon's log; the other files are still judged
        logging.getLogger("gitgov.retention").error("retention sweep: %s", message)
    return events


def _dispose_each(repo: Any, items: list, policy: Any, today: Any, errors: list[str]) -> list[Event]:
    """Each disposal's event, also when a later one fails: a file already deleted must
    still be recorded as disposed of."""
    done: list[Event] = []
    for item in items:
        try:
            done.append(dispose(repo, item, policy, today, source="scheduler"))
        except (OSError, GitgovError) as exc:
            errors.append(f"{item.path}: not disposed of: {exc}")
    return done
