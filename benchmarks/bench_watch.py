"""The watch daemon: close-to-ledger latency, idle CPU, and the reconciliation scan.

    python benchmarks/bench_watch.py [--quick]
    python benchmarks/run.py --only watch

- Latency: the time from a file being closed to its entry in the ledger, p50
  and p99, for single files (one at a time) and for a burst of 10,000 (2,000
  with --quick), at the default debounce (500 ms) and at 50 ms. A poller
  reads the ledger every few ms; latency = first seen - closed. The built-in
  data checks (validation, privacy) cost tens of ms a file; the burst rows run
  without them ([plugins] enable = secrets, alerts), one single-file row with all.
- Idle CPU: user+system CPU time of the daemon process over 60 s (10 s
  with --quick) while 1,000 recorded files sit unchanged.
- Reconciliation: the scan the daemon runs at start, after an overflow and
  periodically, over 100,000 unchanged files (20,000 with --quick); goal < 2 s
  without reading any file's contents. Next to it `dvc status` on the same
  files after `dvc add`, if dvc is installed (benchmarks/requirements.txt).
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import fmt_ms, isolated_env, machine_line, md_table, scratch  # noqa: E402

POLICY = """\
[datasets.raw]
paths = ["data/raw/*.csv"]

[watch]
debounce_ms = {debounce}
rescan_seconds = 3600
{plugins}"""
ONLY_DAEMON = '\n[plugins]\nenable = ["secrets", "alerts"]\n'
SCAN_GOAL_S = 2.0


def _gitgov(root: Path, env: dict, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "gitgov.core", *args], cwd=root, env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"gitgov {' '.join(args)}: {proc.stdout}{proc.stderr}")
    return proc.stdout


def _repo(base: Path, env: dict, debounce: int, all_plugins: bool, name: str) -> Path:
    root = base / f"{name}-{debounce}-{int(all_plugins)}"
    (root / "data" / "raw").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, env=env, check=True)
    (root / "gitgov.toml").write_text(POLICY.format(debounce=debounce, plugins="" if all_plugins else ONLY_DAEMON))
    _gitgov(root, env, "init")
    return root


def _daemon_pid(root: Path) -> int:
    from gitgov.core.watch import daemon

    return daemon.holder(daemon.Files.of(root / ".gitgov"))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# ---- latency ----------------------------------------------------------------------------

class Poller:
    """Notes when each path first shows up in the ledger."""

    def __init__(self, root: Path, interval: float):
        self.db = sqlite3.connect(root / ".gitgov" / "ledger.db", check_same_thread=False, timeout=60)
        self.interval = interval
        self.seen: dict[str, float] = {}
        self.last = self.db.execute("SELECT coalesce(max(seq), 0) FROM journal").fetchone()[0]
        self.done = threading.Event()

    def poll(self) -> None:
        rows = self.db.execute("SELECT seq, path FROM dataset_versions WHERE seq > ?", (self.last,)).fetchall()
        now = time.time()
        for seq, path in rows:
            self.seen.setdefault(path, now)
            self.last = max(self.last, seq)

    def loop(self) -> None:
        while not self.done.is_set():
            self.poll()
            time.sleep(self.interval)
        self.poll()


def _write(root: Path, name: str, body: str) -> float:
    with open(root / "data" / "raw" / name, "w") as f:
        f.write(body)
    return time.time()


def single_latency(root: Path, samples: int) -> list[float]:
    poller = Poller(root, 0.002)
    thread = threading.Thread(target=poller.loop, daemon=True)
    thread.start()
    out = []
    for i in range(samples):
        name = f"single{i:04d}.csv"
        closed = _write(root, name, f"x\n{i}\n")
        deadline = time.time() + 30
        while name and f"data/raw/{name}" not in poller.seen and time.time() < deadline:
            time.sleep(0.002)
        out.append(poller.seen[f"data/raw/{name}"] - closed)
        time.sleep(0.2)
    poller.done.set()
    thread.join()
    return out


def burst_latency(root: Path, files: int) -> tuple[list[float], float]:
    poller = Poller(root, 0.02)
    thread = threading.Thread(target=poller.loop, daemon=True)
    thread.start()
    closed = {}
    started = time.time()
    for i in range(files):
        name = f"burst{i:06d}.csv"
        closed[f"data/raw/{name}"] = _write(root, name, f"x\n{i}\n")
    deadline = time.time() + 900
    while len(poller.seen) < files and time.time() < deadline:
        time.sleep(0.1)
    total = time.time() - started
    poller.done.set()
    thread.join()
    return [poller.seen[p] - closed[p] for p in closed if p in poller.seen], total


def latency_section(base: Path, env: dict, quick: bool) -> str:
    files = 2_000 if quick else 10_000
    samples = 8 if quick else 25
    rows = []
    for debounce, all_plugins, burst in ((500, True, False), (500, False, True), (50, False, True)):
        root = _repo(base, env, debounce, all_plugins, "latency")
        _gitgov(root, env, "watch", "start", "--wait")
        try:
            single = single_latency(root, samples)
            label = f"debounce {debounce} ms, {'all built-in plugins' if all_plugins else 'daemon only'}"
            rows.append([label, f"single file (n={samples})", fmt_ms(_pct(single, .5) * 1000),
                         fmt_ms(_pct(single, .99) * 1000), "-"])
            if burst:
                lat, total = burst_latency(root, files)
                rows.append([label, f"burst of {files:,}", fmt_ms(_pct(lat, .5) * 1000),
                             fmt_ms(_pct(lat, .99) * 1000), f"{len(lat):,} in {total:.1f} s"])
        finally:
            _gitgov(root, env, "watch", "stop")
    return ("### Close-to-ledger latency\n\n"
            + md_table(["setting", "files", "p50 ms", "p99 ms", "recorded"], rows, right=(2, 3)))


# ---- idle CPU -----------------------------------------------------------------------------

def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def idle_section(base: Path, env: dict, quick: bool) -> str:
    seconds = 10 if quick else 60
    root = _repo(base, env, 500, False, "idle")
    for i in range(1000):
        (root / "data" / "raw" / f"idle{i:04d}.csv").write_text(f"x\n{i}\n")
    _gitgov(root, env, "watch", "start", "--wait")
    try:
        pid = _daemon_pid(root)
        time.sleep(2)
        before = _cpu_seconds(pid)
        time.sleep(seconds)
        used = _cpu_seconds(pid) - before
        rss = _rss_mib(pid)
    finally:
        _gitgov(root, env, "watch", "stop")
    row = [f"{seconds} s idle, 1,000 files watched", f"{used * 1000:.0f}", f"{used / seconds * 100:.2f} %",
           f"{rss:.0f}"]
    return ("### Idle daemon\n\n" + md_table(["run", "CPU ms", "of one core", "RSS MiB"], [row], right=(1, 2, 3))
            + f"\n\nCPU time is sampled from /proc at {1 / os.sysconf('SC_CLK_TCK') * 1000:.0f} ms resolution.")


# ---- reconciliation scan ----------------------------------------------------------------------

def _fill(root: Path, files: int) -> None:
    """N recorded, unchanged files: the state the daemon leaves after recording them."""
    from gitgov.core.ledger import Entry, open_ledger
    from gitgov.core.watch.cache import HashCache, cache_path
    from gitgov.core.watch.hashing import hash_file

    raw = root / "data" / "raw"
    for i in range(files):
        (raw / f"s{i:06d}.csv").write_text(f"x\n{i}\n")
    cache = HashCache(cache_path(root / ".gitgov"))
    with open_ledger(root / ".gitgov" / "ledger.db") as ledger:
        for start in range(0, files, 5000):
            batch = [(f"data/raw/s{i:06d}.csv", hash_file(raw / f"s{i:06d}.csv")) for i in range(start, min(files, start + 5000))]
            ledger.append([Entry(kind="data_added", subject=p, source="watcher", payload={
                "path": p, "dataset": "raw", "sha256": h.sha256, "size": h.stat.size, "stage": "observed",
                "blob": None, "commit": None, "findings": [], "verdict": "pass"}) for p, h in batch])
            cache.update(put=batch)
    cache.close()


def scan_once(root: Path) -> tuple[float, float, int, int]:
    """(seconds of a periodic rescan, seconds of open + first scan, files, files read), through
    the daemon's own Engine; files read are counted at the hashing function the engine calls."""
    import logging

    from gitgov.core.watch import engine as engine_mod

    reads: list[str] = []
    real = engine_mod.hash_file
    engine_mod.hash_file = lambda p: reads.append(p) or real(p)
    eng = engine_mod.Engine(root, logging.getLogger("bench.watch"))
    try:
        started = time.perf_counter()
        eng.open()  # plugins, policy, ledger, and the hash cache loaded into memory
        first = eng.rescan("start")
        cold = time.perf_counter() - started
        started = time.perf_counter()
        plan = eng.rescan("periodic")
        warm = time.perf_counter() - started
    finally:
        eng.close()
        engine_mod.hash_file = real
    assert first.changes == plan.changes == 0, (first, plan)
    return warm, cold, plan.unchanged, len(reads)


def _dvc() -> list[str] | None:
    found = shutil.which("dvc", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    return [found] if found else None


def dvc_status(root: Path, env: dict, repeat: int) -> float | None:
    dvc = _dvc()
    if dvc is None:
        return None
    for args in (["init", "-q"], ["add", "-q", "data/raw"]):
        subprocess.run(dvc + args, cwd=root, env=env, check=True, capture_output=True)
    times = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        subprocess.run(dvc + ["status", "-q"], cwd=root, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:])


def scan_section(base: Path, env: dict, quick: bool) -> str:
    files = 20_000 if quick else 100_000
    repeat = 3 if quick else 5
    root = _repo(base, env, 500, False, "scan")
    _fill(root, files)
    runs = [scan_once(root) for _ in range(repeat)]
    warm = statistics.median(r[0] for r in runs)
    cold = statistics.median(r[1] for r in runs)
    goal = SCAN_GOAL_S * files / 100_000
    rows = [["gitgov rescan in a running daemon (periodic, after an overflow)", f"{runs[0][2]:,}",
             fmt_ms(warm * 1000), str(max(r[3] for r in runs)), "yes" if warm < goal else "no"],
            ["gitgov first scan at start (incl. loading plugins and the hash cache)", f"{runs[0][2]:,}",
             fmt_ms(cold * 1000), str(max(r[3] for r in runs)), "yes" if cold < goal else "no"]]
    median = warm
    status = dvc_status(root, env, repeat)
    note = ""
    if status is None:
        note = "\n\n`dvc` is not installed here (`pip install -r benchmarks/requirements.txt`): no peer row."
    else:
        version = subprocess.run(_dvc() + ["--version"], capture_output=True, text=True).stdout.strip()
        rows.append([f"dvc status {version} (nothing changed, after dvc add)", f"{files:,}", fmt_ms(status * 1000),
                     "-", "-"])
        note = f"\n\ngitgov's scan is {status / median:.1f}× faster than `dvc status` here (process start included for dvc)."
    return ("### Reconciliation scan of unchanged files\n\n"
            + md_table(["what", "files", "median ms", "files read", f"under {goal:g} s"], rows, right=(1, 2, 3))
            + note)


def run(quick: bool) -> str:
    with scratch("gitgov-bench-watch-") as base:
        env = isolated_env(base / "home")
        (base / "home").mkdir()
        os.environ.update({k: v for k, v in env.items() if k.startswith("GIT_")})
        parts = [latency_section(base, env, quick), idle_section(base, env, quick), scan_section(base, env, quick)]
    return (f"## watch\n\n{machine_line()}{' (--quick)' if quick else ''}\n\n" + "\n\n".join(parts) + "\n")


if __name__ == "__main__":
    print(run("--quick" in sys.argv[1:]))
