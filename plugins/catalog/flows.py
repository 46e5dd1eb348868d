"""Lineage at the level people think in: datasets, the runs that read and wrote them, models.

The lineage projection holds one node per file version and run. The catalog
folds them: every version of a dataset's files becomes the dataset, runs
of the same name become one step ("train, 12 runs"), model versions become
the model, and other files stay files. Commits are left out of the picture:
they are the history of the data, shown in the versions.
"""
from __future__ import annotations

import shlex
from collections import Counter
from typing import Any

from .sources import Sources, ids_json, loads

_EDGES = """SELECT e.src, e.dst, e.relation, e.run_id,
                   s.kind, s.dataset, s.path, d.kind, d.dataset, d.path
            FROM lineage_edges AS e
            LEFT JOIN lineage_nodes AS s ON s.id = e.src
            LEFT JOIN lineage_nodes AS d ON d.id = e.dst
            WHERE e.relation != 'committed'"""
_RUNS = "SELECT run_id, name, command, status, started FROM runs"
_MODELS = "SELECT name, version, run_id, sha256, path FROM models"
MAX_FILES = 40  # beyond this many loose files, they are folded by folder
MAX_NODES = 40  # boxes in the drawn graph


def run_label(name: str | None, command: str | None) -> str:
    """What a run is called: its --name, else the script it ran."""
    if name:
        return name
    argv = loads(command) or []
    words = [a for a in argv if isinstance(a, str)]
    script = next((a for a in words[1:] if not a.startswith("-")), words[0] if words else "")
    return shlex.quote(script.rsplit("/", 1)[-1]) if script else "run"


def summary(src: Sources, max_nodes: int = MAX_NODES) -> dict[str, Any]:
    """{"nodes": [{id, kind, label, runs}], "edges": [{src, dst, relation, count}],
    "left_out": [ids of boxes not drawn]} of everything."""
    runs = {r[0]: run_label(r[1], r[2]) for r in src.rows(_RUNS)}
    model_files = {(r[4], r[3]): r[0] for r in src.rows(_MODELS)}
    edges: Counter[tuple[str, str, str]] = Counter()
    run_counts: dict[str, set[str]] = {}
    loose: set[str] = set()
    raw = src.rows(_EDGES)
    for row in raw:
        for path, kind, ds in ((row[6], row[4], row[5]), (row[9], row[7], row[8])):
            if kind == "data" and not ds and path:
                loose.add(path)
    fold = len(loose) > MAX_FILES
    for src_id, dst_id, relation, run_id, s_kind, s_ds, s_path, d_kind, d_ds, d_path in raw:
        a = _group(src_id, s_kind, s_ds, s_path, runs, model_files, fold)
        b = _group(dst_id, d_kind, d_ds, d_path, runs, model_files, fold)
        if a is None or b is None or a == b:
            continue
        edges[(a, b, relation)] += 1
        for end, rid in ((a, src_id), (b, dst_id)):
            if end.startswith("run:"):
                run_counts.setdefault(end, set()).add(rid)
    edges, left_out = _keep_busiest(edges, max_nodes)
    ids = sorted({e[0] for e in edges} | {e[1] for e in edges})
    nodes = [{"id": i, "kind": i.split(":", 1)[0], "label": i.split(":", 1)[1],
              "runs": len(run_counts.get(i, ()))} for i in ids]
    return {"nodes": nodes, "left_out": left_out,
            "edges": [{"src": a, "dst": b, "relation": r, "count": n} for (a, b, r), n in sorted(edges.items())]}


def _keep_busiest(edges: Counter[tuple[str, str, str]], max_nodes: int
                  ) -> tuple[Counter[tuple[str, str, str]], list[str]]:
    """At most `max_nodes` boxes: runs and models always, then the datasets and files that
    the most runs touched; a picture of hundreds of boxes informs nobody."""
    weight: Counter[str] = Counter()
    for (a, b, _), n in edges.items():
        weight[a] += n
        weight[b] += n
    if len(weight) <= max_nodes:
        return edges, []
    fixed = [n for n in weight if n.startswith(("run:", "model:"))]
    rest = sorted((n for n in weight if n not in fixed), key=lambda n: (-weight[n], n))
    keep = set(fixed) | set(rest[:max(0, max_nodes - len(fixed))])
    kept = Counter({e: n for e, n in edges.items() if e[0] in keep and e[1] in keep})
    return kept, sorted(n for n in weight if n not in keep)


def _group(node_id: str, kind: str | None, dataset: str | None, path: str | None,
           runs: dict[str, str], models: dict[tuple[str, str], str], fold: bool) -> str | None:
    if node_id.startswith("run:"):
        return "run:" + runs.get(node_id[4:], "run")
    if node_id.startswith("model:"):
        return "model:" + node_id[6:].rsplit("@", 1)[0]
    if node_id.startswith("commit:") or kind == "commit":
        return None
    if dataset:
        return "dataset:" + dataset
    if path:
        sha = node_id.rsplit("@", 1)[-1]
        if (path, sha) in models:
            return "model:" + models[(path, sha)]
        return "file:" + (path.split("/", 1)[0] + "/…" if fold and "/" in path else path)
    return None


def for_dataset(src: Sources, name: str, limit: int = 20) -> dict[str, Any]:
    """Where a dataset comes from and what used it: commits, producing runs, consuming runs, models."""
    nodes = [r[0] for r in src.rows("SELECT id FROM lineage_nodes WHERE dataset = ?", (name,))]
    ids = ids_json(nodes)
    into = src.rows("SELECT src, relation FROM lineage_edges WHERE dst IN (SELECT value FROM json_each(?))",
                    (ids,))
    out_of = src.rows("SELECT dst, relation FROM lineage_edges WHERE src IN (SELECT value FROM json_each(?))",
                      (ids,))
    producers = sorted({s[4:] for s, rel in into if s.startswith("run:")})
    consumers = sorted({d[4:] for d, rel in out_of if d.startswith("run:")})
    return {
        "commits": len({s for s, rel in into if s.startswith("commit:")}),
        "produced_by": _runs(src, producers, "input", limit),
        "used_by": _runs(src, consumers, "output", limit),
        "models": _models(src, consumers),
    }


def _runs(src: Sources, run_ids: list[str], other: str, limit: int) -> dict[str, Any]:
    """The newest `limit` runs with what else they read (producers) or wrote (consumers)."""
    rows = src.rows("SELECT run_id, name, command, status, started FROM runs WHERE run_id IN"
                    " (SELECT value FROM json_each(?)) ORDER BY started DESC", (ids_json(run_ids),))
    shown = rows[:limit]
    files = src.rows("SELECT run_id, path FROM run_files WHERE role = ? AND run_id IN"
                     " (SELECT value FROM json_each(?))", (other, ids_json(r[0] for r in shown)))
    by_run: dict[str, set[str]] = {}
    for run_id, path in files:
        ds = src.policy.dataset_for(path)
        by_run.setdefault(run_id, set()).add(f"dataset {ds.name}" if ds else path)
    items = [{"run_id": r[0], "name": run_label(r[1], r[2]), "status": r[3], "started": r[4],
              other + "s": sorted(by_run.get(r[0], ()))} for r in shown]
    return {"count": len(rows), "runs": items}


def _models(src: Sources, run_ids: list[str]) -> list[dict[str, Any]]:
    rows = src.rows("SELECT name, version, run_id, path, time, stage FROM models WHERE run_id IN"
                    " (SELECT value FROM json_each(?)) ORDER BY name, version", (ids_json(run_ids),))
    return [{"name": n, "version": v, "run_id": r, "path": p, "time": t, "stage": s}
            for n, v, r, p, t, s in rows]
