"""Ledger append throughput, side by side with the alternatives.

    python benchmarks/bench_ledger.py [--json] [--quick] [--n 20000] [--per-row 2000] [--repeat 5] [--procs 4]
    python benchmarks/run.py --only ledger      # the same, as a section of RESULTS.md

Each method writes to a fresh file in a temporary directory (WAL,
synchronous=NORMAL, as the ledger does); repetitions go round-robin over the
methods and the table shows medians. Entries are built before the clock
starts, and the garbage collector runs once before it, so that a collection
the set-up made due is not timed; import and ledger-creation time are excluded.

Methods:
  floor          plain sqlite3 executemany of ready-made rows, no chain, no index
  gitgov batch   Ledger.append(batch) of pii_classification entries (no projector): canonical JSON,
                 hash chain, Recorded objects, journal index and triggers, one transaction
  gitgov batch + projections   data_added entries (dataset tables, 10% with a finding)
  sqlite-utils   the same chain computed in Python, insert_all into a bare table
  per-entry      Ledger.append([entry]) in a loop: one transaction per entry
  N processes    N processes at once, each one transaction per entry (total rate)
"""
from __future__ import annotations

import argparse
import gc
import json
import multiprocessing as mp
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from gitgov.core.ledger import GENESIS, Entry, canonical_json, entry_id, open_ledger

GOAL_BATCH = 50_000
GOAL_PROCS = 2_000
COLUMNS = "seq, id, prev, time, kind, actor, source, subject, payload"


def payload(i: int, with_findings: bool = False) -> dict:
    """A data_added payload (~250 bytes of JSON); with_findings: one finding every 10 entries."""
    findings = [{"severity": "warning", "code": "pii.email", "message": "column email looks like PII",
                 "path": None, "plugin": "privacy", "hook": "data_added", "details": {}}
                ] if with_findings and i % 10 == 0 else []
    return {"path": f"data/raw/part-{i}.csv", "dataset": f"raw{i % 7}", "blob": f"{i:040x}",
            "sha256": f"{i:064x}", "size": 1000 + i, "stage": "staged", "commit": None,
            "findings": findings, "verdict": "pass"}


JOURNAL_ONLY = "pii_classification"  # routine (no partial index), no projector: what privacy writes per file


def entries(n: int, kind: str = JOURNAL_ONLY) -> list[Entry]:
    """JOURNAL_ONLY entries touch the journal alone (no findings); data_added is projected."""
    return [Entry(kind, f"data/raw/part-{i}.csv", payload(i, kind == "data_added"),
                  actor="Ann <ann@example.com>", source="hook") for i in range(n)]


def connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    return db


def settled() -> float:
    """The clock, read after a full collection: building the entries leaves the
    collector a pass due, which would otherwise land on whatever is timed next."""
    gc.collect()
    return time.perf_counter()


# --- methods: each takes a fresh path and returns (entries written, seconds) --

def floor(path: Path, n: int) -> tuple[int, float]:
    db = connect(path)
    db.execute(f"CREATE TABLE journal ({COLUMNS})")
    rows = [(i + 1, "0" * 64, "0" * 64, "2024-01-01T00:00:00.000000Z", JOURNAL_ONLY, "ann", "hook",
             f"data/raw/part-{i}.csv", json.dumps(payload(i))) for i in range(n)]
    start = settled()
    db.execute("BEGIN IMMEDIATE")
    db.executemany(f"INSERT INTO journal VALUES ({','.join('?' * 9)})", rows)
    db.execute("COMMIT")
    return n, time.perf_counter() - start


def gitgov_batch(path: Path, n: int, kind: str = JOURNAL_ONLY) -> tuple[int, float]:
    batch = entries(n, kind)
    with open_ledger(path, create=True) as led:
        start = settled()
        led.append(batch)
        elapsed = time.perf_counter() - start
        assert led.head()[0] == n
    return n, elapsed


def gitgov_batch_projected(path: Path, n: int) -> tuple[int, float]:
    return gitgov_batch(path, n, kind="data_added")


def sqlite_utils_chain(path: Path, n: int) -> tuple[int, float]:
    import sqlite_utils  # lazily: only this comparison needs it

    db = sqlite_utils.Database(connect(path))
    db["journal"].create({"seq": int, "id": str, "prev": str, "time": str, "kind": str, "actor": str,
                          "source": str, "subject": str, "payload": str}, pk="seq")
    batch = entries(n)
    start = settled()
    now, prev, docs = "2024-01-01T00:00:00.000000Z", GENESIS, []
    for seq, e in enumerate(batch, start=1):
        text = canonical_json(e.payload).decode()
        rid = entry_id(seq, prev, now, e.kind, e.actor, e.source, e.subject, text)
        docs.append({"seq": seq, "id": rid, "prev": prev, "time": now, "kind": e.kind, "actor": e.actor,
                     "source": e.source, "subject": e.subject, "payload": text})
        prev = rid
    with db.conn:  # one transaction, like the others
        db["journal"].insert_all(docs, batch_size=1000)
    return n, time.perf_counter() - start


def per_entry(path: Path, n: int) -> tuple[int, float]:
    batch = entries(n, "data_added")
    with open_ledger(path, create=True) as led:
        start = settled()
        for e in batch:
            led.append([e])
        return n, time.perf_counter() - start


def _proc_worker(path: str, n: int, offset: int, barrier, out) -> None:
    batch = entries(n + offset, "data_added")[offset:]
    with open_ledger(Path(path)) as led:
        gc.collect()
        barrier.wait()
        start = time.monotonic()  # CLOCK_MONOTONIC: comparable across processes
        for e in batch:
            led.append([e])
        out.put((start, time.monotonic()))


def processes(path: Path, n: int, procs: int) -> tuple[int, float]:
    open_ledger(path, create=True).close()
    ctx = mp.get_context("spawn")  # no inherited SQLite handles
    barrier, out = ctx.Barrier(procs), ctx.Queue()
    workers = [ctx.Process(target=_proc_worker, args=(str(path), n, k * n, barrier, out)) for k in range(procs)]
    for w in workers:
        w.start()
    spans = [out.get(timeout=600) for _ in workers]
    for w in workers:
        w.join()
        if w.exitcode:
            raise SystemExit(f"worker failed with exit code {w.exitcode}")
    with open_ledger(path) as led:
        report = led.verify()
        assert report.ok and report.count == n * procs, report
    return n * procs, max(e for _, e in spans) - min(s for s, _ in spans)


# --- harness ---------------------------------------------------------------

def once(method: Callable[[Path], tuple[int, float]]) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as tmp:
        return method(Path(tmp) / "ledger.db")


def summary(name: str, runs: list[tuple[int, float]], goal: int | None) -> dict:
    rates = [count / seconds for count, seconds in runs]
    return {"method": name, "entries": runs[0][0], "median_s": statistics.median(s for _, s in runs),
            "entries_per_s": statistics.median(rates), "min_per_s": min(rates), "max_per_s": max(rates),
            "goal_per_s": goal}


def measure(n: int, m: int, procs: int, repeat: int) -> list[dict]:
    """n entries per batched run, m per one-transaction-per-entry run."""
    plan = [
        ("floor: sqlite3 executemany, no chain", lambda p: floor(p, n), None),
        ("gitgov append batch (chain)", lambda p: gitgov_batch(p, n), GOAL_BATCH),
        ("gitgov append batch (chain + projections)", lambda p: gitgov_batch_projected(p, n), None),
        ("sqlite-utils insert_all (chain)", lambda p: sqlite_utils_chain(p, n), None),
        ("gitgov one transaction per entry, 1 process", lambda p: per_entry(p, m), None),
        (f"gitgov one transaction per entry, {procs} processes",
         lambda p: processes(p, m // procs, procs), GOAL_PROCS),
    ]
    runs: list[list[tuple[int, float]]] = [[] for _ in plan]
    for rep in range(repeat):  # round-robin, so drift in machine load hits every method alike
        for i, (_name, method, _goal) in enumerate(plan):
            runs[i].append(once(method))
        print(f"  repetition {rep + 1}/{repeat} done", file=sys.stderr)
    results = [summary(name, r, goal) for (name, _m, goal), r in zip(plan, runs)]
    base = results[0]["entries_per_s"]
    for r in results:
        r["vs_floor"] = r["entries_per_s"] / base
    return results


def table(results: list[dict], repeat: int) -> str:
    lines = ["## Ledger appends", "",
             f"Medians of {repeat} runs; Python {platform.python_version()},"
             f" SQLite {sqlite3.sqlite_version}, {mp.cpu_count()} CPUs."
             " `python benchmarks/bench_ledger.py` (see its docstring for the methods).", "",
             "| method | entries | median s | entries/s (min-max) | vs floor | goal |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in results:
        goal = "" if r["goal_per_s"] is None else (
            f"{r['goal_per_s']:,} {'met' if r['entries_per_s'] >= r['goal_per_s'] else 'MISSED'}")
        lines.append(f"| {r['method']} | {r['entries']:,} | {r['median_s']:.3f} |"
                     f" {r['entries_per_s']:,.0f} ({r['min_per_s']:,.0f}-{r['max_per_s']:,.0f}) |"
                     f" {r['vs_floor']:.2f} | {goal} |")
    return "\n".join(lines)


QUICK = {"n": 5_000, "per_row": 800, "repeat": 3}


def run(quick: bool) -> str:
    """The interface of benchmarks/run.py: a markdown section."""
    size = QUICK if quick else {"n": 20_000, "per_row": 2_000, "repeat": 5}
    return table(measure(size["n"], size["per_row"], 4, size["repeat"]), size["repeat"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument("--n", type=int, default=20_000, help="entries per batched run")
    parser.add_argument("--per-row", type=int, default=2_000, help="entries per one-transaction-per-entry run")
    parser.add_argument("--procs", type=int, default=4, help="concurrent processes")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions (median reported)")
    parser.add_argument("--quick", action="store_true", help=f"smaller: {QUICK}")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.per_row, args.repeat = QUICK["n"], QUICK["per_row"], QUICK["repeat"]
    results = measure(args.n, args.per_row, args.procs, args.repeat)
    if args.json:
        print(json.dumps({"python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
                          "cpus": mp.cpu_count(), "repeat": args.repeat, "results": results}, indent=2))
    else:
        print(table(results, args.repeat))


if __name__ == "__main__":
    main()
