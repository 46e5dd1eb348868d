"""`gitgov reproduce`: re-run a recorded run in a clean worktree and compare.

A fresh `git worktree` at the run's commit gets the run's uncommitted diff and
its untracked inputs back from the object store; the same command then runs
with the same seed, params and environment. Every output is compared by
hash, every metric within its tolerance, and the verdict is recorded in the
ledger as a `run_reproduced` entry about the original run. The worktree is
removed whatever happens.
"""
from __future__ import annotations

import math
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Iterable

from .errors import GitgovError, InputError
from .reproduce_compare import Comparison, compare, explain_failure
from .run_query import RunRecord


def parse_tolerances(items: Iterable[str]) -> dict[str, float]:
    """``name=rel`` pairs: a metric may differ by this fraction of its recorded value."""
    out = {}
    for item in items:
        name, sep, raw = item.partition("=")
        try:
            value = float(raw) if sep and name else -1.0
        except ValueError:
            value = -1.0
        if value < 0 or not math.isfinite(value):  # inf: no JSON can record the verdict
            raise InputError(f"--tolerance {item!r}: expected NAME=RELATIVE with a finite number "
                             ">= 0, e.g. --tolerance accuracy=0.01")
        out[name] = value
    return out


def reproduce(session, run: RunRecord, tolerances: dict[str, float], *, quiet_stdout: bool = False,
              keep: bool = False) -> Comparison:
    """Re-run ``run`` and compare; raises InputError when it cannot be attempted."""
    from .store import ObjectStore

    check_runnable(session.repo, run, tolerances)
    store = ObjectStore.for_repo(session.repo, session.policy)
    needs = _needed_objects(run)
    _fetch(store, needs, session.ctx.ledger())
    tmp = Path(tempfile.mkdtemp(prefix="gitgov-reproduce-"))
    worktree = tmp / "worktree"
    try:
        _checkout(session.repo, run, store, worktree, tmp)
        linked = _restore_inputs(run, store, worktree)
        result = _rerun(session, run, worktree, tmp, quiet_stdout)
        _check_not_stopped(run, result[0])
        cmp = compare(session, run, store, worktree, result, tolerances)
        _check_linked_inputs(run, store, linked, cmp)
        explain_failure(session.repo, run, worktree, cmp)
        return cmp
    finally:
        if not keep:
            _remove_worktree(session.repo, worktree, tmp)


def check_runnable(repo, run: RunRecord, tolerances: dict[str, float] | None = None) -> None:
    """Raise InputError (exit 2) saying why `run` cannot be re-run here, or why the
    tolerances asked for cannot apply to it."""
    for name in tolerances or ():
        if name not in run.metrics:
            have = (f"its metrics are {', '.join(sorted(run.metrics))}" if run.metrics else
                    "it recorded no metrics")
            raise InputError(f"--tolerance {name}={tolerances[name]:g}: run {run.short} has no metric "
                             f"{name!r}; {have}")
    if run.state in ("running", "lost", "refused"):
        raise InputError(f"run {run.short} has no recorded end ({run.state}); only finished runs "
                         "can be reproduced")
    if not run.commit:
        raise InputError(f"run {run.short} was made before the repository had a commit; there is "
                         "nothing to check out")
    if not run.command:
        raise InputError(f"run {run.short} has no recorded command")
    try:
        repo.git("cat-file", "-e", f"{run.commit}^{{commit}}")
    except InputError:
        raise InputError(f"run {run.short}: its commit {run.commit[:12]} is not in this repository "
                         "(fetch it first)") from None


def _needed_objects(run: RunRecord) -> dict[str, str]:
    """{sha256: what it is} for every object a reproduction restores."""
    needs = {}
    if run.dirty and run.diff_sha256:
        needs[run.diff_sha256] = "the uncommitted diff"
    for path, rec in run.inputs.items():
        if not rec.get("clean"):
            needs[rec["sha256"]] = f"input {path}"
    return needs


def _fetch(store, needs: dict[str, str], ledger) -> None:
    missing = [d for d in needs if not store.has(d)]
    if missing and store.remote_uri:
        store.check_remote()  # a remote that is a file or is missing is named as such
        store.pull(missing)
        missing = [d for d in missing if not store.has(d)]
    if missing:
        digest = missing[0]
        collected = _collected_on(ledger, digest)
        why = f", removed by `gitgov gc` on {collected[:10]}" if collected else ""
        if not collected and (removed := store.why_missing(digest)):
            why = f", {removed}"
        where = (" and the remote does not have it" if store.remote_uri else
                 "; set [store] remote to fetch it from a shared store")
        more = f" (and {len(missing) - 1} more object(s))" if len(missing) > 1 else ""
        raise InputError(f"cannot reproduce: {needs[digest]} (sha256 {digest[:12]}) is no longer in "
                         f"the object store{why}{where}{more}")


def _collected_on(ledger, digest: str) -> str | None:
    """When `gitgov gc` removed this object, if it did."""
    for rec in ledger.entries(kind="store_gc", subject="objects"):  # the subject is indexed
        if digest in (rec.payload.get("removed") or ()):
            return rec.time
    return None


def _checkout(repo, run: RunRecord, store, worktree: Path, tmp: Path) -> None:
    # Hooks are off in the throwaway worktree: a checkout there is not a user's change.
    repo.git("-c", "core.hooksPath=/dev/null", "worktree", "add", "--detach", "--quiet",
             str(worktree), run.commit)
    if run.dirty and run.diff_sha256:
        patch = tmp / "run.diff"
        patch.write_bytes(_checked(store, run.diff_sha256, "the uncommitted diff",
                                   lambda: store.read_bytes(run.diff_sha256)))
        from .git import run as git_run

        try:
            git_run(["apply", "--binary", "--whitespace=nowarn", str(patch)], worktree)
        except InputError as exc:
            raise InputError(f"run {run.short}: its recorded diff does not apply to "
                             f"{run.commit[:12]} ({exc})") from None


def _checked(store, digest: str, what: str, hand_out):
    """``hand_out()``, which the store checks against the object's name; a corrupt object
    is fetched again from the remote if there is one, else reproduction cannot be tried."""
    from .store import CorruptObject

    try:
        return hand_out()
    except CorruptObject as exc:
        problem = exc
    if store.remote_uri:
        try:
            if store.pull([digest]):
                return hand_out()
        except InputError as exc:
            problem = exc
    raise InputError(f"cannot reproduce: {what} (sha256 {digest[:12]}): {problem}") from None


def _restore_inputs(run: RunRecord, store, worktree: Path) -> dict[str, tuple[str, int, int]]:
    """Restore the untracked inputs; returns {path: (sha256, mtime_ns, size)} of those that
    share the object's inode (a hard link), to tell afterwards whether the re-run wrote them.

    A hard link costs no copy, and its read-only bits keep a re-run from writing into the
    store; root ignores them, so root gets copies (a reflink where the file system allows
    one), hashed as they are made: the same one pass over the bytes the check needs anyway.
    """
    program = _program(run)
    shared = "auto" if getattr(os, "geteuid", lambda: -1)() == 0 else "hardlink"
    linked = {}
    for path, rec in run.inputs.items():
        if rec.get("clean"):
            continue
        dest, digest = worktree / path, rec["sha256"]
        if path == program:  # objects are read-only and keep no mode: the command needs its x bit
            _checked(store, digest, f"input {path}", lambda: store.restore(digest, dest, link="copy"))
            os.chmod(dest, 0o755)
        elif _checked(store, digest, f"input {path}",
                      lambda: store.restore(digest, dest, link=shared)) == "hardlink":
            st = dest.stat()
            linked[path] = (digest, st.st_mtime_ns, st.st_size)
    return linked


def _check_linked_inputs(run: RunRecord, store, linked: dict[str, tuple[str, int, int]], cmp) -> None:
    """A re-run that wrote into an input it was given as a hard link (root may, the
    read-only bit notwithstanding) wrote into the store: re-hash what changed."""
    from .store import CorruptObject

    for path, (digest, mtime, size) in linked.items():
        try:
            st = os.stat(store.path(digest))
        except FileNotFoundError:
            continue
        if (st.st_mtime_ns, st.st_size) == (mtime, size):
            continue
        try:
            store.check(digest)
        except CorruptObject as exc:
            cmp.problems.append(f"input {path}: the re-run wrote into it; {exc}")
            cmp.verdict = "differs"


def _program(run: RunRecord) -> str | None:
    """The command's own file as a path in the repository (``./train.sh``), if it names one."""
    import posixpath

    first = run.command[0] if run.command else ""
    if "/" not in first or posixpath.isabs(first):
        return None
    return posixpath.normpath(posixpath.join(run.cwd or ".", first))


def _rerun(session, run: RunRecord, worktree: Path, tmp: Path, quiet_stdout: bool):
    from .process import execute
    from .runenv import LOCATION_VARS
    from .runs import command_env

    recorded = {k: v for k, v in (run.snapshot.get("env") or {}).items()
                if k not in LOCATION_VARS and not k.startswith("GITGOV_") and k != "PYTHONHASHSEED"}
    run_dir = tmp / "run"
    run_dir.mkdir()
    env = command_env({**os.environ, **recorded}, run_id=run.run_id, seed=run.seed or 0,
                      params=run.params, run_dir=run_dir, root=None, hook_dir=None)
    env["GITGOV_REPRODUCING"] = "1"
    cwd = worktree / (run.cwd or ".")
    cwd.mkdir(parents=True, exist_ok=True)  # the run's folder may hold nothing git tracks
    return execute(run.command, env, cwd, stdout_to_stderr=quiet_stdout), run_dir


class Stopped(GitgovError):
    """A re-run stopped by a signal sent to gitgov: exits 128 + the signal, as a shell does."""

    def __init__(self, message: str, signo: int):
        super().__init__(message)
        self.exit_code = 128 + signo


def _check_not_stopped(run: RunRecord, result) -> None:
    """A re-run the user stopped (Ctrl-C, kill -TERM) says nothing about the run: no verdict."""
    if result.received:
        name = result.received[0]
        raise Stopped(f"reproduction of run {run.short} stopped by {name}; nothing was recorded",
                      int(getattr(signal, name)))


def _remove_worktree(repo, worktree: Path, tmp: Path) -> None:
    from .git import run as git_run

    try:
        git_run(["worktree", "remove", "--force", str(worktree)], repo.root, check=False)
        git_run(["worktree", "prune"], repo.root, check=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def record(session, run: RunRecord, cmp: Comparison) -> None:
    from .ledger import Entry

    if cmp.problems:
        summary = "; ".join(cmp.problems[:3])
    else:
        summary = "; ".join([*cmp.notes, "all outputs bit-identical"])
    payload = {**cmp.to_dict(), "run_id": run.run_id, "summary": summary,
               "reproduced_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    session.ctx.ledger().append([Entry(kind="run_reproduced", subject=run.run_id, payload=payload,
                                       actor=session.actor(), source="cli")])
