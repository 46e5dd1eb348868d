"""`gitgov run` starts a command that runs its own interpreter before the run is
recorded, held before the command's code: the record still comes first, and a
refused, interrupted or killed start never runs the command."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import run_project
from conftest import gitgov, write

from gitgov.core.process import can_hold

PY = sys.executable
MARK = "open('ran.txt', 'w').write('yes')"  # the command's first and only act

# A plugin that, while RunStarted is handled, writes the command lines of gitgov's child
# processes to during-start.json, then waits until go.txt exists.
WAIT_PLUGIN = '''\
import json, os, time
from gitgov.core.hookspecs import hookimpl


def _children(pid):
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rpartition(")")[2].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\\0")
        except (OSError, ValueError):
            continue
        if ppid == pid:
            found.append({"pid": int(entry), "argv": [a.decode() for a in argv if a]})
    return found


@hookimpl
def run_started(event, ctx):
    with open("during-start.tmp", "w") as f:
        json.dump({"gitgov": os.getpid(), "children": _children(os.getpid())}, f)
    os.replace("during-start.tmp", "during-start.json")
    deadline = time.monotonic() + 8  # within the plugin deadline (10 s)
    while not os.path.exists("go.txt") and time.monotonic() < deadline:
        time.sleep(0.02)
'''


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return run_project.build(tmp_path_factory.mktemp("early"))


@pytest.fixture
def proj(template, tmp_path):
    return run_project.copy(template, tmp_path / "proj")


@pytest.fixture
def waiting(proj):
    write(proj, "policy_plugins/wait.py", WAIT_PLUGIN)
    with open(proj / "gitgov.toml", "a") as f:
        f.write('local = ["policy_plugins/wait.py"]\n')  # appended to the [plugins] table
    return proj


def _default_sigint() -> None:
    # A test runner may run tests with SIGINT ignored, which a child inherits: then
    # gitgov would not see Ctrl-C at all, as a job started with `&` in a script does not.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(proj: Path, *command: str) -> subprocess.Popen:
    return subprocess.Popen([PY, "-m", "gitgov.core", "run", "--", *command], cwd=proj, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, preexec_fn=_default_sigint)


def _during_start(proj: Path) -> dict:
    deadline = time.monotonic() + 30
    while not (proj / "during-start.json").exists():
        assert time.monotonic() < deadline, "RunStarted never reached the plugin"
        time.sleep(0.02)
    return json.loads((proj / "during-start.json").read_text())


def _held_pid(during: dict) -> int:
    held = [c["pid"] for c in during["children"] if MARK in c["argv"]]
    assert len(held) == 1, during  # the command's interpreter, started before the record
    return held[0]


def _wait_gone(pid: int) -> None:
    """Until the process has ended (gone, or a zombie nobody reaped yet)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rpartition(")")[2].split()[0] in ("Z", "X"):
                    return
        except FileNotFoundError:
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} still runs")


def _run_folders(proj: Path) -> list[str]:
    runs = proj / ".gitgov" / "runs"
    return sorted(p.name for p in runs.iterdir()) if runs.exists() else []


def test_the_command_starts_early_but_runs_only_after_its_start_is_recorded(proj):
    ledger = proj / ".gitgov" / "ledger.db"
    code = ("import os, sqlite3; db = sqlite3.connect(%r); "
            "n = db.execute(\"SELECT count(*) FROM journal WHERE kind = 'run_started' AND payload LIKE ?\", "
            "('%%' + os.environ['GITGOV_RUN_ID'] + '%%',)).fetchone()[0]; "
            "open('seen.txt', 'w').write(str(n))") % str(ledger)
    out = gitgov(proj, "run", "--", PY, "-c", code)
    assert out.returncode == 0, out.stderr
    assert (proj / "seen.txt").read_text() == "1"  # its start was in the ledger before its first line


def test_while_the_start_is_recorded_the_command_waits_without_having_run(waiting):
    proc = _start(waiting, PY, "-c", MARK)
    during = _during_start(waiting)
    _held_pid(during)
    time.sleep(0.3)  # time enough to run a line, were it not held
    assert not (waiting / "ran.txt").exists()
    (waiting / "go.txt").write_text("")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert (waiting / "ran.txt").read_text() == "yes"
    run = json.loads(gitgov(waiting, "runs", "show", "last", "--json", check=True).stdout)
    assert run["status"] == "ok" and run["exit_code"] == 0


def test_a_command_of_another_program_starts_after_the_record(waiting):
    proc = _start(waiting, "sh", "-c", "echo yes > ran.txt")
    during = _during_start(waiting)
    assert not any(c["argv"][:1] == ["sh"] for c in during["children"]), during
    (waiting / "go.txt").write_text("")
    assert proc.wait(timeout=60) == 0
    assert (waiting / "ran.txt").read_text() == "yes\n"


def test_gitgov_killed_before_the_record_leaves_the_command_unrun(waiting):
    proc = _start(waiting, PY, "-c", MARK)
    held = _held_pid(_during_start(waiting))
    proc.kill()
    proc.wait(timeout=30)
    _wait_gone(held)  # the pipe it waited on ended with gitgov
    assert not (waiting / "ran.txt").exists()
    assert json.loads(gitgov(waiting, "runs", "list", "--json", check=True).stdout) == []


def test_ctrl_c_before_the_record_ends_gitgov_and_the_held_command(waiting):
    proc = _start(waiting, PY, "-c", MARK)
    held = _held_pid(_during_start(waiting))
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    _out, err = proc.communicate(timeout=60)
    _wait_gone(held)
    assert proc.returncode == 130 and err.strip().endswith("gitgov: interrupted"), err
    assert "Traceback" not in err
    assert not (waiting / "ran.txt").exists()
    assert _run_folders(waiting) == []  # no folder of a run that never ran


def test_a_refused_run_ends_its_held_command_unrun(proj):
    write(proj, "policy_plugins/deny.py", '''\
from gitgov.core.events import error
from gitgov.core.hookspecs import hookimpl


@hookimpl
def run_started(event, ctx):
    return error("no-runs", "no runs today")
''')
    with open(proj / "gitgov.toml", "a") as f:
        f.write('local = ["policy_plugins/deny.py"]\n')
    out = gitgov(proj, "run", "--", PY, "-c", MARK)
    assert out.returncode == 1 and "deny/no-runs: no runs today" in out.stderr
    assert not (proj / "ran.txt").exists()
    assert _run_folders(proj) == []


def test_a_bad_input_path_ends_the_held_command_and_leaves_no_folder(proj):
    out = gitgov(proj, "run", "--input", "data/missing.csv", "--", PY, "-c", MARK)
    assert out.returncode == 2 and "data/missing.csv" in out.stderr and out.stderr.count("\n") == 1
    assert not (proj / "ran.txt").exists()
    assert _run_folders(proj) == []


@pytest.mark.parametrize("args, held", [
    (["train.py"], True),
    (["-u", "-X", "dev", "-W", "ignore", "train.py"], True),
    (["-Wignore", "-Bc", "pass"], True),
    (["-m", "pip", "-I"], True),  # -I after -m belongs to the module
    ([], True),
    (["-I", "train.py"], False),  # isolated: PYTHONPATH, so the hold, is ignored
    (["-E", "-c", "pass"], False),
    (["-uS", "train.py"], False),  # no site, no sitecustomize
    (["-V"], False),
    (["--version"], False),
])
def test_which_commands_start_early(args, held):
    assert can_hold(PY, [PY, *args]) is held


def test_another_interpreter_starts_after_the_record(tmp_path):
    other = tmp_path / "python3"
    other.write_text("#!/bin/sh\nexec true\n")
    other.chmod(0o755)
    assert can_hold(str(other), [str(other), "train.py"]) is False
