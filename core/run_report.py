"""How runs look to people: the list, one run in full, and two runs side by side."""
from __future__ import annotations

import json
from typing import Any, Callable

from .report import human_size
from .run_query import RunRecord
from .runenv import package_differences


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return v if isinstance(v, str) else json.dumps(v)


def command_line(run: RunRecord) -> str:
    import shlex

    return shlex.join(run.command)


def list_rows(runs: list[RunRecord]) -> list[list[str]]:
    rows = []
    for r in runs:
        metrics = " ".join(f"{k}={_value(v)}" for k, v in list(r.metrics.items())[:3])
        rows.append([r.short, r.name or "-", r.state, r.started[:19].replace("T", " "),
                     f"{r.duration:.1f}s" if r.duration is not None else "-",
                     (r.commit or "-")[:7] + ("*" if r.dirty else ""), metrics or "-",
                     command_line(r)[:40]])
    return rows


LIST_HEADERS = ["run", "name", "status", "started (UTC)", "took", "commit", "metrics", "command"]


def _imported(snap: dict[str, Any]) -> str:
    """Where a run recorded in another clone came from (`gitgov store pull`)."""
    mark = snap.get("imported")
    return f", in another clone (its record came from {mark.get('from')})" if isinstance(mark, dict) else ""


def show(run: RunRecord, in_store: Callable[[str], bool] = lambda _sha: True) -> str:
    """The run in full; ``in_store`` says whether the local store still has an object."""
    snap = run.snapshot
    lines = [f"run {run.run_id}" + (f"  ({run.name})" if run.name else ""),
             f"  status     {_status(run)}",
             f"  started    {run.started} by {run.actor or '?'}" + _imported(snap),
             f"  command    {command_line(run)}" + (f"   (in {run.cwd})" if run.cwd not in (None, ".") else ""),
             f"  commit     {run.commit or '(none)'}" + (f" on {run.branch}" if run.branch else "")
             + (_dirty(snap) if run.dirty else ""),
             f"  seed       {run.seed}",
             f"  params     {_params(run)}",
             f"  metrics    {_pairs(run.metrics) or '(none)'}"]
    lines += _files("inputs", run.inputs, in_store) + _files("outputs", run.outputs, in_store)
    python = snap.get("python") or {}
    if python:
        count = len(python.get("packages") or {})
        lines.append(f"  python     {python.get('version')} {python.get('executable')} ({count} packages)")
    plat = snap.get("platform") or {}
    if plat:
        gpus = ", ".join(g.get("name", "?") for g in plat.get("gpus") or []) or "no GPU"
        lines.append(f"  platform   {plat.get('platform')}; {plat.get('cpu')} x{plat.get('cpu_count')}; {gpus}")
    env = snap.get("env") or {}
    if env:
        lines.append(f"  env        {', '.join(sorted(env))}")
    for rep in run.reproductions:
        lines.append(f"  reproduce  {rep['time'][:19]} {rep['verdict']}: {rep['summary'] or ''}".rstrip())
    return "\n".join(lines)


def _status(run: RunRecord) -> str:
    state = run.state
    if state == "lost":
        return "lost (no end was recorded: gitgov stopped before the command ended)"
    if state == "running":
        return "running"
    if state == "refused":
        return "refused by policy before the command started"
    extra = f"exit {run.exit_code}" + (f", {run.signal}" if run.signal else "")
    peak = f", peak memory {human_size(run.peak_memory)}" if run.peak_memory else ""
    return f"{state} ({extra}) in {run.duration:.2f} s{peak}"


def _params(run: RunRecord) -> str:
    """The params the command used, naming those that were the script's own defaults."""
    used = run.used_params
    defaults = [k for k in used if k not in run.params]
    return (_pairs(used) or "(none)") + (f"  (the script's defaults: {', '.join(defaults)})" if defaults else "")


def _dirty(snap: dict) -> str:
    diff = snap.get("diff") or {}
    files = diff.get("files") or []
    return f" + uncommitted changes to {len(files)} file(s), stored as {str(diff.get('sha256'))[:12]}"


def _pairs(mapping: dict) -> str:
    return ", ".join(f"{k}={_value(v)}" for k, v in mapping.items())


def _files(title: str, files: dict[str, dict], in_store: Callable[[str], bool]) -> list[str]:
    if not files:
        return [f"  {title:<10} (none)"]
    out = []
    for i, (path, rec) in enumerate(files.items()):
        where = "git" if rec.get("clean") else ("-" if not rec.get("stored") else
                                                 "store" if in_store(rec["sha256"]) else "removed by gc")
        out.append(f"  {title if i == 0 else '':<10} {path}  sha256:{rec['sha256'][:12]}  "
                   f"{human_size(rec.get('size'))}  [{where}]")
    return out


# ---- diff -----------------------------------------------------------------------

def diff_rows(a: RunRecord, b: RunRecord) -> list[list[str]]:
    """(section, key, a, b, mark) rows; mark '*' where the two runs differ."""
    rows: list[list[str]] = []

    def add(section: str, key: str, va: Any, vb: Any, only_diff: bool = False) -> None:
        same = va == vb and _value(va) == _value(vb)  # True == 1 in Python, but true and 1 differ
        if only_diff and same:
            return
        rows.append([section, key, "-" if va is None else _value(va), "-" if vb is None else _value(vb),
                     "" if same else "*"])

    add("run", "status", a.state, b.state)
    add("run", "commit", (a.commit or "")[:12] + ("+diff" if a.dirty else ""),
        (b.commit or "")[:12] + ("+diff" if b.dirty else ""))
    add("run", "command", command_line(a), command_line(b))
    add("run", "seed", a.seed, b.seed)
    pa, pb = a.used_params, b.used_params  # the script's defaults included: lr=0.1 against 0.2, not -
    for key in sorted(set(pa) | set(pb)):
        add("params", key, pa.get(key), pb.get(key))
    for key in sorted(set(a.metrics) | set(b.metrics)):
        add("metrics", key, a.metrics.get(key), b.metrics.get(key))
    for title, fa, fb in (("inputs", a.inputs, b.inputs), ("outputs", a.outputs, b.outputs)):
        for path in sorted(set(fa) | set(fb)):
            add(title, path, (fa.get(path) or {}).get("sha256", "")[:12] or None,
                (fb.get(path) or {}).get("sha256", "")[:12] or None)
    env_a, env_b = a.snapshot.get("env") or {}, b.snapshot.get("env") or {}
    for key in sorted(set(env_a) | set(env_b)):
        add("env", key, env_a.get(key), env_b.get(key), only_diff=True)
    py_a, py_b = a.snapshot.get("python") or {}, b.snapshot.get("python") or {}
    add("python", "version", py_a.get("version"), py_b.get("version"), only_diff=True)
    for d in package_differences(py_a.get("packages"), py_b.get("packages")):
        rows.append(["packages", d["name"], d["recorded"] or "-", d["current"] or "-", "*"])
    return rows
