"""Demo steps for the watch daemon, retention and erasure (see core/demo.py).

They run after the repository exists and has its first data commit. The
daemon is stopped by the last step, and also when the demo process exits
for any reason, so a failed demo never leaves a daemon behind.
"""
from __future__ import annotations

import atexit
import csv
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

LEGACY = "data/raw/customers_legacy.csv"
LEGACY_ROWS = (
    ("customer_id", "email", "signup_date", "country", "age", "plan", "monthly_spend", "churned"),
    ("L00001", "grace.hopper@example.com", "2012-05-14", "US", 61, "enterprise", "180.00", "0"),
    ("L00002", "edsger.dijkstra@example.com", "2013-09-02", "NL", 58, "basic", "12.50", "1"),
    ("L00003", "barbara.liskov@example.com", "2015-11-23", "US", 49, "free", "0.00", "0"),
    ("L00004", "ken.thompson@example.com", "2024-03-01", "US", 37, "basic", "15.00", "0"),
)


def _stop_quietly(root: Path, env: dict) -> None:
    subprocess.run([sys.executable, "-m", "gitgov.core", "watch", "stop"], cwd=root, env=env,
                   capture_output=True, timeout=120)


def _wait_recorded(root: Path, path: str, timeout: float = 30.0) -> bool:
    """Poll the ledger until an entry about `path` appears."""
    from .ledger import open_ledger

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open_ledger(root / ".gitgov" / "ledger.db") as ledger:
            if next(ledger.entries(kind="data_added", subject=path, limit=1), None) is not None:
                return True
        time.sleep(0.2)
    return False


def watch_start(d) -> None:
    d.step("The watch daemon", "Data lands in data folders long before anyone commits it. The "
           "daemon watches the dataset folders, reconciles them with the ledger at start (the "
           "files the commit recorded are already there, so nothing is recorded twice) and keeps "
           "watching.")
    atexit.register(_stop_quietly, d.root, d.env)
    d.run("gitgov", "watch", "start", "--wait")


def dropped_file(d) -> None:
    d.step("A file dropped into data/raw/", "An export of legacy customers appears. Once it has "
           "stopped changing, the daemon hashes it, runs the same checks as a commit would and "
           "records it, before any commit.")
    with open(d.root / LEGACY, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(LEGACY_ROWS)
    if not _wait_recorded(d.root, LEGACY):
        from .demo import DemoFailed
        raise DemoFailed(f"demo step {d.step_no}: the daemon did not record {LEGACY} within 30 s")
    d.run("gitgov", "log", "--kind", "data_added", "--subject", LEGACY, "-n", "1")
    d.run("gitgov", "watch", "status")


def retention(d) -> None:
    d.step("Retention", "Customer rows are kept for seven years after signup (retention = \"7y\", "
           "retention_column = \"signup_date\"). `check` reports what is overdue; `apply` rewrites "
           "the files without those rows, atomically, and records the row counts and the hashes "
           "before and after.")
    d.run("gitgov", "retention", "check", expect=1)
    d.run("gitgov", "retention", "apply")
    d.run("gitgov", "log", "--kind", "data_disposed", "-n", "2")


def _subject(root: Path) -> str:
    """An e-mail address from the committed customers file (the legacy one as a fallback)."""
    try:
        with open(root / "data/raw/customers.csv", newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row.get("email") and row.get("signup_date", "") >= "2024":
                    return row["email"]
    except OSError:
        pass
    return LEGACY_ROWS[4][1]


def erasure(d) -> None:
    value = _subject(d.root)
    d.step("The right to erasure", f"Customer {value} asks to be forgotten. Their rows go from "
           "every governed file; the ledger records the request under a keyed token, never the "
           "address; the commits that still hold it are listed.")
    d.run("gitgov", "erase", "--subject", f"email={value}")
    d.step("Nothing left behind", "A search of the data, the ledger (and its -wal file), the "
           "logs and the object store finds no trace of the address.")
    d.run("grep", "-rlF", value, "data", ".gitgov", expect=1)


def watch_stop(d) -> None:
    d.step("Stop the daemon", "It records what is still pending, then exits.")
    d.run("gitgov", "watch", "stop")


STEPS: tuple[Callable, ...] = (watch_start, dropped_file, retention, erasure, watch_stop)
