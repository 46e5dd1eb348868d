"""`gitgov watch start | stop | status | run`: the daemon that records data between commits."""
from __future__ import annotations

import time

import click

from ..errors import EXIT_BLOCKED, GitgovError, PolicyBlocked
from .options import echo_json, json_option


def _where():
    from ..git import Repo
    from ..watch.daemon import Files

    repo = Repo.discover(".")
    return repo, Files.of(repo.local_dir)


def _preflight(repo) -> None:
    """Refuse before forking what the daemon would refuse: a bad policy, no ledger, nothing to watch."""
    from ..ledger import open_ledger
    from ..session import load_repo_policy
    from ..watch.scope import Scope

    policy = load_repo_policy(repo)
    if policy.watch.get("enabled") is False:
        from ..tomlpos import key_lines, line_of

        line = line_of(key_lines(repo.policy_path.read_text(encoding="utf-8")), ("watch", "enabled"))
        raise PolicyBlocked(f"gitgov.toml:{line}: [watch] enabled = false turns the watcher off in "
                            "this repository; set it to true, or remove it, to start the watcher")
    open_ledger(repo.ledger_path).close()
    if not Scope.from_policy(repo.root, policy).globs:
        raise GitgovError("nothing to watch: gitgov.toml declares no dataset paths (and no [watch] paths)")


@click.group("watch")
def watch_group() -> None:
    """Record and check data as it lands on disk, before anyone commits it."""


@watch_group.command("start")
@click.option("--wait", is_flag=True, help="Return once the first reconciliation scan is recorded.")
@click.option("--timeout", type=click.FloatRange(0, 86400), default=60.0, show_default=True,
              help="Seconds to wait for the daemon to come up.")
def start_cmd(wait: bool, timeout: float) -> int:
    """Start the watch daemon in the background (one per worktree)."""
    from ..watch import daemon

    repo, files = _where()
    _preflight(repo)
    outcome, pid, detail = daemon.start(repo.root, files, wait=wait, timeout=timeout)
    if outcome == "running":
        click.echo(f"gitgov: watch daemon already running (pid {pid or '?'})")
        return 0
    if outcome == "failed":
        raise GitgovError(f"watch daemon did not start: {detail}")
    click.echo(f"gitgov: watch daemon started (pid {pid}); log: {_rel(files.log, repo.root)}"
               + (f"; {detail}" if detail else ""))
    return 0


@watch_group.command("stop")
@click.option("--timeout", type=click.FloatRange(0, 86400), default=60.0, show_default=True,
              help="Seconds to wait for pending changes to be recorded.")
def stop_cmd(timeout: float) -> int:
    """Stop the daemon after it recorded everything pending."""
    from ..watch import daemon

    _repo, files = _where()
    pid, stopped = daemon.stop(files, timeout)
    if pid is None:
        click.echo("gitgov: watch daemon is not running")
        return 0
    if not stopped:
        click.echo(f"gitgov: watch daemon (pid {pid}) did not stop within {timeout:g} s", err=True)
        return EXIT_BLOCKED
    counters = daemon.read_status(files).get("counters") or {}
    click.echo(f"gitgov: watch daemon stopped (pid {pid}); "
               f"{counters.get('recorded', 0)} event(s) recorded while it ran")
    return 0


@watch_group.command("status")
@json_option
def status_cmd(as_json: bool) -> int:
    """Show pid, uptime, watched folders, events recorded and the last error (exit 1: not running)."""
    from ..watch import daemon

    repo, files = _where()
    pid = daemon.holder(files)
    status = daemon.read_status(files)
    running = pid is not None
    if as_json:
        uptime = time.time() - status["started_at"] if running and "started_at" in status else None
        echo_json({**status, "running": running, "pid": pid if running else status.get("pid"),
                   "uptime_seconds": round(uptime, 1) if uptime is not None else None})
        return 0 if running else EXIT_BLOCKED
    click.echo(_describe(status, pid, repo.root))
    return 0 if running else EXIT_BLOCKED


def _describe(s: dict, pid: int | None, root) -> str:
    if pid is None:
        line = "gitgov: watch daemon is not running"
        if s.get("stopped"):
            line += f" (last stopped {s['stopped']})"
        err = (s.get("last_error") or {}).get("message")
        return line + (f"\n  last error: {err}" if err else "")
    c = s.get("counters") or {}
    up = _duration(time.time() - s["started_at"]) if "started_at" in s else "?"
    rescan = s.get("last_rescan") or {}
    err = s.get("last_error")
    lines = [
        f"gitgov: watch daemon running (pid {pid}), up {up}, {s.get('state', '?')}",
        f"  watching: {', '.join(s.get('paths') or []) or '-'}",
        f"  events recorded: {c.get('recorded', 0)} ({c.get('added', 0)} added, "
        f"{c.get('removed', 0)} removed, {c.get('other', 0)} scheduled); "
        f"{c.get('skipped', 0)} already in the ledger; {c.get('findings', 0)} finding(s)",
        f"  pending: {s.get('pending', 0)} file(s) settling",
    ]
    if rescan:
        lines.append(f"  last rescan: {rescan.get('time')} ({rescan.get('reason')}): "
                     f"{rescan.get('files')} file(s), {rescan.get('changes')} change(s), "
                     f"{rescan.get('seconds')} s")
    lines.append(f"  last error: {err['time']} {err['message']}" if err else "  last error: none")
    lines.append(f"  log: {_rel(s.get('log', ''), root)}")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h} h {m:02d} min" if h else (f"{m} min {s:02d} s" if m else f"{s} s")


def _rel(path, root) -> str:
    from pathlib import Path

    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


@watch_group.command("run")
@click.option("--daemon", "as_daemon", is_flag=True, hidden=True)
def run_cmd(as_daemon: bool) -> int:
    """Run the watcher in the foreground (Ctrl-C stops it after recording what is pending)."""
    from ..watch import daemon

    repo, files = _where()
    if not as_daemon:
        _preflight(repo)
    fd = daemon.acquire_for_run(files, as_daemon)
    if fd is None:
        pid = daemon.read_pid(files.lock)
        click.echo(f"gitgov: watch daemon already running (pid {pid or '?'})", err=True)
        return EXIT_BLOCKED
    return daemon.run(repo.root, files, fd, foreground=not as_daemon)


def register(group: click.Group) -> None:
    group.add_command(watch_group)
