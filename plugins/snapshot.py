"""Snapshots a run as it starts, so that it can be reproduced and compared.

Records the commit, branch and dirty flag (the uncommitted diff goes to the
object store), the interpreter that runs the command with its exact
packages, the platform, CPU and GPUs, an allow-list of environment variables
(never one whose name holds KEY, TOKEN, SECRET or PASSWORD), the seed, params
and command line, and the hash of every declared input (untracked inputs go
to the store).

Settings, in gitgov.toml: ``[runs] env = ["MY_VAR", "MYLIB_*"]`` adds
variables to the allow-list.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gitgov.core.events import Fact, RunStarted
from gitgov.core.hookspecs import hookimpl

__version__ = "1.0"


@hookimpl
def run_started(event: RunStarted, ctx) -> Fact:
    from gitgov.core import __version__ as gitgov_version
    from gitgov.core.run_io import describe_inputs, runs_settings
    from gitgov.core.runenv import allowed_env, command_interpreter, interpreter_packages, platform_info
    from gitgov.core.store import ObjectStore

    repo = ctx.repo
    store = ObjectStore.for_repo(repo, ctx.policy)
    git = git_state(repo, store)
    cwd = Path.cwd()
    interpreter = command_interpreter(event.command, cwd)
    python = interpreter_packages(interpreter, repo.state_dir / "cache") if interpreter else None
    inputs = describe_inputs(repo, store, event.inputs, git["commit"])
    payload: dict[str, Any] = {
        "run_id": event.run_id, "name": event.run_name, "command": list(event.command),
        "cwd": _relative_cwd(repo.root, cwd), "seed": event.seed, "params": dict(event.params),
        **git,
        "python": python, "platform": platform_info(repo.state_dir / "cache"),
        "env": allowed_env(os.environ, runs_settings(ctx.policy).get("env", ())),
        "inputs": {p: r.to_dict() for p, r in inputs.items()},
        "host": _hostname(), "pid": os.getpid(), "gitgov": gitgov_version,
    }
    return Fact(kind="run_snapshot", subject=event.run_id, payload=payload)


def _hostname() -> str:
    """socket.gethostname() without importing socket: uname's node name is the same."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


def _relative_cwd(root: Path, cwd: Path) -> str:
    try:
        return cwd.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return "."


def git_state(repo, store) -> dict[str, Any]:
    """Commit, branch and dirty flag from one `git status`; the diff only when dirty."""
    from gitgov.core.git import STATUS_ARGS

    out = repo.git(*STATUS_ARGS)
    commit, branch, changed = None, None, []
    for rec in out.decode("utf-8", "surrogateescape").split("\0"):
        if rec.startswith("# branch.oid "):
            oid = rec.split()[2]
            commit = None if oid == "(initial)" else oid
        elif rec.startswith("# branch.head "):
            head = rec.split(" ", 2)[2]
            branch = None if head == "(detached)" else head
        elif rec[:2] in ("1 ", "2 ", "u "):
            changed.append(rec.rsplit(" ", 1)[-1])
    state: dict[str, Any] = {"commit": commit, "branch": branch, "dirty": bool(changed), "diff": None}
    if changed and commit:
        diff = repo.git("diff", "--binary", "--no-ext-diff", "--no-color", "HEAD")
        stored = store.put_bytes(diff)
        files = repo.git("diff", "--name-only", "-z", "HEAD").decode("utf-8", "surrogateescape")
        state["diff"] = {"sha256": stored.sha256, "size": stored.size,
                         "files": [f for f in files.split("\0") if f]}
    return state
