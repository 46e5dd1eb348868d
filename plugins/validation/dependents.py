"""The files that refer to a changed dataset, checked again in the state that changes it.

A foreign key (``orders.customer_id`` -> ``customers.customer_id``) is checked
against the other dataset in the same state, so a commit that changes only
customers can break orders, which it does not touch. As in a database, where
deleting a referenced row is refused: when a staged (pre-commit) or pushed
(pre-push, pre-receive) change adds, changes or removes a file of dataset P,
the files of every dataset with a foreign key into P are checked again in
that state, the staged index or the pushed commit. Their findings name their
own path and block as their own would, and say why they were checked.

Only this plugin knows foreign keys, and the other plugins must not see the
re-check as a change of those files: no event is emitted; the findings (and
the ``quality_check`` fact) are returned from P's event. A file version is
checked once per run in each state (hook.claim), whichever of its own event
and a re-check comes first; a file that has its own event in the same state
(the hooks and the server list their events up front in ``ctx.planned``) is
left to it, so its own entry in the ledger carries its verdict. The ruleset
hash includes the versions of the files foreign keys point to, so a re-check
of content that passed against the same parent is not read again. The index
or commit is listed once per run (Snapshot.files), however many files change.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from gitgov.core.events import DataAdded, Fact, Finding

from .hook import check_version, claim, listings
from .sources import snapshot_for

if TYPE_CHECKING:
    from gitgov.core.config import DatasetPolicy, Policy
    from gitgov.core.context import Context
    from gitgov.core.events import DataRemoved


def referring(policy: "Policy", parent: str) -> list[tuple["DatasetPolicy", tuple[str, ...]]]:
    """Each dataset with a foreign key into `parent`, with the columns that hold them."""
    out = []
    for ds in policy.datasets.values():
        keys = ds.rules.get("foreign_keys") or {}
        cols = tuple(sorted(col for col, ref in keys.items()
                            if isinstance(ref, str) and ref.split(".", 1)[0] == parent))
        if cols:
            out.append((ds, cols))
    return out


def recheck(event: "DataAdded | DataRemoved", ctx: "Context") -> list[Finding | Fact]:
    """The findings and facts of the files that refer to the dataset `event` changes."""
    if event.stage not in ("staged", "pushed") or event.dataset is None or ctx.repo is None:
        return []
    if event.stage == "pushed" and not event.commit:
        return []
    children = referring(ctx.policy, event.dataset)
    if not children:
        return []
    out: list[Finding | Fact] = []
    for ds, cols in children:
        because = {"dataset": event.dataset, "path": event.path, "foreign_keys": list(cols)}
        out += check_again(ctx, ds, event, _why(cols, event), because,
                           stage=event.stage, commit=event.commit)
    return out


def check_again(ctx: "Context", ds: "DatasetPolicy", cause: Any, why: str, because: dict[str, Any],
                *, stage: str = "staged", commit: str | None = None) -> list[Finding | Fact]:
    """Check each file of `ds` that has no event of its own in this state (the staged index,
    or the pushed `commit`), each marked with `why` and checked as by `cause`'s actor; also
    used by rule_changes.py."""
    snap = snapshot_for(stage, commit)
    own = {e.path for e in ctx.planned
           if isinstance(e, DataAdded) and e.stage == stage and e.commit == commit}
    out: list[Finding | Fact] = []
    for path, blob in sorted(snap.files(ctx.repo, ds, listings(ctx), policy=ctx.policy).items()):
        if blob is None or path in own:
            continue
        if not claim(ctx, stage, commit, path, blob):
            continue
        child = DataAdded(path=path, dataset=ds.name, blob=blob, stage=stage, commit=commit,
                          actor=cause.actor, source=cause.source)
        out += [_marked(item, why, because) for item in check_version(child, ctx)]
    return out


def _why(cols: tuple[str, ...], event: Any) -> str:
    keys = f"foreign key {cols[0]} points" if len(cols) == 1 else \
        f"foreign keys {', '.join(cols)} point"
    change = "this commit changes" if event.stage == "staged" else \
        f"commit {event.commit[:12]} changes"
    return f"checked again: its {keys} to {event.dataset}, which {change}"


def _marked(item: Finding | Fact, why: str, because: dict[str, Any]) -> Finding | Fact:
    if isinstance(item, Finding):
        return dataclasses.replace(item, message=f"{item.message}; {why}",
                                   details={**item.details, "recheck": because})
    return dataclasses.replace(item, payload={**item.payload, "recheck": because})
