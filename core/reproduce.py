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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .errors import GitgovError, InputError
from .run_query import RunRecord


@dataclass
class Comparison:
    verdict: str = "reproduced"  # or "differs"
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    exit_code: dict[str, Any] = field(default_factory=dict)
    packages: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the verdict rests on, besides the outputs
    duration: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def parse_tolerances(items: Iterable[str]) -> dict[str, float]:
    """``name=rel`` pairs: a metric may differ by this fraction of its recorded value."""
    out = {}
    for item in items:
        name, sep, raw = item.partition("=")
        try:
            value = float(raw) if sep and name else -1.0
        except ValueError:
            value = -1.0
        if value < 0 or math.isnan(value):
            raise InputError(f"--tolerance {item!r}: expected NAME=RELATIVE with a number >= 0, "
                             "e.g. --tolerance accuracy=0.01")
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
        cmp = _compare(session, run, store, worktree, result, tolerances)
        _check_linked_inputs(run, store, linked, cmp)
        _explain_failure(session.repo, run, worktree, cmp)
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
        if not collected and store.why_missing(digest):
            why = f", {store.why_missing(digest)}"
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


def _compare(session, run: RunRecord, store, worktree: Path, rerun, tolerances) -> Comparison:
    from .runenv import command_interpreter, interpreter_packages, package_differences
    from .store import hash_file
    from .tracking import read_metrics_file

    result, run_dir = rerun
    cmp = Comparison(duration=round(result.duration, 3))
    cmp.exit_code = {"recorded": run.exit_code, "now": result.exit_code, "same": run.exit_code == result.exit_code}
    was = (f"the original run failed with exit {run.exit_code}" if run.exit_code else
           "the original run exited 0")
    if not cmp.exit_code["same"]:
        cmp.problems.append(f"{was}; the re-run " + (f"failed with exit {result.exit_code}" if result.exit_code
                                                     else "exited 0"))
    elif run.exit_code:  # the same failure again: that is what reproduced
        cmp.notes.append(f"{was}; the re-run also exited {result.exit_code}")
    for path, rec in run.outputs.items():
        cmp.outputs[path] = entry = _compare_output(store, worktree / path, rec, hash_file)
        if not entry["same"]:
            cmp.problems.append(f"output {path}: {entry['difference']}")
    now = {k: v["value"] for k, v in read_metrics_file(str(run_dir / "metrics.jsonl")).items()}
    for name, old in run.metrics.items():
        cmp.metrics[name] = entry = _compare_metric(old, now.get(name), tolerances.get(name, 0.0))
        if not entry["same"]:
            cmp.problems.append(f"metric {name}: {entry['difference']}")
    interpreter = command_interpreter(run.command, worktree / (run.cwd or "."))
    if interpreter:
        current = interpreter_packages(interpreter, session.repo.state_dir / "cache").get("packages")
        cmp.packages = package_differences((run.snapshot.get("python") or {}).get("packages"), current)
    cmp.verdict = "differs" if cmp.problems else "reproduced"
    return cmp


def _explain_failure(repo, run: RunRecord, worktree: Path, cmp: Comparison) -> None:
    """A re-run of a command that is not Python, which recorded no inputs, now fails where
    the original did not: most likely it read a file that was never captured. Name the file
    when the command line does (the reproduction could not be tried, exit 2), else say how
    to record inputs."""
    from .runenv import command_interpreter

    now, then = cmp.exit_code.get("now"), run.exit_code
    if not now or then != 0 or run.inputs or command_interpreter(run.command, worktree / (run.cwd or ".")):
        return
    how = ("inputs of commands that are not Python are only captured from governed data folders "
           "or with --input")
    missing = _named_but_missing(repo, run, worktree)
    if missing:
        import shlex

        flags = " ".join(f"--input {shlex.quote(p)}" for p in missing)
        raise InputError(f"cannot reproduce run {run.short}: the re-run failed with exit {now} and the "
                         f"command reads {', '.join(missing)}, which is neither at commit "
                         f"{run.commit[:12]} nor among the run's inputs ({how}); record it with "
                         f"`gitgov run {flags} -- {shlex.join(run.command)}`")
    cmp.notes.append(f"the run recorded no inputs: {how}; if the command reads a file, record it with "
                     "`gitgov run --input FILE -- ...`")


def _named_but_missing(repo, run: RunRecord, worktree: Path) -> list[str]:
    """Files the command line names that were in the workspace before the run started
    and that the worktree of the run's commit lacks."""
    import posixpath
    import re
    import shlex
    from datetime import datetime

    try:
        started = datetime.fromisoformat(str(run.started).replace("Z", "+00:00")).timestamp()
    except (TypeError, ValueError):
        return []
    words: list[str] = []
    for arg in run.command[1:]:
        try:
            words += shlex.split(arg)
        except ValueError:
            words += arg.split()
    found: list[str] = []
    for word in words:
        for name in re.split(r"[<>|;&()`]+", word):  # a redirection may be glued to the name
            if not name or name.startswith("-") or posixpath.isabs(name):
                continue
            rel = posixpath.normpath(posixpath.join(run.cwd or ".", name))
            if rel.startswith("../") or rel in found or rel in run.outputs or (worktree / rel).exists():
                continue
            try:
                st = (repo.root / rel).stat()
            except (OSError, ValueError):
                continue
            if st.st_mtime < started and os.path.isfile(repo.root / rel):  # not written by the run
                found.append(rel)
    return found


def _compare_output(store, path: Path, rec: dict, hash_file) -> dict[str, Any]:
    if not path.is_file():
        return {"recorded": rec["sha256"], "now": None, "same": False,
                "difference": "was not written by the re-run"}
    now = hash_file(path).sha256
    entry = {"recorded": rec["sha256"], "now": now, "same": now == rec["sha256"]}
    if not entry["same"]:
        entry["difference"] = (f"sha256 {now[:12]}, recorded {rec['sha256'][:12]}"
                               + _first_difference(store, rec["sha256"], path))
    return entry


def _first_difference(store, recorded: str, path: Path) -> str:
    """Where two small text files first differ, to name the difference."""
    if not store.has(recorded) or path.stat().st_size > 1 << 20:
        return ""
    try:
        old = store.read_bytes(recorded).decode("utf-8").splitlines()
        new = path.read_bytes().decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return ""
    for n, (a, b) in enumerate(zip(old, new), 1):
        if a != b:
            return f"; first difference at line {n}: {b.strip()[:60]!r}, recorded {a.strip()[:60]!r}"
    return f"; {len(new)} lines, recorded {len(old)}"


def _compare_metric(old: float | str | None, new: float | None, rel: float) -> dict[str, Any]:
    """`old` as recorded ("nan", "inf", "-inf" stand for themselves), `new` as the re-run logged it."""
    from .tracking import recordable

    entry: dict[str, Any] = {"recorded": old, "now": None if new is None else recordable(new),
                             "tolerance": rel}
    if new is None or old is None:
        entry.update(same=False, difference="was not logged by the re-run")
        return entry
    was = float(old)
    both_nan = math.isnan(was) and math.isnan(new)  # a run that diverged the same way again
    entry["same"] = new == was or both_nan or abs(new - was) <= abs(was) * rel
    if not entry["same"]:
        entry["difference"] = f"{new:.6g}, recorded {was:.6g} (tolerance {rel:g} relative)"
    return entry


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
