"""Lineage: from a model back to the raw data commit, in text, DOT, JSON and OpenLineage."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

import run_project
from conftest import git, gitgov, write

PY = sys.executable


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A project with one successful and one failed run."""
    root = run_project.build(tmp_path_factory.mktemp("lineage"))
    env = run_project.environ(root.parent)
    for cmd in (["run", "--name", "train", "--", PY, "train.py"],
                ["run", "--name", "broken", "--", PY, "-c", "open('data/raw/customers.csv').read(); raise SystemExit(4)"]):
        proc = subprocess.run([PY, "-m", "gitgov.core", *cmd], cwd=root, env=env, capture_output=True, text=True)
        assert proc.returncode in (0, 4), proc.stderr
    return root


def test_lineage_goes_from_the_model_back_to_the_raw_data_commit(trained):
    commit = git(trained, "rev-parse", "HEAD").stdout.strip()
    out = gitgov(trained, "lineage", "models/model.json", "--upstream")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("models/model.json @ ")
    assert "produced by run " in lines[1] and "train (ok)" in lines[1]
    assert "read data/raw/customers.csv @ " in out.stdout and "[customers], 40 rows" in out.stdout
    assert f'committed in commit {commit[:12]} "Add customers and the training script"' in out.stdout


def test_downstream_from_a_dataset_reaches_both_runs_and_the_model(trained):
    out = gitgov(trained, "lineage", "customers", "--downstream")
    assert out.returncode == 0, out.stderr
    assert "read by run " in out.stdout and "broken (failed)" in out.stdout
    assert "produced models/model.json @ " in out.stdout


def test_json_and_dot_formats(trained):
    graph = json.loads(gitgov(trained, "lineage", "train", "--format", "json").stdout)
    kinds = sorted(n["kind"] for n in graph["nodes"])
    assert kinds == ["commit", "data", "data", "run"]
    assert {e["relation"] for e in graph["edges"]} == {"committed", "input", "output"}
    one = json.loads(gitgov(trained, "lineage", "train", "--format", "json", "--depth", "1").stdout)
    assert {e["relation"] for e in one["edges"]} == {"input", "output"}  # the commit is 2 edges away
    dot = gitgov(trained, "lineage", "models/model.json", "--format", "dot").stdout
    assert dot.startswith("digraph lineage {") and " -> " in dot and dot.rstrip().endswith("}")


def test_sibling_branches_are_drawn_as_one_tree(trained):
    lines = gitgov(trained, "lineage", "train").stdout.splitlines()
    assert lines[0].startswith("run ") and lines[0].endswith("train (ok)")
    assert [line[:8] for line in lines[1:]] == ["├── read", "│   └── ", "└── prod"], lines
    assert lines[2].startswith("│   └── committed in commit ")
    assert lines[3].startswith("└── produced models/model.json @ ")


def test_nested_siblings_keep_the_line_of_their_parent(trained, tmp_path):
    """Both directions under one start, runs in the order they ran, files by name."""
    proj = run_project.copy(trained, tmp_path / "proj")
    script = "open('data/raw/customers.csv').read(); open('b.txt', 'w').write('b'); open('a.txt', 'w').write('a')"
    assert gitgov(proj, "run", "--name", "two", "--", PY, "-c", script).returncode == 0
    out = gitgov(proj, "lineage", "data/raw/customers.csv")
    assert out.returncode == 0, out.stderr
    body = out.stdout.splitlines()[1:]
    shape = [re.sub(r" [0-9a-f]{8,12} .*", "", line.split(" @ ")[0]) for line in body]
    assert shape == ["├── committed in commit",
                     "├── read by run", "│   └── produced models/model.json",
                     "├── read by run",
                     "└── read by run", "    ├── produced a.txt", "    └── produced b.txt"], body
    assert [body[i].split()[-2:] for i in (1, 3, 4)] == [["train", "(ok)"], ["broken", "(failed)"], ["two", "(ok)"]]


def test_upstream_and_downstream_together_follow_both_directions(trained):
    both = gitgov(trained, "lineage", "data/raw/customers.csv", "--upstream", "--downstream")
    assert both.returncode == 0, both.stderr
    assert "committed in commit " in both.stdout and "read by run " in both.stdout
    assert both.stdout == gitgov(trained, "lineage", "data/raw/customers.csv").stdout
    graph = json.loads(gitgov(trained, "lineage", "train", "--downstream", "--upstream", "--format", "json").stdout)
    assert graph["direction"] == "both"
    assert {e["relation"] for e in graph["edges"]} == {"committed", "input", "output"}


def _schemas(root, target: str) -> dict[str, list[tuple[str, str]]]:
    graph = json.loads(gitgov(root, "lineage", target, "--format", "json").stdout)
    return {n["path"]: [(f["name"], f["type"]) for f in n["schema"]] for n in graph["nodes"] if n.get("schema")}


def test_schema_types_come_from_the_profile_recorded_when_the_data_was_checked(trained):
    assert gitgov(trained, "profile", "data/raw/customers.csv").stdout.split("\n")[3].split()[:2] == ["id", "integer"]
    assert _schemas(trained, "train")["data/raw/customers.csv"] == [
        ("id", "integer"), ("age", "integer"), ("plan", "string"), ("churned", "integer")]


def test_schema_types_declared_in_gitgov_toml_win_and_string_is_the_last_resort(trained, tmp_path):
    proj = run_project.copy(trained, tmp_path / "proj")
    policy = proj / "gitgov.toml"
    policy.write_text(policy.read_text().replace(
        "[runs]", '[datasets.customers.columns.age]\ntype = "float"\n\n[runs]'))
    git(proj, "commit", "-q", "-am", "Declare the age column")
    script = ("import shutil; shutil.copy('data/raw/customers.csv', 'data/raw/customers_copy.csv');"
              "open('outputs/count.csv', 'w').write('n,label\\n40,all\\n')")
    (proj / "outputs").mkdir()
    assert gitgov(proj, "run", "--name", "copy", "--", PY, "-c", script).returncode == 0
    git(proj, "add", "data/raw/customers_copy.csv")
    git(proj, "commit", "-q", "-m", "Keep the copy")  # checked (and profiled) at commit time
    schemas = _schemas(proj, "copy")
    assert schemas["data/raw/customers.csv"][:2] == [("id", "integer"), ("age", "float")]
    assert schemas["data/raw/customers_copy.csv"] == [
        ("id", "integer"), ("age", "float"), ("plan", "string"), ("churned", "integer")]
    assert schemas["outputs/count.csv"] == [("n", "string"), ("label", "string")]  # nothing better known
    events = [json.loads(line) for line in gitgov(proj, "lineage", "copy", "--format", "openlineage").stdout.splitlines()]
    out = {d["name"].rsplit("/", 1)[1]: d["facets"]["schema"]["fields"] for d in events[-1]["outputs"]}
    assert out["customers_copy.csv"][1] == {"name": "age", "type": "float"}
    assert out["count.csv"][0] == {"name": "n", "type": "string"}


def test_output_into_a_missing_folder_is_one_line_and_leaves_nothing(trained):
    out = gitgov(trained, "lineage", "train", "-o", "no/such/folder/lineage.txt")
    assert out.returncode == 2 and "internal error" not in out.stderr
    assert "cannot write no/such/folder/lineage.txt: No such file or directory" in out.stderr
    assert not (trained / "no").exists()


def test_an_unknown_target_is_a_clear_error(trained):
    out = gitgov(trained, "lineage", "nothing-like-this")
    assert out.returncode == 2
    assert "no lineage for 'nothing-like-this': it is not a recorded file, dataset, model or run" in out.stderr


def test_an_ambiguous_run_prefix_is_said_to_be_one(trained, monkeypatch):
    """As runs show and reproduce say it: 'not a recorded run' would send the user looking."""
    from gitgov.core import run_query
    from gitgov.core.errors import InputError
    from gitgov.core.git import Repo
    from gitgov.core.ledger import open_ledger
    from gitgov.core.lineage import resolve_target

    def ambiguous(ledger, ref):
        raise InputError(f"run id prefix '{ref}' is ambiguous: a9bbc675-685, a9bb03b4-c51; give more "
                         "characters")

    monkeypatch.setattr(run_query, "resolve", ambiguous)
    with open_ledger(trained / ".gitgov" / "ledger.db") as ledger, pytest.raises(InputError) as err:
        resolve_target(ledger, Repo.discover(trained), None, "a9bb")
    assert str(err.value).startswith("run id prefix 'a9bb' is ambiguous")


def test_a_path_with_glob_characters_links_to_the_commit_that_added_it(trained, tmp_path):
    proj = run_project.copy(trained, tmp_path / "proj")
    write(proj, "data/raw/customers[12].csv", run_project.customers_csv(5))
    git(proj, "add", "-A")
    git(proj, "commit", "-q", "-m", "Add the bracketed table")
    added = git(proj, "rev-parse", "HEAD").stdout.strip()
    write(proj, "data/raw/customers1.csv", run_project.customers_csv(6))  # matches "customers[12]" as a glob
    git(proj, "add", "-A")
    git(proj, "commit", "-q", "-m", "Add another table")
    assert gitgov(proj, "run", "--", PY, "-c", "open('data/raw/customers[12].csv').read()").returncode == 0
    graph = json.loads(gitgov(proj, "lineage", "data/raw/customers[12].csv", "--upstream", "--format", "json").stdout)
    assert [e["src"] for e in graph["edges"] if e["relation"] == "committed"] == [f"commit:{added}"]


# ---- OpenLineage ------------------------------------------------------------------------

def _client_event(data: dict):
    """Rebuild an event with the openlineage-python client's typed classes: unknown or
    missing fields, a bad runId or eventTime, and wrong schema URLs all fail."""
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import (data_quality_metrics_input_dataset as dq,
                                             dataset_version_dataset as version, error_message_run as err,
                                             job_type_job as jobtype, output_statistics_output_dataset as stats,
                                             ownership_dataset as owner, processing_engine_run as engine,
                                             schema_dataset as schema, source_code_location_job as source)

    classes = {"sourceCodeLocation": source.SourceCodeLocationJobFacet, "jobType": jobtype.JobTypeJobFacet,
               "processing_engine": engine.ProcessingEngineRunFacet, "errorMessage": err.ErrorMessageRunFacet,
               "version": version.DatasetVersionDatasetFacet, "schema": schema.SchemaDatasetFacet,
               "ownership": owner.OwnershipDatasetFacet,
               "dataQualityMetrics": dq.DataQualityMetricsInputDatasetFacet,
               "outputStatistics": stats.OutputStatisticsOutputDatasetFacet}

    def facets(raw: dict) -> dict:
        built = {}
        for name, f in raw.items():
            fields = {k: v for k, v in f.items() if not k.startswith("_")}
            if name == "schema":
                fields["fields"] = [schema.SchemaDatasetFacetFields(**x) for x in fields["fields"]]
            if name == "ownership":
                fields["owners"] = [owner.Owner(**x) for x in fields["owners"]]
            facet = classes[name](producer=f["_producer"], **fields)
            assert facet._schemaURL == f["_schemaURL"], name
            built[name] = facet
        return built

    def datasets(cls, items, extra):
        return [cls(namespace=d["namespace"], name=d["name"], facets=facets(d["facets"]),
                    **{extra: facets(d[extra])}) for d in items]

    return RunEvent(eventType=RunState(data["eventType"]), eventTime=data["eventTime"], producer=data["producer"],
                    run=Run(runId=data["run"]["runId"], facets=facets(data["run"]["facets"])),
                    job=Job(namespace=data["job"]["namespace"], name=data["job"]["name"],
                            facets=facets(data["job"]["facets"])),
                    inputs=datasets(InputDataset, data["inputs"], "inputFacets"),
                    outputs=datasets(OutputDataset, data["outputs"], "outputFacets"))


def _drop_empty(value):
    """The client fills optional lists with []; the export leaves them out."""
    if isinstance(value, dict):
        return {k: _drop_empty(v) for k, v in value.items() if v != []}
    if isinstance(value, list):
        return [_drop_empty(v) for v in value]
    return value


def test_openlineage_events_validate_with_the_openlineage_client(trained):
    from openlineage.client.serde import Serde

    out = gitgov(trained, "lineage", "customers", "--downstream", "--format", "openlineage")
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE", "START", "FAIL"]
    for data in events:
        event = _client_event(data)
        assert event.schemaURL == data["schemaURL"]
        assert _drop_empty(Serde.to_dict(event)) == _drop_empty(data)  # nothing dropped or renamed
    complete, fail = events[1], events[3]
    assert complete["job"]["name"] == "train" and complete["outputs"][0]["name"].endswith("models/model.json")
    source = complete["job"]["facets"]["sourceCodeLocation"]
    assert source["type"] == "git" and source["version"] == git(trained, "rev-parse", "HEAD").stdout.strip()
    data_in = complete["inputs"][0]
    assert data_in["facets"]["schema"]["fields"][:3] == [  # the types `gitgov profile` gives
        {"name": "id", "type": "integer"}, {"name": "age", "type": "integer"}, {"name": "plan", "type": "string"}]
    assert data_in["inputFacets"]["dataQualityMetrics"]["rowCount"] == 40
    assert data_in["facets"]["ownership"]["owners"][0] == {"name": "user:ada@example.com", "type": "OWNER"}
    assert "exit code 4" in fail["run"]["facets"]["errorMessage"]["message"]
    broken = json.loads(json.dumps(events[0]))
    broken["run"]["runId"] = "run-1"  # the spec wants a UUID: the client must refuse it
    with pytest.raises(ValueError):
        _client_event(broken)
    broken = json.loads(json.dumps(events[0]))
    broken["job"]["facets"]["jobType"]["_schemaURL"] += "x"
    with pytest.raises(AssertionError):
        _client_event(broken)


def test_a_dataset_no_run_touched_has_an_empty_lineage_not_an_error(tmp_path):
    """A dataset in gitgov.toml that no run read or wrote: said in words, an empty graph."""
    root = run_project.build(tmp_path)
    text = gitgov(root, "lineage", "customers")
    assert (text.returncode, text.stdout.strip()) == (
        0, "dataset customers: no lineage yet: no recorded run has read or written it")
    doc = json.loads(gitgov(root, "lineage", "customers", "--format", "json").stdout)
    assert (doc["starts"], doc["nodes"], doc["edges"]) == ([], [], [])
    afile = next(p for p in root.rglob("*.csv") if ".gitgov" not in p.parts)  # no run read it yet
    rel = afile.relative_to(root).as_posix()
    untouched = gitgov(root, "lineage", rel)
    assert (untouched.returncode, untouched.stdout.strip()) == (
        0, f"{rel}: no lineage yet: no recorded run has read or written it")
    unknown = gitgov(root, "lineage", "nosuch")
    assert unknown.returncode == 2 and "no lineage for 'nosuch'" in unknown.stderr
