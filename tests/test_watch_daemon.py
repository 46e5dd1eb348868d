"""`gitgov watch` as a user runs it: a real background daemon, real signals, real hooks."""
from __future__ import annotations

import os
import random
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, git, gitgov, write
from gitgov.core.watch import daemon

sys.path.insert(0, str(ROOT / "benchmarks"))
import stress_watch  # noqa: E402

POLICY = """\
[datasets.raw]
paths = ["data/raw/*.csv"]

[datasets.commits]
paths = ["data/commits/*.csv"]

[watch]
debounce_ms = 50
rescan_seconds = 3600

[plugins]
enable = ["secrets", "alerts"]  # data checks cost ~40 ms a file; these tests time the daemon
"""


@pytest.fixture
def drepo(tmp_path):
    root = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(root))
    write(root, "gitgov.toml", POLICY)
    (root / "data" / "raw").mkdir(parents=True)
    gitgov(root, "init", check=True)
    files = daemon.Files.of(root / ".gitgov")
    yield root
    pid, stopped = daemon.stop(files, timeout=20)  # never leave a daemon behind
    if not stopped and pid and pid > 0:
        os.kill(pid, signal.SIGKILL)


def count(root: Path, sql: str = "SELECT count(*) FROM dataset_versions WHERE stage = 'observed'") -> int:
    with sqlite3.connect(root / ".gitgov" / "ledger.db", timeout=30) as db:
        return db.execute(sql).fetchone()[0]


def wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def holder(root: Path) -> int | None:
    return daemon.holder(daemon.Files.of(root / ".gitgov"))


def test_start_status_stop(drepo):
    first = gitgov(drepo, "watch", "start")
    assert first.returncode == 0, first.stderr
    pid = holder(drepo)
    assert f"watch daemon started (pid {pid}); log: .gitgov/watch.log" in first.stdout
    again = gitgov(drepo, "watch", "start")
    assert again.returncode == 0 and f"watch daemon already running (pid {pid})" in again.stdout
    write(drepo, "data/raw/a.csv", "x\n1\n")
    assert wait_for(lambda: count(drepo) == 1)
    status = gitgov(drepo, "watch", "status")
    assert status.returncode == 0
    assert f"running (pid {pid}), up " in status.stdout and "watching: data (until data/commits exists), data/raw" in status.stdout
    assert "events recorded: 1 (1 added, 0 removed" in status.stdout and "last error: none" in status.stdout
    write(drepo, "data/raw/b.csv", "x\n2\n")  # still settling when stop arrives: stop flushes it
    stop = gitgov(drepo, "watch", "stop")
    assert stop.returncode == 0 and f"watch daemon stopped (pid {pid})" in stop.stdout
    assert count(drepo) == 2 and holder(drepo) is None
    after = gitgov(drepo, "watch", "status")
    assert after.returncode == 1 and "watch daemon is not running (last stopped" in after.stdout
    log = (drepo / ".gitgov" / "watch.log").read_text()
    assert "recorded 1 event(s): data_added data/raw/b.csv" in log and "stopped;" in log


def watched(root: Path) -> list[str]:
    import json

    return json.loads(gitgov(root, "watch", "status", "--json").stdout).get("paths") or []


def test_status_shows_the_folders_watched_now_not_those_at_start(drepo):
    assert gitgov(drepo, "watch", "start", "--wait").returncode == 0
    assert watched(drepo) == ["data (until data/commits exists)", "data/raw"]
    (drepo / "data" / "commits").mkdir()
    assert wait_for(lambda: watched(drepo) == ["data/commits", "data/raw"], timeout=10), watched(drepo)
    write(drepo, "gitgov.toml", POLICY.replace('"data/raw/*.csv"', '"data/raw/**/*.csv"'))
    assert wait_for(lambda: watched(drepo) == ["data/commits", "data/raw/**"], timeout=10), watched(drepo)


# The scenarios of benchmarks/stress_watch.py, at a reduced size.

def test_concurrent_starts_leave_exactly_one_daemon(tmp_path):
    env = dict(os.environ)
    result = stress_watch.concurrent_starts(stress_watch.make_repo(tmp_path, env, debounce=50), env, 6)
    assert result["detail"].startswith("6 starts: 1 started, 5 'already running (pid ")
    assert result["ok"]


def test_kill_9_mid_burst_then_restart_completes_the_ledger(tmp_path):
    env = dict(os.environ)
    root = stress_watch.make_repo(tmp_path, env, debounce=200)  # a writer may stall between create and write
    result = stress_watch.kill_restart(root, env, files=600, kills=2, seed=random.randrange(1000))
    assert result["detail"] == "2 kill -9, 2 clean restarts, 600 versions, 600 paths, chain verified"
    assert result["ok"] and holder(root) is None


def test_commit_hooks_and_the_daemon_write_at_the_same_time(tmp_path):
    env = dict(os.environ)
    root = stress_watch.make_repo(tmp_path, env, debounce=50)
    result = stress_watch.hooks_and_daemon(root, env, files=300, commits=4)
    assert result["detail"] == "300 files and 4 commits recorded; 'locked' seen: False"
    assert result["ok"]
    assert count(root, "SELECT count(*) FROM dataset_versions WHERE stage = 'staged'") == 4


def test_start_refuses_a_broken_policy_before_forking(drepo):
    write(drepo, "gitgov.toml", '[datasets.raw]\npaths = ["data/raw/*.csv"]\n[watch]\ndebounce_ms = "fast"\n')
    proc = gitgov(drepo, "watch", "start")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "gitgov: gitgov.toml:4: watch.debounce_ms: expected an integer"
    assert holder(drepo) is None


def test_start_refuses_when_the_policy_turns_the_watcher_off(drepo):
    write(drepo, "gitgov.toml", '[datasets.raw]\npaths = ["data/raw/*.csv"]\n\n[watch]\nenabled = false\n')
    proc = gitgov(drepo, "watch", "start")
    assert proc.returncode == 1
    assert proc.stderr == ("gitgov: gitgov.toml:5: [watch] enabled = false turns the watcher off in "
                           "this repository; set it to true, or remove it, to start the watcher\n")
    assert holder(drepo) is None


def test_start_refuses_when_nothing_is_governed(drepo):
    write(drepo, "gitgov.toml", "[plugins]\ntimeout = 5\n")
    proc = gitgov(drepo, "watch", "start")
    assert proc.returncode == 2
    assert "nothing to watch: gitgov.toml declares no dataset paths" in proc.stderr
    assert holder(drepo) is None
