"""One watch daemon per worktree: the lock, the pid, the status file and the log.

Liveness is an flock on .gitgov/state/watch.lock, never a pid check: the
kernel drops the lock when the daemon dies, even by kill -9, so a stale lock
cannot block a new daemon, and a recycled pid cannot fake a live one.
`start` takes the lock itself and hands the very same open file to the
daemon it spawns, so twenty concurrent starts leave exactly one daemon.
Probes (status, stop) take the lock shared for an instant; `start` retries
briefly so that a probe is never mistaken for a running daemon.
"""
from __future__ import annotations

import fcntl
import json
import logging
import logging.handlers
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

LOCK_ENV = "GITGOV_WATCH_LOCK_FD"
LOG_BYTES = 5_000_000
START_ATTEMPTS = 15  # x 20 ms: longer than any probe holds the lock


@dataclass(frozen=True)
class Files:
    lock: Path
    status: Path
    log: Path
    out: Path  # the daemon's raw stdout/stderr: only a crash of Python itself lands here

    @classmethod
    def of(cls, local_dir: Path) -> "Files":
        state = Path(local_dir) / "state"
        return cls(state / "watch.lock", state / "watch.json", Path(local_dir) / "watch.log",
                   state / "watch.out")


# ---- the lock -------------------------------------------------------------------

def open_lock(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


def take(fd: int, attempts: int = 1) -> bool:
    for attempt in range(attempts):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if attempt < attempts - 1:
                time.sleep(0.02)
    return False


def write_pid(fd: int, pid: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{pid}\n".encode(), 0)


def read_pid(path: Path, wait: float = 2.0) -> int | None:
    """The pid in the lock file; waits briefly for a starting daemon to write it."""
    deadline = time.monotonic() + wait
    while True:
        try:
            text = path.read_text().strip()
        except OSError:
            text = ""
        if text.isdigit():
            return int(text)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.02)


def holder(files: Files) -> int | None:
    """The pid of the running daemon, or None when none runs."""
    if not files.lock.exists():
        return None
    fd = open_lock(files.lock)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return read_pid(files.lock) or -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


# ---- the status file ----------------------------------------------------------------

class StatusFile:
    """.gitgov/state/watch.json, rewritten atomically whenever something in it changes."""

    def __init__(self, path: Path, **base: Any):
        self.path = path
        self.data: dict[str, Any] = dict(base)
        self.write()

    def update(self, **fields: Any) -> None:
        if any(self.data.get(k) != v for k, v in fields.items()):
            self.data.update(fields)
            self.write()

    def write(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(self.data, indent=1, default=str), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass  # status is informative; the daemon goes on


def read_status(files: Files) -> dict[str, Any]:
    try:
        return json.loads(files.status.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


# ---- start / stop -------------------------------------------------------------------

def start(root: Path, files: Files, *, wait: bool = False, timeout: float = 60.0) -> tuple[str, int | None, str]:
    """("started" | "running" | "failed", pid, detail)."""
    fd = open_lock(files.lock)
    try:
        if not take(fd, START_ATTEMPTS):
            return "running", read_pid(files.lock, wait=5.0), ""
        with open(files.out, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gitgov.core", "watch", "run", "--daemon"], cwd=root,
                env={**os.environ, LOCK_ENV: str(fd)}, pass_fds=(fd,), stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        write_pid(fd, proc.pid)
        return _await_ready(proc, files, wait, timeout)
    finally:
        os.close(fd)  # the daemon holds the same lock through its inherited copy


def _await_ready(proc: subprocess.Popen, files: Files, wait: bool, timeout: float) -> tuple[str, int | None, str]:
    want = ("watching",) if wait else ("scanning", "watching")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = read_status(files)
        if status.get("pid") == proc.pid and status.get("state") in want:
            return "started", proc.pid, ""
        if proc.poll() is not None:
            error = (status.get("last_error") or {}).get("message") if status.get("pid") == proc.pid else None
            return "failed", proc.pid, error or f"the daemon exited with code {proc.returncode}; see {files.out}"
        time.sleep(0.05)
    return "started", proc.pid, "still starting (the first scan takes a while)"


def stop(files: Files, timeout: float = 60.0) -> tuple[int | None, bool]:
    """(pid, stopped); pid None when no daemon was running."""
    pid = holder(files)
    if pid is None:
        return None, True
    if pid > 0:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if holder(files) is None:
            return pid, True
        time.sleep(0.05)
    return pid, False


# ---- the daemon process --------------------------------------------------------------

class _UTC(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def setup_logging(files: Files, foreground: bool) -> logging.Logger:
    """The "gitgov" logger: the log file, and stderr in the foreground."""
    log = logging.getLogger("gitgov")
    log.setLevel(logging.INFO)
    log.propagate = False
    for h in list(log.handlers):
        log.removeHandler(h)
    handler = logging.handlers.RotatingFileHandler(files.log, maxBytes=LOG_BYTES, backupCount=3,
                                                   encoding="utf-8")
    handler.setFormatter(_UTC("%(asctime)s %(levelname)-7s %(message)s"))
    log.addHandler(handler)
    if foreground:
        err = logging.StreamHandler(sys.stderr)
        err.setFormatter(logging.Formatter("gitgov watch: %(message)s"))
        log.addHandler(err)
    return log


def acquire_for_run(files: Files, daemon: bool) -> int | None:
    """The lock for this process: inherited from `start`, or taken now (foreground)."""
    inherited = os.environ.pop(LOCK_ENV, None)
    if daemon and inherited and inherited.isdigit():
        fd = int(inherited)
        os.set_inheritable(fd, False)  # no git or plugin child may keep the daemon "alive"
        return fd if take(fd) else None
    fd = open_lock(files.lock)
    if not take(fd, START_ATTEMPTS):
        os.close(fd)
        return None
    write_pid(fd, os.getpid())
    return fd


def run(root: Path, files: Files, fd: int, *, foreground: bool) -> int:
    """Run the engine in this process until SIGTERM/SIGINT; exit code."""
    from .. import arrow_import
    from ..errors import GitgovError
    from .engine import Engine

    arrow_import.keep_numpy()  # a changed policy may enable a plugin that wants numpy later
    log = setup_logging(files, foreground).getChild("watch")
    started = time.time()
    status = StatusFile(files.status, pid=os.getpid(), state="starting", root=str(root),
                        started=_iso(started), started_at=started, log=str(files.log),
                        foreground=foreground, last_error=None)
    engine = Engine(root, log, status=status.update)
    log.info("starting (pid %d) in %s", os.getpid(), root)
    try:
        engine.open()
    except GitgovError as exc:
        log.error("cannot start: %s", exc)
        status.update(state="stopped", last_error={"time": _iso(time.time()), "message": str(exc)})
        return exc.exit_code
    signal.signal(signal.SIGTERM, lambda *_: engine.stop())
    signal.signal(signal.SIGINT, lambda *_: engine.stop())
    signal.signal(signal.SIGUSR1, lambda *_: engine.hint(("rescan", "requested (SIGUSR1)")))
    code = 0
    try:
        engine.run()
    except Exception as exc:  # noqa: BLE001 - a bug must leave a trace in the log, not vanish
        log.exception("stopped by an internal error: %s: %s", type(exc).__name__, exc)
        status.update(last_error={"time": _iso(time.time()), "message": f"internal error: {exc}"})
        code = 2
    finally:
        engine.close()
        status.update(state="stopped", stopped=_iso(time.time()))
        log.info("stopped; %d event(s) recorded since start", engine.recorder.counters.recorded)
    return code


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
