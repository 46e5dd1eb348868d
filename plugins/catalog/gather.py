"""Everything the report shows, as plain data (the HTML is made from this alone)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from . import audit, catalog, compliance, detail, flows, runs, versions
from .schema import columns
from .sources import Sources

MAX_CHARTS = 12  # datasets with a quality chart; the others keep their table and text
SHOWN_VERSIONS = 10  # the newest versions of each dataset listed in the report
CHART_VERSIONS = 30  # the newest versions in a dataset's chart
_DAILY = """SELECT substr(time, 1, 10), verdict, COUNT(*) FROM quality_checks WHERE reused = 0
            GROUP BY 1, 2 ORDER BY 1"""


def gather(src: Sources) -> dict[str, Any]:
    """Everything but the audit summary, which needs the whole-journal pass (add_audit)."""
    from gitgov.core import __version__

    files = catalog.current_files(src)
    entries = catalog.build(src, files)
    drawn = charted(entries)
    history = {e["name"]: versions.history(src, e["name"], commits=SHOWN_VERSIONS,
                                           newest=CHART_VERSIONS if e["name"] in drawn else SHOWN_VERSIONS)
               for e in entries}
    checks = compliance.compliance(src, entries)
    run_groups = runs.groups(src)
    data = {
        "meta": {"repo": src.root.name, "root": str(src.root), "generated": _now(), "version": __version__,
                 "today": src.today.isoformat()},
        "catalog": entries,
        "details": [_detail(src, e, files.get(e["name"], []), history.get(e["name"], []))
                    for e in entries],
        "charted": drawn,
        "daily_checks": _daily(src),
        "compliance": checks,
        "problems": compliance.problems(checks),
        "lineage": flows.summary(src),
        "runs": run_groups,
        "run_count": sum(g["count"] for g in run_groups),
    }
    data["getting_started"] = first_steps(src, data)
    return data


def add_audit(src: Sources, data: dict[str, Any], answer: dict[str, Any]) -> None:
    """The audit summary, with the chain check the worker made (worker.py)."""
    check = answer.get("verify")
    if "error" in answer:
        check = {"ok": False, "entries": 0, "anchors": 0, "first_bad_seq": None, "reason": answer["error"]}
    data["audit"] = audit.summary(src, check, answer.get("activity"))


def _detail(src: Sources, e: dict[str, Any], files: list[dict[str, Any]],
            history: list[dict[str, Any]]) -> dict[str, Any]:
    profile = detail.latest_profile(src, files, history)
    return {"name": e["name"], "schema": columns(src, e["name"], profile, files),
            "schema_of": profile.get("where"), "versions": history[-SHOWN_VERSIONS:],
            "version_count": history[-1]["version"] if history else 0,
            "series": [{"version": v["version"], "time": v["time"], "rows": v["rows"], "path": v["path"],
                        "errors": v["errors"], "warnings": v["warnings"], "verdict": v["verdict"]}
                       for v in history if v["check_seq"]]}


def charted(entries: list[dict[str, Any]]) -> list[str]:
    """The datasets that get a chart: failing ones first, then the most recently changed."""
    def key(e: dict[str, Any]) -> tuple:
        failing = (e["quality"] or {}).get("verdict") == "block"
        return (not failing, -_stamp((e["current"] or {}).get("changed") or e["quality"]["time"]))

    return [e["name"] for e in sorted((e for e in entries if e["quality"]), key=key)[:MAX_CHARTS]]


def _stamp(time: str | None) -> float:
    try:
        return datetime.fromisoformat(time.replace("Z", "+00:00")).timestamp() if time else 0.0
    except ValueError:
        return 0.0


def _daily(src: Sources) -> list[dict[str, Any]]:
    days: dict[str, dict[str, int]] = {}
    for day, verdict, n in src.rows(_DAILY):
        days.setdefault(day, {"pass": 0, "block": 0})[verdict if verdict == "block" else "pass"] += n
    return [{"day": d, **v} for d, v in days.items()]


def first_steps(src: Sources, data: dict[str, Any]) -> list[dict[str, Any]] | None:
    """What to do first, while no data has been recorded; None once there is some."""
    has_data = any(e["current"] for e in data["catalog"])
    if has_data:
        return None
    return [
        {"done": bool(src.policy.datasets), "what": "Declare your datasets in gitgov.toml",
         "how": '[datasets.customers]\npaths = ["data/raw/customers*.csv"]\nowner = "you@example.com"'},
        {"done": has_data, "what": "Commit a data file: the hooks check it and record its version",
         "how": "git add data/raw/customers.csv && git commit -m 'Add customers'"},
        {"done": bool(data["run_count"]), "what": "Record a training run, with its inputs, params and metrics",
         "how": "gitgov run --name train -- python train.py"},
        {"done": False, "what": "Write this report again", "how": "gitgov report -o report.html"},
    ]


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
