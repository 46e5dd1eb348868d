"""Helpers for the server tests: a central bare repository with gitgov's pre-receive
hook, people pushing to it with real `git push`, and what its ledger recorded."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from conftest import git, gitgov, write
from gitgov.core.ledger import open_ledger

POLICY = """\
[datasets.customers]
paths = ["data/customers*.csv"]
classification = "confidential"
owner = "dana@example.com"
stewards = ["sam@example.com"]
consumers = ["ml-team"]

[datasets.customers.columns.id]
type = "integer"
required = true

[datasets.customers.columns.age]
type = "integer"
min = 0

[datasets.notes]
paths = ["data/notes*.csv"]
classification = "internal"
owner = "dana@example.com"
consumers = ["ml-team"]

[roles]
ml-team = ["lee@example.com"]

[plugins]
timeout = 20
"""
GOOD = "id,age\n1,30\n2,41\n"
BAD = "id,age\n1,30\n2,-5\n"
PEOPLE = {"dana": "Dana Owner", "sam": "Sam Steward", "lee": "Lee Consumer", "eve": "Eve Outsider",
          "ops": "Ops Custodian"}
ZEROS = "0" * 40


def person(who: str) -> dict[str, str]:
    """The environment of a push or commit by `who` (identity only through env vars)."""
    email = f"{who}@example.com"
    return {**os.environ, "GIT_AUTHOR_NAME": PEOPLE[who], "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": PEOPLE[who], "GIT_COMMITTER_EMAIL": email}


def make_central(tmp_path: Path, branch: str = "main") -> Path:
    bare = tmp_path / "central.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    gitgov(tmp_path, "server", "install", str(bare), "--policy-branch", branch, check=True)
    return bare


def make_clone(tmp_path: Path, central: Path, name: str = "work") -> Path:
    work = tmp_path / name
    git(tmp_path, "init", "-q", "-b", "main", str(work))
    git(work, "remote", "add", "origin", str(central))
    return work


def commit_as(work: Path, who: str, files: dict[str, str], message: str = "change",
              extra: tuple[str, ...] = ()) -> str:
    for rel, text in files.items():
        write(work, rel, text)
    git(work, "add", "-A")
    git(work, "commit", "-q", "--no-verify", "-m", message, *extra, env=person(who))
    return rev(work)


def rev(repo: Path, what: str = "HEAD") -> str:
    return git(repo, "rev-parse", "--verify", "-q", what, check=False).stdout.strip()


def push(work: Path, *args: str, who: str = "dana") -> subprocess.CompletedProcess:
    return git(work, "push", "--no-verify", "origin", *args, check=False, env=person(who))


def server_entries(central: Path, kind: str | None = None) -> list:
    with open_ledger(central / "gitgov" / "ledger.db") as ledger:
        return list(ledger.entries(kind=kind, newest_first=False))


def pushes(central: Path) -> list[dict]:
    return [r.payload for r in server_entries(central, "push_received")]


def bootstrap(tmp_path: Path, policy: str = POLICY) -> tuple[Path, Path]:
    """A central repository whose main branch holds `policy` and good customers data."""
    central = make_central(tmp_path)
    work = make_clone(tmp_path, central)
    commit_as(work, "dana", {"gitgov.toml": policy, "data/customers.csv": GOOD}, "policy and data")
    result = push(work, "main")
    assert result.returncode == 0, result.stderr
    return central, work


def payload_json(proc: subprocess.CompletedProcess) -> object:
    return json.loads(proc.stdout)


@contextmanager
def isolated(home: Path) -> Iterator[None]:
    """conftest's git_env for a module-scoped fixture (which runs outside any test)."""
    env = {"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.com",
           "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.com", "NO_COLOR": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def template(tmp_path_factory, policy: str = POLICY) -> Path:
    """bootstrap() once per module; fresh() copies it for each test."""
    base = tmp_path_factory.mktemp("central-template")
    with isolated(base):
        bootstrap(base, policy)
    return base


def fresh(base: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the template's central repository and clone, the clone pointing at the copy."""
    central, work = tmp_path / "central.git", tmp_path / "work"
    shutil.copytree(base / "central.git", central, symlinks=True)
    shutil.copytree(base / "work", work, symlinks=True)
    git(work, "remote", "set-url", "origin", str(central))
    return central, work
