"""`gitgov catalog show NAME`: one dataset in full.

Its schema (columns of the newest profiled version, with the rules, the
personal-data classification and the protection gitgov.toml declares), its
versions, the quality metrics across them, its lineage and the recent
audit entries about it.
"""
from __future__ import annotations

from typing import Any

from gitgov.core.errors import InputError

from . import catalog, flows, versions
from .schema import columns
from .sources import Sources, ids_json, loads

MAIN_METRICS = ("rows", "columns", "errors", "warnings")
_AUDIT = """SELECT seq, time, kind, subject, actor, source, payload FROM journal
            WHERE subject IN (SELECT value FROM json_each(?)) ORDER BY seq DESC LIMIT ?"""


def known(src: Sources) -> list[str]:
    names = list(src.policy.datasets)
    names += sorted(r[0] for r in src.rows("SELECT name FROM datasets") if r[0] not in names)
    return names


def show(src: Sources, name: str, audit_limit: int = 15) -> dict[str, Any]:
    names = known(src)
    if name not in names:
        shown = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
        raise InputError(f"no dataset named '{name}' in gitgov.toml or the ledger "
                         f"(datasets: {shown or 'none; declare one under [datasets.NAME]'})")
    every = catalog.current_files(src)
    files = every.get(name, [])
    [entry] = catalog.build(src, every, only=name)
    history = versions.history(src, name)
    values = versions.metrics(src, history)
    for v in history:
        v["metrics"] = values.get(v["check_seq"], {})
    profile = latest_profile(src, files, history)
    return {
        **entry,
        "schema": {"version": profile.get("where"), "columns": columns(src, name, profile, files)},
        "history": [_version(v) for v in history],
        "metrics": metric_names(history),
        "lineage": flows.for_dataset(src, name),
        "audit": audit_entries(src, name, files, history, audit_limit),
    }


def latest_profile(src: Sources, files: list[dict[str, Any]], history: list[dict[str, Any]]
                   ) -> dict[str, Any]:
    """The profile of the newest current file that has one, else of the newest version."""
    candidates = sorted(files, key=lambda f: -f["seq"]) + list(reversed(history))
    for f in candidates:
        if not f.get("blob"):
            continue
        # by path too: another file (of another dataset, maybe) may hold the same bytes
        row = src.db.execute("SELECT profile, path, blob, rows FROM dataset_profiles WHERE blob = ?"
                             " AND path = ? ORDER BY seq DESC LIMIT 1", (f["blob"], f["path"])).fetchone()
        profile = loads(row[0]) if row else None
        if isinstance(profile, dict):
            return {**profile, "where": {"path": row[1], "blob": row[2], "rows": row[3]}}
    return {}


def metric_names(history: list[dict[str, Any]]) -> list[str]:
    names = {m for v in history for m in v.get("metrics", {})}
    return sorted(names, key=_metric_order)


def _metric_order(name: str) -> tuple:
    if name in MAIN_METRICS:
        return (0, MAIN_METRICS.index(name), "")
    groups = ("failed", "null_fraction", "distinct", "mean")
    head = name.split(".", 1)[0]
    return (1, groups.index(head) if head in groups else len(groups), name)


def _version(v: dict[str, Any]) -> dict[str, Any]:
    keys = ("version", "path", "blob", "sha256", "size", "stage", "commit", "committed", "author",
            "time", "rows", "columns", "errors", "warnings", "verdict", "metrics")
    return {k: v.get(k) for k in keys}


def audit_entries(src: Sources, name: str, files: list[dict[str, Any]], history: list[dict[str, Any]],
                  limit: int) -> list[dict[str, Any]]:
    """The newest entries about the dataset's files, its blobs or its name (the subject index)."""
    subjects = {name, f"quality:{name}"} | {f["path"] for f in files} | {v["path"] for v in history}
    subjects |= {v["blob"] for v in history if v.get("blob")}
    out = []
    for seq, time, kind, subject, actor, source, payload in src.rows(_AUDIT, (ids_json(subjects), limit)):
        out.append({"seq": seq, "time": time, "kind": kind, "subject": subject, "actor": actor,
                    "source": source, "summary": summarize(kind, loads(payload) or {})})
    return out


def summarize(kind: str, p: dict[str, Any]) -> str:
    """One line about a journal entry, for people."""
    findings = p.get("findings") or []
    errors = sum(1 for f in findings if isinstance(f, dict) and f.get("severity") == "error")
    parts = []
    if kind == "quality_check":
        parts.append(f"{p.get('verdict')} ({p.get('rows')} rows)")
    elif kind in ("data_added", "data_removed"):
        parts.append(f"{p.get('stage') or ''} {p.get('verdict') or ''}".strip())
    elif kind == "data_disposed":
        parts.append(f"{p.get('rows_before')} -> {p.get('rows_after')} rows: {p.get('reason', '')}")
    elif kind == "retention_expired":
        parts.append(f"expired on {p.get('expired_on')}" + (f", {p['rows']} row(s)" if p.get("rows") else ""))
    elif kind in ("data_protected", "data_revealed"):
        cols = p.get("columns")
        parts.append("columns " + ", ".join(cols if isinstance(cols, list) else sorted(cols or {})))
    elif kind == "run_reproduced":
        parts.append(" ".join(x for x in (p.get("verdict"), p.get("summary")) if x))
    elif kind == "pii_classification":
        parts.append("personal data: " + (", ".join(
            f"{c.get('column')} ({c.get('kind')})" for c in p.get("columns") or [] if isinstance(c, dict))
            or "none found"))
    if findings:
        parts.append(f"{len(findings)} finding(s), {errors} error(s)")
    return "; ".join(x for x in parts if x)
