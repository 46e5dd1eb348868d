"""What a check found, for people (grouped by rule) and for machines (`--json`).

The JSON document is a stable interface (its "version" changes if it ever
must break): per file, per rule, the failure count and the first failing
rows with their values, personal data masked.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .tally import Sample, Tally

JSON_VERSION = 1
ROW_RULES = frozenset({"type", "required", "unique", "min", "max", "min_length", "max_length",
                       "allowed", "pattern", "format", "encoding", "foreign_key"})
COLUMN_LEVEL = frozenset({"missing_column", "max_null_fraction", "freshness"})


@dataclass
class FileReport:
    path: str
    dataset: str | None
    format: str
    rows: int = 0
    results: list[Tally] = field(default_factory=list)
    profile: dict[str, Any] | None = None
    ruleset: str | None = None
    blob: str | None = None
    skipped: str | None = None  # why the rules were not run again
    quarantine: dict[str, Any] | None = None

    @property
    def failures(self) -> list[Tally]:
        return [t for t in self.results if t.count]

    @property
    def verdict(self) -> str:
        return "block" if any(t.blocks for t in self.results) else "pass"

    @property
    def status(self) -> str:
        if self.skipped:
            return "skipped"
        return "fail" if self.verdict == "block" else "pass"

    def counts(self) -> dict[str, int]:
        out = {"error": 0, "warning": 0, "info": 0}
        for t in self.failures:
            out[t.severity] += 1
        return out

    @property
    def columns(self) -> list[str]:
        return [c["name"] for c in (self.profile or {}).get("columns", [])]

    def metrics(self) -> dict[str, float]:
        """Numbers kept per version for `gitgov quality` and the drift rules."""
        out: dict[str, float] = {"rows": self.rows, "columns": len(self.columns)}
        counts = self.counts()
        out.update(errors=counts["error"], warnings=counts["warning"])
        for col in (self.profile or {}).get("columns", []):
            name = col["name"]
            out[f"null_fraction.{name}"] = round(col["null_fraction"], 6)
            if col.get("distinct") is not None:
                out[f"distinct.{name}"] = col["distinct"]
            if col.get("mean") is not None:
                out[f"mean.{name}"] = col["mean"]
        for t in self.results:
            if t.rule not in ("drift",):
                out[f"failed.{t.id}"] = t.count
        return out

    def to_dict(self) -> dict[str, Any]:
        counts = self.counts()
        return {
            "path": self.path, "dataset": self.dataset, "format": self.format,
            "status": self.status, "verdict": self.verdict, "blob": self.blob,
            "ruleset": self.ruleset, "skipped": self.skipped, "rows": self.rows,
            "columns": self.columns, "errors": counts["error"], "warnings": counts["warning"],
            "rules": [t.to_dict() for t in self.results],
            "quarantine": self.quarantine,
        }


# ---- one line per rule -------------------------------------------------------------

def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def sample_text(s: Sample) -> str:
    if s.row is None and s.line is None and s.note and s.value is not None:
        return s.note  # a table rule's figure (rows, a share, a date), which its note states
    parts = []
    if s.row is not None:
        parts.append(f"row {s.row}" + (f" (line {s.line})" if s.line is not None else ""))
    elif s.line is not None:
        parts.append(f"line {s.line}")
    if s.value is not None:
        parts.append(_quoted(s.value) if isinstance(s.value, str) else str(s.value))
    text = " ".join(parts)
    if s.note:
        text = f"{text}: {s.note}" if text else s.note
    return text


def _quoted(text: str) -> str:
    """A value in double quotes, its quotes and control characters escaped as in JSON but not
    its backslashes: bytes that are not UTF-8 are already written as escapes ("\\xff")."""
    return json.dumps(text, ensure_ascii=False).replace("\\\\", "\\")


def headline(t: Tally) -> str:
    """What failed, in one sentence without the samples."""
    if t.rule in ROW_RULES or (t.column and t.samples and t.samples[0].row is not None):
        return f"{_plural(t.count, 'row')} where '{t.column}' {t.message}"
    if t.rule == "primary_key":
        return f"{_plural(t.count, 'row')} where {t.message}"
    if t.rule == "read":
        noun, _, rest = t.message.partition("|")
        return f"{_plural(t.count, noun)} {rest}"
    if t.rule == "file":
        return t.message
    if t.column and (t.rule in COLUMN_LEVEL or t.rule == "drift"):
        return f"'{t.column}' {t.message}"
    if t.rule == "drift":
        return t.message
    return f"the file {t.message}"


def _by_row(t: Tally) -> bool:
    """Whether each sample is one of the failures counted, so that "N more" can be said: not
    so for reading problems, or table rules that tell their whole count in one sample."""
    return t.rule != "read" and any(s.row is not None for s in t.samples)


def finding_message(t: Tally, limit: int = 3) -> str:
    shown = [sample_text(s) for s in t.samples[:limit]]
    shown = [s for s in shown if s]
    text = headline(t)
    if shown:
        more = f" (first {len(shown)} of {t.count:,})" if t.count > len(shown) and _by_row(t) else ""
        text += ": " + "; ".join(shown) + more
    return text


# ---- whole reports ------------------------------------------------------------------------

_MARK = {"error": "error  ", "warning": "warning", "info": "info   "}


def render_text(reports: list[FileReport], *, verbose: bool = False) -> str:
    lines = []
    for r in reports:
        counts = r.counts()
        what = ", ".join(x for x in (f"dataset {r.dataset}" if r.dataset else "no dataset",
                                     r.format, _plural(r.rows, "row")) if x)
        verdict = "FAIL" if r.verdict == "block" else "PASS"
        tail = ", ".join(_plural(counts[k], k) for k in ("error", "warning") if counts[k])
        why = f" (not checked again: {r.skipped})" if r.skipped else ""
        lines.append(f"{r.path}  ({what})  {verdict}" + (f": {tail}" if tail else "") + why)
        for t in (r.results if verbose else r.failures):
            mark = _MARK[t.severity] if t.count else "ok     "
            lines.append(f"  {mark} {t.id}: {headline(t)}" if t.count else f"  {mark} {t.id}")
            for s in t.samples:
                text = sample_text(s)
                if text:
                    lines.append(f"            {text}")
            if t.count > len(t.samples) and _by_row(t):
                lines.append(f"            ... {t.count - len(t.samples):,} more")
        if r.quarantine:
            q = r.quarantine
            lines.append(f"  quarantine: {_plural(q['passed_rows'], 'row')} passed -> {q['passed']}")
            lines.append(f"              {_plural(q['failed_rows'], 'row')} failed -> {q['failed']}")
    return "\n".join(lines)


def to_json(reports: list[FileReport]) -> dict[str, Any]:
    files = [r.to_dict() for r in reports]
    return {
        "version": JSON_VERSION,
        "ok": all(r.verdict == "pass" for r in reports),
        "files": files,
        "summary": {
            "files": len(files),
            "passed": sum(1 for r in reports if r.status == "pass"),
            "failed": sum(1 for r in reports if r.status == "fail"),
            "skipped": sum(1 for r in reports if r.status == "skipped"),
        },
    }
