"""Stress the watch daemon: bursts, kill -9, changes while stopped, overflow, hooks, concurrent starts.

    python benchmarks/stress_watch.py [--files 10000] [--kills 3] [--starts 20] [--quick] [--real-overflow]

Each scenario runs the real daemon (`gitgov watch start`, a child process) in
its own temporary repository and checks the ledger afterwards: every file
recorded exactly once, nothing lost, the hash chain intact. It prints a
markdown table and exits 1 if any scenario failed. tests/test_watch_daemon.py
runs the same scenario functions at a reduced size.

--real-overflow lowers /proc/sys/fs/inotify/max_queued_events to 64 while
the daemon starts (root only; the old value is put back at once), so the
kernel's queue really overflows during the burst. Without it the overflow is
simulated: events are dropped and watchdog's own overflow line is logged.

The built-in data checks (validation, privacy) cost tens of ms a file; they
are disabled here (`[plugins] enable`) so that the numbers are the daemon's.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

POLICY = """\
[datasets.raw]
paths = ["data/raw/*.csv"]

[datasets.commits]
paths = ["data/commits/*.csv"]

[watch]
debounce_ms = {debounce}
rescan_seconds = 3600

[plugins]
enable = ["secrets", "alerts"]
"""
QUEUE_KNOB = Path("/proc/sys/fs/inotify/max_queued_events")


# ---- plumbing ---------------------------------------------------------------------

def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GITGOV_"))}
    env.update({"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
                "GIT_AUTHOR_NAME": "Stress", "GIT_AUTHOR_EMAIL": "stress@example.com",
                "GIT_COMMITTER_NAME": "Stress", "GIT_COMMITTER_EMAIL": "stress@example.com"})
    return env


def run(root: Path, env: dict, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "gitgov.core", *cmd[1:]] if cmd[0] == "gitgov" else list(cmd)
    proc = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stdout}{proc.stderr}")
    return proc


def make_repo(base: Path, env: dict, debounce: int = 500) -> Path:
    root = base / "repo"
    root.mkdir(parents=True)
    run(root, env, "git", "init", "-q", "-b", "main")
    (root / "gitgov.toml").write_text(POLICY.format(debounce=debounce))
    (root / "data" / "raw").mkdir(parents=True)
    run(root, env, "gitgov", "init")
    return root


def query(root: Path, sql: str) -> int:
    with sqlite3.connect(root / ".gitgov" / "ledger.db", timeout=60) as db:
        return db.execute(sql).fetchone()[0]


def observed(root: Path) -> tuple[int, int]:
    """(versions recorded by the watcher, distinct paths among them)."""
    return (query(root, "SELECT count(*) FROM dataset_versions WHERE stage = 'observed' AND change = 'added'"),
            query(root, "SELECT count(DISTINCT path) FROM dataset_versions WHERE stage = 'observed'"
                        " AND change = 'added'"))


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def holder(root: Path) -> int | None:
    from gitgov.core.watch import daemon

    return daemon.holder(daemon.Files.of(root / ".gitgov"))


def drop(root: Path, count: int, prefix: str = "f", start: int = 0, folder: str = "data/raw") -> None:
    for i in range(start, start + count):
        with open(root / folder / f"{prefix}{i:06d}.csv", "w") as f:
            f.write(f"x\n{i}\n")


def verified(root: Path, env: dict) -> bool:
    return run(root, env, "gitgov", "verify", check=False).returncode == 0


def stop(root: Path, env: dict) -> None:
    run(root, env, "gitgov", "watch", "stop", check=False)
    pid = holder(root)
    if pid and pid > 0:
        os.kill(pid, signal.SIGKILL)


# ---- scenarios ------------------------------------------------------------------------

def burst(root: Path, env: dict, files: int, timeout: float = 600) -> dict:
    """A burst of files into a watched folder: exactly `files` versions."""
    run(root, env, "gitgov", "watch", "start", "--wait")
    try:
        started = time.perf_counter()
        drop(root, files)
        wait_for(lambda: observed(root)[0] >= files, timeout)
        seconds = time.perf_counter() - started
        time.sleep(0.5)  # anything recorded twice would show up now
    finally:
        stop(root, env)
    count, distinct = observed(root)
    return {"ok": count == files and distinct == files and verified(root, env),
            "detail": f"{count} versions, {distinct} paths", "seconds": seconds}


def kill_restart(root: Path, env: dict, files: int, kills: int, seed: int = 7, timeout: float = 600) -> dict:
    """kill -9 at random points during a burst, restart each time; then everything, once."""
    rng = random.Random(seed)
    run(root, env, "gitgov", "watch", "start", "--wait")
    writer = threading.Thread(target=drop, args=(root, files))
    started = time.perf_counter()
    writer.start()
    restarts = 0
    try:
        for _ in range(kills):
            time.sleep(rng.uniform(0.05, 0.6))
            pid = holder(root)
            if pid and pid > 0:
                os.kill(pid, signal.SIGKILL)
                wait_for(lambda: holder(root) is None, 10)
            proc = run(root, env, "gitgov", "watch", "start")
            restarts += "started" in proc.stdout
        writer.join()
        if holder(root) is None:
            run(root, env, "gitgov", "watch", "start")
        wait_for(lambda: observed(root)[0] >= files, timeout)
        seconds = time.perf_counter() - started
        time.sleep(0.5)
    finally:
        writer.join()
        stop(root, env)
    count, distinct = observed(root)
    return {"ok": count == files and distinct == files and restarts == kills and verified(root, env),
            "detail": f"{kills} kill -9, {restarts} clean restarts, {count} versions, {distinct} paths, chain verified",
            "seconds": seconds}


def stopped_changes(root: Path, env: dict, added: int = 500, modified: int = 200, deleted: int = 100) -> dict:
    """Changes made while the daemon was stopped are all recorded by one start."""
    base = modified + deleted
    drop(root, base, prefix="base")
    run(root, env, "gitgov", "watch", "start", "--wait")
    stop(root, env)
    before = query(root, "SELECT count(*) FROM dataset_versions")
    drop(root, added, prefix="new")
    for i in range(modified):
        with open(root / f"data/raw/base{i:06d}.csv", "a") as f:
            f.write("changed\n")
    for i in range(modified, base):
        os.unlink(root / f"data/raw/base{i:06d}.csv")
    started = time.perf_counter()
    run(root, env, "gitgov", "watch", "start", "--wait")
    want = added + modified + deleted
    wait_for(lambda: query(root, "SELECT count(*) FROM dataset_versions") - before >= want, 120)
    seconds = time.perf_counter() - started
    stop(root, env)
    new = query(root, "SELECT count(*) FROM dataset_versions") - before
    gone = query(root, "SELECT count(*) FROM dataset_versions WHERE change = 'removed'")
    return {"ok": new == want and gone == deleted and verified(root, env),
            "detail": f"{new} entries ({added} added, {modified} modified, {gone} removed)", "seconds": seconds}


def overflow_simulated(root: Path, files: int) -> dict:
    """Events lost, then watchdog's overflow line: the rescan finds every file (in this process)."""
    import logging

    from gitgov.core.session import Session
    from gitgov.core.watch.engine import Engine

    class Dropping(Engine):
        dropping = True

        def hint(self, item):
            if not (self.dropping and item[0] in ("file", "created", "closed")):
                super().hint(item)

    lines: list[str] = []
    log = logging.getLogger("stress.overflow")
    log.addHandler(type("H", (logging.Handler,), {"emit": lambda self, r: lines.append(r.getMessage())})())
    log.setLevel(logging.INFO)
    eng = Dropping(root, log, session_factory=lambda r: Session.open(r))
    thread = threading.Thread(target=eng.serve, daemon=True)
    thread.start()
    eng.ready.wait(60)
    drop(root, files, prefix="lost")
    time.sleep(1.0)
    lost = observed(root)[0]
    eng.dropping = False
    started = time.perf_counter()
    logging.getLogger("watchdog.observers.inotify_c").warning("Inotify queue overflowed; filesystem events were lost")
    wait_for(lambda: observed(root)[0] >= files, 300)
    seconds = time.perf_counter() - started
    eng.stop()
    thread.join(60)
    count, distinct = observed(root)
    rescanned = any(line.startswith("rescan (the watcher's event queue overflowed)") for line in lines)
    return {"ok": lost == 0 and count == files == distinct and rescanned,
            "detail": f"{files} events dropped, rescan logged: {rescanned}, {count} versions", "seconds": seconds}


def overflow_real(root: Path, env: dict, files: int) -> dict:
    """The kernel's inotify queue really overflows (needs root to lower the limit briefly)."""
    old = QUEUE_KNOB.read_text().strip()
    QUEUE_KNOB.write_text("64\n")
    try:
        run(root, env, "gitgov", "watch", "start", "--wait")
    finally:
        QUEUE_KNOB.write_text(old + "\n")  # new inotify instances get the usual limit again
    try:
        started = time.perf_counter()
        drop(root, files)
        wait_for(lambda: observed(root)[0] >= files, 600)
        seconds = time.perf_counter() - started
    finally:
        stop(root, env)
    count, distinct = observed(root)
    log = (root / ".gitgov" / "watch.log").read_text()
    rescans = log.count("rescan (the watcher's event queue overflowed)")
    return {"ok": count == files == distinct and rescans > 0,
            "detail": f"{rescans} overflow rescan(s), {count} versions", "seconds": seconds}


def hooks_and_daemon(root: Path, env: dict, files: int, commits: int) -> dict:
    """Commit hooks and the daemon write the ledger at once: nothing lost, never "locked"."""
    run(root, env, "gitgov", "watch", "start", "--wait")
    run(root, env, "git", "add", "gitgov.toml", ".gitignore")
    run(root, env, "git", "commit", "-q", "-m", "policy")
    (root / "data" / "commits").mkdir()
    outputs = []
    dropper = threading.Thread(target=drop, args=(root, files))
    started = time.perf_counter()
    dropper.start()
    try:
        for i in range(commits):
            (root / f"data/commits/c{i}.csv").write_text(f"n\n{i}\n")
            run(root, env, "git", "add", f"data/commits/c{i}.csv")
            proc = run(root, env, "git", "commit", "-m", f"c{i}", check=False)
            outputs.append(proc.stdout + proc.stderr + f"exit {proc.returncode}")
        dropper.join()
        wait_for(lambda: query(root, "SELECT count(*) FROM dataset_versions WHERE path LIKE 'data/raw/%'")
                 >= files, 300)
        seconds = time.perf_counter() - started
    finally:
        dropper.join()
        stop(root, env)
    raw = query(root, "SELECT count(*) FROM dataset_versions WHERE path LIKE 'data/raw/%'")
    made = query(root, "SELECT count(*) FROM commits")
    text = "\n".join(outputs) + (root / ".gitgov" / "watch.log").read_text()
    locked = "locked" in text
    return {"ok": raw == files and made == commits and not locked and verified(root, env)
            and all(o.endswith("exit 0") for o in outputs),
            "detail": f"{raw} files and {made} commits recorded; 'locked' seen: {locked}", "seconds": seconds}


def concurrent_starts(root: Path, env: dict, starts: int) -> dict:
    """`watch start` many times at once: exactly one daemon."""
    cmd = [sys.executable, "-m", "gitgov.core", "watch", "start"]
    started = time.perf_counter()
    procs = [subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(starts)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    seconds = time.perf_counter() - started
    pid = holder(root)
    try:
        began = sum("watch daemon started" in o for o in outputs)
        same = sum(f"already running (pid {pid})" in o for o in outputs)
    finally:
        stop(root, env)
    return {"ok": began == 1 and same == starts - 1 and all(p.returncode == 0 for p in procs),
            "detail": f"{starts} starts: {began} started, {same} 'already running (pid {pid})'",
            "seconds": seconds}


# ---- main -------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="2,000 files, one kill")
    parser.add_argument("--real-overflow", action="store_true", help="overflow the kernel queue for real")
    args = parser.parse_args(argv)
    files, kills = (2_000, 1) if args.quick else (args.files, args.kills)
    scenarios: list[tuple[str, Callable[[Path, dict], dict]]] = [
        (f"burst of {files:,} files", lambda r, e: burst(r, e, files)),
        (f"kill -9 x{kills} during a burst of {files:,}", lambda r, e: kill_restart(r, e, files, kills)),
        ("500 added + 200 modified + 100 deleted while stopped", stopped_changes),
        (f"overflow (simulated), {min(files, 2000):,} files", lambda r, e: overflow_simulated(r, min(files, 2000))),
        (f"hooks and daemon at once: {min(files, 2000):,} files, 10 commits",
         lambda r, e: hooks_and_daemon(r, e, min(files, 2000), 10)),
        (f"{args.starts} concurrent `watch start`", lambda r, e: concurrent_starts(r, e, args.starts)),
    ]
    if args.real_overflow:
        scenarios.append((f"overflow (kernel queue of 64), {files:,} files", lambda r, e: overflow_real(r, e, files)))
    rows, failed = [], 0
    for name, scenario in scenarios:
        with tempfile.TemporaryDirectory(prefix="gitgov-stress-") as tmp:
            base = Path(tmp)
            env = env_for(base)
            os.environ.update({k: v for k, v in env.items() if k.startswith("GIT_")})
            try:
                result = scenario(make_repo(base, env), env)
            except Exception as exc:  # noqa: BLE001 - a scenario that breaks is a failed row
                result = {"ok": False, "detail": f"{type(exc).__name__}: {exc}", "seconds": float("nan")}
        failed += not result["ok"]
        rows.append(f"| {name} | {'PASS' if result['ok'] else 'FAIL'} | {result['detail']} | "
                    f"{result['seconds']:.1f} |")
        print(rows[-1], file=sys.stderr, flush=True)
    print("| scenario | result | what the ledger holds | seconds |\n|---|---|---|---:|")
    print("\n".join(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
