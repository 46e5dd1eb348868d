"""Disposing of expired data, and saying what Git history still holds.

A whole file is deleted; expired rows are removed by rewriting the file
atomically (core/rowfilter.py). Each disposal becomes a DataDisposed event
with the row counts and the SHA-256 before and after, recorded as soon as
that one file is done. The working tree is only part of the story: earlier
versions sit in Git history, so the report names the commits and the two
ways out, shredding the dataset's key (encrypted datasets) or rewriting
history.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from typing import Any

from gitgov.core.erase_protected import rebind
from gitgov.core.events import DataDisposed
from gitgov.core.rowfilter import filter_rows, format_of
from gitgov.core.watch.hashing import hash_file

from .expiry import Expired, parse_date, shifted

HISTORY_SHOWN = 5


def dispose(repo: Any, item: Expired, policy: Any, today: date, *, source: str,
            actor: str = "") -> DataDisposed:
    """Dispose of one expired item now; the event to record."""
    ds = policy.datasets[item.dataset]
    path = repo.root / item.path
    if item.mode == "file":
        before = hash_file(path).sha256
        os.unlink(path)
        return DataDisposed(path=item.path, dataset=item.dataset, sha256_before=before,
                            reason=f"retention {item.retention}: whole file, {item.basis}",
                            source=source, actor=actor)
    cutoff = shifted(today, -ds.retention_days)
    label = f"datasets.{ds.name}.retention_column = '{ds.retention_column}'"

    def expired(value: Any) -> bool:
        d = parse_date(value, label)
        return d is not None and d < cutoff

    fmt, label = format_of(item.path, ds.format), f"datasets.{ds.name}.retention_column"
    counted = filter_rows(path, fmt, ds.retention_column, expired, write=False, show=item.path, label=label)
    # Values encrypted for their row number must follow their rows as the rows above go.
    swap = rebind(repo, item.path, ds, fmt, ds.retention_column, expired, counted) if counted.removed else {}
    result = filter_rows(path, fmt, ds.retention_column, expired, write=True, show=item.path, label=label,
                         swap=swap)
    return DataDisposed(path=item.path, dataset=item.dataset, rows_before=result.rows_before,
                        rows_after=result.rows_after, sha256_before=result.sha256_before,
                        sha256_after=result.sha256_after or result.sha256_before,
                        reason=f"retention {item.retention}: rows with {ds.retention_column} "
                               f"before {cutoff}", source=source, actor=actor)


@dataclass
class History:
    path: str
    commits: list[str]  # short ids, newest first: those that left another version there


def history(repo: Any, paths: list[str]) -> list[History]:
    """Commits on any ref that hold another version of each path than the one on disk now
    (the disposal's own commit holds what was kept)."""
    out = []
    for rel in paths:
        kept = repo.git("hash-object", "--", rel, check=False).decode().strip()
        # Each commit that changed the path, with the blob it left there ("0..." if deleted).
        text = repo.git("log", "--all", "--format=>%H", "--raw", "--no-abbrev", "--no-renames",
                        "--", rel, check=False).decode()
        commits, commit = [], None
        for line in text.splitlines():
            if line.startswith(">"):
                commit = line[1:]
            elif line.startswith(":") and commit is not None:
                blob = line.split()[3]
                if blob != kept and blob.strip("0"):
                    commits.append(commit[:12])  # as the other reports name commits
                commit = None
        if commits:
            out.append(History(rel, commits))
    return out


def history_advice(found: list[History], encrypted: set[str], datasets: dict[str, str]) -> list[str]:
    """What still sits in Git history, and how to remove it."""
    lines = []
    for h in found:
        shown = ", ".join(h.commits[:HISTORY_SHOWN]) + (" ..." if len(h.commits) > HISTORY_SHOWN else "")
        ds = datasets.get(h.path, "")
        lines.append(f"{h.path}: {len(h.commits)} commit(s) in Git history still hold earlier "
                     f"versions ({shown})")
        if ds in encrypted:
            lines.append(f"  dataset '{ds}' is encrypted: `gitgov retention apply --shred-key` (or "
                         f"`gitgov keys shred {ds}`) makes every committed version unreadable")
        else:
            lines.append(f"  dataset '{ds}' is not encrypted: remove the old versions by rewriting "
                         f"history: copy the file aside, `git filter-repo --path {h.path} "
                         "--invert-paths` (which takes it out of every commit), put the copy back "
                         "and commit it, then force-push and have every clone re-clone")
    return lines


def shred_keys(repo: Any, datasets: list[str]) -> list[str]:
    """Destroy the data keys of `datasets`; one line per dataset saying what happened."""
    try:
        from gitgov.core.keys import KeyStore
    except ImportError:  # pragma: no cover - the key store ships with gitgov
        return [f"{ds}: shredding would destroy its data keys, making every encrypted version in "
                "Git history unreadable" for ds in datasets]
    from gitgov.core.crypto import CryptoError

    store = KeyStore.for_repo(repo)
    lines = []
    for ds in datasets:
        try:
            ids = store.shred(ds)
            lines.append(f"{ds}: shredded {len(ids)} data key(s) ({', '.join(i[:12] for i in ids)}); "
                         "its encrypted versions in Git history can no longer be read; the next "
                         "commit encrypts the current data under a new key")
        except CryptoError as exc:
            lines.append(f"{ds}: key not shredded: {exc}")
    return lines
