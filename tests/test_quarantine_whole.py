"""`gitgov check --quarantine` writes its two files whole or not at all: a split that fails
or is killed leaves no file cut short under an output's name."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import governed_repo, write
from gitgov.core.errors import InputError

POLICY = """\
version = 1

[datasets.events]
paths = ["data/events*.*"]

[datasets.events.columns.id]
type = "integer"

[datasets.events.columns.score]
type = "integer"
max = 100

[plugins]
enable = ["validation"]
timeout = 120
"""
ROWS = 400_000


@pytest.fixture
def repo(tmp_path) -> Path:
    return governed_repo(tmp_path, POLICY, commit=False)


def big_csv(repo: Path) -> Path:
    lines = ["id,score,note"] + [f"{i},{i % 103},row {i}" for i in range(ROWS)]
    return write(repo, "data/events.csv", "\n".join(lines) + "\n")


def check(repo: Path, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gitgov.core", "check", *args], cwd=repo,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_a_split_killed_midway_leaves_no_output_cut_short(repo):
    big_csv(repo)
    out = repo / "q" / "data"
    proc = check(repo, "data/events.csv", "--quarantine", "q")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        started = [p for d in out.glob(".gitgov-quarantine-*") for p in d.iterdir()
                   if p.stat().st_size > 0] if out.is_dir() else []
        if started:
            break
        time.sleep(0.002)
    assert proc.poll() is None, "the split finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "events.passed.csv").exists() and not (out / "events.failed.csv").exists()
    [leftover] = out.iterdir()
    assert leftover.name.startswith(f".gitgov-quarantine-{proc.pid}-") and any(leftover.iterdir())
    running = out / f".gitgov-quarantine-{os.getpid()}-x"  # a split still under way elsewhere
    running.mkdir()
    # The next run writes both files whole.
    again = check(repo, "data/events.csv", "--quarantine", "q")
    stdout, stderr = again.communicate(timeout=120)
    assert again.returncode == 1, stderr
    passed = (out / "events.passed.csv").read_text().splitlines()
    failed = (out / "events.failed.csv").read_text().splitlines()
    over = sum(1 for i in range(ROWS) if i % 103 > 100)
    assert (len(passed) - 1, len(failed) - 1) == (ROWS - over, over)
    assert failed[1] == "101,101,row 101,102,score.max"
    assert list(out.glob(".gitgov-quarantine-*")) == [running]  # the killed run's folder went


def test_a_split_that_fails_keeps_the_earlier_files_and_leaves_nothing_else(repo, monkeypatch,
                                                                             capsys):
    from gitgov.core.cli import main
    from gitgov.plugins.validation import quarantine

    write(repo, "data/events.jsonl", "".join(f'{{"id": {i}, "score": {i * 30}}}\n' for i in range(6)))
    monkeypatch.chdir(repo)
    assert main(["check", "data/events.jsonl", "--quarantine", "q"]) == 1
    out = repo / "q" / "data"
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(before) == ["events.failed.jsonl", "events.passed.jsonl"]

    def changed(self):
        raise InputError("the file changed while it was split")

    monkeypatch.setattr(quarantine._JsonlWriter, "_next", changed)
    assert main(["check", "data/events.jsonl", "--quarantine", "q"]) == 2
    assert "the file changed while it was split" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
