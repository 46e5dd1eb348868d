"""Lineage queries: what produced a file, model or run, and what it fed.

The graph lives in the ledger's `lineage_nodes` and `lineage_edges`
projections (filled by the lineage plugin and the model registry). A walk is
one recursive SQL query over the edge indexes, so its cost grows with the
part of the graph it visits, not with the size of the ledger.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError

DIRECTIONS = ("upstream", "downstream", "both")
_UP = """WITH RECURSIVE walk(src, dst, relation, depth) AS (
    SELECT e.src, e.dst, e.relation, 1 FROM lineage_edges e
     WHERE e.dst IN (SELECT value FROM json_each(?1))
    UNION
    SELECT e.src, e.dst, e.relation, w.depth + 1 FROM lineage_edges e JOIN walk w ON e.dst = w.src
     WHERE w.depth < ?2)
SELECT src, dst, relation, MIN(depth) FROM walk GROUP BY src, dst, relation"""
_DOWN = """WITH RECURSIVE walk(src, dst, relation, depth) AS (
    SELECT e.src, e.dst, e.relation, 1 FROM lineage_edges e
     WHERE e.src IN (SELECT value FROM json_each(?1))
    UNION
    SELECT e.src, e.dst, e.relation, w.depth + 1 FROM lineage_edges e JOIN walk w ON e.src = w.dst
     WHERE w.depth < ?2)
SELECT src, dst, relation, MIN(depth) FROM walk GROUP BY src, dst, relation"""
_NODE_COLS = "id, kind, label, path, sha256, blob, dataset, run_id, commit_sha, seq, attrs"


@dataclass
class Graph:
    target: str
    starts: list[str]
    direction: str
    depth: int
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "direction": self.direction, "depth": self.depth,
                "starts": self.starts, "nodes": list(self.nodes.values()), "edges": self.edges}


def _node(row: tuple) -> dict[str, Any]:
    (nid, kind, label, path, sha, blob, dataset, run_id, commit, seq, attrs) = row
    node = {"id": nid, "kind": kind, "label": label, "path": path, "sha256": sha, "blob": blob,
            "dataset": dataset, "run_id": run_id, "commit": commit, "seq": seq}
    node.update(json.loads(attrs) if attrs else {})
    return {k: v for k, v in node.items() if v is not None}


def nodes_by_id(db, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = db.execute(f"SELECT {_NODE_COLS} FROM lineage_nodes WHERE id IN (SELECT value FROM json_each(?))",
                      (json.dumps(ids),))
    return {r[0]: _node(r) for r in rows}


def walk(db, starts: list[str], direction: str = "both", depth: int = 10) -> tuple[dict, list]:
    """(nodes, edges) reachable from ``starts`` within ``depth`` edges."""
    if direction not in DIRECTIONS:
        raise InputError(f"direction must be one of {', '.join(DIRECTIONS)}")
    edges: dict[tuple[str, str, str], dict[str, Any]] = {}
    for sql, wanted in ((_UP, ("upstream", "both")), (_DOWN, ("downstream", "both"))):
        if direction in wanted:
            for src, dst, relation, d in db.execute(sql, (json.dumps(starts), depth)):
                edges.setdefault((src, dst, relation), {"src": src, "dst": dst, "relation": relation,
                                                        "depth": d})
    ids = sorted({*starts, *(e["src"] for e in edges.values()), *(e["dst"] for e in edges.values())})
    return nodes_by_id(db, ids), sorted(edges.values(), key=lambda e: (e["depth"], e["src"], e["dst"]))


def query(ledger, repo, policy, target: str, direction: str = "both", depth: int = 10) -> Graph:
    if depth < 1:
        raise InputError("--depth must be 1 or more")
    starts, what = resolve_target(ledger, repo, policy, target)
    nodes, edges = walk(ledger.db, starts, direction, depth)
    type_columns(ledger.db, repo.root, policy, nodes)
    graph = Graph(target=what, starts=starts, direction=direction, depth=depth, nodes=nodes, edges=edges)
    return graph


# ---- column types -----------------------------------------------------------------

HASH_ON_QUERY_MAX = 64 << 20
_PROFILE = "SELECT profile FROM dataset_profiles WHERE blob = ? ORDER BY seq DESC LIMIT 1"


def type_columns(db, root: Path, policy, nodes: dict[str, dict[str, Any]]) -> None:
    """Give each data node's columns the best type known for that version: the type
    declared in gitgov.toml, else the one its profile recorded when the version was
    checked, else what the run recorded (Parquet's own types; a CSV header has none,
    which is "string"). A node with no recorded columns takes the profile's."""
    for node in nodes.values():
        if node.get("kind") != "data" or not node.get("path"):
            continue
        dataset = policy.dataset_for(node["path"]) if policy is not None else None
        profiled = _profiled_types(db, root, node, governed=dataset is not None)
        fields = node.get("schema") or [{"name": name} for name in profiled]
        if not fields:
            continue
        declared = dict(dataset.columns) if dataset is not None else {}
        node["schema"] = [{**f, "type": (declared.get(f.get("name")) or {}).get("type")
                           or profiled.get(f.get("name")) or f.get("type") or "string"}
                          for f in fields if isinstance(f, dict)]


def _profiled_types(db, root: Path, node: dict[str, Any], governed: bool) -> dict[str, str]:
    """column -> type from the newest profile of this exact version, if it was checked."""
    import sqlite3

    blob = node.get("blob") or (_blob_on_disk(root, node) if governed else None)
    if not blob:
        return {}
    try:
        row = db.execute(_PROFILE, (blob,)).fetchone()
    except sqlite3.OperationalError:  # a ledger without the quality projections
        return {}
    try:
        profile = json.loads(row[0]) if row else None
    except ValueError:
        return {}
    columns = profile.get("columns") if isinstance(profile, dict) else None
    return {c["name"]: c.get("declared") or c.get("type") for c in columns or []
            if isinstance(c, dict) and isinstance(c.get("name"), str) and (c.get("declared") or c.get("type"))}


def _blob_on_disk(root: Path, node: dict[str, Any]) -> str | None:
    """Git's id of a version the run did not record one for (its outputs), when the
    file on disk still holds exactly those bytes."""
    from .store import hash_file

    full = Path(root) / node["path"]
    try:
        size = full.stat().st_size if full.is_file() else None
        # a query must stay fast: a large output (a model) is not hashed just for its column types
        if size is None or size > HASH_ON_QUERY_MAX or (node.get("size") is not None and size != node["size"]):
            return None
        digest = hash_file(full, blob=True)
    except OSError:
        return None
    return digest.blob if digest.sha256 == node.get("sha256") else None


def resolve_target(ledger, repo, policy, target: str) -> tuple[list[str], str]:
    """Start nodes for a PATH, a DATASET, a model name or a RUN, in that order of preference."""
    db = ledger.db
    rel = _repo_path(repo.root, target)
    if rel is not None:
        node = _file_version(db, repo.root, rel)
        if node:
            return [node], rel
    if target.startswith(("data:", "run:", "commit:", "model:")):
        if db.execute("SELECT 1 FROM lineage_nodes WHERE id = ?", (target,)).fetchone():
            return [target], target
    dataset_nodes = [r[0] for r in db.execute(
        "SELECT id FROM lineage_nodes WHERE dataset = ? ORDER BY seq DESC LIMIT 100", (target,))]
    if dataset_nodes:
        return dataset_nodes, f"dataset {target}"
    if policy is not None and target in policy.datasets:
        return [], f"dataset {target}"  # known, and no run read or wrote it yet: an empty graph
    model = db.execute("SELECT version FROM models WHERE name = ? ORDER BY version DESC LIMIT 1",
                       (target,)).fetchone()
    if model:
        return [f"model:{target}@v{model[0]}"], f"model {target} v{model[0]}"
    from .run_query import NoSuchRun, resolve

    try:
        run = resolve(ledger, target)  # an ambiguous run id prefix says so itself
    except NoSuchRun:
        if rel is not None and (Path(repo.root) / rel).is_file():
            return [], rel  # a file of the repository that no run read or wrote yet
        raise InputError(f"no lineage for '{target}': it is not a recorded file, dataset, model or "
                         "run (`gitgov runs list` shows runs)") from None
    return [f"run:{run.run_id}"], f"run {run.short}"


def _repo_path(root: Path, target: str) -> str | None:
    full = Path(target).expanduser()
    full = (full if full.is_absolute() else Path.cwd() / full).resolve()
    try:
        return full.relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return None


def _file_version(db, root: Path, rel: str) -> str | None:
    """The node of the file's current bytes if known, else its newest recorded version."""
    full = Path(root) / rel
    if full.is_file():
        from .store import hash_file

        node = f"data:{rel}@{hash_file(full).sha256}"
        if db.execute("SELECT 1 FROM lineage_nodes WHERE id = ?", (node,)).fetchone():
            return node
    row = db.execute("SELECT id FROM lineage_nodes WHERE path = ? ORDER BY seq DESC LIMIT 1", (rel,)).fetchone()
    return row[0] if row else None


# ---- rendering --------------------------------------------------------------------

def describe(node: dict[str, Any]) -> str:
    kind = node.get("kind")
    if kind == "data":
        ds = f" [{node['dataset']}]" if node.get("dataset") else ""
        rows = f", {node['rows']} rows" if node.get("rows") is not None else ""
        return f"{node.get('path')} @ {str(node.get('sha256'))[:12]}{ds}{rows}"
    if kind == "run":
        status = f" ({node['status']})" if node.get("status") else ""
        return f"run {str(node.get('run_id'))[:8]} {node.get('label') or ''}{status}".rstrip()
    if kind == "commit":
        return f"commit {str(node.get('commit'))[:12]} \"{node.get('label') or ''}\""
    if kind == "model":
        stage = f" ({node['stage']})" if node.get("stage") else ""
        return f"model {node.get('label')}{stage}"
    return node.get("id", "?")


_UP_WORDS = {"output": "produced by", "input": "read", "committed": "committed in", "registered": "from"}
_DOWN_WORDS = {"output": "produced", "input": "read by", "committed": "contains", "registered": "registered as"}


def render_text(graph: Graph) -> str:
    """Each start node, then one tree: what it came from, then what it fed."""
    if not graph.starts:
        return f"{graph.target}: no lineage yet: no recorded run has read or written it"
    lines: list[str] = []
    directions = [d for d in ("upstream", "downstream") if graph.direction in (d, "both")]
    for start in graph.starts:
        lines.append(describe(graph.nodes.get(start, {"id": start})))
        branches = [(d, other, relation) for d in directions for other, relation in _links(graph, start, d)]
        _tree(graph, branches, "", lines, {start}, 1)
    if len(lines) == len(graph.starts):
        lines.append("  (no lineage recorded in this direction)")
    return "\n".join(lines)


def _links(graph: Graph, node: str, direction: str) -> list[tuple[str, str]]:
    """(neighbour, relation) one edge away in ``direction``, oldest first, then by id."""
    up = direction == "upstream"
    links = {(e["src"] if up else e["dst"], e["relation"]) for e in graph.edges
             if (e["dst"] if up else e["src"]) == node}
    return sorted(links, key=lambda link: (graph.nodes.get(link[0], {}).get("seq", 0), link))


def _tree(graph: Graph, branches: list[tuple[str, str, str]], prefix: str, lines: list[str],
          seen: set[str], level: int) -> None:
    """Draw ``branches`` (direction, node, relation) as siblings: ├── for all but the last."""
    if level > graph.depth:
        return
    for i, (direction, other, relation) in enumerate(branches):
        last = i == len(branches) - 1
        words = _UP_WORDS if direction == "upstream" else _DOWN_WORDS
        text = f"{words.get(relation, relation)} {describe(graph.nodes.get(other, {'id': other}))}"
        lines.append(f"{prefix}{'└── ' if last else '├── '}{text}" + (" (see above)" if other in seen else ""))
        if other not in seen:
            children = [(direction, n, r) for n, r in _links(graph, other, direction)]
            _tree(graph, children, prefix + ("    " if last else "│   "), lines, seen | {other}, level + 1)


def render_dot(graph: Graph) -> str:
    shapes = {"data": "note", "run": "box", "commit": "cds", "model": "component"}
    out = ["digraph lineage {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    for nid, node in graph.nodes.items():
        label = describe(node).replace('"', '\\"')
        style = ", penwidth=2" if nid in graph.starts else ""
        out.append(f'  "{_dot_id(nid)}" [label="{label}", shape={shapes.get(node.get("kind"), "ellipse")}{style}];')
    for e in graph.edges:
        out.append(f'  "{_dot_id(e["src"])}" -> "{_dot_id(e["dst"])}" [label="{e["relation"]}"];')
    out.append("}")
    return "\n".join(out)


def _dot_id(nid: str) -> str:
    return nid.replace("\\", "\\\\").replace('"', '\\"')


def repo_name(repo) -> str:
    return os.path.basename(str(repo.root).rstrip("/"))
