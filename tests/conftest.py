"""Shared fixtures: real git repositories in temporary folders, isolated from the
user's git configuration, with the identity given only through the environment."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_repo"


@pytest.fixture(scope="session", autouse=True)
def worker_home(tmp_path_factory):
    """A HOME of this test process's own, before any module-scoped fixture runs: those
    run outside git_env, and their pip and git would otherwise write the user's caches
    (~/.cache/pip), read the user's git config and share both with the other worker."""
    home = tmp_path_factory.mktemp("home")  # under this worker's own base temp folder
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1",
                           "GIT_CONFIG_GLOBAL": os.devnull}.items():
            mp.setenv(key, value)
        for key in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "PIP_CACHE_DIR"):
            mp.delenv(key, raising=False)
        if os.environ.get("PYTHONDONTWRITEBYTECODE"):
            # Otherwise each child process (the CLI, every hook) compiles gitgov and its
            # dependencies from source again. They cache bytecode as after a normal
            # install, but in this process's own folder, never beside the sources.
            mp.delenv("PYTHONDONTWRITEBYTECODE")
            mp.setenv("PYTHONPYCACHEPREFIX", str(tmp_path_factory.mktemp("pycache")))
        yield home


@pytest.fixture(autouse=True)
def git_env(tmp_path, monkeypatch):
    """Isolate git from the user's config; identity only through env vars."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    for key, value in {
        "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.com",
        "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.com",
        "GIT_CEILING_DIRECTORIES": str(tmp_path), "GITGOV_TEST_LOG": str(tmp_path / "log"),
        "NO_COLOR": "1",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "GITGOV_TRACE", "GITGOV_DEBUG",
                "GITGOV_DISABLE", "GITGOV_NO_FASTPATH"):
        monkeypatch.delenv(key, raising=False)


def git(cwd: Path, *args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          stdin=kw.pop("stdin", subprocess.DEVNULL), check=check, **kw)


def gitgov(cwd: Path, *args: str, check: bool = False, **kw) -> subprocess.CompletedProcess:
    """Run the real CLI in a child process, as a user would."""
    proc = subprocess.run([sys.executable, "-m", "gitgov.core", *args], cwd=cwd,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"gitgov {' '.join(args)} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


POLICY = """\
[datasets.customers]
description = "Customer master data"
paths = ["data/raw/customers*.csv"]
owner = "ada@example.com"
classification = "confidential"

[plugins]
timeout = 5
"""


@pytest.fixture
def repo(tmp_path) -> Path:
    """A git repository with a gitgov.toml that governs data/raw/customers*.csv."""
    path = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(path))
    (path / "gitgov.toml").write_text(POLICY)
    return path


def pin_secrets(repo: Path) -> Path:
    """Pin the plugin set to the built-in secrets plugin, so that other plugins'
    findings and facts cannot change what tests of the hooks, the CLI and the
    ledger count."""
    policy = repo / "gitgov.toml"
    policy.write_text(policy.read_text().replace("[plugins]\n", '[plugins]\nenable = ["secrets"]\n'))
    return repo


@pytest.fixture
def initialized(repo) -> Path:
    """`repo` after `gitgov init` and a first commit of its policy."""
    gitgov(repo, "init", check=True)
    git(repo, "add", "gitgov.toml", ".gitignore")
    git(repo, "commit", "-q", "-m", "policy")
    return repo


def governed_repo(tmp_path: Path, policy: str, *, commit: bool = True) -> Path:
    """tmp_path/repo: a git repository with `policy` as gitgov.toml after `gitgov init`,
    and (unless commit is false) a first commit of the policy."""
    path = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(path))
    write(path, "gitgov.toml", policy)
    gitgov(path, "init", check=True)
    if commit:
        git(path, "add", "gitgov.toml", ".gitignore")
        git(path, "commit", "-q", "-m", "policy")
    return path


def write(root: Path, rel: str, text: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path
