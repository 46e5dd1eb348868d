"""Finding runs in the ledger's projections: by id, id prefix, name or "last"."""
from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError
from .process import alive

_ID_PREFIX = re.compile(r"[0-9a-f-]+")  # what a run id is made of: '%' or '_' would be LIKE wildcards
MIN_PREFIX = 4  # shorter prefixes would match too many runs to be worth looking up
_COLS = ("run_id, name, status, started, finished, actor, command, params, seed, commit_sha, branch,"
         " dirty, diff_sha256, cwd, host, pid, exit_code, signal, duration, peak_memory")


@dataclass
class RunRecord:
    run_id: str
    name: str | None
    status: str
    started: str
    finished: str | None
    actor: str | None
    command: list[str]
    params: dict[str, Any]
    seed: int | None
    commit: str | None
    branch: str | None
    dirty: bool
    diff_sha256: str | None
    cwd: str | None
    host: str | None
    pid: int | None
    exit_code: int | None
    signal: str | None
    duration: float | None
    peak_memory: int | None
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    snapshot: dict[str, Any] = field(default_factory=dict)
    reproductions: list[dict[str, Any]] = field(default_factory=list)
    effective_params: dict[str, Any] | None = None  # what the script used, defaults included

    @property
    def used_params(self) -> dict[str, Any]:
        """The params the command used: as recorded by tracking.params(), else as given."""
        return self.params if self.effective_params is None else self.effective_params

    @property
    def short(self) -> str:
        return self.run_id[:8]

    @property
    def state(self) -> str:
        """The status, with 'lost' for a run whose gitgov process died before recording its end."""
        if self.status != "running":
            return self.status
        if self.host == socket.gethostname() and self.pid and not alive(self.pid):
            return "lost"
        return "running"

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["status"] = data["state"] = self.state  # as the text shows it: a lost run is not "running"
        data["effective_params"] = self.used_params
        return data


def _record(row: tuple) -> RunRecord:
    (run_id, name, status, started, finished, actor, command, params, seed, commit, branch, dirty,
     diff, cwd, host, pid, exit_code, sig, duration, peak) = row
    return RunRecord(run_id, name, status, started, finished, actor, json.loads(command or "[]"),
                     json.loads(params or "{}"), seed, commit, branch, bool(dirty), diff, cwd, host,
                     pid, exit_code, sig, duration, peak)


def list_runs(ledger, limit: int | None = None, name: str | None = None) -> list[RunRecord]:
    sql = f"SELECT {_COLS} FROM runs"
    args: list[Any] = []
    if name:
        sql += " WHERE name = ?"
        args.append(name)
    sql += " ORDER BY started_seq DESC"
    if limit:
        sql += " LIMIT ?"
        args.append(limit)
    runs = [_record(r) for r in ledger.db.execute(sql, args)]
    for run in runs:
        run.metrics = dict(ledger.db.execute("SELECT name, value FROM metrics WHERE run_id = ?"
                                             " ORDER BY name", (run.run_id,)).fetchall())
        run.effective_params = _effective_params(ledger, run.run_id)
    return runs


def _effective_params(ledger, run_id: str) -> dict[str, Any] | None:
    """The params the script used, defaults included, as its run_finished entry recorded them."""
    for rec in ledger.entries(kind="run_finished", subject=run_id, limit=1):
        value = (rec.payload.get("details") or {}).get("effective_params")
        return value if isinstance(value, dict) else None
    return None


class NoSuchRun(InputError):
    """No run of this ledger matches the reference (an ambiguous one is a plain InputError)."""


def resolve(ledger, ref: str) -> RunRecord:
    """The run named by ``ref``: "last", a full id, a unique id prefix, or a run name (newest)."""
    db = ledger.db
    if ref in ("last", "latest", "@"):
        rows = db.execute(f"SELECT {_COLS} FROM runs ORDER BY started_seq DESC LIMIT 1").fetchall()
    else:
        rows = db.execute(f"SELECT {_COLS} FROM runs WHERE run_id = ?", (ref,)).fetchall()
        if not rows and len(ref) >= MIN_PREFIX and _ID_PREFIX.fullmatch(ref.lower()):
            rows = db.execute(f"SELECT {_COLS} FROM runs WHERE run_id LIKE ? ORDER BY started_seq DESC",
                              (ref.lower() + "%",)).fetchall()
            if len(rows) > 1:
                ids = ", ".join(r[0][:12] for r in rows[:4])
                raise InputError(f"run id prefix '{ref}' is ambiguous: {ids}; give more characters")
        if not rows:
            rows = db.execute(f"SELECT {_COLS} FROM runs WHERE name = ? ORDER BY started_seq DESC LIMIT 1",
                              (ref,)).fetchall()
    if not rows:
        short = len(ref) < MIN_PREFIX and _ID_PREFIX.fullmatch(ref.lower())
        hint = f"an id prefix needs at least {MIN_PREFIX} characters; " if short else ""
        raise NoSuchRun(f"no run matches '{ref}'; {hint}`gitgov runs list` shows the recorded runs "
                        "(a run recorded in another clone: `gitgov store pull RUN` fetches it)")
    return load(ledger, _record(rows[0]))


def load(ledger, run: RunRecord) -> RunRecord:
    """Fill in a run's files, metrics, snapshot and reproductions."""
    db = ledger.db
    for role, path, sha, size, blob, tracked, clean, stored in db.execute(
            "SELECT role, path, sha256, size, blob, tracked, clean, stored FROM run_files"
            " WHERE run_id = ? ORDER BY path", (run.run_id,)):
        target = run.inputs if role == "input" else run.outputs
        target[path] = {"sha256": sha, "size": size, "blob": blob, "tracked": bool(tracked),
                        "clean": bool(clean), "stored": bool(stored)}
    run.metrics = dict(db.execute("SELECT name, value FROM metrics WHERE run_id = ? ORDER BY name",
                                  (run.run_id,)).fetchall())
    for rec in ledger.entries(kind="run_snapshot", subject=run.run_id, limit=1):
        run.snapshot = rec.payload
    run.effective_params = _effective_params(ledger, run.run_id)
    run.reproductions = [{"seq": s, "verdict": v, "time": t, "actor": a, "summary": m}
                         for s, v, t, a, m in db.execute(
                             "SELECT seq, verdict, time, actor, summary FROM reproductions"
                             " WHERE run_id = ? ORDER BY seq", (run.run_id,))]
    return run


def open_repo_ledger():
    """(repo, ledger) of the repository around the working directory."""
    from .git import Repo
    from .ledger import open_ledger

    repo = Repo.discover(".")
    return repo, open_ledger(repo.ledger_path)
