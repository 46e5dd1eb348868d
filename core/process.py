"""Running a command the way a shell would, and learning how it ended.

The child stays in gitgov's process group, so Ctrl-C in a terminal reaches it
directly. gitgov blocks the terminal signals for itself and waits for them
with sigwaitinfo: a signal the terminal sent (the kernel is its sender) has
reached the child already, while one sent to gitgov alone by another process
(``kill -INT``) is passed on. The child's exit status, its signal and its peak
memory (os.wait4) are returned; nothing is lost to a KeyboardInterrupt.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Callable, Mapping, NamedTuple, Sequence

from .errors import InputError

# Waiting with sigwaitinfo for a child started by posix_spawn (Linux, the BSDs; not macOS).
WAITING = hasattr(signal, "sigwaitinfo") and hasattr(os, "posix_spawn")
FORWARDED = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, n))
INTERRUPTS = {getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)}
_SI_KERNEL = 0x80  # si_code of signals the kernel raised (a terminal's Ctrl-C)
_RESET = tuple(getattr(signal, n) for n in ("SIGPIPE", "SIGXFSZ", *("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"))
               if hasattr(signal, n))


class Exit(NamedTuple):  # a NamedTuple, not a dataclass: cheaper to define on every start
    """How a command ended."""

    exit_code: int  # what gitgov passes on: the child's code, or 128 + signal
    signal: str | None  # SIGINT, SIGKILL, ... when a signal ended it
    status: str  # ok | failed | interrupted | killed
    duration: float
    peak_memory: int | None  # bytes (the largest resident set of the child)
    received: tuple[str, ...] = ()  # terminal signals gitgov saw during the run


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (someone else's counts too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def resolve_command(command: Sequence[str], cwd: Path | None = None) -> str:
    """The executable for ``command[0]``, or a one-line error saying why there is none."""
    if not command:
        raise InputError("no command given: write it after `--`, e.g. gitgov run -- python train.py")
    name = command[0]
    if os.sep in name or (os.altsep and os.altsep in name):
        path = Path(name) if Path(name).is_absolute() else (cwd or Path.cwd()) / name
        if not path.exists():
            raise InputError(f"command not found: {name} (no such file)")
        if path.is_dir() or not os.access(path, os.X_OK):
            raise InputError(f"command {name} is not an executable file (chmod +x it, or run it "
                             "through its interpreter)")
        return str(path)
    found = which(name)
    if found is None:
        raise InputError(f"command not found: {name} (not on PATH)")
    return found


def which(name: str, path: str | None = None) -> str | None:
    """shutil.which(name, path=path); on POSIX without importing shutil, which brings
    the bz2 and lzma modules with it and so costs every `gitgov run` a few milliseconds."""
    if os.name == "nt":
        import shutil

        return shutil.which(name, path=path)
    if os.sep in name:
        return name if _executable(name) else None
    path = os.environ.get("PATH", os.defpath) if path is None else path
    if not path:
        return None
    for folder in path.split(os.pathsep):
        candidate = os.path.join(folder, name)  # an empty entry: the current folder, as in shutil
        if _executable(candidate):
            return candidate
    return None


def _executable(path: str) -> bool:
    return os.path.exists(path) and os.access(path, os.X_OK) and not os.path.isdir(path)


def execute(argv: Sequence[str], env: Mapping[str, str], cwd: Path | None = None, *,
            stdout_to_stderr: bool = False) -> Exit:
    """Run ``argv`` to completion with terminal signals passed through.

    ``stdout_to_stderr`` keeps gitgov's own stdout clean (for ``--json``).
    """
    exe = resolve_command(argv, cwd)
    if WAITING:
        return _execute_waiting(lambda: _spawn(exe, argv, env, cwd, stdout_to_stderr))
    return _execute_portable(exe, argv, env, cwd, stdout_to_stderr)


# ---- a command started ahead of its run's record -------------------------------------

HOLD_FD_VAR = "GITGOV_HOLD_FD"  # where audit_hook.wait_for_start waits


class Held:
    """A Python command started but held before its own code, until release() or abandon()."""

    def __init__(self, pid: int, go: int):
        self.pid, self._go, self.reaped = pid, go, False

    def release(self) -> int:
        """Let it run; returns its pid. One that ended already (it never reached the hold) is
        reaped by the caller as usual."""
        try:
            os.write(self._go, b"g")
        except OSError:  # nobody reads the pipe any more: the process has ended
            pass
        self._close()
        return self.pid

    def abandon(self) -> None:
        """End it before any of its code ran (the end of the pipe tells it), and reap it."""
        self._close()
        if not self.reaped:
            self.reaped = True
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass

    def _close(self) -> None:
        if self._go >= 0:
            os.close(self._go)
            self._go = -1


def can_hold(exe: str, argv: Sequence[str]) -> bool:
    """Whether ``argv`` starts this very interpreter in a way that runs its sitecustomize
    (where the hold is) before any code of its own: not with -I or -E (PYTHONPATH is
    ignored) or -S (no site), and not just to print its version or help."""
    if not WAITING:  # execute_held waits as _execute_waiting does
        return False
    if os.path.realpath(exe) != os.path.realpath(sys.executable):
        return False  # another Python may be too old for the hook, or not Python at all
    args = iter(argv[1:])
    for arg in args:
        if not arg.startswith("-") or arg in ("-", "--"):
            return True  # the script: the options end here
        if arg.startswith("--"):
            if arg.startswith(("--help", "--version")):
                return False
            if arg == "--check-hash-based-pycs":
                next(args, None)
            continue
        for i, flag in enumerate(arg[1:], 1):
            if flag in "IESVh?":
                return False
            if flag in "cm":
                return True  # -c CODE, -m MODULE: the options end here
            if flag in "WX":  # -W ACTION, -X OPTION: the rest, or else the next word
                if i == len(arg) - 1:
                    next(args, None)
                break
    return True


def hold(exe: str, argv: Sequence[str], env: Mapping[str, str]) -> Held:
    """Start ``argv`` (for which can_hold is true) held: it waits on an inherited pipe."""
    read, go = os.pipe()
    try:
        os.set_inheritable(read, True)
        pid = _spawn(exe, argv, {**env, HOLD_FD_VAR: str(read)}, None, False)
    except BaseException:
        os.close(go)
        raise
    finally:
        os.close(read)
    return Held(pid, go)


def _spawn(exe: str, argv: Sequence[str], env: Mapping[str, str], cwd: Path | None,
           stdout_to_stderr: bool) -> int:
    # posix_spawn has no working-directory action before Python 3.13; gitgov is
    # single-threaded here (the plugin worker is idle), so changing ours is safe.
    here = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        actions = [(os.POSIX_SPAWN_DUP2, 2, 1)] if stdout_to_stderr else ()
        return os.posix_spawn(exe, list(argv), dict(env), setsigmask=(), setsigdef=_RESET,
                              file_actions=actions)
    except OSError as exc:
        why = _missing_interpreter(exe) if exc.errno == 2 else None  # ENOENT, yet the file is there
        raise InputError(f"cannot start {argv[0]}: {why or exc.strerror or exc}") from None
    finally:
        os.chdir(here)


def shebang(path: str) -> bytes | None:
    """What follows #! on a script's first line (at most 256 bytes), or None."""
    try:
        with open(path, "rb") as f:
            first = f.readline(256)
    except OSError:
        return None
    return first[2:] if first.startswith(b"#!") else None


def _missing_interpreter(exe: str) -> str | None:
    """Why a script that exists could not start: the interpreter its #! line names is missing."""
    # as the kernel reads it: the first word after #!, where only a space or a tab ends a word
    line = (shebang(exe) or b"").strip(b" \t\n")
    interpreter = os.fsdecode(line.replace(b"\t", b" ").split(b" ")[0])
    if not interpreter or os.path.exists(interpreter):
        return None
    shown = interpreter if interpreter.isprintable() else repr(interpreter)
    hint = " (the line ends in \\r: save the script with Unix line endings)" if interpreter.endswith("\r") else ""
    return f"the interpreter on its #! line, {shown}, does not exist{hint}"


def execute_held(held: Held) -> Exit:
    """execute() for a command started by hold(): release it and wait for its end."""
    try:
        return _execute_waiting(held.release)
    finally:
        held.reaped = True


def _execute_waiting(start: Callable[[], int]) -> Exit:
    watched = {*FORWARDED, signal.SIGCHLD}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    received: list[str] = []
    started = time.monotonic()
    try:
        pid = start()
        # A held process may have ended before SIGCHLD was blocked, its signal lost.
        done, status, usage = os.wait4(pid, os.WNOHANG)
        while done != pid:
            info = signal.sigwaitinfo(watched)
            if info.si_signo == signal.SIGCHLD:
                done, status, usage = os.wait4(pid, os.WNOHANG)
                continue
            if info.si_code != _SI_KERNEL:  # sent to gitgov alone: pass it on
                os.kill(pid, info.si_signo)
            received.append(signal.Signals(info.si_signo).name)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    return _exit(status, usage, time.monotonic() - started, received)


def _execute_portable(exe: str, argv: Sequence[str], env: Mapping[str, str],
                      cwd: Path | None, stdout_to_stderr: bool) -> Exit:
    import subprocess

    received: list[str] = []
    started = time.monotonic()
    proc = subprocess.Popen([exe, *argv[1:]], env=dict(env), cwd=cwd,
                            stdout=sys.stderr if stdout_to_stderr else None)

    def forward(signo, _frame) -> None:
        received.append(signal.Signals(signo).name)
        proc.send_signal(signo)

    previous = {s: signal.signal(s, forward) for s in FORWARDED}
    try:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return _exit(status, usage, time.monotonic() - started, received)


def _exit(status: int, usage, duration: float, received: list[str]) -> Exit:
    code = os.waitstatus_to_exitcode(status)
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
    peak = usage.ru_maxrss * scale if usage is not None else None
    if code < 0:
        signo = -code
        name = signal.Signals(signo).name if signo in signal.Signals._value2member_map_ else f"signal {signo}"
        status_word = "interrupted" if signo in INTERRUPTS else "killed"
        return Exit(128 + signo, name, status_word, duration, peak, tuple(received))
    if code == 0:
        return Exit(0, None, "ok", duration, peak, tuple(received))
    # A script that catches Ctrl-C and exits 130 (the shell's code for it) was interrupted too.
    interrupted = bool(received) or code == 128 + signal.SIGINT
    return Exit(code, None, "interrupted" if interrupted else "failed", duration, peak, tuple(received))
