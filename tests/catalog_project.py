"""A project with a history for the catalog and report tests, built once per test module.

Real commits through the installed hooks (a passing version, a version the
rules block, a second passing version), two recorded training runs with
different params, and a declared dataset that has no versions and no owner.
Two facts that take long to produce for real (a reproduction that differs,
data reported past retention) are appended to the ledger as the reproduce
command and the retention plugin record them.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import run_project

POLICY = """\
[datasets.customers]
description = "Customer table, one row per customer"
paths = ["data/raw/customers*.csv"]
owner = "ada@example.com"
stewards = ["sam@example.com"]
consumers = ["ml-team"]
classification = "confidential"
retention = "30d"

[datasets.customers.columns.age]
type = "integer"
min = 18

[datasets.contacts]
description = "Support contacts"
paths = ["data/raw/contacts*.csv"]
classification = "restricted"

[datasets.contacts.columns.email]
pii = "email"

[roles]
ml-team = ["lee@example.com"]

[plugins]
timeout = 20
"""


def _run(cmd: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode not in ok:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")


def _commit(root: Path, env: dict[str, str], text: str, message: str, ok: tuple[int, ...] = (0,)) -> None:
    (root / "data" / "raw" / "customers.csv").write_text(text)
    _run(["git", "add", "data/raw/customers.csv"], root, env)
    _run(["git", "commit", "-q", "-m", message], root, env, ok)


def build(base: Path) -> Path:
    root = base / "project"
    root.mkdir(parents=True)
    env = run_project.environ(base)
    gitgov = [sys.executable, "-m", "gitgov.core"]
    _run(["git", "init", "-q", "-b", "main"], root, env)
    (root / "gitgov.toml").write_text(POLICY)
    (root / "train.py").write_text(run_project.TRAIN)
    (root / "data" / "raw").mkdir(parents=True)
    _run([*gitgov, "init"], root, env)
    _run(["git", "add", "gitgov.toml", ".gitignore", "train.py"], root, env)
    _run(["git", "commit", "-q", "-m", "Policy and training script"], root, env)
    good = run_project.customers_csv(40)
    _commit(root, env, good, "Add customers")
    _commit(root, env, good + "41,5,free,0\n", "A row with age 5", ok=(1,))  # blocked: age min 18
    _commit(root, env, good + "41,52,pro,1\n42,33,free,0\n", "Two more customers")
    for lr in ("0.1", "0.3"):
        _run([*gitgov, "run", "--name", "train", "--param", f"lr={lr}", "--", sys.executable, "train.py"],
             root, env)
    _append_facts(root)
    return root


def _append_facts(root: Path) -> None:
    from gitgov.core.ledger import Entry, open_ledger

    with open_ledger(root / ".gitgov" / "ledger.db") as ledger:
        run_id = ledger.db.execute("SELECT run_id FROM runs ORDER BY started_seq LIMIT 1").fetchone()[0]
        ledger.append([
            Entry("run_reproduced", run_id, {"verdict": "differs", "summary": "models/model.json differs"},
                  actor="Ada <ada@example.com>"),
            Entry("retention_expired", "data/raw/customers.csv",
                  {"path": "data/raw/customers.csv", "dataset": "customers", "expired_on": "2020-01-31",
                   "rows": 3, "findings": [], "verdict": "pass"}, actor="Ada <ada@example.com>"),
        ])
