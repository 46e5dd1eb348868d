"""Judging a re-run against its record: exit status, outputs by hash, metrics within
their tolerance, package differences, and why a re-run that failed may have failed.

reproduce.py sets the re-run up and records the verdict; this module only compares.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError
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


def compare(session, run: RunRecord, store, worktree: Path, rerun, tolerances) -> Comparison:
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


def explain_failure(repo, run: RunRecord, worktree: Path, cmp: Comparison) -> None:
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
