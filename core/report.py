"""How findings are shown to people: grouped by file, one line per rule."""
from __future__ import annotations

import os
import sys
from typing import Iterable, TextIO

from .events import Finding

_MARK = {"error": "error  ", "warning": "warning", "info": "info   "}
_COLOR = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[2m"}


_CONTROL = {i: f"\\x{i:02x}" for i in range(32)} | {9: "\\t", 10: "\\n", 13: "\\r"}


def one_line(text: str) -> str:
    """Text on one line: a file name may hold a line break, which would cut a listing in two
    (or forge a line of it) where it is printed."""
    return text.translate(_CONTROL)


def human_size(n: float | None) -> str:
    """Bytes in binary units, as git shows them: "512 B", "4.9 KiB", "1.2 GiB"."""
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


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
        groups.setdefault(one_line(f.path) if f.path else "(repository)", []).append(f)
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
                  bypass: str | None = None, blocking: bool = True) -> None:
    """The hook's report: what blocked `action` (a commit, a push), and how to proceed.

    With blocking=False (post-commit: the commit exists) errors are reported
    as recorded, never as blocking.
    """
    n = counts(findings)
    if not n["error"] and not n["warning"]:
        return
    color = _use_color(stream)
    headline = _headline(n, action, blocking)
    pending = sum(1 for f in findings if f.severity == "warning" and f.details.get("acknowledge"))
    if pending and blocking and not n["error"]:  # commit-msg has the last word on these
        headline += (f", if its message acknowledges the breaking change{'s' if pending > 1 else ''}"
                     " below")
    print(headline, file=stream)
    print(format_findings(findings, color=color), file=stream)
    if n["error"] and bypass:
        print(bypass, file=stream)


def _headline(n: dict[str, int], action: str, blocking: bool) -> str:
    errors, warnings = plural(n["error"], "error"), plural(n["warning"], "warning")
    both = f"{errors}, {warnings}" if n["warning"] else errors
    if not blocking:
        return f"gitgov: {action} was recorded with {both if n['error'] else warnings}"
    if n["error"]:
        return f"gitgov: {action} blocked by policy ({both})"
    return f"gitgov: {action} allowed with {warnings}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")
