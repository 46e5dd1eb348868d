"""OpenLineage RunEvents for the runs in a lineage graph.

Each run gives a START event and then a COMPLETE (exit 0) or FAIL event,
with the job's git source location, and for each input and output dataset
its version (SHA-256), schema (with the column types lineage.type_columns
found), data-quality metrics or output statistics, and ownership from
gitgov.toml. The events are plain dicts in the published
OpenLineage 2-0-2 format; the tests validate them with the openlineage-python
client.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import __version__

PRODUCER = f"pkg:pypi/gitgov@{__version__}"
SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
_FACETS = "https://openlineage.io/spec/facets/"
SCHEMAS = {
    "sourceCodeLocation": "1-1-0/SourceCodeLocationJobFacet.json#/$defs/SourceCodeLocationJobFacet",
    "jobType": "2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet",
    "processing_engine": "1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet",
    "errorMessage": "1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet",
    "version": "1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet",
    "schema": "1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
    "ownership": "1-0-1/OwnershipDatasetFacet.json#/$defs/OwnershipDatasetFacet",
    "dataQualityMetrics": "1-0-3/DataQualityMetricsInputDatasetFacet.json#/$defs/DataQualityMetricsInputDatasetFacet",
    "outputStatistics": "1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet",
}


def facet(kind: str, /, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": _FACETS + SCHEMAS[kind],
            **{k: v for k, v in fields.items() if v is not None}}


def events_for_graph(ledger, repo, policy, graph) -> list[dict[str, Any]]:
    """START and COMPLETE/FAIL events of every run in ``graph``, oldest run first."""
    from .run_query import resolve

    runs = sorted((n for n in graph.nodes.values() if n.get("kind") == "run"), key=lambda n: n.get("seq", 0))
    events = []
    for node in runs:
        run = resolve(ledger, node["run_id"])
        events += run_events(run, graph.nodes, repo, policy)
    return events


def run_events(run, nodes: dict[str, dict], repo, policy) -> list[dict[str, Any]]:
    job = {"namespace": f"gitgov://{os.path.basename(str(repo.root))}", "name": job_name(run),
           "facets": {"jobType": facet("jobType", processingType="BATCH", integration="GITGOV",
                                       jobType="COMMAND"),
                      **_source_facet(run, repo)}}
    engine = {"processing_engine": facet("processing_engine", version=__version__, name="gitgov")}
    inputs = [_dataset(path, rec, nodes, repo, policy, "input") for path, rec in run.inputs.items()]
    start = {"eventType": "START", "eventTime": run.started, "producer": PRODUCER, "schemaURL": SPEC,
             "run": {"runId": run.run_id, "facets": engine}, "job": job, "inputs": inputs, "outputs": []}
    state = run.state
    if state in ("running", "lost", "refused"):
        return [start]
    outputs = [_dataset(path, rec, nodes, repo, policy, "output") for path, rec in run.outputs.items()]
    end = {"eventType": "COMPLETE" if state == "ok" else "FAIL", "eventTime": run.finished or run.started,
           "producer": PRODUCER, "schemaURL": SPEC, "run": {"runId": run.run_id, "facets": dict(engine)},
           "job": job, "inputs": inputs, "outputs": outputs}
    if state != "ok":
        why = f"exit code {run.exit_code}" + (f", {run.signal}" if run.signal else "")
        end["run"]["facets"]["errorMessage"] = facet("errorMessage", message=f"run {state}: {why}",
                                                     programmingLanguage="shell")
    return [start, end]


def job_name(run) -> str:
    if run.name:
        return run.name
    words = [w for w in run.command if not w.startswith("-")]
    script = next((w for w in words[1:] if "." in os.path.basename(w)), None)
    return os.path.basename(script or (words[0] if words else "run"))


def _source_facet(run, repo) -> dict[str, Any]:
    if not run.commit:
        return {}
    url = _remote_url(repo) or Path(repo.root).resolve().as_uri()
    script = next((w for w in run.command[1:] if (Path(repo.root) / (run.cwd or ".") / w).is_file()), None)
    return {"sourceCodeLocation": facet("sourceCodeLocation", type="git", url=url, repoUrl=url,
                                        path=script, version=run.commit, branch=run.branch)}


def _remote_url(repo) -> str | None:
    try:
        out = repo.git("config", "--get", "remote.origin.url", check=False).decode().strip()
    except Exception:  # noqa: BLE001 - no remote is the common case
        return None
    return out or None


def _dataset(path: str, rec: dict, nodes: dict[str, dict], repo, policy, role: str) -> dict[str, Any]:
    node = nodes.get(f"data:{path}@{rec['sha256']}", {})
    facets: dict[str, Any] = {"version": facet("version", datasetVersion=rec["sha256"])}
    if node.get("schema"):
        facets["schema"] = facet("schema", fields=[{"name": f["name"], "type": f.get("type")}
                                                   for f in node["schema"]])
    owners = _owners(policy, path)
    if owners:
        facets["ownership"] = facet("ownership", owners=owners)
    data = {"namespace": "file", "name": str(Path(repo.root) / path), "facets": facets}
    if role == "input":
        data["inputFacets"] = {"dataQualityMetrics": facet("dataQualityMetrics", rowCount=node.get("rows"),
                                                           bytes=rec.get("size"), columnMetrics={})}
    else:
        data["outputFacets"] = {"outputStatistics": facet("outputStatistics", rowCount=node.get("rows"),
                                                          size=rec.get("size"))}
    return data


def _owners(policy, path: str) -> list[dict[str, str]]:
    dataset = policy.dataset_for(path) if policy is not None else None
    if dataset is None:
        return []
    owners = [{"name": f"user:{dataset.owner}", "type": "OWNER"}] if dataset.owner else []
    owners += [{"name": f"user:{s}", "type": "STEWARD"} for s in dataset.stewards]
    return owners
