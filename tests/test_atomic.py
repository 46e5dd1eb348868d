"""Files written whole (core/atomic.py): what a writer killed mid-way leaves, and who clears it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from gitgov.core.atomic import replacing
from gitgov.core.watch.scope import builtin_ignored

WRITER = """
import sys, time
from gitgov.core.atomic import replacing
with replacing(sys.argv[1]) as tmp:
    open(tmp, "w").write("half")
    print(tmp, flush=True)
    time.sleep(60)
"""


def _killed_writer(dest: Path) -> Path:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(dest)], stdout=subprocess.PIPE, text=True)
    tmp = Path(proc.stdout.readline().strip())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    return tmp


def test_a_writer_killed_mid_way_leaves_a_temporary_file_the_next_write_removes(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    dest = folder / "data.csv"
    dest.write_text("whole\n")
    left = _killed_writer(dest)
    assert left.exists() and left.name.startswith(".gitgov-tmp-data.csv.")
    assert builtin_ignored(f"data/{left.name}")  # the watcher never records it as data
    assert dest.read_text() == "whole\n"  # the file itself as it was
    mine = folder / f".gitgov-tmp-data.csv.{os.getpid()}.inflight"  # a live writer's: kept
    mine.write_text("")
    with replacing(dest) as tmp:
        Path(tmp).write_text("new\n")
    assert dest.read_text() == "new\n"
    assert not left.exists() and mine.exists()
    assert sorted(p.name for p in folder.iterdir()) == [mine.name, "data.csv"]

