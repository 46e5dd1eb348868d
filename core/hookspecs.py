"""The contract between gitgov and its plugins.

Lifecycle hooks are named after the event they receive and are called once
per event, for every plugin, by the bus (core/bus.py). Each may return a
:class:`~gitgov.core.events.Finding`, a :class:`~gitgov.core.events.Fact`,
an iterable of them, or None. Findings of severity ``error`` block the commit
or push that fired the event; facts are written to the ledger with the event.

A plugin that raises, or does not answer within ``[plugins] timeout``
seconds, becomes an error finding that names it; the other plugins still run.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Union

import pluggy

if TYPE_CHECKING:  # the annotations below are strings; nothing heavy is imported
    import click

    from .context import Context
    from .events import (CommitCreated, DataAdded, DataDisposed, DataRemoved, Fact, Finding,
                         PushReceived, PushRequested, RetentionExpired, RunFinished, RunStarted)

    Result = Union[Finding, Fact, Iterable[Union[Finding, Fact]], None]

PROJECT = "gitgov"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---- data lifecycle ------------------------------------------------------

@hookspec
def data_added(event: "DataAdded", ctx: "Context") -> "Result":
    """A governed file was added or changed.

    Fires in pre-commit for each staged governed file (``event.stage ==
    "staged"``, ``event.blob`` is the staged blob), in pre-push for governed
    blobs that never passed a check (``"pushed"``), from the watcher for files
    that appeared on disk (``"observed"``) and from ``gitgov check``
    (``"checked"``). Read the bytes with ``ctx.open_data(event)``: for staged
    files that is the index, not the working tree.

    Files that are not in any dataset but look like secrets (by name, size or
    content) also arrive here with ``event.dataset`` set to None.

    :returns: findings about the data, and facts to record with it.
    """


@hookspec
def data_removed(event: "DataRemoved", ctx: "Context") -> "Result":
    """A governed file was deleted from the index (pre-commit) or from disk (watcher)."""


@hookspec
def data_disposed(event: "DataDisposed", ctx: "Context") -> "Result":
    """Data was disposed of under a retention or erasure policy (emitted by plugins)."""


@hookspec
def retention_expired(event: "RetentionExpired", ctx: "Context") -> "Result":
    """A dataset version or some of its rows passed their retention period."""


# ---- git lifecycle -------------------------------------------------------

@hookspec
def commit_created(event: "CommitCreated", ctx: "Context") -> "Result":
    """A commit that changed governed data was made (post-commit).

    ``event.changes`` lists the governed paths it touched. The commit exists
    already, so findings cannot block it; they are recorded and shown.
    """


@hookspec
def push_requested(event: "PushRequested", ctx: "Context") -> "Result":
    """``git push`` is about to send ``event.refs`` to ``event.remote`` (pre-push).

    Error findings block the push. Governed blobs in the pushed ranges that
    were never checked arrive separately as ``data_added`` events.
    """


@hookspec
def push_received(event: "PushReceived", ctx: "Context") -> "Result":
    """A server repository received a push (pre-receive); error findings reject it."""


# ---- runs ----------------------------------------------------------------

@hookspec
def run_started(event: "RunStarted", ctx: "Context") -> "Result":
    """``gitgov run`` is about to start a command; return facts to snapshot."""


@hookspec
def run_finished(event: "RunFinished", ctx: "Context") -> "Result":
    """A command under ``gitgov run`` ended, with its status, metrics and outputs."""


# ---- collectors ----------------------------------------------------------

@hookspec
def register_commands(cli: "click.Group") -> None:
    """Add commands to the ``gitgov`` command line.

    Called once when the CLI starts, with the top-level click group. Add
    commands with ``cli.command()`` or ``cli.add_command()``.
    """
