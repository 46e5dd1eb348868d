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
                         PolicyStaged, PushReceived, PushRequested, RetentionExpired, RunFinished,
                         RunStarted)
    from .events import QualityAlert
    from datetime import datetime

    from .events import Event
    from gitgov.plugins.validation.rules import Rule
    from gitgov.plugins.privacy.detectors import Detector

    Result = Union[Finding, Fact, Iterable[Union[Finding, Fact]], None]

PROJECT = "gitgov"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---- data lifecycle ------------------------------------------------------

@hookspec
def data_added(event: DataAdded, ctx: Context) -> Result:
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
def data_removed(event: DataRemoved, ctx: Context) -> Result:
    """A governed file was deleted from the index (pre-commit), by a pushed commit (pre-push,
    pre-receive; ``event.commit``) or from disk (watcher)."""


@hookspec
def data_disposed(event: DataDisposed, ctx: Context) -> Result:
    """Data was disposed of under a retention or erasure policy (emitted by plugins)."""


@hookspec
def retention_expired(event: RetentionExpired, ctx: Context) -> Result:
    """A dataset version or some of its rows passed their retention period."""


@hookspec
def policy_staged(event: PolicyStaged, ctx: Context) -> Result:
    """gitgov.toml is staged (pre-commit): ``event.blob`` is the new version, ``event.previous``
    the committed one (None if there was none).

    The files of a dataset whose rules change are not part of the change and
    get no ``data_added`` event; a plugin that judges data under the policy
    checks them here. Error findings block the commit.
    """


# ---- git lifecycle -------------------------------------------------------

@hookspec
def commit_created(event: CommitCreated, ctx: Context) -> Result:
    """A commit that changed governed data was made (post-commit).

    ``event.changes`` lists the governed paths it touched. The commit exists
    already, so findings cannot block it; they are recorded and shown.
    """


@hookspec
def push_requested(event: PushRequested, ctx: Context) -> Result:
    """``git push`` is about to send ``event.refs`` to ``event.remote`` (pre-push).

    Error findings block the push. Governed blobs in the pushed ranges that
    were never checked arrive separately as ``data_added`` events.
    """


@hookspec
def push_received(event: PushReceived, ctx: Context) -> Result:
    """A server repository received a push (pre-receive); error findings reject it."""


# ---- runs ----------------------------------------------------------------

@hookspec
def run_started(event: RunStarted, ctx: Context) -> Result:
    """``gitgov run`` is about to start a command; return facts to snapshot."""


@hookspec
def run_finished(event: RunFinished, ctx: Context) -> Result:
    """A command under ``gitgov run`` ended, with its status, metrics and outputs."""


# ---- monitoring ----------------------------------------------------------

@hookspec
def quality_alert(event: QualityAlert, ctx: Context) -> Result:
    """A new version of a dataset drifted from its last committed version.

    Emitted by the ``validation`` plugin while it checks a file (in any hook,
    the watcher or ``gitgov check``) when a ``[datasets.NAME.rules.drift]``
    threshold is crossed or the schema changed: ``event.metric`` is "rows",
    "null_fraction.COLUMN" or "schema", with ``event.previous``,
    ``event.current`` and ``event.change``. The finding that blocks or warns
    is already on the ``data_added`` event; implement this hook to forward
    alerts (a chat message, an e-mail, an incident). Findings returned here
    are recorded with the alert and shown, and errors block like any other.
    """


# ---- the watch daemon ----------------------------------------------------

@hookspec
def notify(finding: Finding, about: Event | None, ctx: Context) -> None:
    """Raise an alert about a warning or error that the watch daemon met.

    Called by the watch daemon (`gitgov watch`), once per plugin, for every
    finding of severity ``warning`` or ``error`` that plugins returned for an
    event it recorded (``about`` is that event: a DataAdded or DataRemoved of
    a file it observed, a RetentionExpired of its scheduler), and for its own
    problems (``finding.plugin == "watch"``: an unreadable file, an
    overflowed event queue, a ledger it cannot write), with ``about`` None.
    Send the alert where people look: a chat channel, e-mail, a pager. The
    built-in ``alerts`` plugin writes it to .gitgov/watch.log, and to stderr
    when the daemon runs in the foreground (`gitgov watch run`).

    :returns: nothing. A plugin that raises or hangs is logged; the others
        still get the alert.
    """


@hookspec
def due_events(now: datetime, ctx: Context) -> Iterable[Event] | None:
    """Return the events that are due at ``now`` (an aware UTC datetime).

    Called by the watch daemon's scheduler when it starts and then every
    ``[watch] schedule_minutes`` (default 60). The events returned (for
    example the ``retention`` plugin's RetentionExpired and DataDisposed) are
    handed to every plugin and recorded like any other event. Return only
    what is new since the last call: the scheduler does not deduplicate.

    :returns: an iterable of events, or None.
    """


# ---- collectors ----------------------------------------------------------

@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``gitgov`` command line.

    Called once when the CLI starts, with the top-level click group. Add
    commands with ``cli.command()`` or ``cli.add_command()``.
    """


@hookspec
def register_rules() -> Iterable[Rule]:
    """Add rule types to the ``validation`` plugin.

    Called when a dataset's rules name a rule that is not built in, in
    ``checks = { NAME = PARAM }`` of a ``[datasets.D.columns.C]`` or
    ``[datasets.D.rules]`` table. Return
    :class:`gitgov.plugins.validation.rules.Rule` objects, most simply made
    with the ``@column_rule(name)`` or ``@table_rule(name)`` decorators of
    that module. A column rule gets each record batch's values of the column
    and returns a boolean array that is true where a row fails; the report
    counts the failures and shows the first rows. The rule's name and version
    are part of the rule-set hash, so changing a rule re-checks the data.

    :returns: an iterable of rules (or a single one), or None.
    """


@hookspec
def register_detectors() -> Iterable[Detector]:
    """Add detectors of personal data to the ``privacy`` plugin.

    Called once per command or hook run, before the first file is scanned (at
    pre-commit and by ``gitgov scan``). Return
    :class:`gitgov.plugins.privacy.detectors.Detector` objects: a ``kind``
    (the name used in ``pii = "kind"`` and in findings), a ``label`` for
    messages ("employee numbers"), an RE2 ``pattern`` that a whole value must
    match, an optional ``check(value) -> bool`` that each match must also pass
    (a checksum), and optional ``column_names``, a regex that a column's name
    must match for the detector to apply. A column's confidence for a kind is
    the share of its sampled non-empty values that match. A detector whose
    kind is built in (email, phone, card, ssn, iban, ipv4, ipv6, dob)
    replaces the built-in one.

    :returns: an iterable of detectors, or None.
    """
