"""`gitgov run`: run a command as a recorded, reproducible run.

RunStarted goes to the plugins first (the snapshot plugin records commit,
diff, packages, environment and input hashes; a policy plugin may refuse the
run). The command then runs with its seed, params and metrics file in the
environment and, for Python, the audit hook on its PYTHONPATH. RunFinished
carries how it ended, its metrics and its inputs and outputs with their
hashes; the lineage plugin turns those into lineage edges.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from .errors import EXIT_BLOCKED, InputError
from .process import Exit, execute, execute_held, resolve_command
from .run_early import Early, remove_tree, start_early
from .run_request import RunRequest, check_name, check_seed

SNAPSHOT_KIND = "run_snapshot"
RUN_HOOKS = ("run_started", "run_finished")  # the only plugins a run needs to load
EFFECTIVE_PARAMS = "effective-params.json"  # written by tracking.params(): defaults and given params
CODE_SUFFIXES = (".py", ".pyw", ".sh", ".bash", ".r", ".jl", ".ipynb", ".js", ".ts", ".rb", ".pl", ".lua")


def new_run_id() -> str:
    """A random (version 4) UUID, as uuid.uuid4() makes it, without importing uuid."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# ---- environment of the command ---------------------------------------------------

def audit_hook_dir(state_dir: Path) -> Path:
    """A folder holding the audit hook as sitecustomize.py, rewritten when gitgov changes it."""
    source = (Path(__file__).with_name("audit_hook.py")).read_bytes()
    folder = state_dir / "cache" / "audit-hook"
    target = folder / "sitecustomize.py"
    if not target.is_file() or target.read_bytes() != source:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".sitecustomize.{os.getpid()}"
        tmp.write_bytes(source)
        os.replace(tmp, target)
    return folder


def run_env(repo: Any, request: RunRequest, run_id: str, seed: int, run_dir: Path) -> dict[str, str]:
    """The environment of a `gitgov run` command in ``repo``, the audit hook included."""
    return command_env(os.environ, run_id=run_id, seed=seed, params=request.params, run_dir=run_dir,
                       root=repo.root, hook_dir=audit_hook_dir(repo.state_dir))


def command_env(base: Mapping[str, str], *, run_id: str, seed: int, params: Mapping[str, Any],
                run_dir: Path, root: Path | None, hook_dir: Path | None) -> dict[str, str]:
    """The environment a run's command gets (also used, with the same values, by reproduce)."""
    env = dict(base)
    params_json = json.dumps(dict(params), sort_keys=True)
    (run_dir / "params.json").write_text(params_json + "\n", encoding="utf-8")
    env.update({
        "GITGOV_RUN_ID": run_id, "GITGOV_SEED": str(seed), "PYTHONHASHSEED": str(seed),
        "GITGOV_PARAMS": params_json, "GITGOV_PARAMS_FILE": str(run_dir / "params.json"),
        "GITGOV_METRICS_FILE": str(run_dir / "metrics.jsonl"),
        "GITGOV_EFFECTIVE_PARAMS_FILE": str(run_dir / EFFECTIVE_PARAMS),
    })
    if hook_dir is not None and root is not None:
        audit = run_dir / "audit"
        audit.mkdir(exist_ok=True)
        env.update({"GITGOV_AUDIT_ROOT": str(root), "GITGOV_AUDIT_DIR": str(audit)})
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(hook_dir), base.get("PYTHONPATH", "")) if p)
    return env


# ---- the run ------------------------------------------------------------------------

def start(request: RunRequest) -> int:
    """Run a command under gitgov; returns the exit code to pass on."""
    import gc

    check_name(request.name)  # refused before anything is recorded, as a missing command is
    resolve_command(request.command)
    seed, run_id = check_seed(request.seed), new_run_id()
    collecting = gc.isenabled()
    gc.disable()  # start-up makes ~100k objects that all live to the end: no garbage to look for
    from . import git

    early = None
    try:
        _prefetch_git(git)
        early = start_early(request, git, run_id, seed)
        from .session import Session

        with Session.open(".", hooks=RUN_HOOKS, repo=early.repo if early else None) as session:
            if not session.repo.ledger_path.exists():
                raise InputError(f"no ledger at {session.repo.ledger_path}; run `gitgov init` first")
            return _run(session, request, early, run_id, seed)
    finally:
        if early is not None and not early.held.reaped:  # it never ran: it ends, its folder goes
            early.held.abandon()
            remove_tree(early.run_dir)
        git.discard_prefetched()
        if collecting:
            gc.enable()


def _prefetch_git(git) -> None:
    """Start the git queries a run makes (where the repository is, who runs it, the
    snapshot's status) now: they run on another core while gitgov imports the rest."""
    here = os.getcwd()
    git.prefetch(git.DISCOVER_ARGS, here)
    if os.path.exists(os.path.join(here, ".git")):  # the top of a work tree: its root is here
        git.prefetch(("var", "GIT_AUTHOR_IDENT"), here)
        git.prefetch(git.STATUS_ARGS, here)


class _Live:
    """A run between its start and its end."""

    def __init__(self, session: Any, request: RunRequest, *, run_id: str, run_dir: Path, actor: str,
                 declared_in: list[str], declared_out: list[str]):
        self.session, self.request, self.run_id, self.run_dir = session, request, run_id, run_dir
        self.actor, self.declared_in, self.declared_out = actor, declared_in, declared_out
        self.snapshot: Mapping[str, Any] = {}
        self.argv_files: list[str] = []
        self.before: Mapping[str, Any] = {}
        self.before_declared: Mapping[str, Any] = {}  # the files of the --output paths


def _run(session, request: RunRequest, early: Early | None, run_id: str, seed: int) -> int:
    from .run_io import relative_paths, scan

    repo, root = session.repo, session.repo.root
    run_dir = repo.state_dir / "runs" / run_id
    try:  # failed before the command started: leave no folder behind
        live = _Live(session, request, run_id=run_id, run_dir=run_dir, actor=session.actor(),
                     declared_in=relative_paths(root, request.inputs, "--input", must_exist=True),
                     declared_out=relative_paths(root, request.outputs, "--output", expand=False))
        run_dir.mkdir(parents=True, exist_ok=early is not None)
        ready = _prepare(live, seed, early.env if early else None)
    except BaseException:
        remove_tree(run_dir)
        raise
    if ready is None:  # refused: the ledger keeps the refusal, the folder would stay empty
        remove_tree(run_dir)
        return EXIT_BLOCKED
    env, patterns = ready
    _say(f"run {live.run_id[:8]} started (seed {seed}): {' '.join(request.command)}")
    try:
        result = execute_held(early.held) if early else execute(request.command, env)
    except InputError:  # it could not start (a bad #! line, no program): end the run, or it stays "lost"
        _finish(live, Exit(126, None, "failed", 0.0, None), scan(root, patterns))  # 126: as a shell says
        raise
    return _finish(live, result, scan(root, patterns))


def _prepare(live: _Live, seed: int, env: dict[str, str] | None) -> tuple[dict[str, str], Any] | None:
    """RunStarted to the plugins, then what the command needs (``env``: its environment,
    when it was started early); None when a plugin refused."""
    from .events import RunStarted
    from .report import print_verdict
    from .run_io import scan, scan_declared, watch_patterns

    session, request = live.session, live.request
    repo, root = session.repo, session.repo.root
    started = RunStarted(run_id=live.run_id, run_name=request.name or "", command=tuple(request.command),
                         params=dict(request.params), seed=seed, inputs=tuple(live.declared_in),
                         actor=live.actor, source="cli")
    outcome = session.emit([started])
    print_verdict(outcome.findings, "run")
    if outcome.blocked:
        return None
    live.snapshot = next((f.payload for _e, f in outcome.facts if f.kind == SNAPSHOT_KIND), {})
    patterns = watch_patterns(session.policy)
    live.before = scan(root, patterns)
    live.before_declared = scan_declared(root, live.declared_out) if live.declared_out else {}
    live.argv_files = command_files(root, request.command)
    if env is None:
        env = run_env(repo, request, live.run_id, seed, live.run_dir)
    return env, patterns


def command_files(root: Path, command: Sequence[str]) -> list[str]:
    """Files of the repository named on the command line (a script, a config): inputs
    of any command, Python or not."""
    found = []
    for word in command:
        path = Path(word.partition("=")[2] if word.startswith("-") and "=" in word else word)
        full = (path if path.is_absolute() else Path.cwd() / path)
        try:
            if full.is_file():
                found.append(full.resolve().relative_to(root.resolve()).as_posix())
        except (ValueError, OSError):
            continue
    return found


def _committed_code(rec) -> bool:
    """Source code that the commit holds unchanged is versioned by the commit, not an input."""
    return rec.clean and rec.path.lower().endswith(CODE_SUFFIXES)


def _files(live: _Live, after) -> tuple[dict[str, dict], dict]:
    """(inputs, outputs): observed, compared and declared; hashed, and kept where git cannot."""
    from .audit_hook import read_records
    from .run_io import changed_files, describe_inputs, scan_declared, store_outputs
    from .store import ObjectStore

    repo = live.session.repo
    read, written = read_records(live.run_dir / "audit")
    declared_out = [p for p in live.declared_out if (repo.root / p).is_file()]  # a file always counts
    if live.declared_out:  # a folder holds what the run created or changed in it, not what was there
        declared_out += changed_files(live.before_declared, scan_declared(repo.root, live.declared_out))
    output_paths = sorted(written | set(changed_files(live.before, after)) | set(declared_out))
    input_paths = sorted((read | set(live.argv_files)) - set(output_paths) | set(live.declared_in))
    input_paths, output_paths = _recordable(input_paths, output_paths)
    store = ObjectStore.for_repo(repo, live.session.policy)
    known = dict(live.snapshot.get("inputs") or {})
    fresh = describe_inputs(repo, store, [p for p in input_paths if p not in known], live.snapshot.get("commit"))
    inputs = {**known, **{p: r.to_dict() for p, r in fresh.items() if not _committed_code(r)}}
    return inputs, store_outputs(repo, store, output_paths)


def _recordable(*groups: list[str]) -> list[list[str]]:
    """The paths the ledger can hold. A name that is not UTF-8 cannot be stored as text; it
    is left out, with a warning, rather than costing the whole run its record."""
    kept: list[list[str]] = []
    for paths in groups:
        kept.append([])
        for path in paths:
            try:
                path.encode("utf-8")
            except UnicodeEncodeError:
                shown = os.fsencode(path).decode("utf-8", "backslashreplace")
                _say(f"warning: {shown} is not recorded: its name is not valid UTF-8")
                continue
            kept[-1].append(path)
    return kept


def _metrics(run_dir: Path) -> dict[str, dict[str, Any]]:
    path = run_dir / "metrics.jsonl"
    if not path.exists():  # nothing logged: tracking (and what it imports) is not needed
        return {}
    from .tracking import read_metrics_file

    return read_metrics_file(str(path))


def _effective_params(live: _Live) -> dict[str, Any] | None:
    """The params the script used (its defaults merged with the given ones), when it asked
    tracking.params() for them; None when it did not."""
    try:
        text = (live.run_dir / EFFECTIVE_PARAMS).read_text(encoding="utf-8")
    except OSError:  # no such file: the command never called params()
        return None
    from .run_params import json_value

    try:
        value = json.loads(text)
        json_value(value, "")  # NaN or infinity: not a value the ledger can hold
    except (ValueError, InputError):
        value = None
    if not isinstance(value, dict):
        _say(f"warning: the params the command used are not recorded: {EFFECTIVE_PARAMS} does not "
             "hold a JSON object of finite values")
        return None
    return value


def _finish(live: _Live, result: Exit, after) -> int:
    from .events import RunFinished
    from .report import print_verdict

    inputs, outputs = _files(live, after)
    metrics = _metrics(live.run_dir)
    if metrics:
        from .tracking import recordable
    finished = RunFinished(
        run_id=live.run_id, status=result.status, exit_code=result.exit_code,
        duration=round(result.duration, 3), peak_memory=result.peak_memory,
        metrics={k: recordable(v["value"]) for k, v in metrics.items()},
        outputs={p: r.sha256 for p, r in outputs.items()},
        inputs={p: r["sha256"] for p, r in sorted(inputs.items())},
        details={"commit": live.snapshot.get("commit"), "name": live.request.name or "",
                 "command": list(live.request.command), "signal": result.signal,
                 "signals_received": list(result.received), "inputs": inputs,
                 "outputs": {p: r.to_dict() for p, r in outputs.items()},
                 "metric_steps": {k: {"step": v["step"], "count": v["count"]} for k, v in metrics.items()},
                 "effective_params": _effective_params(live)},
        actor=live.actor, source="cli")
    outcome = live.session.emit([finished])
    print_verdict(outcome.findings, "run recorded, but")
    remove_tree(live.run_dir / "audit")
    _summary(live.run_id, result, inputs, outputs, metrics)
    return result.exit_code


def _summary(run_id: str, result: Exit, inputs, outputs, metrics) -> None:
    how = {"ok": "finished", "failed": f"failed (exit {result.exit_code})",
           "interrupted": f"was interrupted ({result.signal or 'exit ' + str(result.exit_code)})",
           "killed": f"was killed ({result.signal})"}[result.status]
    peak = f", peak memory {result.peak_memory / 2**20:.0f} MiB" if result.peak_memory else ""
    shown = ", ".join(f"{k}={v['value']:g}" for k, v in sorted(metrics.items())[:6])
    _say(f"run {run_id[:8]} {how} in {result.duration:.2f} s{peak}; {len(inputs)} input(s), "
         f"{len(outputs)} output(s)" + (f"; {shown}" if shown else ""))


def _say(text: str) -> None:
    print(f"gitgov: {text}", file=sys.stderr, flush=True)
