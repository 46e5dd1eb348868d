"""What gitgov's hooks add to `git commit` (and `git push`), next to plain Git
and to the pre-commit framework.

Four setups of the same 1,000-file repository:

1. plain git, no hooks;
2. gitgov's own hooks (`gitgov init`: pre-commit, post-commit, pre-push);
3. the pre-commit framework with one trivial local hook (`true`);
4. gitgov's check run by the pre-commit framework. The framework must work
   offline here, so instead of the published `.pre-commit-hooks.yaml` entry
   (language: python, which makes the framework build a virtualenv from the
   repository) it is the same entry, `gitgov hook-impl pre-commit --`, as a
   `repo: local` hook with language: system.

Cases: (a) a commit that touches no governed data; (c) a push of one such
commit to a local bare remote; (b) a commit that stages a large governed CSV.
Setups take turns within each repetition so that machine noise hits all alike.
"""
from __future__ import annotations

import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from common import (Measured, call, ensure_requirements, fmt_delta, fmt_ms, fmt_ratio, git,
                    isolated_env, machine_line, md_table, measure, median_cpu_ms, median_ms,
                    peak_mib, scratch)

FILES = 1000
POLICY = """\
version = 1

[datasets.customers]
description = "Customer records for the commit benchmark"
paths = ["data/raw/customers*.csv"]
format = "csv"
owner = "bench@example.com"

[limits]
max_file_size = "2GiB"   # the large-CSV case must pass the size check
"""
TRIVIAL_CONFIG = """\
repos:
  - repo: local
    hooks:
      - id: trivial
        name: trivial
        entry: "true"
        language: system
        always_run: true
        pass_filenames: false
"""
GITGOV_CONFIG = """\
repos:
  - repo: local
    hooks:
      - id: gitgov-check
        name: gitgov policy check
        entry: {entry}
        language: system
        always_run: true
        pass_filenames: false
        require_serial: true
        stages: [pre-commit]
"""


@dataclass
class Setup:
    key: str
    label: str
    hooks: str  # which hooks fire on a commit, for the table
    path: Path = Path()
    runs: dict[str, list[Measured]] = field(default_factory=dict)


SETUPS = (
    ("plain", "plain git (no hooks)", "none"),
    ("gitgov", "gitgov hooks (`gitgov init`)", "pre-commit, post-commit"),
    ("framework", "pre-commit framework, one trivial hook", "pre-commit"),
    ("gitgov-framework", "gitgov check via the pre-commit framework", "pre-commit"),
)


# ---- building the repositories ---------------------------------------------------

def _gitgov(*args: str) -> list[str]:
    return [sys.executable, "-m", "gitgov.core", *args]


def _pre_commit(*args: str) -> list[str]:
    return [sys.executable, "-m", "pre_commit", *args]


def _gitgov_entry() -> str:
    script = Path(sys.executable).parent / "gitgov"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "gitgov.core"]
    return shlex.quote(" ".join(shlex.quote(a) for a in [*base, "hook-impl", "pre-commit", "--"]))


def build_repo(path: Path, env: dict, key: str) -> None:
    """A repository of FILES small files plus gitgov.toml, with `key`'s hooks installed."""
    git(path.parent, env, "init", "-q", "-b", "main", str(path))
    for i in range(FILES):
        sub = path / "src" / f"pkg{i // 100:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"mod_{i:04d}.py").write_text(f'"""Module {i}."""\nVALUE = {i}\n')
    (path / "README.md").write_text("# bench\n")
    (path / "gitgov.toml").write_text(POLICY)
    if key in ("gitgov", "gitgov-framework"):
        call(_gitgov("init"), path, env)
    if key == "gitgov-framework":
        call(_gitgov("uninstall"), path, env)  # keeps .gitgov/ state, drops the native shims
        (path / ".pre-commit-config.yaml").write_text(GITGOV_CONFIG.format(entry=_gitgov_entry()))
    if key == "framework":
        (path / ".pre-commit-config.yaml").write_text(TRIVIAL_CONFIG)
    if key in ("framework", "gitgov-framework"):
        call(_pre_commit("install"), path, env)
    git(path, env, "add", "-A")
    git(path, env, "commit", "-q", "--no-verify", "-m", "initial")


def make_csv(path: Path, size: int) -> None:
    """A CSV of about `size` bytes of plain numeric columns, written in large chunks."""
    header = "customer_id,signup_date,segment,balance,score,visits\n"
    with open(path, "w", encoding="ascii") as f:
        f.write(header)
        written, row = len(header), 0
        while written < size:
            chunk = "".join(
                f"{r},2024-{r % 12 + 1:02d}-{r % 28 + 1:02d},s{r % 7},{r * 37 % 100000 / 100:.2f},"
                f"{r * 7919 % 1000 / 1000:.3f},{r % 97}\n" for r in range(row, row + 20000))
            f.write(chunk)
            written += len(chunk)
            row += 20000


# ---- one timed step per case -------------------------------------------------------

def commit_small(s: Setup, env: dict, i: int) -> Measured:
    target = s.path / "src" / "pkg00" / "mod_0000.py"
    with open(target, "a") as f:
        f.write(f"EDIT_{i} = {i}\n")
    git(s.path, env, "add", str(target.relative_to(s.path)))
    return measure(["git", "commit", "-q", "-m", f"edit {i}"], s.path, env)


def push_small(s: Setup, env: dict, i: int) -> Measured:
    (s.path / "README.md").write_text(f"# bench\n\npush {i}\n")
    git(s.path, env, "commit", "-q", "-am", f"push {i}")
    return measure(["git", "push", "-q", "origin", "main"], s.path, env)


def commit_csv(s: Setup, env: dict, i: int, base: Path) -> Measured:
    target = s.path / "data" / "raw" / "customers.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(base, target)
    with open(target, "a") as f:
        f.write(f"{10**9 + i},2024-01-01,s0,0.00,0.000,{i}\n")  # a new blob every time
    git(s.path, env, "add", "data/raw/customers.csv")
    return measure(["git", "commit", "-q", "-m", f"data {i}"], s.path, env)


def round_robin(setups: list[Setup], case: str, step, times: int, warmup: int) -> None:
    for i in range(warmup + times):
        for s in setups:
            m = step(s, i)
            if m.returncode != 0:
                raise RuntimeError(f"{s.label}, {case}, run {i}: exited {m.returncode}\n{m.output}")
            if i >= warmup:
                s.runs.setdefault(case, []).append(m)


# ---- checks that the hooks really ran ---------------------------------------------------

def check_hooks_live(setups: list[Setup], env: dict) -> list[str]:
    """A staged private-key file name must be refused wherever gitgov checks commits."""
    notes = []
    for s in setups:
        if s.key not in ("gitgov", "gitgov-framework"):
            continue
        (s.path / "id_rsa").write_text("not really a key\n")
        git(s.path, env, "add", "id_rsa")
        m = measure(["git", "commit", "-q", "-m", "key"], s.path, env)
        git(s.path, env, "rm", "-q", "--cached", "id_rsa")
        if m.returncode != 1:
            raise RuntimeError(f"{s.label}: a staged id_rsa was not refused (exit {m.returncode})")
        notes.append(f"{s.label}: refused a staged `id_rsa` (exit 1)")
    return notes


def check_post_commit(s: Setup, env: dict) -> str:
    """After a governed commit, gitgov's post-commit anchors the ledger head as a note."""
    note = git(s.path, env, "notes", "--ref", "gitgov", "show", "HEAD", check=False).strip()
    if not note:
        raise RuntimeError(f"{s.label}: no gitgov note on HEAD; did post-commit run?")
    return f"{s.label}: post-commit recorded the governed commit (git note on HEAD)"


def check_framework_ran(s: Setup) -> str:
    """The framework prints one status line per hook on every commit it checks."""
    name = "trivial" if s.key == "framework" else "gitgov policy check"
    for case, runs in s.runs.items():
        if not all(name in m.output and "Passed" in m.output for m in runs):
            raise RuntimeError(f"{s.label}, case {case}: a commit without the hook's status line")
    return f"{s.label}: the framework reported its hook as passed on every timed commit"


# ---- report ----------------------------------------------------------------------------

def case_table(setups: list[Setup], case: str) -> str:
    plain = median_ms(setups[0].runs[case])
    rows = []
    for s in setups:
        if case not in s.runs:
            continue
        ms = median_ms(s.runs[case])
        hooks = s.hooks
        if case == "c":
            hooks = "pre-push" if s.key == "gitgov" else "none"
        elif case == "a" and s.key == "gitgov":
            hooks += " (sh only: nothing pending)"
        over = "—" if s.key == "plain" else fmt_delta(ms - plain)
        rows.append([s.label, hooks, fmt_ms(ms), over,
                     fmt_ratio(ms / plain), fmt_ms(median_cpu_ms(s.runs[case])),
                     f"{peak_mib(s.runs[case]):.0f}"])
    return md_table(["setup", "hooks that fire", "median ms", "overhead ms", "× plain git",
                     "CPU ms", "peak RSS MiB"], rows, right=(2, 3, 4, 5, 6))


def verdict(setups: list[Setup]) -> str:
    wall = {s.key: median_ms(s.runs["a"]) for s in setups}
    cpu = {s.key: median_cpu_ms(s.runs["a"]) for s in setups}
    ours, framework = wall["gitgov"] - wall["plain"], wall["framework"] - wall["plain"]
    met = ours < 60 and ours < framework
    times = f"{fmt_ratio(framework / ours)} gitgov's" if ours > 0 else "more than gitgov's"
    return (f"Goal for (a): gitgov adds under 60 ms to plain `git commit`, and less than the "
            f"pre-commit framework does. gitgov adds {ours:.1f} ms "
            f"({cpu['gitgov'] - cpu['plain']:.1f} ms of CPU); the framework with a trivial hook "
            f"adds {framework:.1f} ms, {times}. **{'Met' if met else 'Not met'}.**")


def run(quick: bool) -> str:
    ensure_requirements("pre_commit")
    # (timed runs, warm-up runs) per case
    reps = {"a": (15, 2), "c": (7, 1), "b": (3, 1)}
    if quick:
        reps = {"a": (7, 2), "c": (3, 1), "b": (3, 1)}
    csv_mb = 10 if quick else 100
    with scratch() as tmp:
        (tmp / "home").mkdir()
        env = isolated_env(tmp / "home", PRE_COMMIT_HOME=str(tmp / "pre-commit-home"),
                           PYTHONPYCACHEPREFIX=str(tmp / "pycache"))
        setups = [Setup(k, label, hooks, tmp / k) for k, label, hooks in SETUPS]
        for s in setups:
            build_repo(s.path, env, s.key)
        measure_cases(setups, env, tmp, reps, csv_mb)
        checks = check_hooks_live(setups, env)
        checks.append(check_post_commit(setups[1], env))
        checks += [check_framework_ran(s) for s in setups[2:]]
    return report(setups, reps, csv_mb, checks)


def measure_cases(setups: list[Setup], env: dict, tmp: Path, reps: dict, csv_mb: int) -> None:
    round_robin(setups, "a", lambda s, i: commit_small(s, env, i), *reps["a"])
    pushers = [s for s in setups if s.key in ("plain", "gitgov")]
    for s in pushers:
        git(tmp, env, "init", "-q", "--bare", str(tmp / f"{s.key}.git"))
        git(s.path, env, "remote", "add", "origin", str(tmp / f"{s.key}.git"))
        git(s.path, env, "push", "-q", "--no-verify", "origin", "main")
    round_robin(pushers, "c", lambda s, i: push_small(s, env, i), *reps["c"])
    base = tmp / "base.csv"
    make_csv(base, csv_mb * 1_000_000)
    round_robin(setups, "b", lambda s, i: commit_csv(s, env, i, base), *reps["b"])


def report(setups: list[Setup], reps: dict, csv_mb: int, checks: list[str]) -> str:
    lines = [
        "## git commit and git push with hooks",
        "",
        f"A repository of {FILES:,} files; medians of repeated runs, setups taking turns. "
        "Overhead is the median wall time minus plain Git's. CPU (user + system) and peak RSS "
        "cover git and every hook it ran; CPU time is less disturbed by other load on the machine. "
        "Python bytecode caches are on, as after a normal install. "
        f"Measured on {machine_line()}.",
        "",
        f"### (a) commit touching no governed data (one small file), median of {reps['a'][0]}",
        "",
        case_table(setups, "a"),
        "",
        verdict(setups),
        "",
        f"### (b) commit staging a {csv_mb} MB governed CSV, median of {reps['b'][0]}",
        "",
        "`git add` is not timed. gitgov runs its full check here, and with its own hooks "
        "post-commit records the commit in the ledger (the framework setups run pre-commit only).",
        "",
        case_table(setups, "b"),
        "",
        f"### (c) push of one commit touching no governed data to a local bare remote, "
        f"median of {reps['c'][0]}",
        "",
        "Only gitgov installs a pre-push hook; the framework setups install none by default.",
        "",
        case_table(setups, "c"),
        "",
        "The pre-commit framework runs gitgov's check as a `repo: local` hook with "
        "`language: system` and `entry: gitgov hook-impl pre-commit --`, so that it needs no "
        "network; the published hook (`language: python`) has the same entry, run from a "
        "virtualenv the framework builds once.",
        "",
        "Checks that the hooks ran: " + "; ".join(checks) + ".",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0].rstrip(",") + " ...",
                                     epilog="Prints a markdown section; benchmarks/run.py --only commit"
                                            " writes it into RESULTS.md.")
    parser.add_argument("--quick", action="store_true",
                        help="fewer repetitions and a 10 MB CSV instead of 100 MB")
    print(run(parser.parse_args(argv).quick))


if __name__ == "__main__":
    main()
