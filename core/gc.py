"""`gitgov gc`: remove objects from the store that nothing needs any more.

Needed are the objects of registered models and dataset versions, always, and
those of runs (their uncommitted diff, untracked inputs and outputs). With
``--older-than`` or ``--keep-last``, runs beyond that limit no longer hold their
objects (a run that produced a registered model always does). What was
removed is recorded in the ledger, so a later `gitgov reproduce` can say why
an input is gone.

An object that no record names at all may belong to a run or a model
registration still on its way to the ledger (the bytes are stored first,
then recorded), so it is removed only once it is an hour old, as `git gc`
keeps recent loose objects; ``--now`` removes it anyway.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

TMP_GRACE_S = 3600  # a temporary file this old belongs to no store operation still running
ORPHAN_GRACE_S = 3600  # an unrecorded object this old belongs to no run still writing its record


@dataclass
class GcReport:
    removed: list[str] = field(default_factory=list)
    freed: int = 0
    kept: int = 0
    too_new: int = 0  # of kept: named by no record, but younger than ORPHAN_GRACE_S
    runs_released: int = 0
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def released_runs(db, older_than_days: int | None, keep_last: int | None) -> set[str]:
    """Runs whose objects are no longer kept under the given limits."""
    released: set[str] = set()
    if older_than_days is not None:
        try:
            cutoff = (datetime.now(timezone.utc) - timedelta(days=older_than_days)).strftime("%Y-%m-%dT%H:%M:%S")
        except OverflowError:  # before the year 1: no run is that old
            cutoff = "0001-01-01T00:00:00"
        released |= {r[0] for r in db.execute("SELECT run_id FROM runs WHERE started < ?", (cutoff,))}
    if keep_last is not None:
        rows = db.execute("SELECT run_id FROM runs ORDER BY started_seq DESC LIMIT -1 OFFSET ?", (keep_last,))
        released |= {r[0] for r in rows}
    model_runs = {r[0] for r in db.execute("SELECT run_id FROM models WHERE run_id IS NOT NULL")}
    return released - model_runs


def needed(db, released: set[str]) -> set[str]:
    keep: set[str] = set()
    for run_id, diff in db.execute("SELECT run_id, diff_sha256 FROM runs WHERE diff_sha256 IS NOT NULL"):
        if run_id not in released:
            keep.add(diff)
    for run_id, sha in db.execute("SELECT run_id, sha256 FROM run_files WHERE stored = 1"):
        if run_id not in released:
            keep.add(sha)
    keep |= {r[0] for r in db.execute("SELECT sha256 FROM models")}
    keep |= {r[0] for r in db.execute("SELECT sha256 FROM dataset_versions WHERE sha256 IS NOT NULL")}
    return keep


def collect(session, *, older_than_days: int | None = None, keep_last: int | None = None,
            dry_run: bool = False, now: bool = False) -> GcReport:
    from .ledger import Entry
    from .store import ObjectStore

    ledger = session.ctx.ledger()
    store = ObjectStore.for_repo(session.repo, session.policy)
    released = released_runs(ledger.db, older_than_days, keep_last)
    keep = needed(ledger.db, released)
    recorded = needed(ledger.db, set()) if released else keep
    report = GcReport(runs_released=len(released), dry_run=dry_run)
    clock = time.time()
    for digest in list(store.digests()):
        if digest in keep:
            report.kept += 1
            continue
        if not now and digest not in recorded and is_young(store.path(digest), clock):
            report.kept += 1
            report.too_new += 1
            continue
        report.removed.append(digest)
        report.freed += store.path(digest).stat().st_size if dry_run else store.remove(digest)
    if not dry_run:
        _clean_tmp(store)
        if report.removed:
            ledger.append([Entry(kind="store_gc", subject="objects", actor=session.actor(), source="cli",
                                 payload={"removed": report.removed, "freed": report.freed,
                                          "older_than_days": older_than_days, "keep_last": keep_last,
                                          "runs_released": sorted(released)})])
    return report


def is_young(path, clock: float) -> bool:
    """Stored within the grace period. The inode's change time, not the mtime: a hard link
    keeps its source's mtime, however old, but linking it changes the ctime."""
    try:
        return clock - path.stat().st_ctime < ORPHAN_GRACE_S
    except OSError:
        return False


def _clean_tmp(store) -> None:
    tmp = store.root / "tmp"
    if not tmp.is_dir():
        return
    now = time.time()
    for leftover in tmp.iterdir():
        try:
            if now - leftover.stat().st_mtime > TMP_GRACE_S:
                leftover.unlink()
        except OSError:
            continue
