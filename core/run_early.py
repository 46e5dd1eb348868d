"""Starting a run's Python interpreter while gitgov itself starts up, held before its code.

`gitgov run -- python train.py` spends most of its own time starting: its
imports, the plugins, the ledger, recording RunStarted. The command's
interpreter needs tens of milliseconds to start as well. When the command runs
this very interpreter, gitgov starts it first, on another core, with everything
the run gives it (run id, seed, params, the audit hook); its sitecustomize (the
audit hook) then waits on a pipe before any of the command's own code runs, and
gitgov lets it go once the run's start is recorded (audit_hook.wait_for_start).

If gitgov refuses the run, fails before the command starts, is interrupted or is
killed, the pipe ends and the process ends without having run anything: what
runs is always recorded first, as without the early start.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

from .errors import InputError
from .process import Held, can_hold, hold, resolve_command
from .run_request import RunRequest


class Early(NamedTuple):
    repo: Any
    run_dir: Path
    env: dict[str, str]
    held: Held


def start_early(request: RunRequest, git: Any, run_id: str, seed: int) -> Early | None:
    """The command started and held, or None when it must start after the record (it
    is not this interpreter, or gitgov will refuse the run for a reason it knows now)."""
    from .runs import run_env

    exe = resolve_command(request.command)
    if not can_hold(exe, request.command):
        return None
    repo = git.Repo.discover(".")  # the query started in the background already
    if repo.bare or not repo.ledger_path.exists():
        return None  # the usual start says what is wrong
    run_dir = repo.state_dir / "runs" / run_id
    run_dir.mkdir(parents=True)
    try:
        env = run_env(repo, request, run_id, seed, run_dir)
        held = hold(exe, request.command, env)
    except InputError:  # it could not start: the usual start records that as the run's end
        remove_tree(run_dir)
        return None
    except BaseException:
        remove_tree(run_dir)
        raise
    return Early(repo, run_dir, env, held)


def remove_tree(path: Path) -> None:
    """Remove a run's folder or its audit folder (one file per process). Files go one by
    one: shutil, needed only for a subfolder, would cost an import at the end of every run."""
    try:
        entries = list(os.scandir(path))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                import shutil

                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        except OSError:
            pass
    try:
        os.rmdir(path)
    except OSError:
        pass
