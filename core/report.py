"""How findings are shown to people: grouped by file, one line per rule."""
from __future__ import annotations

import os
import sys
from typing import Iterable, TextIO

from .events import Finding

_MARK = {"error": "error  ", "warning": "warning", "info": "info   "}
_COLOR = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[2m"}


def _use_color(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    out = {"error": 0, "warning": 0, "info": 0}
    for f in findings:
        out[f.severity] += 1
    return out


def format_findings(findings: list[Finding], *, color: bool = False, verbose: bool = False) -> str:
    """Findings grouped by path; info findings only when verbose."""
    shown = [f for f in findings if verbose or f.severity != "info"]
    groups: dict[str, list[Finding]] = {}
    for f in shown:
        groups.setdefault(f.path or "(repository)", []).append(f)
    lines = []
    for path, items in groups.items():
        lines.append(f"  {path}")
        for f in items:
            mark = _MARK[f.severity]
            if color:
                mark = f"{_COLOR[f.severity]}{mark}\033[0m"
            rule = f"{f.plugin}/{f.code}" if f.plugin else f.code
            lines.append(f"    {mark} {rule}: {f.message}")
    return "\n".join(lines)


def print_verdict(findings: list[Finding], action: str, *, stream: TextIO = sys.stderr,
                  bypass: str | None = None) -> None:
    """The hook's report: what blocked `action` (a commit, a push), and how to proceed."""
    n = counts(findings)
    if not n["error"] and not n["warning"]:
        return
    color = _use_color(stream)
    if n["error"]:
        head = f"gitgov: {action} blocked by policy ({_plural(n['error'], 'error')}"
    else:
        head = f"gitgov: {action} allowed with {_plural(n['warning'], 'warning')}"
    if n["error"] and n["warning"]:
        head += f", {_plural(n['warning'], 'warning')}"
    head += ")" if n["error"] else ""
    print(head, file=stream)
    print(format_findings(findings, color=color), file=stream)
    if n["error"] and bypass:
        print(bypass, file=stream)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")
