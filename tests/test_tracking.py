"""The training-script API: seed, params and metrics, inside and outside `gitgov run`."""
from __future__ import annotations

import json
import random

import pytest

from gitgov.core import tracking


@pytest.fixture(autouse=True)
def no_run(monkeypatch):
    for name in ("GITGOV_RUN_ID", "GITGOV_SEED", "GITGOV_PARAMS", "GITGOV_PARAMS_FILE",
                 "GITGOV_METRICS_FILE", "GITGOV_EFFECTIVE_PARAMS_FILE", "PYTHONHASHSEED"):
        monkeypatch.delenv(name, raising=False)
    tracking._logged.clear()


def test_outside_a_run_defaults_are_used_and_metrics_are_printed(capsys):
    assert tracking.seed_everything(42) == 42
    first = random.random()
    tracking.seed_everything(42)
    assert random.random() == first
    assert tracking.params({"lr": 0.5, "epochs": 3}) == {"lr": 0.5, "epochs": 3}
    tracking.log_metric("loss", 0.25, step=2)
    assert "metric loss = 0.25 (step 2)" in capsys.readouterr().err
    assert tracking.logged_metrics() == {"loss": 0.25} and tracking.run_id() is None


def test_inside_a_run_the_runs_seed_params_and_metrics_file_win(tmp_path, monkeypatch, capsys):
    metrics = tmp_path / "metrics.jsonl"
    monkeypatch.setenv("GITGOV_RUN_ID", "r1")
    monkeypatch.setenv("GITGOV_SEED", "7")
    monkeypatch.setenv("GITGOV_PARAMS", json.dumps({"epochs": "10", "lr": 1, "extra": [1, 2],
                                                    "shuffle": "false"}))
    monkeypatch.setenv("GITGOV_METRICS_FILE", str(metrics))
    assert tracking.seed_everything(42) == 7 and tracking.run_id() == "r1"
    got = tracking.params({"epochs": 3, "lr": 0.5, "shuffle": True, "name": "m"})
    # overrides take the type of the default they replace
    assert got == {"epochs": 10, "lr": 1.0, "shuffle": False, "name": "m", "extra": [1, 2]}
    assert isinstance(got["lr"], float) and isinstance(got["epochs"], int)
    tracking.log_metric("acc", 0.5, step=1)
    tracking.log_metric("acc", 0.75, step=2)
    assert capsys.readouterr().err == ""  # nothing printed: the run records them
    assert tracking.read_metrics_file(str(metrics)) == {"acc": {"value": 0.75, "step": 2, "count": 2}}


def test_a_metrics_file_cut_short_by_a_killed_process_still_reads(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"name": "loss", "value": 1.5, "step": 1}\n{"name": "loss", "val')
    assert tracking.read_metrics_file(str(path)) == {"loss": {"value": 1.5, "step": 1, "count": 1}}
    assert tracking.read_metrics_file(str(tmp_path / "missing.jsonl")) == {}


def test_a_metric_needs_a_name_and_non_finite_values_are_kept_as_text():
    import pytest

    with pytest.raises(ValueError, match="give the metric a name"):
        tracking.log_metric(" ", 1.0)
    assert [tracking.recordable(v) for v in (0.5, float("nan"), float("inf"), float("-inf"))] == \
        [0.5, "nan", "inf", "-inf"]


@pytest.mark.parametrize("value", ["high", None, "", [1], {"a": 1}])
def test_a_metric_value_that_is_not_a_number_is_one_clear_error(value):
    with pytest.raises((TypeError, ValueError)) as caught:
        tracking.log_metric("acc", value)
    assert str(caught.value) == (f"log_metric('acc', {value!r}): the value must be a number "
                                 f"(an int or a float), not {type(value).__name__}")
    assert tracking.logged_metrics() == {}


@pytest.mark.parametrize("args, message", [
    (("\udcff", 1.0), "log_metric('\\udcff', ...): the name must be text (UTF-8)"),
    (("loss", 10**400), f"log_metric('loss', {repr(10**400)[:57]}...): the value is too large for a float"),
    (("loss", 1.0, 10**400), f"log_metric('loss', ..., step={repr(10**400)[:57]}...): the step must be a "
                             "number that fits in 64 bits"),
    (("loss", 1.0, float("nan")), "log_metric('loss', ..., step=nan): the step must be a number that "
                                  "fits in 64 bits"),
])
def test_a_metric_the_ledger_could_not_keep_is_refused_in_the_script(args, message):
    """Accepted, it would keep the whole run from being recorded: the run would stay 'lost'."""
    with pytest.raises(ValueError) as caught:
        tracking.log_metric(*args)
    assert str(caught.value) == message
    assert tracking.logged_metrics() == {}


def test_metric_records_written_around_log_metric_are_skipped_not_fatal(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"name": "\\udcff", "value": 1}\n{"name": "loss", "value": 1, "step": 1e400}\n'
                    '{"name": "loss", "value": 1e999}\n{"name": "loss", "value": 2, "step": 3}\n')
    # an infinite value is kept (as "inf", see recordable); a bad name or step is not
    assert tracking.read_metrics_file(str(path)) == {"loss": {"value": 2.0, "step": 3, "count": 2}}


@pytest.mark.parametrize("given, default, wanted", [
    (10, 3, 10), (3.0, 3, 3), ("10", 3, 10), (2, 0.5, 2.0), ("0.25", 0.5, 0.25),
    ("false", True, False), ("on", False, True), (True, False, True), (0, True, False),
    (5, "name", "5"), (True, "x", "true"), ("m", "name", "m"), ([1], None, [1]), ({"a": 1}, {}, {"a": 1}),
])
def test_a_given_param_takes_the_type_of_the_scripts_default(monkeypatch, given, default, wanted):
    monkeypatch.setenv("GITGOV_PARAMS", json.dumps({"k": given}))
    got = tracking.params({"k": default})["k"]
    assert got == wanted and type(got) is type(wanted)


@pytest.mark.parametrize("given, default, message", [
    (2.5, 20, "--param epochs=2.5: expected an int, like the script's default 20"),
    ("abc", 20, "--param epochs=abc: expected an int, like the script's default 20"),
    (True, 20, "--param epochs=true: expected an int, like the script's default 20"),
    (True, 0.5, "--param epochs=true: expected a float, like the script's default 0.5"),
    ("fast", 0.5, "--param epochs=fast: expected a float, like the script's default 0.5"),
    ("maybe", True, "--param epochs=maybe: expected true or false, like the script's default true"),
    (2, False, "--param epochs=2: expected true or false, like the script's default false"),
    ([1, 2], 3, "--param epochs=[1, 2]: expected an int, like the script's default 3"),
])
def test_a_given_param_that_does_not_convert_names_param_value_and_type(monkeypatch, given, default, message):
    monkeypatch.setenv("GITGOV_PARAMS", json.dumps({"epochs": given}))
    with pytest.raises(tracking.ParamError) as caught:
        tracking.params({"epochs": default})
    assert str(caught.value) == message and isinstance(caught.value, ValueError)


def test_the_params_a_script_used_are_written_back_for_the_run(tmp_path, monkeypatch):
    used = tmp_path / "effective-params.json"
    monkeypatch.setenv("GITGOV_EFFECTIVE_PARAMS_FILE", str(used))
    monkeypatch.setenv("GITGOV_PARAMS", json.dumps({"lr": 1}))
    assert tracking.params({"lr": 0.5, "epochs": 3, "path": tmp_path}) == {"lr": 1.0, "epochs": 3, "path": tmp_path}
    assert json.loads(used.read_text()) == {"lr": 1.0, "epochs": 3, "path": str(tmp_path)}
    tracking.params({"layers": 2, "bad": float("nan")})  # a second call (another stage) adds its own
    assert json.loads(used.read_text()) == {"lr": 1, "epochs": 3, "path": str(tmp_path), "layers": 2,
                                            "bad": "nan"}
    used.unlink()
    used.mkdir()  # a file that cannot be written costs the record, never the script
    assert tracking.params({"lr": 0.5}) == {"lr": 1.0}
