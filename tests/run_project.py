"""A small ML project for the run, reproduce, lineage, attest and model tests.

Built once per test module (gitgov init, data and a training script
committed through the real hooks) and copied for each test, which keeps the
tests fast while each gets its own repository.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

POLICY = """\
[datasets.customers]
description = "Customer table"
paths = ["data/raw/customers*.csv"]
owner = "ada@example.com"
stewards = ["sam@example.com"]
classification = "internal"

[runs]
env = ["MY_*"]

[plugins]
timeout = 20
"""

TRAIN = '''\
import csv, json, os, random
from gitgov.core.tracking import log_metric, params, seed_everything

seed = seed_everything(1)
p = params({"lr": 0.1, "epochs": 3})
rows = list(csv.DictReader(open("data/raw/customers.csv", encoding="utf-8")))
rng = random.Random(seed)
w = 0.0
for epoch in range(p["epochs"]):
    for r in rows:
        w += p["lr"] * (int(r["churned"]) - 0.5) * rng.random()
    log_metric("loss", round(1 / (1 + abs(w)), 6), step=epoch)
log_metric("accuracy", round(0.5 + (abs(w) % 0.5), 6))
os.makedirs("models", exist_ok=True)
with open("models/model.json", "w") as f:
    json.dump({"w": round(w, 9), "seed": seed, "params": p}, f, sort_keys=True)
print("trained", round(w, 4))
'''


def customers_csv(n: int = 40) -> str:
    lines = ["id,age,plan,churned"]
    lines += [f"{i},{20 + i % 50},{('free', 'pro')[i % 2]},{i % 3 == 0:d}" for i in range(1, n + 1)]
    return "\n".join(lines) + "\n"


def environ(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    for key in ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "GITGOV_TRACE", "GITGOV_DEBUG"):
        env.pop(key, None)
    env.update({"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
                "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.com",
                "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.com", "NO_COLOR": "1"})
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")


def build(base: Path) -> Path:
    """A committed project with gitgov installed: data, policy and train.py."""
    root = base / "template"
    root.mkdir(parents=True)
    env = environ(base)
    _run(["git", "init", "-q", "-b", "main"], root, env)
    (root / "gitgov.toml").write_text(POLICY)
    (root / "data" / "raw").mkdir(parents=True)
    (root / "data" / "raw" / "customers.csv").write_text(customers_csv())
    (root / "train.py").write_text(TRAIN)
    _run([sys.executable, "-m", "gitgov.core", "init"], root, env)
    _run(["git", "add", "-A"], root, env)
    _run(["git", "commit", "-q", "-m", "Add customers and the training script"], root, env)
    return root


def copy(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest, symlinks=True)
    return dest


def run_json(result) -> dict:
    return json.loads(result.stdout)
