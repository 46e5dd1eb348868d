"""`gitgov catalog` and `gitgov catalog show`: every dataset, its people, versions, quality,
lineage, retention and audit entries, checked against what git and the ledger say."""
from __future__ import annotations

import json
import sqlite3

import pytest

import catalog_project
from conftest import git, gitgov, write


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return catalog_project.build(tmp_path_factory.mktemp("catalog"))


def _json(proc):
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_catalog_json_matches_git(project):
    entries = {e["name"]: e for e in _json(gitgov(project, "catalog", "--json"))}
    assert list(entries) == ["customers", "contacts"]  # gitgov.toml's order
    c = entries["customers"]
    assert (c["owner"], c["stewards"], c["consumers"], c["classification"]) == (
        "ada@example.com", ["sam@example.com"], ["ml-team"], "confidential")
    assert c["paths"] == ["data/raw/customers*.csv"] and c["description"].startswith("Customer table")
    last_commit = git(project, "log", "-1", "--format=%H", "--", "data/raw/customers.csv").stdout.strip()
    blob = git(project, "rev-parse", "HEAD:data/raw/customers.csv").stdout.strip()
    cur = c["current"]
    assert (cur["commit"], cur["blob"], cur["rows"]) == (last_commit, blob, 42)
    assert cur["bytes"] == (project / "data/raw/customers.csv").stat().st_size
    assert c["versions"] == 3  # two committed and one a check blocked
    assert c["quality"]["verdict"] == "pass" and c["quality"]["errors"] == 0
    assert c["retention"]["state"] == "overdue" and c["retention"]["period"] == "30d"


def test_catalog_text_names_what_is_missing(project):
    out = gitgov(project, "catalog")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "customers  [confidential]  Customer table" in text
    assert "owner ada@example.com · stewards sam@example.com · consumers ml-team" in text
    assert "data/raw/customers.csv · 42 rows · " in text and "commit " in text
    assert "3 row(s) OVERDUE since 2020-01-31" in text
    assert "contacts  [restricted]" in text and "owner NONE" in text
    assert "no versions yet: commit a file matching data/raw/contacts*.csv" in text
    assert text.rstrip().endswith("2 dataset(s), 1 without versions, 1 without an owner, 1 with retention "
                                  "overdue; `gitgov catalog show NAME` for one in full")


def test_show_gives_schema_versions_metrics_lineage_and_audit(project):
    d = _json(gitgov(project, "catalog", "show", "customers", "--json"))
    cols = {c["name"]: c for c in d["schema"]["columns"]}
    assert list(cols) == ["id", "age", "plan", "churned"]
    assert cols["age"]["rules"] == ["min 18"] and cols["age"]["type"] == "integer"
    commits = git(project, "log", "--format=%H", "--", "data/raw/customers.csv").stdout.split()
    assert [(v["version"], v["verdict"], v["commit"], v["rows"]) for v in d["history"]] == [
        (1, "pass", commits[1], 40), (2, "block", None, 41), (3, "pass", commits[0], 42)]
    assert d["history"][1]["metrics"]["failed.age.min"] == 1
    assert [v["metrics"]["rows"] for v in d["history"]] == [40, 41, 42]
    runs = d["lineage"]["used_by"]
    assert runs["count"] == 2 and {r["name"] for r in runs["runs"]} == {"train"}
    assert all(r["outputs"] == ["models/model.json"] for r in runs["runs"])
    seqs = [a["seq"] for a in d["audit"]]
    assert seqs == sorted(seqs, reverse=True) and d["audit"][0]["kind"] == "retention_expired"


def test_show_text_has_every_section(project):
    out = gitgov(project, "catalog", "show", "customers")
    assert out.returncode == 0, out.stderr
    for heading in ("Schema of data/raw/customers.csv @ ", "Versions (3, oldest first)",
                    "Quality metrics across versions", "Lineage", "Recent audit entries (newest first)"):
        assert heading in out.stdout
    assert "failed.age.min" in out.stdout and "not committed" in out.stdout


def test_a_dataset_without_versions_shows_its_declared_schema(project):
    d = _json(gitgov(project, "catalog", "show", "contacts", "--json"))
    assert d["current"] is None and d["history"] == [] and d["owner"] is None
    [email] = d["schema"]["columns"]
    assert (email["name"], email["protection"]) == ("email", "unprotected")
    out = gitgov(project, "catalog", "show", "contacts")
    assert "Schema as declared (no profiled version yet)" in out.stdout and "Versions: none yet" in out.stdout


def test_an_unknown_dataset_is_a_clear_error(project):
    out = gitgov(project, "catalog", "show", "nope")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip() == ("gitgov: no dataset named 'nope' in gitgov.toml or the ledger "
                                  "(datasets: customers, contacts)")


def test_an_empty_ledger_says_what_to_do(initialized):
    out = gitgov(initialized, "catalog")
    assert out.returncode == 0, out.stderr
    assert "current    no versions yet: commit a file matching data/raw/customers*.csv" in out.stdout
    assert "quality    not checked yet" in out.stdout
    write(initialized, "gitgov.toml", "version = 1\n")
    out = gitgov(initialized, "catalog")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("gitgov: no datasets yet; declare a dataset in gitgov.toml")


def test_without_a_ledger_it_says_run_init(repo):
    out = gitgov(repo, "catalog")
    assert out.returncode == 2
    assert "no ledger at " in out.stderr and "run `gitgov init`" in out.stderr
    assert "Traceback" not in out.stderr


def test_the_views_read_well_in_any_sqlite_tool(project):
    db = sqlite3.connect((project / ".gitgov" / "ledger.db").as_uri() + "?mode=ro", uri=True)
    views = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'view'")}
    assert {"current_files", "dataset_summary", "run_summary", "open_findings", "failed_reproductions",
            "audit_trail", "pii_columns", "retention_events", "notable_entries"} <= views
    cur = db.execute("SELECT * FROM dataset_summary")
    assert [c[0] for c in cur.description][:4] == ["dataset", "versions", "current_files", "current_bytes"]
    assert [r[:3] for r in cur] == [("customers", 3, 1)]  # as `gitgov catalog` counts: 3 contents, 1 file now
    runs = db.execute("SELECT name, json_extract(params, '$.lr'), reproduced FROM run_summary"
                      " ORDER BY started").fetchall()
    assert runs == [("train", 0.1, "differs"), ("train", 0.3, None)]
    assert db.execute("SELECT COUNT(*) FROM failed_reproductions").fetchone() == (1,)
    assert db.execute("SELECT kind, subject FROM notable_entries LIMIT 1").fetchone() == (
        "retention_expired", "data/raw/customers.csv")


def test_a_dataset_dropped_from_the_policy_is_still_listed(project, tmp_path):
    import shutil

    copy = shutil.copytree(project, tmp_path / "copy", symlinks=True)
    policy = (copy / "gitgov.toml").read_text()
    (copy / "gitgov.toml").write_text(policy[policy.index("[datasets.contacts]"):])
    entries = _json(gitgov(copy, "catalog", "--json"))
    assert [(e["name"], e["in_policy"]) for e in entries] == [("contacts", True), ("customers", False)]
    dropped = entries[1]
    assert dropped["paths"] == ["data/raw/customers.csv"] and dropped["current"]["rows"] == 42
    assert dropped["owner"] is None and dropped["retention"]["state"] == "none"
    out = gitgov(copy, "catalog")
    assert "customers  [not in gitgov.toml]" in out.stdout
    assert "1 without an owner" in out.stdout  # contacts; a dataset gone from the policy has none to set


def test_a_check_of_the_working_tree_is_not_the_current_version(project, tmp_path):
    """`gitgov check` looks at files; the catalog shows what the repository holds."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(project, copy, symlinks=True)
    before = _json(gitgov(copy, "catalog", "--json"))[0]["current"]
    gitgov(copy, "check", "--force", "data/raw/customers.csv", check=True)
    write(copy, "data/raw/customers_draft.csv", "customer_id,age\n1,30\n")
    gitgov(copy, "check", "data/raw/customers_draft.csv", check=True)
    (copy / "data/raw/customers_draft.csv").unlink()
    after = _json(gitgov(copy, "catalog", "--json"))[0]["current"]
    assert after == before
    assert [f["path"] for f in after["files"]] == ["data/raw/customers.csv"]
    assert after["files"][0]["stage"] != "checked" and after["bytes"] > 0


def test_a_ledger_before_schema_9_gets_the_current_files_view(project, tmp_path):
    import shutil

    from gitgov.core.ledger import MIGRATIONS, _migrate_current_files, open_ledger

    copy = tmp_path / "copy"
    shutil.copytree(project, copy, symlinks=True)
    ledger = copy / ".gitgov" / "ledger.db"
    with sqlite3.connect(ledger) as db:
        old = db.execute("SELECT sql FROM sqlite_master WHERE name = 'current_files'").fetchone()[0]
        db.execute("DROP VIEW current_files")
        db.execute(old.replace("AND w.stage IS NOT 'checked'", ""))
        db.execute(f"PRAGMA user_version = {MIGRATIONS.index(_migrate_current_files)}")
    open_ledger(ledger).close()
    with sqlite3.connect(ledger) as db:
        sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'current_files'").fetchone()[0]
        assert "w.stage IS NOT 'checked'" in sql
        assert db.execute("SELECT count(*) FROM dataset_summary").fetchone()[0] >= 1  # still reads


def test_bytes_refused_once_then_committed_and_the_same_bytes_elsewhere_stay_apart(tmp_path):
    """alpha's file is refused, then committed under looser rules; beta gets identical bytes.
    Each dataset shows its own file's schema, and alpha's version is the committed pass."""
    from conftest import governed_repo

    policy = ('version = 1\n[datasets.alpha]\npaths = ["alpha/*.csv"]\nowner = "ada@example.com"\n'
              '[datasets.alpha.columns.n]\ntype = "integer"\nmax = 5\n'
              '[datasets.beta]\npaths = ["beta/*.csv"]\nowner = "ada@example.com"\n'
              '[datasets.beta.columns.n]\ntype = "float"\n'
              '[plugins]\nenable = ["validation", "catalog"]\n')
    repo = governed_repo(tmp_path, policy)
    write(repo, "alpha/a.csv", "n\n1\n9\n")
    git(repo, "add", "alpha/a.csv")
    assert git(repo, "commit", "-q", "-m", "refused", check=False).returncode == 1
    write(repo, "gitgov.toml", policy.replace("max = 5", "max = 10"))
    git(repo, "add", "gitgov.toml", "alpha/a.csv")
    git(repo, "commit", "-q", "-m", "looser, then committed")
    write(repo, "beta/b.csv", "n\n1\n9\n")
    git(repo, "add", "beta/b.csv")
    git(repo, "commit", "-q", "-m", "beta")
    beta = _json(gitgov(repo, "catalog", "show", "beta", "--json"))
    assert beta["schema"]["version"]["path"] == "beta/b.csv"
    alpha = _json(gitgov(repo, "catalog", "show", "alpha", "--json"))
    head = git(repo, "log", "-1", "--format=%H", "--", "alpha/a.csv").stdout.strip()
    assert [(v["verdict"], v["commit"]) for v in alpha["history"]] == [("pass", head)]
