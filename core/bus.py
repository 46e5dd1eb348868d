"""The event bus: hands events to every plugin and records what they said.

pluggy stops at the first implementation that raises, so the bus calls each
implementation itself: one failing or hanging plugin becomes a finding that
names it, and the others still run. Everything an emit produces (the events,
their findings and the plugins' facts) is written to the ledger in one
transaction.
"""
from __future__ import annotations

import dataclasses
import faulthandler
import os
import sys
import threading
import time
from collections import deque
from typing import Any, Callable, Iterable, Sequence

from .bus_answers import accept, results, taken
from .context import Context
from .events import Event, Fact, Finding, _plain
from .plugin_prints import to_stderr
from .plugins import Host

try:  # what queue.SimpleQueue is, without queue.py (and heapq) on every hook and run
    from _queue import SimpleQueue
except ImportError:  # pragma: no cover - other interpreters
    from queue import SimpleQueue

DEFAULT_TIMEOUT = 10.0
MAX_FOLLOW_UPS = 1000  # events that plugins emit while handling events


def _flag(name: str) -> bool:
    return os.environ.get(name, "").lower() not in ("", "0", "false", "no")


def backstop(timeout: float) -> float:
    """When the whole process is killed if a call holds the interpreter (see _Worker)."""
    return 2 * timeout + 1


class Outcome:  # a plain class: a dataclass costs every command ~1 ms to define
    """What an emit produced. ``blocked`` is the verdict for a hook."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.findings: list[Finding] = []
        self.facts: list[tuple[Event, Fact]] = []
        self.by_event: dict[int, list[Finding]] = {}
        self.recorded: list[Any] = []

    @property
    def blocked(self) -> bool:
        return any(f.blocks for f in self.findings)

    def findings_for(self, event: Event) -> list[Finding]:
        return self.by_event.get(id(event), [])


# ---- calling one implementation under a deadline ------------------------------

def _settle(value: Any) -> Any:
    """Run a generator to its end, so its work happens under the deadline too."""
    if hasattr(value, "__next__"):
        return list(value)
    return value


class _Worker:
    """A daemon thread that runs calls one at a time.

    A call that misses its deadline is abandoned with its thread (a thread
    cannot be killed); the next call gets a fresh worker. Daemon threads do
    not keep the process alive, so a hung plugin cannot hang a commit.
    """

    def __init__(self) -> None:
        self._jobs: SimpleQueue = SimpleQueue()
        self.thread = threading.Thread(target=self._loop, daemon=True, name="gitgov-plugin")
        self.thread.start()

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, args, done = job
            try:
                done.append((True, _settle(fn(*args))))
            except BaseException as exc:  # noqa: BLE001 - reported as a finding
                done.append((False, exc))
            done[0].release()

    def call(self, fn: Callable, args: Sequence[Any], timeout: float) -> tuple[str, Any]:
        """('ok', value) | ('raised', exception) | ('timeout', None)."""
        finished = threading.Lock()  # lighter than an Event: released once, by the worker
        finished.acquire()
        done: list = [finished]
        self._jobs.put((fn, args, done))
        if not finished.acquire(timeout=timeout):
            return "timeout", None
        ok, value = done[1]
        return ("ok" if ok else "raised"), value

    def stop(self) -> None:
        self._jobs.put(None)


class _Backstop:
    """Ends the process if a plugin holds the interpreter past its deadline.

    A plugin stuck in C code that never releases the interpreter lock (a
    regular expression backtracking for ever) keeps the waiting thread from
    waking up, so the deadline above cannot fire. faulthandler's watchdog is a
    C thread that needs no lock: at ``backstop(timeout)`` it prints where each
    thread was (the plugin's file and line) and exits with status 1.

    There is one such watchdog per process, and Callers nest (a plugin that
    collects rules or detectors makes its own): each arming is kept in
    ``_DEADLINES`` and the watchdog is set to the nearest one, so that an inner
    Caller that ends does not disarm the outer one.

    Arming it costs a thread start, so within a batch of calls (``with
    Caller(...)``) it is re-armed only when the last arming is older than
    WINDOW; a call then still has at least ``backstop(timeout) - WINDOW``
    (more than its deadline) before the kill. Outside a batch each call arms
    and disarms it, so a long-lived Caller never leaves it armed.
    """

    WINDOW = 0.25
    _DEADLINES: dict[int, float] = {}  # id(backstop) -> time.monotonic() of its kill
    _LOCK = threading.Lock()

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._armed_at: float | None = None

    def arm(self) -> None:
        now = time.monotonic()
        if self._armed_at is None or now - self._armed_at > self.WINDOW:
            with self._LOCK:
                self._DEADLINES[id(self)] = now + backstop(self.timeout)
                self._set(now)
            self._armed_at = now

    def disarm(self) -> None:
        if self._armed_at is not None:
            with self._LOCK:
                self._DEADLINES.pop(id(self), None)
                self._set(time.monotonic())
            self._armed_at = None

    @classmethod
    def _set(cls, now: float) -> None:
        if cls._DEADLINES:
            left = min(cls._DEADLINES.values()) - now
            faulthandler.dump_traceback_later(max(left, 0.001), exit=True, file=2)
        else:
            faulthandler.cancel_dump_traceback_later()


class Caller:
    """Calls hook implementations, isolating each plugin and tracing if asked.

    As a context manager (a batch of calls, as in emit) it is cheaper per call,
    and leaving it ends the worker thread and the backstop.
    """

    def __init__(self, host: Host, timeout: float) -> None:
        self.host = host
        self.timeout = timeout
        self.trace = _flag("GITGOV_TRACE")
        self.debug = _flag("GITGOV_DEBUG")
        self._worker: _Worker | None = None
        self._backstop = _Backstop(timeout)
        self._batch = False

    def __enter__(self) -> "Caller":
        self._batch = True
        return self

    def __exit__(self, *exc: Any) -> None:
        self._batch = False
        self._backstop.disarm()
        if self._worker is not None:
            self._worker.stop()  # its thread ends; a long-lived process leaks none
            self._worker = None

    def impls(self, hook_name: str) -> list:
        """Implementations in calling order: tryfirst, then registration order, then trylast."""
        caller = getattr(self.host.pm.hook, hook_name, None)
        if caller is None:
            return []
        impls = caller.get_hookimpls()
        return sorted(impls, key=lambda i: 0 if i.tryfirst else 2 if i.trylast else 1)

    def call(self, impl, hook_name: str, kwargs: dict[str, Any]) -> tuple[Any, Finding | None]:
        """Return (result, None) or (None, a finding describing the failure)."""
        if impl.plugin_name in self.host.hung:
            self._trace(impl.plugin_name, hook_name, kwargs, "skipped (stopped earlier)", 0.0)
            return None, self._skipped(impl.plugin_name, hook_name)
        args = [kwargs[a] for a in impl.argnames]
        if self._worker is None:
            self._worker = _Worker()
        worker = self._worker
        self._backstop.arm()
        started = time.perf_counter()
        try:
            with to_stderr():
                status, value = worker.call(impl.function, args, self.timeout)
        finally:
            if not self._batch:
                self._backstop.disarm()
        self._trace(impl.plugin_name, hook_name, kwargs, status,
                    (time.perf_counter() - started) * 1000)
        if status == "ok":
            return value, None
        if status == "timeout":
            return None, self._timed_out(impl.plugin_name, hook_name, worker)
        return None, self.failure(impl.plugin_name, hook_name, value)

    def _trace(self, plugin: str, hook_name: str, kwargs: dict[str, Any], status: str,
               ms: float) -> None:
        if self.trace:
            print(f"gitgov trace: {plugin}.{hook_name}({_brief(kwargs)}) -> {status} "
                  f"[{ms:.1f} ms]", file=sys.stderr, flush=True)

    def _timed_out(self, plugin: str, hook_name: str, worker: _Worker) -> Finding:
        self._worker = None  # the stuck thread keeps the old worker; later calls need a new one
        self.host.hung.add(plugin)
        if self.debug:
            import traceback

            frame = sys._current_frames().get(worker.thread.ident)
            if frame is not None:
                stack = "".join(traceback.format_stack(frame))
                print(f"gitgov: plugin '{plugin}' was stuck here:\n{stack}", file=sys.stderr)
        return Finding(
            severity="error", code="plugin-timeout", plugin=plugin, hook=hook_name,
            details={"timeout": self.timeout},
            message=(f"plugin '{plugin}' did not answer {hook_name} within {self.timeout:g} s "
                     f"and was stopped; raise [plugins] timeout in gitgov.toml or disable "
                     f"the plugin"))

    def _skipped(self, plugin: str, hook_name: str) -> Finding:
        # An error, not silence: whatever this plugin checks was not checked here.
        return Finding(
            severity="error", code="plugin-skipped", plugin=plugin, hook=hook_name,
            message=(f"plugin '{plugin}' was not asked ({hook_name}): it was stopped after "
                     f"missing the {self.timeout:g} s deadline earlier in this run"))

    def failure(self, plugin: str, hook_name: str, exc: BaseException) -> Finding:
        details: dict[str, Any] = {"exception": type(exc).__name__}
        if self.debug:
            import traceback

            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            details["traceback"] = tb
            print(tb, file=sys.stderr)
        said = " ".join(str(exc).split())  # one line in the report, whatever the exception held
        return Finding(severity="error", code="plugin-error", plugin=plugin, hook=hook_name,
                       details=details,
                       message=f"plugin '{plugin}' failed in {hook_name}: {type(exc).__name__}: {said}")


def _brief(kwargs: dict[str, Any]) -> str:
    event = kwargs.get("event")
    if isinstance(event, Event):
        return f"{event.name} {event.subject}".rstrip()
    return ", ".join(sorted(kwargs))


# ---- emit ------------------------------------------------------------------------

def _dispatch(caller: Caller, event: Event, ctx: Context, out: Outcome) -> list[Event]:
    """Call every implementation for `event`; return the follow-up events they emitted."""
    mine = out.by_event.setdefault(id(event), [])
    path = getattr(event, "path", None)
    follow_ups: list[Event] = []
    for impl in caller.impls(event.name):
        before = len(ctx.pending)
        value, failure = caller.call(impl, event.name, {"event": event, "ctx": ctx})
        try:
            follow_ups += taken(ctx, before)
            if failure is None:
                for item in results(value):
                    accept(item, impl.plugin_name, event, mine, out)
        except Exception as exc:  # a malformed return value is the plugin's failure too
            failure = caller.failure(impl.plugin_name, event.name, exc)
        if failure is not None:
            mine.append(dataclasses.replace(failure, path=failure.path or path))
    return follow_ups


def emit(events: Iterable[Event], host: Host, ctx: Context, *, record: bool = True,
         timeout: float | None = None) -> Outcome:
    """Give each event to every plugin, then record events, findings and facts."""
    if timeout is None:
        timeout = ctx.policy.plugins.timeout if ctx.policy else DEFAULT_TIMEOUT
    out = Outcome()
    if record and ctx.ledger_path is not None:
        # Open it here: an sqlite3 connection belongs to the thread that made it,
        # and plugins run on a worker thread that may call ctx.ledger() first.
        ctx.ledger()
    todo = deque(events)
    todo += ctx.pending  # events queued before this emit count too
    ctx.pending.clear()
    room = MAX_FOLLOW_UPS  # a plugin that emits for ever cannot loop for ever
    with Caller(host, timeout) as caller:
        while todo:
            event = todo.popleft()
            out.events.append(event)
            follow_ups = _dispatch(caller, event, ctx, out)
            if len(follow_ups) > room:
                out.by_event[id(event)].append(_too_many(event, len(follow_ups) - room))
                follow_ups = follow_ups[:room]
            room -= len(follow_ups)
            todo += follow_ups
    seen: set[int] = set()
    for event in out.events:  # an event object emitted twice has one findings list
        if id(event) not in seen:
            seen.add(id(event))
            out.findings += out.findings_for(event)
    if record and ctx.ledger_path is not None:
        out.recorded = _record(out, ctx)
    return out


def _too_many(event: Event, dropped: int) -> Finding:
    return Finding(severity="error", code="too-many-follow-ups", hook=event.name,
                   path=getattr(event, "path", None), details={"dropped": dropped},
                   message=(f"plugins emitted more than {MAX_FOLLOW_UPS} follow-up events in one "
                            f"run; {dropped} were dropped (a plugin that emits for ever?)"))


def _record(out: Outcome, ctx: Context) -> list[Any]:
    from .ledger import Entry

    entries = []
    for event in out.events:
        found = out.findings_for(event)
        payload = event.to_dict()
        payload["findings"] = [f.to_dict() for f in found]
        payload["verdict"] = "block" if any(f.blocks for f in found) else "pass"
        if event.name == "data_added":  # the rules a pass holds under (Ledger.has_passing_check)
            payload["policy"] = ctx.policy_digest()
        entries.append(Entry(kind=event.name, subject=event.subject, payload=payload,
                             actor=event.actor, source=event.source, time=event.created))
    for event, fact in out.facts:
        payload = {**_plain(fact.payload), "event": event.name, "event_subject": event.subject}
        entries.append(Entry(kind=fact.kind, subject=fact.subject, payload=payload,
                             actor=event.actor, source=event.source, time=event.created))
    return ctx.ledger().append(entries)


def collect(host: Host, hook_name: str, timeout: float = DEFAULT_TIMEOUT,
            **kwargs: Any) -> tuple[list[Any], list[Finding]]:
    """Call a collector hook (``register_*``) on every plugin, isolating failures."""
    named, failures = collect_named(host, hook_name, timeout, **kwargs)
    return [value for _plugin, value in named], failures


def collect_named(host: Host, hook_name: str, timeout: float = DEFAULT_TIMEOUT,
                  **kwargs: Any) -> tuple[list[tuple[str, Any]], list[Finding]]:
    """collect(), each answer with the name of the plugin that gave it: an answer of the
    wrong kind is that plugin's failure, not its caller's."""
    results, failures = [], []
    with Caller(host, timeout) as caller:
        for impl in caller.impls(hook_name):
            value, failure = caller.call(impl, hook_name, kwargs)
            if failure is not None:
                failures.append(failure)
            elif value is not None:
                results.append((impl.plugin_name, value))
    return results, failures
