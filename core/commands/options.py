"""Options and helpers shared by the commands."""
from __future__ import annotations

import json
from typing import Any, Callable

import click

from ..report import one_line

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")

# Counts and day spans go to SQLite (64-bit), to C (a long) and to timedelta (999,999,999
# days at most): a larger number would fail there as an internal OverflowError, so it is a
# usage error here, like a number below the minimum.
MAX_COUNT = 999_999_999


def count(minimum: int = 1) -> click.IntRange:
    """The click type of a count option: `minimum` or more, and at most MAX_COUNT."""
    return click.IntRange(minimum, MAX_COUNT)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def open_session(require_ledger: bool = True):
    from ..session import Session

    return Session.open(".", require_ledger=require_ledger)


def table(rows: list[list[str]], headers: list[str]) -> str:
    """A plain text table with columns sized to their content."""
    cells = [headers] + [[one_line(str(c)) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    fmt: Callable[[list[str]], str] = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
    return "\n".join([fmt(headers), fmt(["-" * w for w in widths])] + [fmt(r) for r in cells[1:]])
