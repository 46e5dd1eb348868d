"""The daemon's loop: hints in, stable files hashed, versions recorded.

One thread owns everything stateful here (the session, the ledger connection,
the hash cache); watchdog's thread and signal handlers only put hints on a
queue. A file is read only once its size and mtime stayed the same for
``[watch] debounce_ms`` (settle.py), so half-written files are never checked.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from ..errors import GitgovError
from ..events import Finding
from . import reconcile
from .cache import HashCache, cache_path
from .hashing import Changed, Hashed, Stat, Unreadable, Vanished, hash_file
from .observer import Watcher
from .recorder import Recorder
from .scope import Scope
from .settle import Settling
from .settings import (POLICY_POLL_S, RESCAN_GAP_S, RETRY_S, STATUS_EVERY_S, Settings,
                       policy_stamp)
from .versions import Known, latest, newer


class Engine:
    def __init__(self, root: Path, log: logging.Logger, *, status: Callable[..., None] | None = None,
                 session_factory: Callable[[Path], Any] | None = None):
        self.root = Path(root)
        self.log = log
        self.status = status or (lambda **kw: None)
        self._open_session = session_factory or _open_session
        self.hints: queue.SimpleQueue = queue.SimpleQueue()
        self._published = 0.0
        self._known: dict[str, Known] | None = None  # a copy of versions.latest(), kept current
        self._known_seq = 0
        self._next: dict[str, float] = {}  # what is due when (monotonic): rescan, schedule, policy
        self._last_scan = 0.0
        self._requested = ""
        self.idle = threading.Event()
        self.ready = threading.Event()  # set once the first reconciliation is recorded
        self.problems: dict[str, str] = {}
        self.last_error: dict | None = None
        self.last_rescan: dict | None = None
        self.watcher: Watcher | None = None

    # ---- setup -----------------------------------------------------------------

    def open(self) -> None:
        """Load policy and plugins, the hash cache and the ledger connection (this thread)."""
        self.session = self._open_session(self.root)
        self.settings = Settings.from_policy(self.session.policy)
        self.scope = Scope.from_policy(self.session.repo.root, self.session.policy)
        self.settle = Settling(lambda rel: self.scope.abspath(rel), self.settings.debounce,
                               self.settings.open_grace)
        if not self.scope.globs:
            raise GitgovError("nothing to watch: gitgov.toml declares no dataset paths "
                              "(and no [watch] paths)")
        self.cache = HashCache(cache_path(self.session.repo.local_dir))
        self.recorder = Recorder(self.session, self.scope, self.cache, self.cache.load(), self.log,
                                 actor=self.session.actor())
        self.session.ctx.ledger()
        self._policy_stamp = policy_stamp(self.session.repo.policy_path)

    def serve(self) -> None:
        """open(), run() and close() in the calling thread (tests and benchmarks run it in one)."""
        self.open()
        try:
            self.run()
        finally:
            self.close()

    def hint(self, item: tuple[str, str]) -> None:
        """Thread- and signal-safe: queue a hint for the loop."""
        self.idle.clear()
        self.hints.put(item)

    def stop(self) -> None:
        self.hint(("stop", ""))

    # ---- the loop ----------------------------------------------------------------

    def run(self) -> None:
        """Watch, reconcile, then loop until stopped; flush what is pending before returning."""
        self.watcher = Watcher(self.scope, self.hint, self.log)
        self.watcher.start()  # before the scan: nothing that changes during it is missed
        self.status(state="scanning", paths=self.watcher.folders())
        self.rescan("start")
        self._schedule_due()
        now = time.monotonic()
        self._next.update(rescan=now + self.settings.rescan, schedule=now + self.settings.schedule,
                          policy=now + POLICY_POLL_S)
        self.status(state="watching", paths=self.watcher.folders())
        self._publish()
        self.ready.set()
        try:
            while not self._step():
                pass
        finally:
            self.status(state="stopping")
            self.watcher.stop()
            self._flush()

    def _step(self) -> bool:
        """One turn of the loop; True when asked to stop."""
        stop = self._drain(self._timeout())
        self._process_due()
        self._periodic()
        quiet = not self.settle.waiting() and self.hints.empty()
        if quiet:
            self.idle.set()
        self._publish(force=quiet)
        return stop

    def _timeout(self) -> float:
        wake = min(min(self._next.values()), self.settle.next_wake())
        return max(0.0, wake - time.monotonic())

    def _drain(self, timeout: float) -> bool:
        stop = False
        try:
            item = self.hints.get(timeout=timeout)
        except queue.Empty:
            return False
        while True:
            stop |= self._apply(item)
            try:
                item = self.hints.get_nowait()
            except queue.Empty:
                return stop

    def _apply(self, item: tuple[str, str]) -> bool:
        kind, rel = item
        if kind in ("file", "created", "closed"):
            if self.scope.wants(rel):
                if kind == "created":
                    self.settle.created(rel)
                elif kind == "closed":
                    self.settle.closed(rel)
                self.touch(rel)
        elif kind == "dir":
            if self.scope.covers_dir(rel):
                self._new_folder(rel)
        elif kind == "dir-gone":
            self.watcher.replan()
            prefix = rel + "/" if rel else ""
            for path in [p for p in self._present() if p.startswith(prefix)]:
                self.touch(path)
        elif kind == "rescan":
            # Overflows come in bursts: one rescan, at most one a second, covers them all.
            self._requested = rel
            self._next["requested"] = max(time.monotonic(), self._last_scan + RESCAN_GAP_S)
        elif kind == "stop":
            return True
        return False

    def _new_folder(self, rel: str) -> None:
        """A folder appeared: watch it if it is (or leads to) a dataset folder, and list it."""
        self.watcher.replan()
        for path in reconcile.walk(self.scope, below=rel).files:
            self.touch(path)

    def touch(self, rel: str, due: float | None = None) -> None:
        """Schedule a look at `rel` once it had `debounce` seconds to settle."""
        self.settle.touch(rel, due)

    # ---- hashing, recording -------------------------------------------------------------

    def _process_due(self, force: bool = False) -> None:
        now = time.monotonic()
        for rel, why in self.settle.collect(now):
            self._problem(rel, why)
        taken = self.settle.take(now, self.recorder.batch, force=force)
        if taken is not None:
            self._hash_and_record(*taken)

    def _hash_and_record(self, ready: list[tuple[str, Stat]], removed: list[str],
                         known: list[tuple[str, Hashed]] = ()) -> None:
        hashed = list(known)
        for rel, st in ready:
            cached = self.recorder.memory.get(rel)
            if cached is not None and cached.stat == st:
                hashed.append((rel, cached))
                continue
            try:
                hashed.append((rel, hash_file(self.scope.abspath(rel))))
                self.problems.pop(rel, None)
            except Vanished:
                removed.append(rel)
            except Changed:
                self.touch(rel)
            except Unreadable as exc:
                self._problem(rel, str(exc))
        self._record(hashed, removed)

    def _record(self, hashed: list[tuple[str, Hashed]], removed: list[str]) -> None:
        if not hashed and not removed:
            return
        try:
            self.recorder.record(hashed, removed)
        except GitgovError as exc:
            self._error(f"cannot record {len(hashed) + len(removed)} change(s): {exc}; retrying")
            retry = time.monotonic() + RETRY_S
            for rel in [p for p, _ in hashed] + removed:
                self.touch(rel, due=retry)

    # ---- rescans, schedules, policy -------------------------------------------------

    def rescan(self, reason: str) -> reconcile.Plan:
        """Reconcile disk, cache and ledger; changed files are hashed once stable."""
        started = time.perf_counter()
        self._last_scan = time.monotonic()
        scan = reconcile.walk(self.scope)
        for rel, why in scan.problems.items():
            self._problem(rel, why)
        plan = reconcile.diff(scan, self.recorder.memory, self._ledger_state(), self.scope)
        settled_ns = time.time_ns() - int(self.settings.debounce * 1e9)
        ready = []
        for rel, st in plan.to_hash:
            if st.mtime_ns < settled_ns and rel not in self.settle.pending:
                ready.append((rel, st))  # untouched for longer than debounce: stable already
            else:
                self.touch(rel)
        self._hash_and_record(ready, list(plan.removed), known=plan.known)
        seconds = time.perf_counter() - started
        self.last_rescan = {"time": _utc(), "reason": reason, "files": len(scan.files),
                            "changes": plan.changes, "seconds": round(seconds, 3)}
        level = logging.WARNING if reason != "start" and reason != "periodic" else logging.INFO
        self.log.log(level, "rescan (%s): %d file(s), %d unchanged, %d to read, %d removed, %.2f s",
                     reason, len(scan.files), plan.unchanged, len(plan.to_hash), len(plan.removed),
                     seconds)
        if "overflow" in reason:
            self.recorder.alert(Finding(severity="warning", code="watch-overflow", plugin="watch",
                                        message=f"{reason}; rescanned, nothing is missed"))
        return plan

    def _periodic(self) -> None:
        now = time.monotonic()
        if now >= self._next.get("requested", float("inf")):
            del self._next["requested"]
            self.rescan(self._requested)
        if now >= self._next["policy"]:
            self._next["policy"] = now + POLICY_POLL_S
            self._check_policy()
            if self.watcher is not None and not self.watcher.alive():
                self._error("the filesystem watcher stopped; restarting it")
                self.watcher.stop()
                self.watcher.start()
                self.rescan("watcher restarted")
        if now >= self._next["rescan"]:
            self._next["rescan"] = now + self.settings.rescan
            self.session.host.hung.clear()  # a plugin that once missed its deadline gets another chance
            for folder in self.watcher.replan():
                self.log.info("now watching %s", folder or ".")
            self.rescan("periodic")
        if now >= self._next["schedule"]:
            self._next["schedule"] = now + self.settings.schedule
            self._schedule_due()

    def _schedule_due(self) -> None:
        """Ask plugins for events that are due (retention) and record them."""
        try:
            for message in self.recorder.record_due():
                self._error(message)
        except GitgovError as exc:
            self._error(f"cannot record scheduled events: {exc}")

    def _check_policy(self) -> None:
        stamp = policy_stamp(self.session.repo.policy_path)
        if stamp == self._policy_stamp:
            return
        self._policy_stamp = stamp
        try:
            fresh = self._open_session(self.root)
        except GitgovError as exc:
            self._error(f"gitgov.toml changed but cannot be used: {exc}; keeping the previous policy")
            return
        self.log.info("gitgov.toml changed: policy reloaded")
        self.recorder.close()
        self.session.close()
        self.session, self.recorder.session = fresh, fresh
        fresh.ctx.ledger()
        self.settings = Settings.from_policy(fresh.policy)
        self.settle.debounce, self.settle.open_grace = self.settings.debounce, self.settings.open_grace
        self.scope = self.recorder.scope = self.watcher.scope = Scope.from_policy(fresh.repo.root,
                                                                                 fresh.policy)
        self.watcher.replan()
        self.rescan("policy changed")

    # ---- stopping ---------------------------------------------------------------------

    def _flush(self, limit: float = 30.0) -> None:
        """Record everything pending; files still changing after `limit` are left to the next start."""
        deadline = time.monotonic() + limit
        while True:
            try:
                self._apply(self.hints.get_nowait())
                continue
            except queue.Empty:
                pass
            if self._next.pop("requested", None) is not None:
                self.rescan(self._requested)  # an overflow just before stopping: still nothing missed
                continue
            if not self.settle.pending or time.monotonic() > deadline:
                break
            wait = self.settle.seconds_to_next()
            time.sleep(max(0.0, min(wait, 0.2)) if wait is not None else 0)
            self._process_due()
        self._process_due(force=True)
        if self.settle.pending:
            self.log.warning("stopping with %d file(s) still changing; the next start records them",
                             len(self.settle.pending))
        self.idle.set()

    def close(self) -> None:
        self.recorder.close()
        self.cache.close()
        self.session.close()

    # ---- reporting ----------------------------------------------------------------------

    def _ledger_state(self) -> dict[str, Known]:
        """The newest worktree entry per path, read whole once, then only what is new."""
        if self._known is None:
            self._known = latest(self.recorder.db)
            self._known_seq = max((k.seq for k in self._known.values()), default=0)
        for path, k in newer(self.recorder.db, self._known_seq):
            self._known[path] = k
            self._known_seq = k.seq
        return self._known

    def _present(self) -> set[str]:
        return set(self.recorder.memory) | {p for p, k in self._ledger_state().items() if k.present}

    def _problem(self, rel: str, why: str) -> None:
        if self.problems.get(rel) == why:
            return  # said once; the next rescan tries again quietly
        self.problems[rel] = why
        self._error(f"cannot read {rel}: {why}; skipped; tried again at the next rescan", code="watch-unreadable")

    def _error(self, message: str, code: str = "watch-error") -> None:
        self.last_error = {"time": _utc(), "message": message}
        self.log.error("%s", message)
        self.recorder.alert(Finding(severity="error", code=code, plugin="watch", message=message))

    def _publish(self, force: bool = True) -> None:
        now = time.monotonic()
        if not force and now - self._published < STATUS_EVERY_S:
            return  # a burst rewrites the status file a few times a second, not once a batch
        self._published = now
        # The folders too: they change when dataset folders appear or go, or the policy changes.
        self.status(counters=self.recorder.counters.to_dict(), pending=len(self.settle.pending),
                    last_error=self.last_error, last_rescan=self.last_rescan,
                    problems=len(self.problems), paths=self.watcher.folders())


def _open_session(root: Path):
    from ..session import Session

    return Session.open(root)


def _utc() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
