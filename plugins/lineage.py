"""Records lineage: raw data commits -> dataset versions -> runs -> outputs.

When a run finishes, each input and output becomes a node named by its path
and content hash, with an edge into the run (inputs) or out of it (outputs).
A tracked input with exactly the committed bytes gets an edge from the commit
that introduced those bytes, found with `git log`, so lineage reaches back to
the raw data commit even when the data was committed before gitgov was used.
Tabular files under ``PROFILE_MAX_BYTES`` also get their columns and row count,
which the OpenLineage export turns into schema and data-quality facets.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from gitgov.core.events import Fact, RunFinished
from gitgov.core.hookspecs import hookimpl

__version__ = "1.0"
PROFILE_MAX_BYTES = 64 << 20
MAX_COMMIT_LOOKUPS = 200


def data_node(path: str, sha256: str) -> str:
    return f"data:{path}@{sha256}"


@hookimpl
def run_finished(event: RunFinished, ctx) -> Fact:
    details = event.details or {}
    run = f"run:{event.run_id}"
    label = details.get("name") or " ".join(details.get("command") or ()) or event.run_id[:8]
    nodes: list[dict[str, Any]] = [{"id": run, "kind": "run", "label": label, "run_id": event.run_id,
                                    "commit": details.get("commit"), "status": event.status}]
    edges: list[dict[str, Any]] = []
    for role, files in (("input", details.get("inputs") or {}), ("output", details.get("outputs") or {})):
        for path, rec in sorted(files.items()):
            node = _file_node(ctx, path, rec)
            nodes.append(node)
            pair = (node["id"], run) if role == "input" else (run, node["id"])
            edges.append({"src": pair[0], "dst": pair[1], "relation": role, "run_id": event.run_id})
    clean = {p: r for p, r in (details.get("inputs") or {}).items() if r.get("tracked") and r.get("clean")}
    for path, (sha, subject) in _introducing_commits(ctx.repo, details.get("commit"), clean).items():
        nodes.append({"id": f"commit:{sha}", "kind": "commit", "label": subject, "commit": sha})
        edges.append({"src": f"commit:{sha}", "dst": data_node(path, clean[path]["sha256"]),
                      "relation": "committed", "run_id": event.run_id})
    return Fact(kind="lineage", subject=event.run_id, payload={"nodes": nodes, "edges": edges})


def _file_node(ctx, path: str, rec: dict[str, Any]) -> dict[str, Any]:
    dataset = ctx.policy.dataset_for(path)
    node = {"id": data_node(path, rec["sha256"]), "kind": "data", "label": path, "path": path,
            "sha256": rec["sha256"], "blob": rec.get("blob"), "size": rec.get("size"),
            "dataset": dataset.name if dataset else None}
    node.update(profile(ctx.repo.root / path, rec.get("size")))
    return node


def _introducing_commits(repo, commit: str | None, files: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """{path: (commit, subject)}: the last commit up to ``commit`` that changed each path."""
    if not commit or not files:
        return {}
    found = {}
    for path in sorted(files)[:MAX_COMMIT_LOOKUPS]:
        # literal: a path such as "customers[12].csv" must not match customers1.csv as a glob
        out = repo.git("--literal-pathspecs", "log", "-1", "--format=%H%x09%s", commit, "--",
                       path).decode("utf-8", "replace")
        sha, _, subject = out.strip().partition("\t")
        if sha:
            found[path] = (sha, subject)
    return found


def profile(path: Path, size: int | None) -> dict[str, Any]:
    """Columns and row count of a CSV, TSV, JSON Lines or Parquet file, when cheap to get."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return _parquet_profile(path)
        if size is None or size > PROFILE_MAX_BYTES or suffix not in (".csv", ".tsv", ".jsonl"):
            return {}
        if suffix == ".jsonl":
            return {"rows": _count_lines(path)}
        import csv
        import io

        with open(path, encoding="utf-8", newline="") as f:
            header = next(csv.reader(io.StringIO(f.readline()), delimiter="\t" if suffix == ".tsv" else ","), [])
        return {"schema": [{"name": c, "type": "string"} for c in header],
                "rows": max(_count_lines(path) - 1, 0)}
    except (OSError, UnicodeDecodeError, ValueError, ImportError):
        return {}


def _count_lines(path: Path) -> int:
    count, last = 0, b"\n"
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _parquet_profile(path: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    meta = pq.read_metadata(path)
    schema = meta.schema.to_arrow_schema()
    return {"schema": [{"name": f.name, "type": str(f.type)} for f in schema], "rows": meta.num_rows}
