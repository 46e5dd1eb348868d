"""What is out of compliance now: open findings, unprotected personal data, overdue
retention, datasets without an owner and runs that did not reproduce."""
from __future__ import annotations

from typing import Any

from .schema import detected_pii, pii_state
from .sources import Sources

_OPEN = """SELECT seq, time, kind, subject, severity, code, message, path, plugin FROM open_findings
           LIMIT ?"""
_OPEN_COUNTS = "SELECT severity, COUNT(*) FROM open_findings GROUP BY severity"
_FAILED_REPRO = "SELECT run_id, name, verdict, time, actor, summary FROM failed_reproductions ORDER BY seq DESC"


def compliance(src: Sources, entries: list[dict[str, Any]], limit: int = 200) -> dict[str, Any]:
    """Each check's items; `entries` is the catalog (catalog.build)."""
    counts = dict(src.rows(_OPEN_COUNTS))
    keys = ("seq", "time", "kind", "subject", "severity", "code", "message", "path", "plugin")
    return {
        "open_findings": {"errors": counts.get("error", 0), "warnings": counts.get("warning", 0),
                          "shown": [dict(zip(keys, r)) for r in src.rows(_OPEN, (limit,))]},
        "unprotected_pii": unprotected_pii(src, entries),
        "overdue_retention": overdue_retention(entries),
        "without_owner": [e["name"] for e in entries if e["in_policy"] and not e["owner"]],
        "failed_reproductions": [dict(zip(("run_id", "name", "verdict", "time", "actor", "summary"), r))
                                 for r in src.rows(_FAILED_REPRO)],
    }


def unprotected_pii(src: Sources, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Columns that hold or are declared to hold personal data, without the protection they need."""
    out = []
    for e in entries:
        ds = src.dataset(e["name"])
        if ds is None:
            continue
        files = (e["current"] or {}).get("files") or []
        found = detected_pii(src, [f["path"] for f in files])
        for col in sorted(set(ds.columns) | set(found)):
            decl = ds.columns.get(col) or {}
            state, why = pii_state(ds, decl, found.get(col), present=col in found)
            if state == "unprotected":
                where = (found.get(col) or {}).get("path")
                out.append({"dataset": e["name"], "column": col, "path": where, "why": why,
                            "fix": f"[datasets.{e['name']}.columns.{col}] protect = \"pseudonymize\""
                                   if not decl.get("protect") else f"gitgov protect {where or '<file>'} --in-place"})
    return out


def overdue_retention(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Data past retention: overdue first, then expired in grace and held (listed, not a breach)."""
    out = []
    for e in entries:
        r = e["retention"]
        for item in r.get("items") or []:
            state = "on legal hold" if item.get("held") else "OVERDUE" if item.get("overdue") else "in grace"
            out.append({"dataset": e["name"], "path": item["path"], "expired_on": item["expired_on"],
                        "rows": item.get("rows"), "state": state, "period": r.get("period")})
    order = {"OVERDUE": 0, "in grace": 1, "on legal hold": 2}
    return sorted(out, key=lambda i: (order[i["state"]], i["expired_on"]))


def problems(report: dict[str, Any]) -> int:
    """How many things need someone's attention (held data is not a breach)."""
    return (report["open_findings"]["errors"] + report["open_findings"]["warnings"]
            + len(report["unprotected_pii"]) + len(report["without_owner"])
            + len(report["failed_reproductions"])
            + sum(1 for i in report["overdue_retention"] if i["state"] != "on legal hold"))
