"""gitgov check, profile, infer and quality, as a user runs them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git, gitgov, governed_repo, write
from gitgov.core.config import load_policy

POLICY = """\
# our policy: comments and layout must survive `gitgov infer`
version = 1

[datasets.customers]   # the CRM export
paths = ["data/customers*.csv"]
primary_key = "id"

[datasets.customers.columns.id]
type = "integer"
unique = true

[datasets.customers.columns.email]
format = "email"
pii = "email"

[datasets.customers.columns.age]
type = "integer"
max = 120

[plugins]
enable = ["validation", "secrets"]
"""
DIRTY = "id,email,age\n1,ada@example.com,36\n2,bad,45\n2,alan@example.net,400\n4,x@y.io\n5,e@x.io,50\n"


@pytest.fixture
def repo(tmp_path) -> Path:
    return governed_repo(tmp_path, POLICY, commit=False)


def test_check_reports_by_rule_and_exits_1(repo):
    write(repo, "data/customers.csv", DIRTY)
    proc = gitgov(repo, "check", "data/customers.csv")
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert "data/customers.csv  (dataset customers, csv, 4 rows)  FAIL: 5 errors" in out
    assert "read.ragged-row: 1 row whose number of fields differs" in out
    assert "row 4 (line 5)" in out and "row 3 (line 4) \"400\"" in out


def test_blank_lines_in_json_lines_do_not_shift_the_line_numbers(repo):
    with open(repo / "gitgov.toml", "a") as f:
        f.write('\n[datasets.events]\npaths = ["data/events.jsonl"]\n'
                '[datasets.events.columns.age]\ntype = "integer"\nmax = 120\n')
    write(repo, "data/events.jsonl", '{"age": 5}\n\n\n{"age": 500}\n{"age": 7}\n')
    proc = gitgov(repo, "check", "data/events.jsonl", "--json")
    assert proc.returncode == 1, proc.stderr
    rule = next(r for r in json.loads(proc.stdout)["files"][0]["rules"] if r["id"] == "age.max")
    assert rule["failed"] == 1 and rule["samples"][0]["line"] == 4


def test_a_json_line_naming_a_field_twice_is_reported_not_half_checked(repo):
    with open(repo / "gitgov.toml", "a") as f:
        f.write('\n[datasets.events]\npaths = ["data/events.jsonl"]\n'
                '[datasets.events.columns.age]\ntype = "integer"\nmax = 120\n')
    write(repo, "data/events.jsonl", '{"age": 5}\n{"age": 500, "age": 7}\n')
    proc = gitgov(repo, "check", "data/events.jsonl")
    assert proc.returncode == 1, proc.stdout
    assert "read.bad-json: 1 line that cannot be read as a JSON object (skipped)" in proc.stdout
    assert "row 2 (line 2)" in proc.stdout and "names field 'age' twice" in proc.stdout


def test_a_repeated_composite_primary_key_is_shown_as_its_parts(repo):
    with open(repo / "gitgov.toml", "a") as f:
        f.write('\n[datasets.visits]\npaths = ["data/visits.csv"]\nprimary_key = ["site", "day"]\n')
    write(repo, "data/visits.csv", "site,day\nberlin,2024-01-01\nparis,2024-01-01\nberlin,2024-01-01\n")
    proc = gitgov(repo, "check", "data/visits.csv")
    assert proc.returncode == 1
    assert 'row 3 (line 4) "berlin, 2024-01-01": same as row 1' in proc.stdout, proc.stdout


def test_check_json_is_the_documented_schema(repo):
    write(repo, "data/customers.csv", DIRTY)
    doc = json.loads(gitgov(repo, "check", "data/customers.csv", "--json").stdout)
    assert doc["version"] == 1 and doc["ok"] is False
    assert doc["summary"] == {"files": 1, "passed": 0, "failed": 1, "skipped": 0}
    [f] = doc["files"]
    assert set(f) >= {"path", "dataset", "format", "status", "verdict", "blob", "ruleset", "rows",
                      "columns", "errors", "warnings", "rules"}
    assert (f["path"], f["dataset"], f["format"], f["status"], f["rows"]) == (
        "data/customers.csv", "customers", "csv", "fail", 4)
    rules = {r["id"]: r for r in f["rules"]}
    assert set(rules["age.max"]) == {"id", "rule", "column", "severity", "failed", "message",
                                     "param", "samples"}
    assert rules["age.max"]["failed"] == 1 and rules["age.max"]["param"] == 120
    assert rules["age.max"]["samples"] == [{"row": 3, "line": 4, "value": "400"}]
    assert rules["email.format"]["samples"] == [{"row": 2, "line": 3, "value": "xxx"}]
    assert rules["id.unique"]["samples"][0]["note"] == "same as row 2"
    # the integer id as written, a string like every other sample of a CSV
    assert [s["value"] for s in rules["id.unique"]["samples"]] == ["2"]
    assert rules["age.type"]["failed"] == 0  # every rule is listed, passing or not


def test_the_readme_shows_the_json_as_check_prints_it(repo):
    """The README's example has exactly the keys of the real document, at every level."""
    import re

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### `gitgov check --json`: a stable interface", 1)[1]
    shown = json.loads(re.search(r"```json\n(.*?)\n```", section, re.S).group(1))
    write(repo, "data/customers.csv", DIRTY)
    real = json.loads(gitgov(repo, "check", "data/customers.csv", "--json").stdout)
    assert set(shown) == set(real) and set(shown["summary"]) == set(real["summary"])
    [shown_file], [real_file] = shown["files"], real["files"]
    assert set(shown_file) == set(real_file)
    real_rule = next(r for r in real_file["rules"] if r["id"] == "age.max")
    [shown_rule] = shown_file["rules"]
    assert set(shown_rule) == set(real_rule)
    assert set(shown_rule["samples"][0]) == set(real_rule["samples"][0])


def test_check_skips_content_that_passed_and_force_checks_again(repo):
    write(repo, "data/customers.csv", "id,email,age\n1,ada@example.com,36\n")
    assert gitgov(repo, "check", "data/customers.csv").returncode == 0
    again = json.loads(gitgov(repo, "check", "data/customers.csv", "--json").stdout)
    assert again["files"][0]["status"] == "skipped" and again["summary"]["skipped"] == 1
    forced = json.loads(gitgov(repo, "check", "--force", "data/customers.csv", "--json").stdout)
    assert forced["files"][0]["status"] == "pass"


def test_check_a_whole_dataset_and_bad_arguments(repo):
    write(repo, "data/customers_a.csv", "id,email,age\n1,ada@example.com,36\n")
    write(repo, "data/customers_b.csv", "id,email,age\n1,ada@example.com,360\n")
    doc = json.loads(gitgov(repo, "check", "--dataset", "customers", "--json").stdout)
    assert [(f["path"], f["status"]) for f in doc["files"]] == [
        ("data/customers_a.csv", "pass"), ("data/customers_b.csv", "fail")]
    proc = gitgov(repo, "check", "--dataset", "nope")
    assert proc.returncode == 2 and "no dataset named 'nope'" in proc.stderr
    proc = gitgov(repo, "check", "data/missing.csv")
    assert proc.returncode == 2 and "data/missing.csv: no such file" in proc.stderr
    write(repo, "notes.csv", "a\n1\n")
    proc = gitgov(repo, "check", "notes.csv")
    assert proc.returncode == 2 and "notes.csv: is in no dataset of gitgov.toml" in proc.stderr


def test_quarantine_splits_passing_and_failing_rows_in_the_source_format(repo):
    write(repo, "data/customers.csv", DIRTY)
    before = (repo / "data/customers.csv").read_bytes()
    proc = gitgov(repo, "check", "data/customers.csv", "--quarantine", "quarantine")
    assert proc.returncode == 1 and "2 rows passed -> quarantine/data/customers.passed.csv" in proc.stdout
    passed = (repo / "quarantine/data/customers.passed.csv").read_text()
    failed = (repo / "quarantine/data/customers.failed.csv").read_text().splitlines()
    assert passed == "id,email,age\n1,ada@example.com,36\n5,e@x.io,50\n"
    assert failed[0] == "id,email,age,_gitgov_row,_gitgov_failures"
    assert failed[1:] == ["2,bad,45,2,email.format", "2,alan@example.net,400,3,id.unique; age.max",
                          ',,,4,"read.ragged-row: 3 fields where the header has 3: 4,x@y.io"'
                          .replace("3 fields", "2 fields")]
    assert (repo / "data/customers.csv").read_bytes() == before  # never modified
    assert gitgov(repo, "check", "quarantine/data/customers.passed.csv", "--dataset", "customers",
                  "--force").returncode == 0


def test_profile_shows_schema_and_statistics(repo):
    write(repo, "data/customers.csv", "id,email,age\n1,ada@example.com,36\n2,,44\n3,c@x.io,44\n")
    proc = gitgov(repo, "profile", "data/customers.csv")
    assert proc.returncode == 0
    assert "data/customers.csv  (csv, 3 rows, 3 columns, dataset customers)" in proc.stdout
    assert "masked (personal data)" in proc.stdout
    doc = json.loads(gitgov(repo, "profile", "data/customers.csv", "--json").stdout)
    age = next(c for c in doc["columns"] if c["name"] == "age")
    assert (age["type"], age["min"], age["max"], age["distinct"]) == ("integer", 36, 44, 2)
    assert age["top"][0] == {"value": 44, "count": 2} and round(age["std"], 3) == 4.619
    email = next(c for c in doc["columns"] if c["name"] == "email")
    assert email["nulls"] == 1 and email["top"] is None and "min" not in email


def test_profile_of_a_file_it_cannot_read_is_one_line_and_exit_2(repo):
    write(repo, "data/notes.txt", "not a table\n")
    write(repo, "data/empty.csv", "")
    for rel, why in (("data/notes.txt", "cannot tell the format from the name 'notes.txt'"),
                     ("data/empty.csv", "the file is empty")):
        for extra in ((), ("--json",)):
            proc = gitgov(repo, "profile", rel, *extra)
            assert proc.returncode == 2 and proc.stdout == "", proc.stdout
            assert proc.stderr.startswith(f"gitgov: {rel}: ") and why in proc.stderr
            assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_profile_of_a_header_only_file_shows_its_columns_and_the_problem(repo):
    write(repo, "data/customers.csv", "id\n")
    proc = gitgov(repo, "profile", "data/customers.csv")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "data/customers.csv  (csv, 0 rows, 1 column, dataset customers)"
    assert lines[-1] == "problem: no_rows: the file has a header (line 1) but no data rows"


def test_infer_writes_a_starter_rule_set_keeping_the_file_as_it_was(repo):
    write(repo, "data/orders.csv", "order_id,email,amount,status,day\n"
          "1,a@x.io,9.5,paid,2024-01-01\n2,b@x.io,12,paid,2024-01-02\n"
          "3,c@x.io,3.25,refunded,2024-01-03\n4,d@x.io,7,paid,2024-01-04\n")
    proc = gitgov(repo, "infer", "data/orders.csv", "--dataset", "orders")
    assert proc.returncode == 0, proc.stderr
    text = (repo / "gitgov.toml").read_text()
    assert text.startswith(POLICY.split("[plugins]")[0])  # the existing part is untouched
    assert "# our policy: comments and layout must survive" in text
    ds = load_policy(repo / "gitgov.toml").datasets["orders"]
    assert ds.paths == ("data/orders.csv",) and ds.primary_key == ("order_id",)
    cols = ds.columns
    assert cols["order_id"] == {"type": "integer", "required": True, "unique": True}
    assert cols["email"]["format"] == "email" and cols["email"]["pii"] == "email"
    assert cols["amount"]["type"] == "float" and cols["status"]["allowed"] == ["paid", "refunded"]
    assert cols["day"]["type"] == "date"
    assert "observed range 3.25 .. 12" in text
    assert gitgov(repo, "check", "data/orders.csv").returncode == 0
    proc = gitgov(repo, "infer", "data/orders.csv", "--dataset", "orders")
    assert proc.returncode == 2 and "already exists" in proc.stderr


def test_infer_and_check_agree_on_dates_in_json_lines(repo):
    write(repo, "data/events.jsonl", '{"day": "2024-01-01"}\n{"day": "2024-01-02"}\n')
    proc = gitgov(repo, "infer", "data/events.jsonl", "--dataset", "events")
    assert proc.returncode == 0, proc.stderr
    assert load_policy(repo / "gitgov.toml").datasets["events"].columns["day"]["type"] == "date"
    proc = gitgov(repo, "check", "data/events.jsonl")
    assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize("dataset, force", [("orders", False), ("customers", True)])
def test_infer_into_a_policy_whose_dataset_tables_are_split_by_another_table(repo, dataset, force):
    # A column table added at the end, after [plugins], as a user (or the demo) appends it:
    # [datasets] is then split in two, and tomlkit hands it back as an out-of-order proxy.
    write(repo, "gitgov.toml", POLICY + '\n[datasets.customers.columns.age2]\ntype = "integer"\n')
    write(repo, "data/orders.csv", "order_id,amount\n1,9.5\n2,12\n")
    proc = gitgov(repo, "infer", "data/orders.csv", "--dataset", dataset, *(["--force"] if force else []))
    assert proc.returncode == 0, proc.stderr
    assert "internal error" not in proc.stderr
    ds = load_policy(repo / "gitgov.toml").datasets[dataset]
    assert ds.columns["order_id"]["type"] == "integer"

def test_quality_shows_metrics_across_versions(repo):
    git(repo, "add", "gitgov.toml", ".gitignore")
    git(repo, "commit", "-q", "-m", "policy")
    write(repo, "data/customers.csv", "id,email,age\n1,ada@example.com,36\n")
    git(repo, "add", "data/customers.csv")
    assert git(repo, "commit", "-q", "-m", "v1", check=False).returncode == 0
    write(repo, "data/customers.csv", "id,email,age\n1,ada@example.com,36\n2,bad,200\n")
    gitgov(repo, "check", "data/customers.csv")
    proc = gitgov(repo, "quality", "customers")
    assert proc.returncode == 0
    assert "customers: 2 versions (oldest first)" in proc.stdout
    assert "failed.age.max" in proc.stdout and "pass" in proc.stdout and "block" in proc.stdout
    doc = json.loads(gitgov(repo, "quality", "customers", "--json").stdout)
    v1, v2 = doc["versions"]
    assert v1["commit"] == git(repo, "rev-parse", "HEAD").stdout.strip() and v2["commit"] is None
    assert (v1["metrics"]["rows"], v2["metrics"]["rows"]) == (1, 2)
    assert v2["metrics"]["failed.age.max"] == 1 and "null_fraction.email" in doc["metrics"]
    proc = gitgov(repo, "quality", "nope")
    assert proc.returncode == 2 and "no dataset named 'nope'" in proc.stderr


def test_a_file_moved_to_another_dataset_is_a_version_of_the_one_it_was_committed_under(repo):
    catch_all = '\n[datasets.data]\npaths = ["data/**/*.csv"]\n'
    policy = repo / "gitgov.toml"
    text = policy.read_text()
    policy.write_text(text.replace("[datasets.customers]", catch_all + "\n[datasets.customers]", 1))
    write(repo, "data/customers.csv", "id,email,age\n1,ada@example.com,36\n2,bob@example.com,41\n")
    assert gitgov(repo, "check", "data/customers.csv").returncode == 0  # checked under `data`
    policy.write_text(text + catch_all)  # customers first again: it owns the file now
    git(repo, "add", "-A")
    assert git(repo, "commit", "-q", "-m", "customers", check=False).returncode == 0
    head = git(repo, "rev-parse", "HEAD").stdout.strip()
    customers = json.loads(gitgov(repo, "quality", "customers", "--json").stdout)["versions"]
    assert [(v["path"], v["commit"], v["metrics"]["rows"]) for v in customers] == [
        ("data/customers.csv", head, 2)]
    data = json.loads(gitgov(repo, "quality", "data", "--json").stdout)["versions"]
    assert [v["path"] for v in data] == ["data/customers.csv"]  # as it was checked then


def test_quality_of_a_ledger_that_is_not_one_says_so(repo):
    ledger = repo / ".gitgov" / "ledger.db"
    ledger.write_bytes(b"this is not a database\n" * 50)
    proc = gitgov(repo, "quality", "customers")  # not "no checked versions yet", exit 0
    assert proc.returncode == 2
    assert proc.stderr == f"gitgov: {ledger} is not a gitgov ledger (not an SQLite database)\n"


def test_a_ledger_before_schema_8_gets_the_per_dataset_versions_view(repo):
    import sqlite3

    from gitgov.core.ledger import MIGRATIONS, SCHEMA_VERSION, _migrate_quality_versions, open_ledger

    ledger = repo / ".gitgov" / "ledger.db"
    old_view = ("CREATE VIEW quality_versions AS SELECT dataset, path, blob, NULL AS commit_sha, verdict,"
                " rows, columns, errors, warnings, time, actor, seq FROM quality_checks")
    with sqlite3.connect(ledger) as db:
        db.execute("DROP VIEW quality_versions")
        db.execute(old_view)
        db.execute(f"PRAGMA user_version = {MIGRATIONS.index(_migrate_quality_versions)}")
    open_ledger(ledger).close()
    with sqlite3.connect(ledger) as db:
        sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'quality_versions'").fetchone()[0]
        assert "r.dataset IS q.dataset" in sql
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


@pytest.mark.parametrize("line, key", [
    ('pattern = "[a-"', "datasets.customers.columns.age.pattern"),
    ('format = "emial"', "datasets.customers.columns.age.format"),
    ("min = 200", "datasets.customers.columns.age.min: 200 is above max = 120: nothing can pass both"),
    ("min_length = 5\nmax_length = 2", "datasets.customers.columns.age.min_length: 5 is above max_length"),
    ("allowed = []", "datasets.customers.columns.age.allowed: must not be empty"),
    ('severities = { mx = "warning" }', "datasets.customers.columns.age.severities.mx: this column "
     "has no rule 'mx' (its rules: type, max) (did you mean 'max'?)"),
    ("allowed = [1, 1e300]", "datasets.customers.columns.age.allowed[1]: 1e+300 is outside the range "
     "of the column's type (a 64-bit integer)"),
    ("[datasets.customers.rules]\nmin_rows = 9\nmax_rows = 1",
     "datasets.customers.rules.min_rows: 9 is above max_rows = 1"),
])
def test_a_bad_rule_in_the_config_exits_2_naming_the_key(repo, line, key):
    policy = repo / "gitgov.toml"
    policy.write_text(policy.read_text().replace("max = 120", "max = 120\n" + line))
    write(repo, "data/customers.csv", "id,email,age\n1,ada@example.com,36\n")
    proc = gitgov(repo, "check", "data/customers.csv")
    assert proc.returncode == 2 and key in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("gitgov: gitgov.toml:")  # as the user names it, like schema errors


def test_a_bad_team_format_regex_exits_2(repo):
    policy = repo / "gitgov.toml"
    policy.write_text(policy.read_text() + '\n[formats.postal_address]\npattern = "(unclosed"\n')
    proc = gitgov(repo, "check", "--dataset", "customers")
    assert proc.returncode == 2 and "formats.postal_address.pattern" in proc.stderr


def test_loading_the_plugin_and_its_commands_does_not_import_pyarrow():
    code = ("import sys, gitgov.plugins.validation as v, gitgov.plugins.validation.commands;"
            "assert 'pyarrow' not in sys.modules, 'pyarrow imported'")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


WIDE_POLICY = """
[datasets.wide]
paths = ["data/wide.*"]

[datasets.wide.columns.id]
type = "integer"
unique = true
min = 1

[datasets.wide.columns.day]
type = "date"
min = "2020-01-01"

[datasets.wide.columns.at]
type = "timestamp"

[datasets.wide.columns.ok]
type = "boolean"

[datasets.wide.columns.plan]
allowed = ["free", "pro"]

[datasets.wide.columns.email]
format = "email"
"""


def test_checks_never_import_pandas_even_when_it_is_installed(repo, tmp_path):
    """pyarrow imports pandas (half a second) to convert any Python value; gitgov never asks it to."""
    fake = tmp_path / "site" / "pandas"
    fake.mkdir(parents=True)
    marker = tmp_path / "pandas-imported"
    (fake / "__init__.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\nraise ImportError('not for gitgov')\n")
    policy = repo / "gitgov.toml"
    policy.write_text(policy.read_text() + WIDE_POLICY)
    rows = ["id,day,at,ok,plan,email"] + [
        f"{i},2021-03-0{i % 9 + 1},2021-03-01T10:00:0{i % 10}Z,{'true' if i % 2 else 'false'},"
        f"{'free' if i % 3 else 'pro'},u{i}@example.com" for i in range(1, 5000)]
    rows += ["0,1999-01-01,yesterday,maybe,gold,not-an-email", "1,2021-01-01,,true,free,a@b.io"]
    write(repo, "data/wide.csv", "\n".join(rows) + "\n")
    env = {**os.environ, "PYTHONPATH": str(fake.parent)}
    proc = gitgov(repo, "check", "--json", "data/wide.csv", env={**env, "PYTHONPROFILEIMPORTTIME": "1"})
    assert proc.returncode == 1, proc.stderr
    assert "| pyarrow.compute" not in proc.stderr  # 0.1 s of wrappers the checks never need
    failed = {r["id"] for r in json.loads(proc.stdout)["files"][0]["rules"] if r["failed"]}
    assert {"id.min", "id.unique", "day.min", "at.type", "ok.type", "plan.allowed",
            "email.format"} <= failed
    for args in (("profile", "data/wide.csv"), ("check", "--quarantine", str(tmp_path / "q"),
                                                 "data/wide.csv")):
        gitgov(repo, *args, env=env)
    assert not marker.exists(), "pandas was imported"


NESTED = """
[datasets.ev]
paths = ["data/ev/**"]

[datasets.ev.columns.k]
allowed = ["a", "b"]

[datasets.data]
paths = ["data/**/*.csv"]

[datasets.shadowed]
paths = ["data/ev/*.csv"]
"""


def test_check_without_paths_checks_each_file_once_under_the_dataset_it_belongs_to(repo):
    write(repo, "gitgov.toml", POLICY.replace("[plugins]", NESTED + "\n[plugins]"))
    write(repo, "data/ev/e.csv", "k\nc\n")
    write(repo, "data/d.csv", "x\n1\n")
    proc = gitgov(repo, "check", "--json")
    assert proc.returncode == 1, proc.stderr
    files = [(f["path"], f["dataset"], f["status"]) for f in json.loads(proc.stdout)["files"]]
    assert files == [("data/ev/e.csv", "ev", "fail"), ("data/d.csv", "data", "pass")]
    alone = json.loads(gitgov(repo, "check", "data/ev/e.csv", "--json").stdout)["files"]
    assert [(f["dataset"], f["status"]) for f in alone] == [("ev", "fail")]
    # --dataset without PATH: the files that belong to it, not every file its globs match
    doc = json.loads(gitgov(repo, "check", "--dataset", "data", "--json", "--force").stdout)
    assert [(f["path"], f["dataset"]) for f in doc["files"]] == [("data/d.csv", "data")]
    doc = json.loads(gitgov(repo, "check", "--dataset", "ev", "--json").stdout)
    assert [(f["path"], f["status"]) for f in doc["files"]] == [("data/ev/e.csv", "fail")]
    # with a PATH, --dataset still checks it as the dataset named
    doc = json.loads(gitgov(repo, "check", "--dataset", "data", "data/ev/e.csv", "--json").stdout)
    assert [(f["dataset"], f["status"]) for f in doc["files"]] == [("data", "pass")]
    proc = gitgov(repo, "check", "--dataset", "shadowed")
    assert proc.returncode == 2 and "no files belong to dataset 'shadowed'" in proc.stderr
    assert "belong to 'ev', listed before it" in proc.stderr


def test_quarantine_keeps_files_of_the_same_name_apart_and_never_overwrites_an_input(repo):
    write(repo, "data/customers.csv", "id,email,age\n1,a@x.io,36\n2,b@x.io,400\n")
    write(repo, "data/customers/b/customers.csv", "id,email,age\n7,c@x.io,50\n")
    proc = gitgov(repo, "check", "data/customers.csv", "data/customers/b/customers.csv",
                  "--dataset", "customers", "--quarantine", "q")
    assert proc.returncode == 1, proc.stderr
    assert "1 row passed -> q/data/customers.passed.csv" in proc.stdout
    assert "1 row passed -> q/data/customers/b/customers.passed.csv" in proc.stdout
    assert (repo / "q/data/customers.passed.csv").read_text() == "id,email,age\n1,a@x.io,36\n"
    assert (repo / "q/data/customers/b/customers.passed.csv").read_text() == "id,email,age\n7,c@x.io,50\n"
    assert "age.max" in (repo / "q/data/customers.failed.csv").read_text()
    # a file named twice is one input: checked and split once
    doc = json.loads(gitgov(repo, "check", "data/customers.csv", "./data/customers.csv", "--json",
                            "--quarantine", "q").stdout)
    assert [f["quarantine"]["passed"] for f in doc["files"]] == ["q/data/customers.passed.csv"]
    # one input's output would be another input of the same run: refused before anything is written
    write(repo, "keep/data/customers.passed.csv", "id,email,age\n9,k@x.io,30\n")
    proc = gitgov(repo, "check", "data/customers.csv", "keep/data/customers.passed.csv",
                  "--dataset", "customers", "--quarantine", "keep")
    assert proc.returncode == 2 and "would overwrite the input keep/data/customers.passed.csv" in proc.stderr
    assert (repo / "keep/data/customers.passed.csv").read_text() == "id,email,age\n9,k@x.io,30\n"
    assert not (repo / "keep/keep").exists()
    # a DIR under a file: one line before the check, nothing written
    proc = gitgov(repo, "check", "data/customers.csv", "--quarantine", "keep/data/customers.passed.csv/q")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == ("gitgov: --quarantine keep/data/customers.passed.csv/q: cannot write there: "
                           f"{repo}/keep/data/customers.passed.csv is a file, not a folder\n")


def test_quarantine_warns_when_its_files_would_be_taken_for_a_dataset_s_data(repo):
    write(repo, "data/customers.csv", DIRTY)
    proc = gitgov(repo, "check", "data/customers.csv", "--quarantine", ".")
    assert proc.returncode == 1, proc.stderr
    assert ("gitgov: warning: --quarantine .: data/customers.passed.csv matches the paths of dataset "
            "customers, so `git add` would take the split files for customers data; choose a DIR "
            "outside every dataset's paths, or list it in .gitignore") in proc.stderr
    assert (repo / "data/customers.failed.csv").exists()  # a warning: the split is still written
    with open(repo / ".gitignore", "a") as f:
        f.write("data/customers.*ed.csv\n")
    again = gitgov(repo, "check", "data/customers.csv", "--quarantine", ".")
    assert again.returncode == 1 and "warning" not in again.stderr, again.stderr
    apart = gitgov(repo, "check", "data/customers.csv", "--quarantine", "quarantine")
    assert apart.returncode == 1 and "warning" not in apart.stderr, apart.stderr


def test_a_repository_without_data_yet_has_nothing_to_check_and_passes(tmp_path):
    """CI runs `gitgov check` from the first commit on: no data yet is no failure."""
    path = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(path))
    gitgov(path, "init", check=True)
    proc = gitgov(path, "check")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "gitgov: no governed files to check\n")
    proc = gitgov(path, "check", "--dataset", "data", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["files"] == []
    assert json.loads(proc.stdout)["ok"] is True


def test_a_check_whose_plugin_failed_is_no_pass(repo, monkeypatch, capsys):
    """A failing validation plugin checked nothing: the file fails, it is not 'skipped'."""
    from gitgov.core.cli import main
    from gitgov.plugins.validation import hook

    def broken(event, ctx):
        raise RuntimeError("rules could not run")

    write(repo, "data/customers.csv", "id,email,age\n1,ada@example.com,36\n")
    monkeypatch.chdir(repo)
    monkeypatch.setattr(hook, "check_version", broken)
    assert main(["check", "--force", "--json", "data/customers.csv"]) == 1
    doc = json.loads(capsys.readouterr().out)
    [f] = doc["files"]
    assert doc["ok"] is False and (f["status"], f["verdict"], f["skipped"]) == ("fail", "block", None)
    assert f["rules"][0]["id"] == "check-failed"
    assert f["rules"][0]["message"] == ("plugin 'validation' failed in data_added: RuntimeError: rules "
                                        "could not run")


def test_bytes_that_passed_as_csv_are_read_again_under_a_parquet_name(repo):
    """A pass is remembered by content and rules; a name that reads the content another way
    must not borrow it."""
    write(repo, "data/customers.csv", "id,email,age\n1,ada@example.com,36\n")
    write(repo, "data/customers.parquet", "id,email,age\n1,ada@example.com,36\n")
    policy = repo / "gitgov.toml"
    policy.write_text(policy.read_text().replace('paths = ["data/customers*.csv"]',
                                                 'paths = ["data/customers*.csv", "data/customers*.parquet"]'))
    assert gitgov(repo, "check", "data/customers.csv").returncode == 0
    proc = gitgov(repo, "check", "data/customers.parquet")
    assert proc.returncode == 1, proc.stdout
    assert "(dataset customers, parquet, 0 rows)  FAIL" in proc.stdout
    assert "read.unreadable: not a complete Parquet file" in proc.stdout
    assert "passed before" not in proc.stdout


def test_check_says_which_plugins_were_skipped_as_the_hooks_do(repo):
    policy = repo / "gitgov.toml"
    policy.write_text(policy.read_text().replace('enable = ["validation", "secrets"]',
                                                 'enable = ["validation", "secrets", "none"]\n'
                                                 'local = ["pl/none.py"]', 1))
    write(repo, "data/customers.csv", "id,email,age\n1,ada@example.com,36\n")
    proc = gitgov(repo, "check", "data/customers.csv")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ("gitgov: warning: plugin 'none' (local) was skipped: FileNotFoundError: no "
                           "such plugin file: pl/none.py (listed in [plugins] local)\n")
