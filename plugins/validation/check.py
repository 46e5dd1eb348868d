"""One file against one rule set: open it, run the engine, start over if the reader must."""
from __future__ import annotations

from typing import Any

from .engine import Engine
from .formats import Format, ReadError, Reopen, Source, detect, open_batches
from .report import FileReport
from .ruleset import RuleSet
from .tally import Tally


def unreadable(report: FileReport, exc: ReadError) -> FileReport:
    tally = Tally("read." + exc.code, "file", None, "error", exc.message)
    tally.add(None, None, exc.line)
    report.results = [tally]
    return report


def check_source(source: Source, ruleset: RuleSet, *, fmt: Format | None = None,
                 references: dict[str, Any] | None = None, profile_mode: str = "lite",
                 keep: dict[str, Any] | None = None, **engine_options: Any) -> FileReport:
    """Check one file; a file that cannot be read is a failing report, never an exception."""
    report = FileReport(path=source.path, dataset=ruleset.dataset,
                        format=str(fmt) if fmt else "?")
    try:
        fmt = fmt or detect(source.path, ruleset.format)
        report.format = str(fmt)
        opened = open_batches(source, fmt, delimiter=ruleset.delimiter,
                              null_values=ruleset.null_values)
    except ReadError as exc:
        return unreadable(report, exc)
    reopened = False
    while True:
        report.results, report.rows = [], 0
        engine = Engine(ruleset, report, references=references, profile_mode=profile_mode,
                        **engine_options)
        try:
            with opened:
                engine.run(opened)
                if keep is not None:
                    keep.update(repeats=engine.repeats, fmt=fmt, reopened=reopened)
            return report
        except Reopen as again:  # the fast reader gave up: the careful one starts over
            opened, reopened = again.batches, True
        except ReadError as exc:
            return unreadable(report, exc)
