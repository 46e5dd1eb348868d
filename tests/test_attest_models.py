"""Attestations (in-toto + SLSA in a signed DSSE envelope), the model registry,
and comparing runs side by side."""
from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys

import pytest

import run_project
from conftest import git, gitgov, write

PY = sys.executable


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    root = run_project.build(tmp_path_factory.mktemp("attest"))
    env = run_project.environ(root.parent)
    for lr in ("0.1", "0.3"):
        proc = subprocess.run([PY, "-m", "gitgov.core", "run", "--name", f"lr{lr}", "--param", f"lr={lr}",
                               "--seed", "3", "--", PY, "train.py"], cwd=root, env=env, capture_output=True,
                              text=True)
        assert proc.returncode == 0, proc.stderr
    return root


@pytest.fixture
def proj(template, tmp_path):
    return run_project.copy(template, tmp_path / "proj")


def test_attest_writes_a_signed_slsa_statement_that_verifies(proj):
    out = gitgov(proj, "attest", "lr0.3", "-o", "prov.intoto.jsonl")
    assert out.returncode == 0, out.stderr
    envelope = json.loads((proj / "prov.intoto.jsonl").read_text())
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    model = hashlib.sha256((proj / "models" / "model.json").read_bytes()).hexdigest()
    assert statement["subject"] == [{"name": "models/model.json", "digest": {"sha256": model}}]
    build = statement["predicate"]["buildDefinition"]
    assert build["externalParameters"]["seed"] == 3 and build["externalParameters"]["params"] == {"lr": 0.3}
    assert build["externalParameters"]["command"] == [PY, "train.py"]
    deps = build["resolvedDependencies"]
    head = git(proj, "rev-parse", "HEAD").stdout.strip()
    assert {"gitCommit": head} in [d["digest"] for d in deps if "digest" in d]
    assert any(d.get("name") == "data/raw/customers.csv" and d["digest"]["gitBlob"] for d in deps)
    assert any(d.get("uri", "").startswith("pkg:pypi/pluggy@") for d in deps)
    verified = gitgov(proj, "attest", "--verify", "prov.intoto.jsonl")
    assert verified.returncode == 0 and "valid signature" in verified.stdout and "1 file(s) on disk match" in verified.stdout


def test_attest_without_output_writes_the_file_the_docs_name(proj):
    out = gitgov(proj, "attest", "lr0.3")  # as in docs/runs.md: attest NAME, then verify NAME.intoto.jsonl
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("gitgov: wrote lr0.3.intoto.jsonl: ")
    assert gitgov(proj, "attest", "--verify", "lr0.3.intoto.jsonl").returncode == 0
    assert sorted(p.name for p in proj.glob("*.intoto.jsonl")) == ["lr0.3.intoto.jsonl"]
    # a run without a name is known by its short id
    assert gitgov(proj, "run", "--", PY, "train.py").returncode == 0
    short = json.loads(gitgov(proj, "runs", "show", "last", "--json").stdout)["run_id"][:8]
    out = gitgov(proj, "attest", "last", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["file"] == f"{short}.intoto.jsonl"
    # run names are letters, digits, '.', '_' and '-' (gitgov run refuses others): a file name as is
    assert gitgov(proj, "run", "--name", "exp-2.b_1", "--", PY, "train.py").returncode == 0
    out = gitgov(proj, "attest", "exp-2.b_1")
    assert out.returncode == 0 and out.stdout.startswith("gitgov: wrote exp-2.b_1.intoto.jsonl: ")
    assert "NAME.intoto.jsonl" in gitgov(proj, "attest", "--help").stdout


def test_verify_refuses_a_changed_statement_a_changed_file_and_a_foreign_key(proj, tmp_path):
    assert gitgov(proj, "attest", "lr0.1", "-o", "a.jsonl").returncode == 0
    envelope = json.loads((proj / "a.jsonl").read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["subject"][0]["digest"]["sha256"] = "0" * 64
    forged = dict(envelope, payload=base64.b64encode(json.dumps(statement).encode()).decode())
    write(proj, "forged.jsonl", json.dumps(forged))
    out = gitgov(proj, "attest", "--verify", "forged.jsonl")
    assert out.returncode == 1 and "no signature is valid for this key" in out.stderr
    # the model on disk is lr0.3's, not lr0.1's: the signature is fine, the file is not
    out = gitgov(proj, "attest", "--verify", "a.jsonl")
    assert out.returncode == 1 and "models/model.json: the file's bytes no longer match" in out.stderr
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = tmp_path / "other.pem"
    other.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    out = gitgov(proj, "attest", "--verify", "a.jsonl", "--key", str(other))
    assert out.returncode == 1 and "signed with another key" in out.stderr


def test_verify_of_a_file_that_is_not_an_envelope_names_line_and_column(proj):
    write(proj, "bad.jsonl", '{"payloadType": "x",\n  "payload": }\n')
    out = gitgov(proj, "attest", "--verify", "bad.jsonl")
    assert out.returncode == 2 and "bad.jsonl:2:14: not a DSSE envelope (not valid JSON" in out.stderr
    write(proj, "other.json", '{"hello": 1}')
    out = gitgov(proj, "attest", "--verify", "other.json")
    assert out.returncode == 2 and "needs payloadType, payload and signatures" in out.stderr


def test_verify_of_an_empty_file_is_bad_input_not_a_pass(proj):
    for name, text in (("empty.jsonl", ""), ("blank.jsonl", "\n  \n")):
        write(proj, name, text)
        out = gitgov(proj, "attest", "--verify", name)
        assert out.returncode == 2 and f"{name}: not a DSSE envelope (the file is empty)" in out.stderr
        assert "valid signature" not in out.stdout


def test_attest_into_a_missing_folder_writes_and_records_nothing(proj):
    before = gitgov(proj, "log", "--json").stdout
    out = gitgov(proj, "attest", "lr0.1", "-o", "no/such/a.intoto.jsonl")
    assert out.returncode == 2 and "internal error" not in out.stderr
    assert "cannot write no/such/a.intoto.jsonl: No such file or directory" in out.stderr
    assert gitgov(proj, "log", "--json").stdout == before  # no run_attested entry for a file never written


def test_models_register_list_and_show(proj):
    out = gitgov(proj, "models", "register", "models/model.json", "--name", "churn", "--stage", "staging")
    assert out.returncode == 0, out.stderr
    assert "registered model churn v1 (staging)" in out.stdout and "produced by run " in out.stdout
    again = gitgov(proj, "models", "register", "models/model.json", "--name", "churn", "--stage", "staging")
    assert "already model churn v1" in again.stdout
    write(proj, "models/model.json", '{"w": 1}')
    assert "v2" in gitgov(proj, "models", "register", "models/model.json", "--name", "churn").stdout
    listed = json.loads(gitgov(proj, "models", "list", "--json").stdout)
    assert [(m["name"], m["version"], m["versions"]) for m in listed] == [("churn", 2, 2)]
    versions = json.loads(gitgov(proj, "models", "show", "churn", "--json").stdout)
    v1, v2 = versions
    runs = json.loads(gitgov(proj, "runs", "list", "--json").stdout)
    assert v1["run_id"] == next(r["run_id"] for r in runs if r["name"] == "lr0.3") and v2["run_id"] is None
    assert v1["lineage"]["commits"] == [git(proj, "rev-parse", "HEAD").stdout.strip()]
    assert v1["lineage"]["inputs"][0].startswith("data/raw/customers.csv@")
    text = gitgov(proj, "lineage", "churn", "--upstream").stdout
    assert text.startswith("model churn v2") and "from models/model.json" in text
    bad = gitgov(proj, "models", "register", "models/model.json", "--name", "no spaces")
    assert bad.returncode == 2 and "use letters, digits" in bad.stderr
    missing = gitgov(proj, "models", "show", "nope")
    assert missing.returncode == 2 and "no model named 'nope'" in missing.stderr


def test_runs_list_and_diff_side_by_side(proj):
    out = gitgov(proj, "runs", "list")
    assert out.returncode == 0 and out.stdout.splitlines()[0].split()[:3] == ["run", "name", "status"]
    assert "lr0.1" in out.stdout and "lr0.3" in out.stdout
    diff = gitgov(proj, "runs", "diff", "lr0.1", "lr0.3")
    assert diff.returncode == 0
    lr = next(line for line in diff.stdout.splitlines() if line.startswith("params") and " lr " in line)
    assert lr.split()[2:] == ["0.1", "0.3", "*"]
    seed = next(line for line in diff.stdout.splitlines() if " seed " in line)
    assert seed.split()[2:] == ["3", "3"]  # same: no mark
    rows = json.loads(gitgov(proj, "runs", "diff", "lr0.1", "lr0.3", "--json").stdout)["rows"]
    outputs = [r for r in rows if r["section"] == "outputs"]
    assert outputs and outputs[0]["differs"]
    for name, flag in (("on", "flag=true"), ("one", "flag=1")):
        assert gitgov(proj, "run", "--name", name, "--param", flag, "--", PY, "-c", "pass").returncode == 0
    flag = next(r for r in json.loads(gitgov(proj, "runs", "diff", "on", "one", "--json").stdout)["rows"]
                if r["key"] == "flag")
    assert (flag["run1"], flag["run2"], flag["differs"]) == ("true", "1", True)  # True == 1 in Python only
    ambiguous = gitgov(proj, "runs", "show", "no-such-run")
    assert ambiguous.returncode == 2 and "no run matches 'no-such-run'" in ambiguous.stderr
