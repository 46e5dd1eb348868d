"""The catalog for people in a terminal."""
from __future__ import annotations

from typing import Any

from gitgov.core.commands.options import table
from gitgov.core.report import human_size

FIRST_STEPS = ("declare a dataset in gitgov.toml ([datasets.NAME] with paths = [\"data/...\"]), "
               "then commit a file of it")


def short(sha: str | None, n: int = 8) -> str:
    return sha[:n] if sha else "-"


def when(time: str | None) -> str:
    return time[:16].replace("T", " ") if time else "-"


def number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.4g}"
    return f"{int(value):,}"


def rows_of(value: Any) -> str:
    return f"{number(value)} row" + ("" if value == 1 else "s")


def people(e: dict[str, Any]) -> str:
    parts = [f"owner {e['owner'] or 'NONE'}"]
    for key in ("stewards", "custodians", "consumers"):
        if e[key]:
            parts.append(f"{key} {', '.join(e[key])}")
    return " · ".join(parts)


def current(e: dict[str, Any]) -> str:
    cur = e["current"]
    if cur is None:
        return "no versions yet: commit a file matching " + " or ".join(e["paths"] or ["its paths"])
    files = cur["files"]
    what = files[0]["path"] if len(files) == 1 else f"{len(files)} files"
    parts = [what, rows_of(cur["rows"]), human_size(cur["bytes"])]
    parts.append(f"commit {short(cur['commit'])}" if cur["commit"] else f"not committed ({files[-1]['stage']})")
    if cur["blob"]:
        parts.append(f"blob {short(cur['blob'])}")
    return " · ".join(parts) + f" · {when(cur['changed'])}"


def quality(e: dict[str, Any]) -> str:
    q = e["quality"]
    if q is None:
        return "not checked yet"
    return (f"{q['verdict']} ({q['errors']} errors, {q['warnings']} warnings) · {q['path']} "
            f"· {q['stage']} {when(q['time'])}")


def catalog_text(entries: list[dict[str, Any]]) -> str:
    if not entries:
        return f"gitgov: no datasets yet; {FIRST_STEPS}"
    out = []
    for e in entries:
        head = f"{e['name']}  [{e['classification'] or 'not in gitgov.toml'}]"
        out.append(head + (f"  {e['description']}" if e["description"] else ""))
        rows = [("paths", ", ".join(e["paths"]) or "-"), ("people", people(e)),
                ("current", current(e)), ("versions", str(e["versions"])),
                ("quality", quality(e)), ("retention", e["retention"]["text"])]
        out += [f"  {k:<10} {v}" for k, v in rows]
        out.append("")
    out.append(footer(entries))
    return "\n".join(out)


def footer(entries: list[dict[str, Any]]) -> str:
    empty = sum(1 for e in entries if e["current"] is None)
    blocked = sum(1 for e in entries if (e["quality"] or {}).get("verdict") == "block")
    no_owner = sum(1 for e in entries if e["in_policy"] and not e["owner"])
    overdue = sum(1 for e in entries if e["retention"]["state"] == "overdue")
    parts = [f"{len(entries)} dataset(s)"]
    for n, what in ((empty, "without versions"), (blocked, "failing their latest check"),
                    (no_owner, "without an owner"), (overdue, "with retention overdue")):
        if n:
            parts.append(f"{n} {what}")
    return ", ".join(parts) + "; `gitgov catalog show NAME` for one in full"


def show_text(d: dict[str, Any], metric_limit: int = 8, version_limit: int = 12) -> str:
    out = [f"{d['name']}  [{d['classification'] or 'not in gitgov.toml'}]  {d['description']}".rstrip(),
           f"  paths      {', '.join(d['paths']) or '-'}", f"  people     {people(d)}",
           f"  current    {current(d)}", f"  quality    {quality(d)}",
           f"  retention  {d['retention']['text']}", ""]
    out += _schema(d)
    out += _history(d, version_limit)
    out += _metrics(d, metric_limit)
    out += _lineage(d)
    out += _audit(d)
    return "\n".join(out).rstrip()


def _schema(d: dict[str, Any]) -> list[str]:
    cols, where = d["schema"]["columns"], d["schema"]["version"]
    if not cols:
        return ["Schema: none known yet (no profiled version, no columns declared)", ""]
    title = (f"Schema of {where['path']} @ {short(where['blob'])} ({rows_of(where['rows'])})"
             if where else "Schema as declared (no profiled version yet)")
    rows = [[c["name"] + ("" if c["in_data"] or not where else " (not in the data)"), c["type"] or "-",
             f"{c['null_fraction']:.1%}" if c["null_fraction"] is not None else "-",
             ", ".join(c["rules"]) or "-", _pii(c), c["protection_text"] and c["protection"] or "-"]
            for c in cols]
    return [title, table(rows, ["column", "type", "nulls", "rules", "personal data", "protection"]), ""]


def _pii(c: dict[str, Any]) -> str:
    p = c["pii"]
    if p["declared"] is False:
        return "no (declared)"
    det = p["detected"]
    if det:
        return f"{det['kind']} ({det['confidence']:.0%} of sample)"
    if p["declared"]:
        return str(p["declared"]) if isinstance(p["declared"], str) else "yes (declared)"
    return "-"


def _history(d: dict[str, Any], limit: int) -> list[str]:
    h = d["history"]
    if not h:
        return ["Versions: none yet", ""]
    shown = h[-limit:]
    rows = [[str(v["version"]), when(v["time"]), short(v["commit"]) if v["commit"] else "not committed",
             (v["author"] or "-").split(" <")[0], v["path"], number(v["rows"]), v["verdict"] or "-"]
            for v in shown]
    more = f", the last {limit} shown" if len(h) > limit else ""
    return [f"Versions ({len(h)}, oldest first{more})",
            table(rows, ["#", "recorded", "commit", "author", "path", "rows", "quality"]), ""]


def _metrics(d: dict[str, Any], limit: int) -> list[str]:
    h = [v for v in d["history"] if v["metrics"]][-limit:]
    if not h:
        return []
    names = [m for m in d["metrics"] if m in ("rows", "errors", "warnings") or _moves(m, h)]
    rows = [[m] + [number(v["metrics"].get(m)) if not m.startswith("null_fraction")
                   else f"{v['metrics'].get(m, 0):.1%}" for v in h] for m in names]
    return ["Quality metrics across versions (those that moved or flag a problem; --json has all)",
            table(rows, ["metric"] + [f"#{v['version']}" for v in h]), ""]


def _moves(metric: str, versions: list[dict[str, Any]]) -> bool:
    values = [v["metrics"].get(metric) for v in versions]
    if metric.startswith("failed."):
        return any(values)
    return len({x for x in values if x is not None}) > 1


def _lineage(d: dict[str, Any]) -> list[str]:
    lin = d["lineage"]
    out = ["Lineage", f"  comes from: {lin['commits']} commit(s)" + _runs_line(lin["produced_by"], "inputs")]
    out.append("  used by:" + (_runs_line(lin["used_by"], "outputs") or " no recorded run"))
    for m in lin["models"]:
        out.append(f"  model {m['name']} v{m['version']} ({m['path']}, run {short(m['run_id'])})")
    return out + [""]


def _runs_line(block: dict[str, Any], key: str) -> str:
    if not block["count"]:
        return ""
    lines = [f"; {block['count']} run(s)" if key == "inputs" else f" {block['count']} run(s)"]
    for r in block["runs"][:5]:
        other = ", ".join(r[key]) or "-"
        arrow = "reading" if key == "inputs" else "->"
        lines.append(f"\n    {r['name']} {short(r['run_id'])} ({r['status']}, {when(r['started'])}) {arrow} {other}")
    return "".join(lines)


def _audit(d: dict[str, Any]) -> list[str]:
    if not d["audit"]:
        return ["Recent audit entries: none"]
    rows = [[str(a["seq"]), when(a["time"]), a["kind"], (a["actor"] or "-").split(" <")[0], a["source"],
             a["summary"][:70]] for a in d["audit"]]
    return ["Recent audit entries (newest first)",
            table(rows, ["seq", "time", "kind", "actor", "source", "summary"])]
