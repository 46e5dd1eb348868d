"""The demo's reproducibility story: a recorded training run, its bit-identical
reproduction, lineage back to the raw data commit, an OpenLineage export, a
signed provenance attestation, and the same run reproduced in a teammate's
clone through the shared object store.

These steps run after the foundation's steps of `gitgov demo`, once
data/raw/customers.csv is committed.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Callable

import click

from .demo import Demo

TEAMMATE = {"GIT_AUTHOR_NAME": "Sam Analyst", "GIT_AUTHOR_EMAIL": "sam@example.com",
            "GIT_COMMITTER_NAME": "Sam Analyst", "GIT_COMMITTER_EMAIL": "sam@example.com"}

SUMMARY = ("import json\n"
           "for e in map(json.loads, open('lineage.openlineage.jsonl')):\n"
           "    data = e['inputs'] + e['outputs']\n"
           "    facets = sorted({f for d in data for f in (*d['facets'], *d.get('inputFacets', {}))})\n"
           "    print(e['eventType'], e['job']['name'], 'run', e['run']['runId'][:8], '|',"
           " len(e['inputs']), 'input(s),', len(e['outputs']), 'output(s) | dataset facets:', ', '.join(facets))\n")


def python() -> str:
    """`python` when it is this interpreter (shorter to read), else its full path."""
    found = shutil.which("python")
    if found and Path(found).parent == Path(sys.executable).parent:
        return "python"
    return sys.executable


def train_run(d: Demo) -> None:
    d.step("A training run, recorded", "`gitgov run` snapshots the commit, the packages, the "
           "platform, the seed and the params, runs train.py, and records its metrics, the data it "
           "read and the model it wrote, with their SHA-256. Nothing had to be declared.")
    d.run("gitgov", "run", "--name", "train", "--param", "epochs=40", "--seed", "7", "--",
          python(), "train.py")
    d.run("gitgov", "runs", "show", "train")


def reproduce_run(d: Demo) -> None:
    d.step("Reproduce it", "A fresh worktree at the recorded commit, the same command, seed, "
           "params and environment: every output must be bit-identical, every metric equal.")
    d.run("gitgov", "reproduce", "train")


def lineage_back_to_data(d: Demo) -> None:
    d.step("Lineage: from the model back to the raw data commit",
           "Which run produced this model, what it read, and which commit brought that data in.")
    d.run("gitgov", "lineage", "models/churn_model.json", "--upstream")


def openlineage_export(d: Demo) -> None:
    d.step("Export to OpenLineage", "START and COMPLETE RunEvents with the git source location, "
           "dataset versions, schema, data-quality metrics and ownership, for Marquez or any "
           "OpenLineage consumer.")
    d.run("gitgov", "lineage", "models/churn_model.json", "--upstream", "--format", "openlineage",
          "-o", "lineage.openlineage.jsonl")
    d.write("openlineage_summary.py", SUMMARY)
    d.run(python(), "openlineage_summary.py")


def attest_run(d: Demo) -> None:
    d.step("Sign its provenance", "An in-toto statement with SLSA provenance (the model's digest, "
           "the commit, inputs and packages, the command, params and seed), signed with Ed25519.")
    d.run("gitgov", "attest", "train", "-o", "train.intoto.jsonl")
    d.run("gitgov", "attest", "--verify", "train.intoto.jsonl")


def teammate_reproduces(d: Demo) -> None:
    d.step("A teammate reproduces it from the shared store",
           "The team shares an object store ([store] remote: a folder here, or S3). `gitgov store "
           "push` sends the run's stored files and its record; Sam's own clone has neither until "
           "`gitgov store pull` imports the record (each entry's id checked) and fetches the files. "
           "The run then reproduces there, bit for bit.")
    from .demo_server import acting_as

    store, clone = d.beside / "team-store", d.beside / "teammate"
    remote = str(store) if Path(d.central).is_absolute() else os.path.relpath(store, d.root)
    with open(d.root / "gitgov.toml", "a", encoding="utf-8") as f:
        f.write(f'\n[store]\nremote = "{remote}"\n')
    d.run("git", "commit", "-q", "-am", "Share the object store with the team")
    d.run("gitgov", "store", "push")
    with acting_as(d, TEAMMATE):
        d.run("git", "clone", "-q", str(d.root), str(clone))
        click.secho(f"$ cd {clone}", fg="cyan")
        d.run("gitgov", "init", cwd=clone)
        d.run("gitgov", "store", "pull", "train", cwd=clone)
        d.run("gitgov", "reproduce", "train", cwd=clone)


STEPS: tuple[Callable[[Demo], None], ...] = (train_run, reproduce_run, lineage_back_to_data,
                                             openlineage_export, attest_run, teammate_reproduces)
