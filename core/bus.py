"""The event bus: hands events to every plugin and records what they said.

pluggy stops at the first implementation that raises, so the bus calls each
implementation itself: one failing or hanging plugin becomes a finding that
names it, and the others still run. Everything an emit produces (the events,
their findings and the plugins' facts) is written to the ledger in one
transaction.
"""
from __future__ import annotations

import dataclasses
import os
import queue
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from .context import Context
from .events import Event, Fact, Finding
from .plugins import Host

DEFAULT_TIMEOUT = 10.0
MAX_FOLLOW_UPS = 1000  # events that plugins emit while handling events


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "no")


@dataclass
class Outcome:
    """What an emit produced. ``blocked`` is the verdict for a hook."""

    events: list[Event] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    facts: list[tuple[Event, Fact]] = field(default_factory=list)
    by_event: dict[int, list[Finding]] = field(default_factory=dict)
    recorded: list[Any] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return any(f.blocks for f in self.findings)

    def findings_for(self, event: Event) -> list[Finding]:
        return self.by_event.get(id(event), [])


# ---- calling one implementation under a deadline ------------------------------

class _Worker:
    """A daemon thread that runs calls one at a time.

    A call that misses its deadline is abandoned with its thread (a thread
    cannot be killed); the next call gets a fresh worker. Daemon threads do
    not keep the process alive, so a hung plugin cannot hang a commit.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._loop, daemon=True, name="gitgov-plugin").start()

    def _loop(self) -> None:
        while True:
            fn, args, done = self._jobs.get()
            try:
                done.append((True, fn(*args)))
            except BaseException as exc:  # noqa: BLE001 - reported as a finding
                done.append((False, exc))
            done[0].set()

    def call(self, fn: Callable, args: Sequence[Any], timeout: float) -> tuple[str, Any]:
        """('ok', value) | ('raised', exception) | ('timeout', None)."""
        finished = threading.Event()
        done: list = [finished]
        self._jobs.put((fn, args, done))
        if not finished.wait(timeout):
            return "timeout", None
        ok, value = done[1]
        return ("ok" if ok else "raised"), value


class Caller:
    """Calls hook implementations, isolating each plugin and tracing if asked."""

    def __init__(self, host: Host, timeout: float) -> None:
        self.host = host
        self.timeout = timeout
        self.trace = _flag("GITGOV_TRACE")
        self.debug = _flag("GITGOV_DEBUG")
        self._worker: _Worker | None = None

    def impls(self, hook_name: str) -> list:
        caller = getattr(self.host.pm.hook, hook_name, None)
        if caller is None:
            return []
        return [i for i in caller.get_hookimpls() if i.plugin_name not in self.host.hung]

    def call(self, impl, hook_name: str, kwargs: dict[str, Any]) -> tuple[Any, Finding | None]:
        """Return (result, None) or (None, a finding describing the failure)."""
        args = [kwargs[a] for a in impl.argnames]
        if self._worker is None:
            self._worker = _Worker()
        started = time.perf_counter()
        status, value = self._worker.call(impl.function, args, self.timeout)
        elapsed = (time.perf_counter() - started) * 1000
        if self.trace:
            print(f"gitgov trace: {impl.plugin_name}.{hook_name}({_brief(kwargs)}) -> {status} "
                  f"[{elapsed:.1f} ms]", file=sys.stderr)
        if status == "ok":
            return value, None
        if status == "timeout":
            self._worker = None
            self.host.hung.add(impl.plugin_name)
            return None, Finding(
                severity="error", code="plugin-timeout", plugin=impl.plugin_name, hook=hook_name,
                message=(f"plugin '{impl.plugin_name}' did not answer {hook_name} within "
                         f"{self.timeout:g} s and was stopped; raise [plugins] timeout in "
                         f"gitgov.toml or disable the plugin"))
        return None, self._failure(impl.plugin_name, hook_name, value)

    def _failure(self, plugin: str, hook_name: str, exc: BaseException) -> Finding:
        details: dict[str, Any] = {"exception": type(exc).__name__}
        if self.debug:
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            details["traceback"] = tb
            print(tb, file=sys.stderr)
        return Finding(severity="error", code="plugin-error", plugin=plugin, hook=hook_name,
                       details=details,
                       message=f"plugin '{plugin}' failed in {hook_name}: {type(exc).__name__}: {exc}")


def _brief(kwargs: dict[str, Any]) -> str:
    event = kwargs.get("event")
    if event is not None:
        return f"{event.name} {event.subject}"
    return ", ".join(sorted(kwargs))


def _results(value: Any) -> Iterable[Any]:
    if value is None:
        return ()
    if isinstance(value, (Finding, Fact)):
        return (value,)
    return value


# ---- emit ------------------------------------------------------------------------

def _dispatch(caller: Caller, event: Event, ctx: Context, out: Outcome) -> None:
    mine = out.by_event.setdefault(id(event), [])
    for impl in caller.impls(event.name):
        value, failure = caller.call(impl, event.name, {"event": event, "ctx": ctx})
        if failure is not None:
            mine.append(failure)
            continue
        try:
            for item in _results(value):
                _accept(item, impl.plugin_name, event, mine, out)
        except Exception as exc:  # a malformed return value is the plugin's failure too
            mine.append(caller._failure(impl.plugin_name, event.name, exc))


def _accept(item: Any, plugin: str, event: Event, mine: list[Finding], out: Outcome) -> None:
    if isinstance(item, Finding):
        mine.append(dataclasses.replace(item, plugin=item.plugin or plugin, hook=event.name,
                                        path=item.path or getattr(event, "path", None)))
    elif isinstance(item, Fact):
        out.facts.append((event, item))
    else:
        raise TypeError(f"returned {type(item).__name__}, expected Finding, Fact or None")


def emit(events: Iterable[Event], host: Host, ctx: Context, *, record: bool = True,
         timeout: float | None = None) -> Outcome:
    """Give each event to every plugin, then record events, findings and facts."""
    if timeout is None:
        timeout = ctx.policy.plugins.timeout if ctx.policy else DEFAULT_TIMEOUT
    caller = Caller(host, timeout)
    out = Outcome()
    todo = list(events)
    limit = len(todo) + MAX_FOLLOW_UPS  # a plugin that emits for ever cannot loop for ever
    while todo and len(out.events) < limit:
        event = todo.pop(0)
        out.events.append(event)
        _dispatch(caller, event, ctx, out)
        todo.extend(ctx.pending)
        ctx.pending.clear()
    out.findings = [f for e in out.events for f in out.findings_for(e)]
    if record and ctx.ledger_path is not None:
        out.recorded = _record(out, ctx)
    return out


def _record(out: Outcome, ctx: Context) -> list[Any]:
    from .ledger import Entry

    entries = []
    for event in out.events:
        found = out.findings_for(event)
        payload = event.to_dict()
        payload["findings"] = [f.to_dict() for f in found]
        payload["verdict"] = "block" if any(f.blocks for f in found) else "pass"
        entries.append(Entry(kind=event.name, subject=event.subject, payload=payload,
                             actor=event.actor, source=event.source, time=event.created))
    for event, fact in out.facts:
        payload = {**fact.payload, "event": event.name, "event_subject": event.subject}
        entries.append(Entry(kind=fact.kind, subject=fact.subject, payload=payload,
                             actor=event.actor, source=event.source, time=event.created))
    return ctx.ledger().append(entries)


def collect(host: Host, hook_name: str, timeout: float = DEFAULT_TIMEOUT,
            **kwargs: Any) -> tuple[list[Any], list[Finding]]:
    """Call a collector hook (``register_*``) on every plugin, isolating failures."""
    caller = Caller(host, timeout)
    results, failures = [], []
    for impl in caller.impls(hook_name):
        value, failure = caller.call(impl, hook_name, kwargs)
        if failure is not None:
            failures.append(failure)
        elif value is not None:
            results.append(value)
    return results, failures
