"""The catalog and the report on a long ledger, beside the commands they build on.

    python benchmarks/bench_catalog.py [--quick]
    python benchmarks/run.py --only catalog    # the same, as a section of RESULTS.md

A generated repository (catalog_ledger.py): 200 datasets in gitgov.toml and a
ledger of 100,000 entries with 2,000 runs (--quick: 40 datasets, 20,000
entries, 400 runs). Every command runs as a child process, alternately,
medians. Goals: `gitgov catalog` < 1 s, `gitgov report` < 5 s, its HTML < 5 MB.
`gitgov verify` (which the report runs, in a second process) and a bare
sqlite3 read of the dataset_summary view are shown for reference.
"""
from __future__ import annotations

import os
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import catalog_ledger  # noqa: E402
import common  # noqa: E402

GOAL_CATALOG_S, GOAL_REPORT_S, GOAL_HTML_MB = 1.0, 5.0, 5.0
GITGOV = [sys.executable, "-m", "gitgov.core"]


def _repo(base: Path, env: dict[str, str], datasets: int, total: int, runs: int) -> tuple[Path, float, int]:
    root = base / "repo"
    root.mkdir()
    common.git(root, env, "init", "-q", "-b", "main")
    (root / "gitgov.toml").write_text(catalog_ledger.policy(datasets))
    common.call([*GITGOV, "init"], root, env)
    common.git(root, env, "add", "-A")
    common.git(root, env, "commit", "-q", "--no-verify", "-m", "policy")  # setup, not measured
    started = time.perf_counter()
    count = catalog_ledger.build(root / ".gitgov" / "ledger.db", total, datasets, runs)
    return root, time.perf_counter() - started, count


def _commands(root: Path) -> dict[str, list[str]]:
    sql = "SELECT * FROM dataset_summary"
    out = {
        "gitgov --version (CLI start)": [*GITGOV, "--version"],
        "sqlite3: SELECT * FROM dataset_summary": ["sqlite3", str(root / ".gitgov" / "ledger.db"), sql],
        "gitgov catalog": [*GITGOV, "catalog"],
        "gitgov catalog --json": [*GITGOV, "catalog", "--json"],
        "gitgov catalog show ds007": [*GITGOV, "catalog", "show", "ds007"],
        "gitgov verify": [*GITGOV, "verify"],
        "gitgov report --no-verify": [*GITGOV, "report", "--no-verify", "-o", "report.html"],
        "gitgov report": [*GITGOV, "report", "-o", "report.html"],
    }
    if shutil.which("sqlite3") is None:
        out.pop("sqlite3: SELECT * FROM dataset_summary")
    return out


def run(quick: bool) -> str:
    datasets, total, runs = (40, 20_000, 400) if quick else (200, 100_000, 2_000)
    times = 3 if quick else 5
    with common.scratch() as base:
        env = common.isolated_env(base)
        root, build_s, count = _repo(base, env, datasets, total, runs)
        commands = _commands(root)
        results: dict[str, list[common.Measured]] = {k: [] for k in commands}
        for i in range(times + 1):  # alternate, so that noise hits every command alike
            for name, cmd in commands.items():
                m = common.measure(cmd, root, env)
                if m.returncode != 0:
                    raise RuntimeError(f"{name} exited {m.returncode}:\n{m.output[-2000:]}")
                if i:
                    results[name].append(m)
        load = os.getloadavg()[0]  # the machine is shared: say how busy it was
        html_mb = (root / "report.html").stat().st_size / 1e6
        db_mb = (root / ".gitgov" / "ledger.db").stat().st_size / 1e6
    rows = [[name, common.fmt_ms(common.median_ms(r)), common.fmt_ms(common.median_cpu_ms(r))]
            for name, r in results.items()]
    catalog_s = statistics.median(m.seconds for m in results["gitgov catalog"])
    report_s = statistics.median(m.seconds for m in results["gitgov report"])
    verdicts = [("`gitgov catalog`", catalog_s, GOAL_CATALOG_S, "s"), ("`gitgov report`", report_s, GOAL_REPORT_S, "s"),
                ("report HTML", html_mb, GOAL_HTML_MB, "MB")]
    goals = "; ".join(f"{what} {value:.2f} {unit} (goal < {goal:g} {unit}): **{'met' if value < goal else 'not met'}**"
                      for what, value, goal, unit in verdicts)
    return (f"## catalog: `gitgov catalog` and `gitgov report` on a long ledger\n\n{common.machine_line()}\n\n"
            f"### {count:,} entries, {datasets} datasets, {runs:,} runs ({times} runs each, medians)\n\n"
            + common.md_table(["command", "wall ms", "CPU ms"], rows, right=(1, 2))
            + f"\n\n{goals}.\n\nThe ledger file is {db_mb:.0f} MB; generating it took {build_s:.0f} s. "
            "`gitgov report` checks the hash chain in a second process while it gathers and draws the "
            "rest, so its CPU time is the sum of both and, on two idle cores, its wall time is close to "
            f"the larger of the two. Load average at the end of the run: {load:.1f} on "
            f"{os.cpu_count()} CPUs (wall time above CPU time is time spent waiting for a core).\n")


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):
        print(__doc__.strip())  # rather than a ten-minute run of the whole benchmark
        sys.exit(0)
    print(run("--quick" in sys.argv[1:]))
