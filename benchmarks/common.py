"""Helpers shared by the benchmarks: isolated git repos, timed child processes
with their peak memory, medians and markdown tables.

Every benchmark runs its tools as child processes, the way a user meets them,
and reports medians: single runs on a shared machine are too noisy to compare.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REQUIREMENTS = HERE / "requirements.txt"


# ---- environment ----------------------------------------------------------------

def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """os.environ without the user's git config; identity only through env vars.

    The directory of the running interpreter heads PATH, so console scripts
    installed beside it (gitgov, pre-commit) are the ones found.
    """
    # Bytecode caching as after a normal install: a PYTHONDONTWRITEBYTECODE
    # from the caller would make every hook compile gitgov from source.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "GITGOV_", "PRE_COMMIT"))
           and k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    env.update({
        "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
        "NO_COLOR": "1",
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    })
    env.update(extra)
    return env


@contextmanager
def scratch(prefix: str = "gitgov-bench-") -> Iterator[Path]:
    """A temporary folder, removed afterwards (set GITGOV_BENCH_KEEP=1 to keep it)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if os.environ.get("GITGOV_BENCH_KEEP"):
            print(f"kept {path}", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def ensure_requirements(*modules: str) -> None:
    """pip-install benchmarks/requirements.txt into this interpreter if a module is missing."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return
    print(f"installing {REQUIREMENTS.name} for {', '.join(missing)}", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)],
                   check=True)
    importlib.invalidate_caches()


# ---- child processes ------------------------------------------------------------

@dataclass(frozen=True)
class Measured:
    seconds: float
    cpu_seconds: float  # user + system of the child and the descendants it waited for
    max_rss_kib: int  # the largest of the child and every descendant it waited for
    returncode: int
    output: str


def measure(cmd: Sequence[str], cwd: Path, env: dict[str, str],
            stdin: bytes | None = None) -> Measured:
    """Wall time and peak RSS of one child process (os.wait4 gives its rusage)."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL)
        if stdin is not None:
            proc.stdin.write(stdin)
            proc.stdin.close()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(seconds, cpu, usage.ru_maxrss, proc.returncode, text)


def call(cmd: Sequence[str], cwd: Path, env: dict[str, str], check: bool = True) -> str:
    """Run an untimed setup step; on failure show what it printed."""
    proc = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {proc.returncode} in {cwd}:\n"
                           f"{proc.stdout}{proc.stderr}")
    return proc.stdout


def git(cwd: Path, env: dict[str, str], *args: str, check: bool = True) -> str:
    return call(["git", *args], cwd, env, check=check)


# ---- statistics -------------------------------------------------------------------

def repeat(step: Callable[[int], Measured], times: int, warmup: int = 1) -> list[Measured]:
    """Run step(i) warmup + times times; keep the timed ones. A failed run stops the benchmark."""
    kept = []
    for i in range(warmup + times):
        m = step(i)
        if m.returncode != 0:
            raise RuntimeError(f"run {i} exited {m.returncode}:\n{m.output}")
        if i >= warmup:
            kept.append(m)
    return kept


def median_ms(runs: Iterable[Measured]) -> float:
    return statistics.median(m.seconds for m in runs) * 1000


def median_cpu_ms(runs: Iterable[Measured]) -> float:
    return statistics.median(m.cpu_seconds for m in runs) * 1000


def peak_mib(runs: Iterable[Measured]) -> float:
    return max(m.max_rss_kib for m in runs) / 1024


def median_of(fn: Callable[[], float], times: int) -> float:
    """Median of `times` calls of fn (which returns one measured value)."""
    return statistics.median(fn() for _ in range(times))


# ---- output -------------------------------------------------------------------------

def md_table(headers: Sequence[str], rows: Iterable[Sequence[object]],
             right: Sequence[int] = ()) -> str:
    """A markdown table; columns whose index is in `right` are right-aligned."""
    rows = [[str(c) for c in row] for row in rows]
    rule = ["---:" if i in right else "---" for i in range(len(headers))]
    lines = [headers, rule, *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def fmt_ms(ms: float) -> str:
    return f"{ms:,.0f}" if abs(ms) >= 100 else f"{ms:.1f}"


def fmt_delta(ms: float) -> str:
    return f"{ms:+,.0f}" if abs(ms) >= 100 else f"{ms:+.1f}"


def fmt_ratio(x: float) -> str:
    return f"{x:.1f}×" if x < 100 else f"{x:,.0f}×"


def machine_line() -> str:
    """One line naming what the figures were measured on, and how gitgov is installed."""
    import platform

    gitv = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    return (f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, {gitv}, gitgov {install_kind()}")


def install_kind() -> str:
    """"installed" or "installed editable": setuptools' editable installs of this
    package layout add an import finder that costs every Python process ~25 ms
    before gitgov runs (and the same to every hook), which users never pay."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        text = distribution("gitgov").read_text("direct_url.json") or ""
    except PackageNotFoundError:
        return "not installed (run from the source tree)"
    return "installed editable (pip install -e)" if '"editable": true' in text else "installed (pip install .)"


def gitgov_command() -> list[str]:
    """How a user starts gitgov: its console script beside this interpreter."""
    script = Path(sys.executable).with_name("gitgov")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gitgov.core"]
