"""From hashed files to ledger entries, through the same bus as the commit hooks.

Before anything is emitted, the newest ledger entries of the batch's paths are
looked up (versions.py): a version the ledger already holds is a no-op. The
lookup runs right before the emit, not from a copy taken at start, so that a
version a commit hook recorded a moment ago is seen too. Findings are logged
and every warning or error is raised through the ``notify`` hook.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ..events import DataAdded, DataRemoved, Event, Finding
from .cache import HashCache
from .hashing import Hashed
from .scope import Scope
from .versions import latest

ALERT_SEVERITIES = ("warning", "error")
DUE_TIMEOUT_S = 600.0  # a retention sweep may rewrite large files
_LEVEL = {"error": logging.ERROR, "warning": logging.WARNING, "info": logging.INFO}


@dataclass
class Counters:
    added: int = 0
    removed: int = 0
    other: int = 0  # scheduled events (retention) and their follow-ups
    skipped: int = 0  # versions the ledger already held
    findings: int = 0
    alerts: int = 0

    @property
    def recorded(self) -> int:
        return self.added + self.removed + self.other

    def to_dict(self) -> dict[str, int]:
        return {**self.__dict__, "recorded": self.recorded}


@dataclass
class Recorder:
    session: Any  # gitgov.core.session.Session
    scope: Scope
    cache: HashCache
    memory: dict[str, Hashed]  # the cache, in memory
    log: logging.Logger
    actor: str = ""
    batch: int = 1000
    counters: Counters = field(default_factory=Counters)
    _notifier: Any = None

    @property
    def db(self):
        # The context's own connection, opened in this (the engine's) thread.
        return self.session.ctx.ledger().db

    def record(self, hashed: list[tuple[str, Hashed]], removed: list[str]) -> None:
        """Record new versions and removals; raises LedgerError with nothing half-written."""
        for i in range(0, max(len(hashed), len(removed)), self.batch):
            self._record(hashed[i:i + self.batch], removed[i:i + self.batch])

    def _record(self, hashed: list[tuple[str, Hashed]], removed: list[str]) -> None:
        known = latest(self.db, [p for p, _ in hashed] + removed)
        events: list[Event] = []
        for rel, h in dict(hashed).items():
            k = known.get(rel)
            if k is not None and k.holds(h):
                self.counters.skipped += 1
                continue
            events.append(DataAdded(path=rel, dataset=self.scope.dataset(rel), sha256=h.sha256,
                                    size=h.stat.size, stage="observed", actor=self.actor,
                                    source="watcher"))
        for rel in dict.fromkeys(removed):
            k = known.get(rel)
            if k is not None and k.present:
                events.append(DataRemoved(path=rel, dataset=self.scope.dataset(rel), stage="observed",
                                          actor=self.actor, source="watcher"))
        if events:
            self.emit(events)
        # Only after the ledger: a crash in between costs a re-read, never a lost entry.
        self.memory.update(hashed)
        for rel in removed:
            self.memory.pop(rel, None)
        self.cache.update(put=hashed, drop=removed)

    def emit(self, events: list[Event]) -> None:
        outcome = self.session.emit(events)
        for event in outcome.events:
            if isinstance(event, DataAdded) and event.source == "watcher":
                self.counters.added += 1
            elif isinstance(event, DataRemoved) and event.source == "watcher":
                self.counters.removed += 1
            else:
                self.counters.other += 1
            self._report(event, outcome.findings_for(event))
        self.log.info("recorded %d event(s)%s", len(outcome.events), _brief(outcome.events))

    def record_due(self) -> list[str]:
        """Ask every plugin's ``due_events`` what is due now and record it; the failures.

        Each plugin has the policy's deadline, but retention's sweep rewrites the files it
        disposes of and gets DUE_TIMEOUT_S. An answer that is not events is a failure
        naming the plugin, not the daemon's end."""
        from datetime import datetime, timezone

        from ..bus import Caller

        host, ctx = self.session.host, self.session.ctx
        timeout = ctx.policy.plugins.timeout
        kwargs = {"now": datetime.now(timezone.utc), "ctx": ctx}
        events: list[Event] = []
        problems: list[str] = []
        for impl in Caller(host, timeout).impls("due_events"):
            deadline = DUE_TIMEOUT_S if impl.plugin_name == "retention" else timeout
            with Caller(host, deadline) as caller:
                value, failure = caller.call(impl, "due_events", kwargs)
            if failure is not None:
                problems.append(failure.message)
                continue
            got = _events_in(value)
            if isinstance(got, str):
                problems.append(f"plugin '{impl.plugin_name}' answered due_events with {got}, "
                                "not events; nothing of its answer was recorded")
                continue
            events += got
        if events:
            self.emit(events)
        return problems

    def _report(self, event: Event, findings: list[Finding]) -> None:
        for f in findings:
            self.counters.findings += 1
            self.log.log(_LEVEL.get(f.severity, logging.INFO), "%s %s: [%s/%s] %s", f.severity,
                         f.path or event.subject, f.plugin or "-", f.code, f.message)
            if f.severity in ALERT_SEVERITIES:
                self.alert(f, event)

    def alert(self, finding: Finding, event: Event | None = None) -> None:
        """Raise an alert through every plugin's ``notify``; a failing plugin is only logged."""
        from ..bus import Caller

        if self._notifier is None:  # one caller, one worker thread, for the daemon's lifetime
            self._notifier = Caller(self.session.host, self.session.policy.plugins.timeout)
        self.counters.alerts += 1
        kwargs = {"finding": finding, "about": event, "ctx": self.session.ctx}
        for impl in self._notifier.impls("notify"):
            _value, failure = self._notifier.call(impl, "notify", kwargs)
            if failure is not None:
                self.log.error("alert not delivered: %s", failure.message)


    def close(self) -> None:
        """End the alert caller's worker thread (after a policy reload, and at exit)."""
        if self._notifier is not None:
            self._notifier.__exit__(None, None, None)
            self._notifier = None


def _brief(events: list[Event]) -> str:
    if len(events) == 1:
        return f": {events[0].name} {events[0].subject}"
    return ""


def _events_in(value: Any) -> list[Event] | str:
    """A due_events answer as events, or what it holds instead (a description)."""
    if value is None:
        return []
    if isinstance(value, Event):
        return [value]
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        return f"a {type(value).__name__}"
    items = list(value)
    wrong = [e for e in items if not isinstance(e, Event)]
    return f"a {type(wrong[0]).__name__} among them" if wrong else items
