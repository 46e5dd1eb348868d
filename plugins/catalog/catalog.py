"""The catalog: every dataset with its people, its current version, quality and retention.

Datasets come from gitgov.toml and from the ledger (a dataset that was
recorded and later removed from the policy is still listed, marked so).
The current version of a file is its newest ledger entry, leaving out staged
versions that a check blocked: those never became a commit.
"""
from __future__ import annotations

from typing import Any

from gitgov.core.config import DatasetPolicy

from . import versions
from .retention import retention_status
from .sources import Sources

_FILES = """SELECT dataset, path, blob, sha256, size, stage, commit_sha, verdict, time, actor, seq
            FROM current_files"""
# The check of a version is the first one of its path recorded after it (the
# validation plugin records it in the same transaction, right after the event).
_CHECK = """SELECT verdict, rows, columns, errors, warnings, time, blob FROM quality_checks
            WHERE path = ? AND seq > ? ORDER BY seq LIMIT 1"""
_LATEST = """SELECT dataset, path, verdict, rows, errors, warnings, time, stage FROM latest_quality"""


def build(src: Sources, files: dict[str, list[dict[str, Any]]] | None = None,
          only: str | None = None) -> list[dict[str, Any]]:
    """One entry per dataset, in gitgov.toml's order, then datasets only the ledger knows."""
    files = current_files(src) if files is None else files
    latest = {r[0]: r for r in src.rows(_LATEST)}
    known = {r[0] for r in src.rows("SELECT name FROM datasets")}
    names = list(src.policy.datasets) + sorted(
        n for n in known | set(files) if n and n not in src.policy.datasets)
    if only is not None:
        names = [n for n in names if n == only]
    else:
        versions.count_all(src)  # one grouped query rather than one per dataset
    retention = retention_status(src, files)
    return [entry(name, src.dataset(name), files.get(name, []), versions.count(src, name),
                  latest.get(name), retention.get(name)) for name in names]


def current_files(src: Sources) -> dict[str, list[dict[str, Any]]]:
    """dataset -> its files as the repository holds them now, with their check and commit."""
    keys = ("dataset", "path", "blob", "sha256", "size", "stage", "commit", "verdict", "time",
            "actor", "seq")
    rows = [dict(zip(keys, r)) for r in src.rows(_FILES)]
    out: dict[str, list[dict[str, Any]]] = {}
    for f in rows:
        check = src.db.execute(_CHECK, (f["path"], f["seq"])).fetchone()
        if check and (check[6] is None or f["blob"] is None or check[6] == f["blob"]):
            f["verdict"] = check[0] or f["verdict"]
            f.update(rows=check[1], columns=check[2], errors=check[3], warnings=check[4])
            f["blob"] = f["blob"] or check[6]
        made = versions.find_commit(src, f["path"], f["blob"], f["seq"])
        if made and not f["commit"]:
            f["commit"] = made[0]
        if made:
            f.update(committed=made[1], author=made[2])
        out.setdefault(f["dataset"], []).append(f)
    return out


def entry(name: str, ds: DatasetPolicy | None, files: list[dict[str, Any]], versions: int,
          latest: tuple | None, retention: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "name": name,
        "in_policy": ds is not None,
        "description": ds.description if ds else "",
        "paths": list(ds.paths) if ds else sorted({f["path"] for f in files}),
        "classification": ds.classification if ds else None,
        "owner": ds.owner if ds else None,
        "stewards": list(ds.stewards) if ds else [],
        "custodians": list(ds.custodians) if ds else [],
        "consumers": list(ds.consumers) if ds else [],
        "versions": versions,
        "current": current_summary(files),
        "quality": _quality(latest),
        "retention": retention or {"state": "none", "text": "no retention period"},
    }


def current_summary(files: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The dataset's current version: its files and their totals; None before the first."""
    if not files:
        return None
    files = sorted(files, key=lambda f: f["path"])
    newest = max(files, key=lambda f: f["seq"])
    rows = [f.get("rows") for f in files]
    return {
        "files": [{k: f.get(k) for k in ("path", "blob", "sha256", "size", "rows", "commit", "stage",
                                         "verdict", "time", "author")} for f in files],
        "rows": sum(r for r in rows if r is not None) if any(r is not None for r in rows) else None,
        "bytes": sum(f["size"] or 0 for f in files),
        "commit": newest.get("commit"),
        "blob": newest.get("blob"),
        "changed": newest["time"],
    }


def _quality(latest: tuple | None) -> dict[str, Any] | None:
    if latest is None:
        return None
    _, path, verdict, rows, errors, warnings, time, stage = latest
    return {"verdict": verdict, "path": path, "rows": rows, "errors": errors or 0,
            "warnings": warnings or 0, "time": time, "stage": stage}
