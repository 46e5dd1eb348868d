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
from typing import Any, Mapping, NamedTuple, Sequence

from .errors import EXIT_BLOCKED, InputError
from .process import Exit, execute, resolve_command
from .run_params import load_params_file, parse_param

MAX_SEED = 2**32 - 1  # PYTHONHASHSEED's range
SNAPSHOT_KIND = "run_snapshot"
RUN_HOOKS = ("run_started", "run_finished")  # the only plugins a run needs to load
EFFECTIVE_PARAMS = "effective-params.json"  # written by tracking.params(): defaults and given params
CODE_SUFFIXES = (".py", ".pyw", ".sh", ".bash", ".r", ".jl", ".ipynb", ".js", ".ts", ".rb", ".pl", ".lua")


class RunRequest(NamedTuple):  # NamedTuples and plain classes: quicker to define than dataclasses
    command: tuple[str, ...]
    name: str | None = None  # None: no --name; "" was given, and is refused
    params: Mapping[str, Any] = {}  # never changed: a shared default is safe
    seed: int | None = None
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()


# What `gitgov runs show` reads as something other than a name: a name must not look like them.
RESERVED_NAMES = ("last", "latest")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
_ID_CHARS = frozenset("0123456789abcdef-")
MAX_NAME = 100


def check_name(name: str | None) -> None:
    """Refuse a run name that `gitgov runs show NAME` could not find: the rules of model
    names, and neither a word that means the newest run nor what reads as a run id."""
    if name is None:
        return
    if not (0 < len(name) <= MAX_NAME and name[0] not in "._-" and _NAME_CHARS.issuperset(name)):
        raise InputError(f"--name {name!r}: use letters, digits, '.', '_' and '-', starting with a "
                         f"letter or digit (at most {MAX_NAME})")
    if name.lower() in RESERVED_NAMES:
        raise InputError(f"--name {name!r}: '{name}' is reserved (`gitgov runs show last` is the "
                         "newest run); choose another name")
    if len(name) >= 4 and _ID_CHARS.issuperset(name.lower()):  # run_query.MIN_PREFIX
        raise InputError(f"--name {name!r}: it reads as a run id (only 0-9, a-f and '-'); add another "
                         f"letter, e.g. 'run-{name}'")


def check_seed(seed: int | None) -> int:
    if seed is None:  # recorded, so reproduce uses it
        return int.from_bytes(os.urandom(4), "big") >> 1  # what secrets.randbelow(2**31) gives
    if not 0 <= seed <= MAX_SEED:
        raise InputError(f"--seed {seed}: must be between 0 and {MAX_SEED}")
    return seed


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


# ---- `gitgov run` without click ----------------------------------------------------

_VALUE_OPTIONS = {"--name": "name", "--param": "params", "--params-file": "params_file",
                  "--seed": "seed", "--input": "inputs", "--output": "outputs"}


def fast_request(args: Sequence[str]) -> RunRequest | None:
    """The request of ``gitgov run ARGS`` read without click, which costs a run's
    start-up tens of milliseconds; None for anything unusual (--help, an unknown
    option, a bad value), which click then reads and reports exactly as before."""
    found: dict[str, Any] = {"params": [], "inputs": [], "outputs": []}
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] not in ("-", "--"):
        name, eq, value = args[i].partition("=")
        if name not in _VALUE_OPTIONS:
            return None
        if not eq:
            i += 1
            if i == len(args) or args[i] == "--":
                return None
            value = args[i]
        key = _VALUE_OPTIONS[name]
        if isinstance(found.get(key), list):
            found[key].append(value)
        else:
            found[key] = value
        i += 1
    command = args[i + 1:] if args[i:i + 1] == ["--"] else args[i:]
    try:
        seed = int(found["seed"]) if "seed" in found else None
    except ValueError:
        return None
    params_file = Path(found["params_file"]) if "params_file" in found else None
    if params_file is not None and params_file.is_dir():
        return None
    values = load_params_file(params_file) if params_file else {}
    values.update(parse_param(p) for p in found["params"])
    return RunRequest(command=tuple(command), name=found.get("name"), params=values, seed=seed,
                      inputs=tuple(found["inputs"]), outputs=tuple(found["outputs"]))


# ---- the run ------------------------------------------------------------------------

def start(request: RunRequest) -> int:
    """Run a command under gitgov; returns the exit code to pass on."""
    import gc

    check_name(request.name)  # refused before anything is recorded, as a missing command is
    resolve_command(request.command)
    collecting = gc.isenabled()
    gc.disable()  # start-up makes ~100k objects that all live to the end: no garbage to look for
    from . import git

    try:
        _prefetch_git(git)
        from .session import Session

        with Session.open(".", hooks=RUN_HOOKS) as session:
            if not session.repo.ledger_path.exists():
                raise InputError(f"no ledger at {session.repo.ledger_path}; run `gitgov init` first")
            return _run(session, request)
    finally:
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


def _run(session, request: RunRequest) -> int:
    from .run_io import relative_paths, scan

    repo, root = session.repo, session.repo.root
    seed = check_seed(request.seed)
    live = _Live(session, request, run_id=new_run_id(), run_dir=Path(), actor=session.actor(),
                 declared_in=relative_paths(root, request.inputs, "--input", must_exist=True),
                 declared_out=relative_paths(root, request.outputs, "--output", expand=False))
    live.run_dir = repo.state_dir / "runs" / live.run_id
    live.run_dir.mkdir(parents=True)
    try:
        ready = _prepare(live, seed)
    except BaseException:  # failed before the command started: leave no folder behind
        _remove_tree(live.run_dir)
        raise
    if ready is None:  # refused: the ledger keeps the refusal, the folder would stay empty
        _remove_tree(live.run_dir)
        return EXIT_BLOCKED
    env, patterns = ready
    _say(f"run {live.run_id[:8]} started (seed {seed}): {' '.join(request.command)}")
    try:
        result = execute(request.command, env)
    except InputError:  # it could not start (a bad #! line, no program): end the run, or it stays "lost"
        _finish(live, Exit(126, None, "failed", 0.0, None), scan(root, patterns))  # 126: as a shell says
        raise
    return _finish(live, result, scan(root, patterns))


def _prepare(live: _Live, seed: int) -> tuple[dict[str, str], Any] | None:
    """RunStarted to the plugins, then what the command needs; None when a plugin refused."""
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
    env = command_env(os.environ, run_id=live.run_id, seed=seed, params=request.params,
                      run_dir=live.run_dir, root=root, hook_dir=audit_hook_dir(repo.state_dir))
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
    _remove_tree(live.run_dir / "audit")
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


def _remove_tree(path: Path) -> None:
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
