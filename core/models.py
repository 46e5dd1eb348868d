"""A light model registry: named, versioned model files with their run and lineage.

Registering records a `model_registered` ledger entry: the file's hash (its
bytes go to the object store, so a version can always be restored), the run
that produced those exact bytes, the commits and inputs upstream of it, and a
lineage edge from the file version to the model version.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .errors import InputError

STAGES = ("none", "staging", "production", "archived")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def register(session, path: str, name: str, stage: str = "none") -> dict[str, Any]:
    """Record a new version of model ``name`` (or return the latest if nothing changed)."""
    from .ledger import Entry
    from .lineage import walk
    from .run_io import relative_paths
    from .store import ObjectStore, hash_file

    if not _NAME.fullmatch(name):
        raise InputError(f"--name {name!r}: use letters, digits, '.', '_' and '-' (at most 100)")
    if stage not in STAGES:
        raise InputError(f"--stage {stage!r}: expected one of {', '.join(STAGES)}")
    full = Path(path)
    if not full.is_file():
        raise InputError(f"{path}: no such file")
    rel = relative_paths(session.repo.root, [path], "model")[0]
    ledger = session.ctx.ledger()
    digest = hash_file(full)
    latest = latest_version(ledger, name)
    if latest and latest["sha256"] == digest.sha256 and latest["stage"] == stage:
        return {**latest, "unchanged": True}
    ObjectStore.for_repo(session.repo, session.policy).put(full, known=digest)
    run_id = _producing_run(ledger, digest.sha256)
    file_node = f"data:{rel}@{digest.sha256}"
    nodes, edges = walk(ledger.db, [file_node], "upstream", 10)
    version = (latest["version"] if latest else 0) + 1
    model_node = f"model:{name}@v{version}"
    payload = {
        "name": name, "version": version, "stage": stage, "path": rel, "sha256": digest.sha256,
        "size": digest.size, "run_id": run_id,
        "lineage": {"commits": sorted(n["commit"] for n in nodes.values() if n.get("kind") == "commit"),
                    "inputs": sorted(f"{n['path']}@{n['sha256'][:12]}" for n in nodes.values()
                                     if n.get("kind") == "data" and n["id"] != file_node),
                    "runs": sorted(n["run_id"] for n in nodes.values() if n.get("kind") == "run")},
        "nodes": [{"id": model_node, "kind": "model", "label": f"{name} v{version}", "stage": stage},
                  {"id": file_node, "kind": "data", "label": rel, "path": rel, "sha256": digest.sha256,
                   "size": digest.size}],
        "edges": [{"src": file_node, "dst": model_node, "relation": "registered", "run_id": run_id}],
    }
    ledger.append([Entry(kind="model_registered", subject=f"model:{name}", payload=payload,
                         actor=session.actor(), source="cli")])
    return payload


def _producing_run(ledger, sha256: str) -> str | None:
    row = ledger.db.execute(
        "SELECT f.run_id FROM run_files f JOIN runs r ON r.run_id = f.run_id"
        " WHERE f.role = 'output' AND f.sha256 = ? ORDER BY r.started_seq DESC LIMIT 1", (sha256,)).fetchone()
    return row[0] if row else None


_COLS = "name, version, path, sha256, size, run_id, stage, seq, time, actor"


def _row(row: tuple) -> dict[str, Any]:
    return dict(zip([c.strip() for c in _COLS.split(",")], row))


def latest_version(ledger, name: str) -> dict[str, Any] | None:
    row = ledger.db.execute(f"SELECT {_COLS} FROM models WHERE name = ? ORDER BY version DESC LIMIT 1",
                            (name,)).fetchone()
    return _row(row) if row else None


def list_models(ledger) -> list[dict[str, Any]]:
    rows = ledger.db.execute(
        f"SELECT {_COLS} FROM models m WHERE version = (SELECT MAX(version) FROM models WHERE name = m.name)"
        " ORDER BY name")
    out = []
    for row in rows:
        item = _row(row)
        item["versions"] = ledger.db.execute("SELECT COUNT(*) FROM models WHERE name = ?", (item["name"],)).fetchone()[0]
        out.append(item)
    return out


def show_model(ledger, name: str) -> list[dict[str, Any]]:
    versions = [_row(r) for r in ledger.db.execute(f"SELECT {_COLS} FROM models WHERE name = ? ORDER BY version",
                                                   (name,))]
    if not versions:
        raise InputError(f"no model named '{name}'; `gitgov models list` shows the registered models")
    lineage = {rec.seq: rec.payload.get("lineage") or {}
               for rec in ledger.entries(kind="model_registered", subject=f"model:{name}")}
    for v in versions:
        v["lineage"] = lineage.get(v["seq"], {})
    return versions
