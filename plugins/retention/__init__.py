"""Retention: data past its retention period is found, reported and disposed of, with proof.

Per dataset, ``retention = "30d" | "18m" | "7y"`` applies to whole files,
counted from when the ledger first recorded the version, and with
``retention_column`` to rows, by a date column. ``hold = true`` (a legal
hold) stops all disposal. ``[retention] action = "dispose"`` lets the watch
daemon's scheduler dispose of expired data itself; the default, "report",
only records and alerts. Commands: ``gitgov retention check | apply``.
"""
from __future__ import annotations

from gitgov.core.events import info, warning
from gitgov.core.hookspecs import hookimpl

__version__ = "1.0"


@hookimpl
def register_commands(cli) -> None:
    from .commands import retention_group

    cli.add_command(retention_group)


@hookimpl
def retention_expired(event, ctx):
    ds = ctx.dataset(event.dataset)
    what = f"{event.rows} row(s)" if event.rows is not None else "this version"
    period = f"datasets.{event.dataset}.retention = {ds.retention!r}" if ds else "its retention period"
    if ds is not None and ds.hold:
        return info("retention-hold", f"{what} passed {period} on {event.expired_on}, but the dataset "
                    "is under legal hold (hold = true): kept")
    return warning("retention-expired", f"{what} passed {period} on {event.expired_on}; "
                   "`gitgov retention apply` disposes of it", rows=event.rows)


@hookimpl
def due_events(now, ctx):
    from .schedule import due

    return due(now, ctx)
