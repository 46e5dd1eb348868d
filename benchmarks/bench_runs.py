"""Runs, the object store and lineage queries, side by side with their peers.

    python benchmarks/bench_runs.py [--quick]
    python benchmarks/run.py --only runs      # the same, as a section of RESULTS.md

1. `gitgov run -- python -c pass` against plain `python -c pass` (goal: < 150 ms
   more). Both are child processes, measured alternately; medians.
2. Storing a 1 GB output (--quick: 128 MB) in the object store against `cp` of
   the same file (goal: within 1.5x; near zero with a reflink or hard link).
   The store hashes while it copies; `sha256sum` is shown as the floor of
   any content-addressed store. The file is read once first so that every
   method starts from the page cache.
3. An upstream lineage query of depth 10 on a ledger of 100,000 entries
   (goal: < 100 ms): a chain of runs, each reading the previous run's output,
   among data_added entries; timed in-process, and as `gitgov lineage`.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import common  # noqa: E402

GOAL_RUN_MS = 150
GOAL_STORE_RATIO = 1.5
GOAL_LINEAGE_MS = 100


def _project(base: Path, env: dict[str, str]) -> Path:
    root = base / "proj"
    root.mkdir()
    common.git(root, env, "init", "-q", "-b", "main")
    (root / "gitgov.toml").write_text('[datasets.raw]\npaths = ["data/**"]\n')
    common.call([sys.executable, "-m", "gitgov.core", "init"], root, env)
    common.git(root, env, "add", "-A")
    common.git(root, env, "commit", "-q", "--no-verify", "-m", "init")  # setup, not measured
    return root


def bench_run_overhead(quick: bool) -> str:
    times = 5 if quick else 15
    with common.scratch() as base:
        env = common.isolated_env(base)
        root = _project(base, env)
        plain = [sys.executable, "-c", "pass"]
        cmds = {"python -c pass": plain,
                "gitgov run -- python -c pass": [sys.executable, "-m", "gitgov.core", "run", "--", *plain],
                "gitgov --version (CLI start, for reference)": [sys.executable, "-m", "gitgov.core", "--version"]}
        results: dict[str, list] = {k: [] for k in cmds}
        for i in range(times + 1):  # alternate, so that noise hits every method alike
            for name, cmd in cmds.items():
                m = common.measure(cmd, root, env)
                if m.returncode != 0:
                    raise RuntimeError(f"{name} exited {m.returncode}:\n{m.output}")
                if i:
                    results[name].append(m)
    base_ms = common.median_ms(results["python -c pass"])
    rows = []
    for name, runs in results.items():
        ms = common.median_ms(runs)
        rows.append([name, common.fmt_ms(ms), common.fmt_delta(ms - base_ms), f"{common.peak_mib(runs):.0f}"])
    overhead = common.median_ms(results["gitgov run -- python -c pass"]) - base_ms
    verdict = "met" if overhead < GOAL_RUN_MS else "not met"
    return (f"### gitgov run overhead ({times} runs each, medians)\n\n"
            + common.md_table(["command", "ms", "vs plain", "peak MiB"], rows, right=(1, 2, 3))
            + f"\n\nOverhead {overhead:.0f} ms; goal < {GOAL_RUN_MS} ms: **{verdict}**.\n")


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_store(quick: bool) -> str:
    from gitgov.core.store import ObjectStore

    size = (128 if quick else 1024) << 20
    times = 3
    with common.scratch() as base:
        env = common.isolated_env(base)
        src = base / "model.bin"
        with open(src, "wb") as f:
            for _ in range(size >> 24):
                f.write(os.urandom(1 << 24))
        from gitgov.core.store import hash_file

        hash_file(src)  # a first read puts the file in the page cache
        how: dict[str, str] = {}

        def cp() -> float:
            seconds = _timed(lambda: common.call(["cp", str(src), str(base / "copy.bin")], base, env))
            (base / "copy.bin").unlink()
            return seconds

        def store_put(link: str) -> float:
            store = ObjectStore(base / f"objects-{link}", link=link)
            seconds = _timed(lambda: how.__setitem__(link, store.put(src).how))
            for digest in list(store.digests()):
                store.remove(digest)
            os.chmod(src, 0o644)  # a hard link made it read-only
            return seconds

        methods = {
            "cp": cp,
            "sha256sum (hash only)": lambda: _timed(lambda: common.call(["sha256sum", str(src)], base, env)),
            "gitgov store, link = copy": lambda: store_put("copy"),
            "gitgov store, link = auto": lambda: store_put("auto"),
            "gitgov store, link = hardlink": lambda: store_put("hardlink"),
        }
        results: dict[str, list[float]] = {name: [] for name in methods}
        for _ in range(times):
            for name, fn in methods.items():
                results[name].append(fn())
    base_s = statistics.median(results["cp"])
    rows = []
    for name, samples in results.items():
        seconds = statistics.median(samples)
        rows.append([name, f"{seconds * 1000:,.0f}", f"{size / seconds / 2**30:.2f}",
                     common.fmt_ratio(seconds / base_s), how.get(name.rsplit(" ", 1)[-1], "")])
    copy_ratio = statistics.median(results["gitgov store, link = copy"]) / base_s
    verdict = "met" if copy_ratio <= GOAL_STORE_RATIO else "not met"
    return (f"### Storing a {size >> 20} MiB output ({times} runs each, medians, page cache warm)\n\n"
            + common.md_table(["method", "ms", "GiB/s", "vs cp", "stored as"], rows, right=(1, 2, 3))
            + f"\n\nA full copy into the store costs {copy_ratio:.2f}x `cp`, because it also hashes every"
            f" byte; goal within {GOAL_STORE_RATIO}x: **{verdict}**. With a hard link (or a reflink on"
            " btrfs/xfs) the store adds next to nothing to the hash that a run computes anyway.\n")


def _build_ledger(path: Path, runs: int, total: int) -> str:
    """A ledger of ``total`` entries: a chain of ``runs`` runs among data_added entries."""
    from gitgov.core.ledger import Entry, open_ledger

    entries: list = []
    for i in range(runs):
        src, dst = f"data:data/step{i}.csv@{i:064x}", f"data:data/step{i + 1}.csv@{i + 1:064x}"
        run = f"run:{i:08x}-0000-4000-8000-000000000000"
        entries.append(Entry(kind="lineage", subject=run, payload={
            "nodes": [{"id": run, "kind": "run", "label": f"step {i}"},
                      {"id": src, "kind": "data", "path": f"data/step{i}.csv", "sha256": f"{i:064x}"},
                      {"id": dst, "kind": "data", "path": f"data/step{i + 1}.csv", "sha256": f"{i + 1:064x}"}],
            "edges": [{"src": src, "dst": run, "relation": "input"}, {"src": run, "dst": dst, "relation": "output"}]}))
    filler = total - runs
    entries += [Entry(kind="data_added", subject=f"data/raw/part-{i}.csv",
                      payload={"path": f"data/raw/part-{i}.csv", "dataset": "raw", "blob": f"{i:040x}",
                               "stage": "staged", "verdict": "pass", "findings": []}) for i in range(filler)]
    # interleave, so that the lineage entries are spread over the whole journal
    step = max(1, len(entries) // runs)
    ordered = sorted(range(len(entries)), key=lambda k: (k * step % len(entries)) if k < runs else k)
    with open_ledger(path, create=True) as ledger:
        batch = [entries[k] for k in ordered]
        for start in range(0, len(batch), 5000):
            ledger.append(batch[start:start + 5000])
    return f"data/step{runs}.csv"


def bench_lineage(quick: bool) -> str:
    from gitgov.core.ledger import open_ledger
    from gitgov.core.lineage import walk

    total, runs, times = 100_000, 2_000, (10 if quick else 30)
    with common.scratch() as base:
        env = common.isolated_env(base)
        root = _project(base, env)
        ledger_path = root / ".gitgov" / "ledger.db"
        ledger_path.unlink()
        started = time.perf_counter()
        last = _build_ledger(ledger_path, runs, total)
        build_s = time.perf_counter() - started
        with open_ledger(ledger_path) as ledger:
            count = ledger.head()[0]
            start = ledger.db.execute("SELECT id FROM lineage_nodes WHERE path = ?", (last,)).fetchone()[0]
            samples, edges = [], []
            for _ in range(times):
                t = time.perf_counter()
                _nodes, found = walk(ledger.db, [start], "upstream", 10)
                samples.append((time.perf_counter() - t) * 1000)
                edges.append(len(found))
        cli = [common.measure([sys.executable, "-m", "gitgov.core", "lineage", f"data:{last}@{runs:064x}",
                               "--upstream", "--depth", "10", "--format", "json"], root, env)
               for _ in range(max(3, times // 5))]
    query_ms = statistics.median(samples)
    verdict = "met" if query_ms < GOAL_LINEAGE_MS else "not met"
    rows = [["query (recursive SQL, in-process)", f"{query_ms:.2f}", str(edges[0])],
            ["`gitgov lineage --depth 10 --format json` (whole command)", common.fmt_ms(common.median_ms(cli)), ""]]
    return (f"### Lineage query, depth 10, on a ledger of {count:,} entries ({times} queries, medians)\n\n"
            + common.md_table(["what", "ms", "edges found"], rows, right=(1, 2))
            + f"\n\nBuilding the ledger took {build_s:.1f} s. Query {query_ms:.2f} ms; goal < {GOAL_LINEAGE_MS} ms:"
            f" **{verdict}**.\n")


def run(quick: bool) -> str:
    parts = ["## runs: `gitgov run`, the object store, lineage queries", "", common.machine_line(), ""]
    for bench in (bench_run_overhead, bench_store, bench_lineage):
        try:
            parts += [bench(quick), ""]
        except Exception as exc:  # one broken part must not hide the others' figures
            parts += [f"### {bench.__name__}\n\n**Failed:** {type(exc).__name__}: {str(exc)[-800:]}\n", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    print(run("--quick" in sys.argv[1:]))
