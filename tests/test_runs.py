"""`gitgov run`: snapshots, inputs and outputs found without declaring them,
exit status, signals, and the bad inputs users meet."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys

import pytest

import run_project
from conftest import git, gitgov, write

PY = sys.executable


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return run_project.build(tmp_path_factory.mktemp("runs"))


@pytest.fixture
def proj(template, tmp_path):
    return run_project.copy(template, tmp_path / "proj")


def show(proj, ref="last") -> dict:
    return json.loads(gitgov(proj, "runs", "show", ref, "--json", check=True).stdout)


def test_run_snapshots_the_run_and_finds_inputs_and_outputs(proj, monkeypatch):
    monkeypatch.setenv("MY_SETTING", "fast")
    monkeypatch.setenv("MY_API_KEY", "sk-live-do-not-record")
    monkeypatch.setenv("DB_PASSWORD", "hunter2-do-not-record")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    out = gitgov(proj, "run", "--name", "train", "--param", "lr=0.2", "--seed", "5", "--", PY, "train.py")
    assert out.returncode == 0, out.stderr
    assert "trained" in out.stdout and "run " in out.stderr and "finished" in out.stderr
    run = show(proj, "train")
    assert run["status"] == "ok" and run["exit_code"] == 0 and run["seed"] == 5
    assert run["params"] == {"lr": 0.2} and run["metrics"]["accuracy"] > 0
    model = (proj / "models" / "model.json").read_bytes()
    assert json.loads(model)["params"] == {"lr": 0.2, "epochs": 3} and json.loads(model)["seed"] == 5
    assert run["outputs"]["models/model.json"]["sha256"] == hashlib.sha256(model).hexdigest()
    data = run["inputs"]["data/raw/customers.csv"]
    assert data["tracked"] and data["clean"] and not data["stored"]
    assert "train.py" not in run["inputs"]  # committed code is versioned by the commit
    snap = run["snapshot"]
    assert snap["commit"] == git(proj, "rev-parse", "HEAD").stdout.strip() and snap["branch"] == "main"
    assert not snap["dirty"] and snap["python"]["packages"]["pluggy"]
    assert snap["env"]["MY_SETTING"] == "fast" and snap["env"]["OMP_NUM_THREADS"] == "2"
    assert "MY_API_KEY" not in snap["env"] and "DB_PASSWORD" not in snap["env"]
    ledger = (proj / ".gitgov" / "ledger.db").read_bytes()
    assert b"do-not-record" not in ledger
    obj = proj / ".gitgov" / "objects" / run["outputs"]["models/model.json"]["sha256"][:2]
    assert obj.is_dir()  # the output is kept in the store


def test_a_link_out_of_the_repository_is_no_output_and_is_not_stored(proj, tmp_path):
    secret = tmp_path / "elsewhere.txt"
    secret.write_text("not the project's\n")
    code = (f"import os; os.makedirs('models', exist_ok=True); os.symlink({str(secret)!r}, 'models/link'); "
            "open('models/real.txt', 'w').write('mine\\n')")
    out = gitgov(proj, "run", "--", PY, "-c", code)
    assert out.returncode == 0, out.stderr
    assert sorted(show(proj)["outputs"]) == ["models/real.txt"]
    stored = [p.read_bytes() for p in (proj / ".gitgov" / "objects").rglob("*") if p.is_file()]
    assert b"not the project's\n" not in stored


def test_exit_status_is_passed_through_and_the_failure_recorded(proj):
    out = gitgov(proj, "run", "--", PY, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)")
    assert out.returncode == 3 and "boom" in out.stderr and "failed (exit 3)" in out.stderr
    run = show(proj)
    assert run["status"] == "failed" and run["exit_code"] == 3


def test_a_command_that_does_not_exist_is_refused_before_anything_is_recorded(proj):
    out = gitgov(proj, "run", "--", "no-such-command-xyz", "--flag")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1] == "gitgov: command not found: no-such-command-xyz (not on PATH)"
    out = gitgov(proj, "run", "--", "./missing.sh")
    assert out.returncode == 2 and "command not found: ./missing.sh (no such file)" in out.stderr
    assert "no runs yet" in gitgov(proj, "runs", "list").stdout


@pytest.mark.parametrize("command", [[PY, "-c", "open('ran.txt', 'w')"], ["sh", "-c", "touch ran.txt"]])
def test_a_seed_out_of_range_is_refused_before_anything_starts(proj, command):
    out = gitgov(proj, "run", "--seed", "4294967296", "--", *command)  # PYTHONHASHSEED's range ends below
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == "gitgov: --seed 4294967296: must be between 0 and 4294967295\n"
    assert not (proj / "ran.txt").exists() and not (proj / ".gitgov" / "runs").exists()
    assert "no runs yet" in gitgov(proj, "runs", "list").stdout


def test_a_params_file_that_does_not_parse_names_line_and_column(proj):
    write(proj, "params.json", '{\n  "lr": 0.1,\n  "epochs": 3,\n}\n')
    out = gitgov(proj, "run", "--params-file", "params.json", "--", PY, "train.py")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "params.json:4:1: params file is not valid JSON: Expecting property name" in out.stderr
    write(proj, "params.toml", 'lr = 0.1\nepochs = = 3\n')
    out = gitgov(proj, "run", "--params-file", "params.toml", "--", PY, "train.py")
    assert out.returncode == 2 and "params.toml:2:" in out.stderr and "not valid TOML" in out.stderr
    write(proj, "list.json", "[1, 2]")
    out = gitgov(proj, "run", "--params-file", "list.json", "--", PY, "train.py")
    assert "must hold an object of name = value pairs, not list" in out.stderr
    # Nested past what every reader of a run can follow: refused, naming the key, as past
    # what the parser itself can follow
    write(proj, "deep.json", '{"a": ' + "[" * 100 + "]" * 100 + "}")
    out = gitgov(proj, "run", "--params-file", "deep.json", "--", PY, "train.py")
    assert out.returncode == 2 and out.stderr == ("gitgov: params file deep.json: a: nested more than 64 "
                                                  "levels deep; params are settings, not data\n")
    write(proj, "deeper.json", '{"a": ' * 100000 + "1" + "}" * 100000)
    out = gitgov(proj, "run", "--params-file", "deeper.json", "--", PY, "train.py")
    assert out.returncode == 2 and out.stderr == "gitgov: deeper.json: params file is nested too deeply to read\n"
    # Params travel as JSON: what JSON cannot hold is named with its key, before anything runs
    write(proj, "nan.json", '{"opt": {"lr": NaN}}')
    out = gitgov(proj, "run", "--params-file", "nan.json", "--", PY, "train.py")
    assert out.returncode == 2 and out.stderr == ("gitgov: params file nan.json: opt.lr: nan is not a number "
                                                  "JSON can hold; write it as text\n")
    write(proj, "when.toml", "start = 1979-05-27T07:32:00Z\n")
    out = gitgov(proj, "run", "--params-file", "when.toml", "--", PY, "train.py")
    assert out.returncode == 2 and "params file when.toml: start: a datetime is not a JSON value" in out.stderr
    out = gitgov(proj, "run", "--input", "data/raw/nope.csv", "--", PY, "train.py")
    assert out.returncode == 2 and out.stderr == "gitgov: --input data/raw/nope.csv: no such file or folder\n"
    assert "no runs yet" in gitgov(proj, "runs", "list").stdout
    assert not (proj / ".gitgov" / "runs").exists() or not any((proj / ".gitgov" / "runs").iterdir())
    assert gitgov(proj, "run", "--param", "x=NaN", "--param", "y=1e999", "--", PY, "-c", "pass").returncode == 0
    assert json.loads(gitgov(proj, "runs", "show", "last", "--json").stdout)["params"] == {"x": "NaN", "y": "1e999"}


def test_params_file_values_reach_the_script_and_param_flags_win(proj):
    write(proj, "params.toml", "lr = 0.05\nepochs = 2\n")
    out = gitgov(proj, "run", "--params-file", "params.toml", "--param", "epochs=4", "--", PY, "train.py")
    assert out.returncode == 0, out.stderr
    assert json.loads((proj / "models" / "model.json").read_text())["params"] == {"lr": 0.05, "epochs": 4}
    assert show(proj)["params"] == {"lr": 0.05, "epochs": 4}


def _start(proj, code: str) -> subprocess.Popen:
    return subprocess.Popen([PY, "-m", "gitgov.core", "run", "--", PY, "-c", code], cwd=proj,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


SLEEPER = ("import os, sys, time; open('child.pid', 'w').write(str(os.getpid())); "
           "print('ready', flush=True); time.sleep(60)")


def test_sigint_reaches_the_command_and_the_run_is_recorded_as_interrupted(proj):
    proc = _start(proj, SLEEPER)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGINT)  # as `kill -INT` would: gitgov passes it on
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "was interrupted (SIGINT)" in err and "Traceback" not in err.split("gitgov:")[-1]
    run = show(proj)
    assert run["status"] == "interrupted" and run["signal"] == "SIGINT" and run["exit_code"] == 130


def test_a_command_killed_with_sigkill_is_recorded_as_killed(proj):
    proc = _start(proj, SLEEPER)
    assert proc.stdout.readline().strip() == "ready"
    os.kill(int((proj / "child.pid").read_text()), signal.SIGKILL)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 137 and "was killed (SIGKILL)" in err
    assert show(proj)["status"] == "killed"


def test_gitgov_killed_mid_run_leaves_a_lost_run_that_cannot_be_reproduced(proj):
    proc = _start(proj, SLEEPER)
    assert proc.stdout.readline().strip() == "ready"
    proc.kill()
    proc.wait(timeout=30)
    os.kill(int((proj / "child.pid").read_text()), signal.SIGKILL)
    listed = json.loads(gitgov(proj, "runs", "list", "--json", check=True).stdout)
    assert [(r["state"], r["status"]) for r in listed] == [("lost", "lost")]  # as the text says
    assert (show(proj)["state"], show(proj)["status"]) == ("lost", "lost")
    assert "lost (no end was recorded" in gitgov(proj, "runs", "show", "last").stdout
    out = gitgov(proj, "reproduce", "last")
    assert out.returncode == 2 and out.stderr.startswith("gitgov: run ")  # the reason, nothing announced first
    assert out.stderr.count("\n") == 1 and "has no recorded end (lost); only finished runs can be reproduced" in out.stderr


def test_outputs_of_any_command_are_found_by_comparing_folders(proj):
    out = gitgov(proj, "run", "--", "sh", "-c", "mkdir -p models && printf hi > models/out.txt")
    assert out.returncode == 0, out.stderr
    run = show(proj)
    assert run["outputs"]["models/out.txt"]["sha256"] == hashlib.sha256(b"hi").hexdigest()


def test_untracked_inputs_and_the_uncommitted_diff_are_kept_in_the_store(proj):
    write(proj, "data/extra.csv", "a,b\n1,2\n")  # untracked
    train = (proj / "train.py").read_text().replace('"epochs": 3', '"epochs": 2')
    write(proj, "train.py", train)  # a tracked file, changed but not committed
    code = "print(len(open('data/extra.csv').read()))"
    out = gitgov(proj, "run", "--", PY, "-c", code)
    assert out.returncode == 0, out.stderr
    run = show(proj)
    extra = run["inputs"]["data/extra.csv"]
    assert not extra["tracked"] and extra["stored"]
    assert (proj / ".gitgov" / "objects" / extra["sha256"][:2] / extra["sha256"][2:]).is_file()
    assert run["dirty"] and run["snapshot"]["diff"]["files"] == ["train.py"]
    diff = run["snapshot"]["diff"]["sha256"]
    stored = (proj / ".gitgov" / "objects" / diff[:2] / diff[2:]).read_text()
    assert '-p = params({"lr": 0.1, "epochs": 3})' in stored


def test_projections_are_rebuilt_from_the_journal(proj):
    assert gitgov(proj, "run", "--", PY, "train.py").returncode == 0
    db = proj / ".gitgov" / "ledger.db"

    def tables():
        with sqlite3.connect(db) as conn:
            return [conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
                    for t in ("runs", "run_files", "metrics", "lineage_nodes", "lineage_edges")]

    before = tables()
    assert gitgov(proj, "ledger", "rebuild").returncode == 0
    assert tables() == before and before[0] and before[4]


def test_reads_of_child_python_processes_are_recorded_and_sitecustomize_still_runs(proj, tmp_path):
    site = tmp_path / "site"
    write(site, "sitecustomize.py", "open('site-ran.txt', 'w').write('yes')\n")
    child = "open('data/raw/customers.csv').read()"
    code = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}], check=True)"
    out = gitgov(proj, "run", "--", PY, "-c", code, env={**os.environ, "PYTHONPATH": str(site)})
    assert out.returncode == 0, out.stderr
    assert "data/raw/customers.csv" in show(proj)["inputs"]
    assert (proj / "site-ran.txt").read_text() == "yes"  # the interpreter's own sitecustomize ran


DENY = '''\
from gitgov.core.events import error
from gitgov.core.hookspecs import hookimpl


@hookimpl
def run_started(event, ctx):
    if event.params.get("lr", 0) > 1:
        return error("lr-too-high", "learning rates above 1 are not allowed here")
'''


def test_a_plugin_can_refuse_a_run_before_the_command_starts(proj):
    write(proj, "policy_plugins/deny.py", DENY)
    with open(proj / "gitgov.toml", "a") as f:
        f.write('local = ["policy_plugins/deny.py"]\n')  # appended to the [plugins] table
    out = gitgov(proj, "run", "--param", "lr=5", "--", PY, "train.py")
    assert out.returncode == 1 and "deny/lr-too-high: learning rates above 1 are not allowed" in out.stderr
    assert not (proj / "models" / "model.json").exists()  # the command never ran
    assert json.loads(gitgov(proj, "runs", "list", "--json").stdout)[0]["state"] == "refused"
    assert not any((proj / ".gitgov" / "runs").iterdir())  # the ledger keeps the refusal, no folder is left
    assert gitgov(proj, "run", "--param", "lr=0.5", "--", PY, "train.py").returncode == 0


def test_run_refs_with_sql_wildcards_match_no_run(proj):
    assert gitgov(proj, "run", "--name", "one", "--", PY, "-c", "pass").returncode == 0
    run_id = show(proj)["run_id"]
    assert show(proj, run_id[:6].upper())["run_id"] == run_id  # a real prefix still finds it
    for ref in ("____", "%%%%", run_id[:4] + "%"):
        out = gitgov(proj, "runs", "show", ref)
        assert out.returncode == 2 and f"no run matches '{ref}'" in out.stderr


def test_a_declared_output_folder_holds_the_files_the_run_wrote_into_it(proj):
    write(proj, "build/old.txt", "old\n")  # there before the run, and left alone: not an output
    script = "mkdir -p build/sub dist && echo new > build/sub/new.txt && echo pkg > dist/pkg.txt"
    out = gitgov(proj, "run", "--output", "build", "--output", "dist", "--", "sh", "-c", script)  # no audit hook
    assert out.returncode == 0, out.stderr
    assert sorted(show(proj)["outputs"]) == ["build/sub/new.txt", "dist/pkg.txt"]


def test_a_declared_output_folder_does_not_claim_files_of_earlier_runs(proj):
    first = gitgov(proj, "run", "--name", "first", "--output", "custom", "--",
                   "sh", "-c", "mkdir -p custom && echo hi > custom/b.txt")
    assert first.returncode == 0, first.stderr
    second = gitgov(proj, "run", "--name", "second", "--output", "custom", "--",
                    "sh", "-c", "mkdir -p custom && echo hi > custom/c.txt")
    assert second.returncode == 0, second.stderr
    assert list(show(proj, "first")["outputs"]) == ["custom/b.txt"]
    assert list(show(proj, "second")["outputs"]) == ["custom/c.txt"]
    upstream = gitgov(proj, "lineage", "custom/b.txt", "--upstream", "--format", "json")
    assert upstream.returncode == 0 and show(proj, "second")["run_id"] not in upstream.stdout
    again = gitgov(proj, "reproduce", "second")
    assert again.returncode == 0, again.stdout + again.stderr
    # a declared file is an output even when the run left it as it was
    third = gitgov(proj, "run", "--name", "third", "--output", "custom/b.txt", "--", "true")
    assert third.returncode == 0, third.stderr
    assert list(show(proj, "third")["outputs"]) == ["custom/b.txt"]


def test_a_metrics_line_that_is_not_utf8_is_skipped_and_the_run_still_recorded(proj):
    script = ("import os; open(os.environ['GITGOV_METRICS_FILE'], 'ab').write("
              "b'{\"name\": \"l\\xe9\", \"value\": 1}\\n{\"name\": \"auc\", \"value\": 0.75}\\n')")
    out = gitgov(proj, "run", "--", PY, "-c", script)
    assert out.returncode == 0 and "internal error" not in out.stderr, out.stderr
    run = show(proj)
    assert run["state"] == "ok" and run["metrics"] == {"auc": 0.75}


def test_a_file_name_that_is_not_utf8_is_left_out_and_the_run_still_recorded(proj):
    script = "open(b'outputs/bad\\xe9.txt', 'wb').write(b'x'); open('outputs/fine.txt', 'w').write('y')"
    os.makedirs(proj / "outputs")
    out = gitgov(proj, "run", "--", PY, "-c", script)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("outputs/bad\\xe9.txt is not recorded: its name is not valid UTF-8") == 1
    run = show(proj)
    assert run["state"] == "ok" and list(run["outputs"]) == ["outputs/fine.txt"]


def test_a_command_that_cannot_start_is_recorded_as_failed_not_lost(proj):
    script = write(proj, "no-shebang.sh", "echo hi\n")
    script.chmod(0o755)
    out = gitgov(proj, "run", "--", "./no-shebang.sh")
    assert out.returncode == 2 and out.stderr.strip().splitlines()[-1] == \
        "gitgov: cannot start ./no-shebang.sh: Exec format error"
    run = show(proj)
    assert run["state"] == "failed" and run["exit_code"] == 126


def test_runs_list_of_a_name_without_runs_does_not_claim_there_are_none(proj):
    assert gitgov(proj, "run", "--name", "train", "--", PY, "-c", "pass").returncode == 0
    out = gitgov(proj, "runs", "list", "--name", "tran")
    assert out.returncode == 0 and out.stdout.strip() == "gitgov: no run named 'tran'; `gitgov runs list` shows all runs"


def test_an_id_prefix_too_short_to_look_up_says_how_long_it_must_be(proj):
    assert gitgov(proj, "run", "--", PY, "-c", "pass").returncode == 0
    run_id = show(proj)["run_id"]
    out = gitgov(proj, "runs", "show", run_id[:3])
    assert out.returncode == 2
    assert out.stderr.strip() == (f"gitgov: no run matches '{run_id[:3]}'; an id prefix needs at least 4 "
                                  "characters; `gitgov runs list` shows the recorded runs (a run "
                                  "recorded in another clone: `gitgov store pull RUN` fetches it)")
    assert show(proj, run_id[:4])["run_id"] == run_id


def test_a_script_whose_interpreter_is_missing_says_so(proj):
    script = write(proj, "badshebang.sh", "#!/nonexistent/interp\necho hi\n")
    script.chmod(0o755)
    out = gitgov(proj, "run", "--", "./badshebang.sh")
    assert out.returncode == 2 and out.stderr.strip().splitlines()[-1] == (
        "gitgov: cannot start ./badshebang.sh: the interpreter on its #! line, /nonexistent/interp, "
        "does not exist")
    assert show(proj)["exit_code"] == 126
    script.write_bytes(b"#!/bin/sh\r\necho hi\r\n")  # saved with Windows line endings
    out = gitgov(proj, "run", "--", "./badshebang.sh")
    assert out.returncode == 2 and out.stderr.strip().splitlines()[-1] == (
        "gitgov: cannot start ./badshebang.sh: the interpreter on its #! line, '/bin/sh\\r', "
        "does not exist (the line ends in \\r: save the script with Unix line endings)")


@pytest.mark.parametrize("name, why", [
    ("last", "'last' is reserved"), ("Latest", "'Latest' is reserved"), ("9c467b0e", "reads as a run id"),
    ("DEAD-beef", "reads as a run id"), ("2024", "reads as a run id"), ("", "use letters, digits"),
    ("bad name/x", "use letters, digits"), ("-x", "use letters, digits"), ("x" * 101, "at most 100"),
])
def test_a_run_name_that_could_not_be_looked_up_is_refused(proj, name, why):
    out = gitgov(proj, "run", "--name", name, "--", PY, "-c", "open('ran', 'w')")
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert out.stderr.startswith(f"gitgov: --name {name!r}: ") and why in out.stderr
    assert "no runs yet" in gitgov(proj, "runs", "list").stdout and not (proj / "ran").exists()


def test_run_names_that_read_as_names_are_kept(proj):
    for name in ("train", "lr0.1", "abc", "run-2024", "v1.2_final-x", "lastly"):  # abc: too short for an id prefix
        assert gitgov(proj, "run", "--name", name, "--", PY, "-c", "pass").returncode == 0, name
        assert show(proj, name)["name"] == name


@pytest.mark.parametrize("param, message", [
    ("epochs=abc", "--param epochs=abc: expected an int, like the script's default 3"),
    ("epochs=2.5", "--param epochs=2.5: expected an int, like the script's default 3"),
    ("lr=true", "--param lr=true: expected a float, like the script's default 0.1"),
])
def test_a_param_that_does_not_take_the_type_of_its_default_is_one_clear_error(proj, param, message):
    out = gitgov(proj, "run", "--param", param, "--", PY, "train.py")
    assert out.returncode == 1
    assert f"gitgov.core.tracking.ParamError: {message}" in out.stderr.splitlines()
    assert "could not convert" not in out.stderr and "invalid literal" not in out.stderr


def test_the_params_a_script_used_are_recorded_with_its_defaults(proj):
    assert gitgov(proj, "run", "--name", "defaults", "--", PY, "train.py").returncode == 0
    assert gitgov(proj, "run", "--name", "given", "--param", "lr=0.2", "--", PY, "train.py").returncode == 0
    run = show(proj, "defaults")
    assert run["params"] == {} and run["effective_params"] == {"epochs": 3, "lr": 0.1}
    assert show(proj, "given")["effective_params"] == {"epochs": 3, "lr": 0.2}
    listed = json.loads(gitgov(proj, "runs", "list", "--json").stdout)
    assert [r["effective_params"] for r in listed] == [{"epochs": 3, "lr": 0.2}, {"epochs": 3, "lr": 0.1}]
    text = gitgov(proj, "runs", "show", "defaults").stdout
    assert "  params     epochs=3, lr=0.1  (the script's defaults: epochs, lr)" in text.splitlines()
    text = gitgov(proj, "runs", "show", "given").stdout
    assert "  params     epochs=3, lr=0.2  (the script's defaults: epochs)" in text.splitlines()
    rows = json.loads(gitgov(proj, "runs", "diff", "defaults", "given", "--json").stdout)["rows"]
    params = {r["key"]: (r["run1"], r["run2"], r["differs"]) for r in rows if r["section"] == "params"}
    assert params == {"epochs": ("3", "3", False), "lr": ("0.1", "0.2", True)}
    # a command that never asks for params() keeps what it was given
    assert gitgov(proj, "run", "--param", "k=1", "--", "true").returncode == 0
    assert show(proj)["effective_params"] == {"k": 1}
    assert "  params     k=1" in gitgov(proj, "runs", "show", "last").stdout.splitlines()


def test_a_param_that_is_not_utf8_is_refused_before_the_run(proj):
    proc = subprocess.run([PY, "-m", "gitgov.core", "run", "--param", b"k\xff=1", "--", PY, "-c", "pass"],
                          cwd=proj, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and proc.stderr == "gitgov: --param 'k\\xff=1': not UTF-8 text\n"
    assert "run_started" not in gitgov(proj, "log", "--json").stdout
