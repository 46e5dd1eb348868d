"""What the pusher sees (Git prefixes each line with "remote:"): by ref, commit and file.

Each error names the rule (plugin/code) and what to do; the closing lines say
how to repair history, since a fix on top of a bad commit leaves the bad
file in the history the server would accept.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from .report import one_line, plural

if TYPE_CHECKING:
    from .events import Finding
    from .server import ServerPolicy, Verdict

MAX_LINES = 60
FIX = ("fix: repair the commits named above (`git commit --amend` for the last one, "
       "`git rebase -i` for earlier ones, or take the change out), then push again; a new commit "
       "on top does not remove a bad file from the history the push would publish")


def print_report(verdict: "Verdict", server: "ServerPolicy", stream: TextIO) -> None:
    shown = [(r, c, f) for r, c, f in verdict.findings if f.severity != "info"]
    if not shown:
        return
    errors = sum(1 for _, _, f in shown if f.blocks)
    warnings = len(shown) - errors
    where = f"{server.branch}:gitgov.toml" + (f" at {server.commit[:12]}" if server.commit else "")
    if server.broken:
        where = f"{server.branch}:gitgov.toml does not load"
    elif server.commit is None:
        where = f"no branch {server.branch} yet"
    elif server.text is None:
        where = f"no policy yet ({server.branch} has no gitgov.toml)"
    if errors:
        head = f"gitgov: push rejected by policy ({plural(errors, 'error')}"
    else:
        head = f"gitgov: push accepted with {plural(warnings, 'warning')}"
        head += f" (policy: {where})"
        print(head, file=stream)
        _body(shown, stream)
        return
    if warnings:
        head += f", {plural(warnings, 'warning')}"
    print(head + f"; policy: {where})", file=stream)
    _body(shown, stream)
    if any(sha for _, sha, f in shown if f.blocks):
        print(FIX, file=stream)


def _body(shown: list[tuple[str, str, "Finding"]], stream: TextIO) -> None:
    lines: list[str] = []
    groups: dict[tuple[str, str], list["Finding"]] = {}
    for ref, sha, f in shown:
        groups.setdefault((ref, sha), []).append(f)
    last_ref = None
    for (ref, sha), items in sorted(groups.items(), key=lambda kv: (kv[0][0] == "", kv[0][0])):
        if ref != last_ref:
            lines.append(f"  {ref or '(push)'}")
            last_ref = ref
        indent = "    "
        if sha:
            lines.append(f"    commit {sha[:12]}")
            indent = "      "
        by_path: dict[str, list["Finding"]] = {}
        for f in items:
            by_path.setdefault(f.path or "", []).append(f)
        for path, found in by_path.items():
            inner = indent
            if path:
                lines.append(f"{indent}{one_line(path)}")
                inner = indent + "  "
            for f in found:
                mark = "error  " if f.blocks else "warning"
                rule = f"{f.plugin}/{f.code}" if f.plugin else f.code
                lines.append(f"{inner}{mark} {rule}: {f.message}")
    for line in lines[:MAX_LINES]:
        print(line, file=stream)
    if len(lines) > MAX_LINES:
        print(f"  ... and {len(lines) - MAX_LINES} more lines (`gitgov audit` on the server has them all)",
              file=stream)
