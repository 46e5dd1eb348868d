"""`gitgov reproduce`: a clean worktree, the same command, and a verdict that names what differs."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys

import pytest

import run_project
from conftest import git, gitgov, write

PY = sys.executable
NOISY = ("import os, time; from gitgov.core.tracking import log_metric; os.makedirs('models', exist_ok=True); "
         "open('models/noise.bin', 'wb').write(os.urandom(16)); log_metric('jitter', 1 + (time.time() % 1) / 1e6)")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return run_project.build(tmp_path_factory.mktemp("reproduce"))


@pytest.fixture
def proj(template, tmp_path):
    return run_project.copy(template, tmp_path / "proj")


def worktrees(proj) -> list[str]:
    return [line for line in git(proj, "worktree", "list", "--porcelain").stdout.splitlines()
            if line.startswith("worktree ")]


def test_a_deterministic_run_reproduces_bit_for_bit(proj):
    assert gitgov(proj, "run", "--name", "train", "--param", "epochs=2", "--", PY, "train.py").returncode == 0
    write(proj, "models/model.json", "changed in the workspace since")  # reproduce must not read this
    out = gitgov(proj, "reproduce", "train")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "reproduced: 1 output(s) bit-identical, 2 metric(s) within tolerance" in out.stdout
    assert len(worktrees(proj)) == 1  # the temporary worktree is gone
    run = json.loads(gitgov(proj, "runs", "show", "train", "--json").stdout)
    assert [r["verdict"] for r in run["reproductions"]] == ["reproduced"]
    as_json = json.loads(gitgov(proj, "reproduce", "train", "--json").stdout)
    assert as_json["verdict"] == "reproduced" and as_json["outputs"]["models/model.json"]["same"]


def test_a_run_that_does_not_reproduce_names_the_output_and_metric(proj):
    assert gitgov(proj, "run", "--", PY, "-c", NOISY).returncode == 0
    out = gitgov(proj, "reproduce", "last")
    assert out.returncode == 1
    assert "did NOT reproduce" in out.stdout
    assert "output models/noise.bin: sha256 " in out.stdout and "metric jitter: " in out.stdout
    assert len(worktrees(proj)) == 1
    verdicts = json.loads(gitgov(proj, "runs", "show", "last", "--json").stdout)["reproductions"]
    assert verdicts[-1]["verdict"] == "differs" and "models/noise.bin" in verdicts[-1]["summary"]


def test_a_metric_within_its_tolerance_passes(proj):
    code = ("import time; from gitgov.core.tracking import log_metric; "
            "log_metric('auc', 0.9 + (time.time() % 1) / 1e4)")
    assert gitgov(proj, "run", "--", PY, "-c", code).returncode == 0
    assert gitgov(proj, "reproduce", "last").returncode == 1
    assert gitgov(proj, "reproduce", "last", "--tolerance", "auc=0.01").returncode == 0
    for given in ("auc=lots", "auc=inf", "auc=1e999"):  # refused before the re-run, not after it
        bad = gitgov(proj, "reproduce", "last", "--tolerance", given)
        assert bad.returncode == 2 and bad.stderr == (
            f"gitgov: --tolerance '{given}': expected NAME=RELATIVE with a finite number >= 0, e.g. "
            "--tolerance accuracy=0.01\n")


def test_a_run_whose_loss_diverged_is_recorded_and_reproduces(proj):
    """JSON has no NaN or infinity; a diverged training run must still be recorded."""
    code = ("from gitgov.core.tracking import log_metric; log_metric('loss', float('nan')); "
            "log_metric('grad', float('inf')); log_metric('acc', 0.5)")
    out = gitgov(proj, "run", "--name", "diverged", "--", PY, "-c", code)
    assert out.returncode == 0, out.stderr
    run = json.loads(gitgov(proj, "runs", "show", "diverged", "--json").stdout)
    assert run["state"] == "ok" and run["metrics"] == {"acc": 0.5, "grad": "inf", "loss": "nan"}
    again = gitgov(proj, "reproduce", "diverged")
    assert again.returncode == 0, again.stdout + again.stderr  # the same NaN again is a reproduction
    assert gitgov(proj, "verify").returncode == 0
    assert "loss=nan" in gitgov(proj, "runs", "list").stdout
    report = gitgov(proj, "report", "-o", "report.html")  # the runs table shows it as it is
    assert report.returncode == 0, report.stderr
    assert '<td class="num ">nan</td>' in (proj / "report.html").read_text()


def test_the_uncommitted_diff_and_untracked_inputs_are_restored(proj):
    write(proj, "data/raw/customers_extra.csv", run_project.customers_csv(7))  # untracked
    train = (proj / "train.py").read_text().replace("data/raw/customers.csv", "data/raw/customers_extra.csv")
    write(proj, "train.py", train)  # uncommitted change
    assert gitgov(proj, "run", "--", PY, "train.py").returncode == 0
    out = gitgov(proj, "reproduce", "last")
    assert out.returncode == 0, out.stdout + out.stderr


def shown_input(proj) -> str:
    out = gitgov(proj, "runs", "show", "last").stdout
    return next(line for line in out.splitlines() if "sha256:" in line and "customers_extra.csv" in line)


def test_reproducing_a_run_whose_inputs_were_garbage_collected_exits_2(proj):
    write(proj, "data/raw/customers_extra.csv", run_project.customers_csv(5))
    code = "print(open('data/raw/customers_extra.csv').read().count(chr(10)))"
    assert gitgov(proj, "run", "--", PY, "-c", code).returncode == 0
    kept = gitgov(proj, "gc")
    assert kept.returncode == 0 and "removed 0 object(s)" in kept.stdout  # the run still needs them
    assert "[store]" in shown_input(proj)
    for typo in (("--keep-last", "-1"), ("--older-than", "-3")):  # would release every run
        refused = gitgov(proj, "gc", *typo)
        assert refused.returncode == 2 and "is not in the range 0<=x<=999999999" in refused.stderr
    gone = gitgov(proj, "gc", "--keep-last", "0")
    assert gone.returncode == 0 and "removed 1 object(s)" in gone.stdout
    assert "[removed by gc]" in shown_input(proj)  # no longer claimed to be in the store
    out = gitgov(proj, "reproduce", "last")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert ("cannot reproduce: input data/raw/customers_extra.csv (sha256 " in out.stderr
            and "is no longer in the object store, removed by `gitgov gc` on " in out.stderr)
    assert len(worktrees(proj)) == 1
    (proj.parent / "store.txt").write_text("not a folder")
    with open(proj / "gitgov.toml", "a") as f:
        f.write('\n[store]\nremote = "../store.txt"\n')
    wrong = gitgov(proj, "reproduce", "last")  # says what is wrong with the remote, not "it lacks the object"
    assert wrong.returncode == 2 and "store.txt: not a folder" in wrong.stderr, wrong.stderr
    assert len(worktrees(proj)) == 1


def test_missing_objects_come_back_from_the_remote(proj, tmp_path):
    remote = tmp_path / "team-store"
    remote.mkdir()
    for direction in ("push", "pull"):  # before the remote is set: an error, even with nothing to fetch
        unset = gitgov(proj, "store", direction)
        assert unset.returncode == 2 and "no remote configured: set [store] remote" in unset.stderr
    with open(proj / "gitgov.toml", "a") as f:
        f.write(f'\n[store]\nremote = "{remote}"\n')
    write(proj, "data/raw/customers_extra.csv", run_project.customers_csv(9))
    code = "print(open('data/raw/customers_extra.csv').read().count(chr(10)))"
    assert gitgov(proj, "run", "--", PY, "-c", code).returncode == 0
    pushed = gitgov(proj, "store", "push")
    assert pushed.returncode == 0 and "sent 2 object(s)" in pushed.stdout  # the input and the diff
    shutil.rmtree(proj / ".gitgov" / "objects")
    out = gitgov(proj, "reproduce", "last")
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_reproduction_stopped_by_a_signal_records_no_verdict(proj):
    code = ("import os, time; os.environ.get('GITGOV_REPRODUCING') and "
            "(print('ready', flush=True), time.sleep(60))")
    assert gitgov(proj, "run", "--name", "slow", "--", PY, "-c", code).returncode == 0
    proc = subprocess.Popen([PY, "-m", "gitgov.core", "reproduce", "slow"], cwd=proj, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGINT)  # as `kill -INT` would: gitgov passes it on and the re-run ends
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].endswith("stopped by SIGINT; nothing was recorded")
    run = json.loads(gitgov(proj, "runs", "show", "slow", "--json").stdout)
    assert run["reproductions"] == [] and len(worktrees(proj)) == 1


def test_a_run_of_an_untracked_executable_script_reproduces(proj):
    script = write(proj, "tools/make.sh", "#!/bin/sh\nmkdir -p outputs && echo built > outputs/made.txt\n")
    script.chmod(0o755)
    assert gitgov(proj, "run", "--name", "make", "--", "./tools/make.sh").returncode == 0
    out = gitgov(proj, "reproduce", "make")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "reproduced: 1 output(s) bit-identical" in out.stdout


def test_a_run_started_in_an_untracked_folder_reproduces(proj):
    (proj / "scratch").mkdir()
    out = gitgov(proj / "scratch", "run", "--", PY, "-c", "print('hello')")
    assert out.returncode == 0, out.stderr
    out = gitgov(proj, "reproduce", "last")
    assert out.returncode == 0 and "cannot start" not in out.stderr, out.stdout + out.stderr


def test_a_tolerance_for_a_metric_the_run_does_not_have_is_an_input_error(proj):
    code = "from gitgov.core.tracking import log_metric; log_metric('auc', 0.9); log_metric('loss', 0.1)"
    assert gitgov(proj, "run", "--", PY, "-c", code).returncode == 0
    out = gitgov(proj, "reproduce", "last", "--tolerance", "auc=0.01", "--tolerance", "bogus=0.1")
    assert out.returncode == 2, out.stdout + out.stderr
    assert "--tolerance bogus=0.1: run " in out.stderr and "has no metric 'bogus'" in out.stderr
    assert "its metrics are auc, loss" in out.stderr and "reproducing" not in out.stderr
    assert json.loads(gitgov(proj, "runs", "show", "last", "--json").stdout)["reproductions"] == []
    assert gitgov(proj, "run", "--", PY, "-c", "pass").returncode == 0
    none = gitgov(proj, "reproduce", "last", "--tolerance", "auc=0.01")
    assert none.returncode == 2 and "it recorded no metrics" in none.stderr


def test_a_failed_run_that_fails_the_same_way_reproduced_its_failure(proj):
    assert gitgov(proj, "run", "--name", "broken", "--", "sh", "-c", "exit 3").returncode == 3
    out = gitgov(proj, "reproduce", "broken")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "the original run failed with exit 3; the re-run also exited 3" in out.stdout
    verdict = json.loads(gitgov(proj, "runs", "show", "broken", "--json").stdout)["reproductions"][-1]
    assert verdict["verdict"] == "reproduced" and "failed with exit 3" in verdict["summary"]


def test_a_re_run_that_exits_differently_did_not_reproduce(proj):
    code = "import os, sys; sys.exit(0 if os.environ.get('GITGOV_REPRODUCING') else 3)"
    assert gitgov(proj, "run", "--", PY, "-c", code).returncode == 3
    out = gitgov(proj, "reproduce", "last")
    assert out.returncode == 1 and "did NOT reproduce" in out.stdout
    assert "the original run failed with exit 3; the re-run exited 0" in out.stdout


def test_an_uncaptured_input_of_a_shell_command_is_named_with_the_fix(proj):
    write(proj, "extra.csv", "a\nb\n")  # untracked, read by a command that is not Python
    assert gitgov(proj, "run", "--", "sh", "-c", "wc -l < extra.csv > out.txt").returncode == 0
    out = gitgov(proj, "reproduce", "last")
    assert out.returncode == 2, out.stdout + out.stderr  # it could not be tried: not "did NOT reproduce"
    assert "did NOT reproduce" not in out.stdout and "Traceback" not in out.stderr
    assert "extra.csv" in out.stderr and "inputs of commands that are not Python are only captured" in out.stderr
    assert "gitgov run --input extra.csv -- sh -c 'wc -l < extra.csv > out.txt'" in out.stderr
    assert len(worktrees(proj)) == 1
    assert gitgov(proj, "run", "--input", "extra.csv", "--", "sh", "-c", "wc -l < extra.csv > out.txt").returncode == 0
    assert gitgov(proj, "reproduce", "last").returncode == 0


def test_a_shell_run_that_recorded_no_inputs_and_now_fails_says_how_to_record_them(proj):
    write(proj, "read.sh", "#!/bin/sh\ncat \"$(cat name.txt)\" >/dev/null\n")  # the file's name is hidden
    write(proj, "name.txt", "hidden.csv\n")
    write(proj, "hidden.csv", "x\n")
    git(proj, "add", "read.sh")
    git(proj, "commit", "-q", "-m", "reader")
    assert gitgov(proj, "run", "--", "sh", "read.sh").returncode == 0
    out = gitgov(proj, "reproduce", "last")
    assert out.returncode == 1 and "did NOT reproduce" in out.stdout
    assert "the run recorded no inputs" in out.stdout and "--input" in out.stdout
