"""Data quality through the installed Git hooks: real commits and pushes, real ledger."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from conftest import git, gitgov, governed_repo, write

POLICY = """\
version = 1

[datasets.customers]
paths = ["data/customers*.csv"]
primary_key = "id"

[datasets.customers.columns.id]
type = "integer"
required = true

[datasets.customers.columns.email]
format = "email"
pii = "email"

[datasets.customers.columns.age]
type = "integer"
min = 18
max = 120

[datasets.customers.rules]
min_rows = 1
drift = { max_row_change_pct = 50 }

[datasets.orders]
paths = ["data/orders*.csv"]

[datasets.orders.rules]
foreign_keys = { customer = "customers.id" }

[plugins]
enable = ["validation", "secrets"]
timeout = 30
"""
CLEAN = "id,email,age\n1,ada@example.com,36\n2,grace@example.org,45\n3,alan@example.net,41\n"
DIRTY = "id,email,age\n1,ada@example.com,36\n2,Grace.Hopper@navy,45\n2,alan@example.net,400\n"


@pytest.fixture
def repo(tmp_path) -> Path:
    return governed_repo(tmp_path, POLICY)


def commit(repo: Path, message: str, *paths: str, extra: tuple = ()):
    git(repo, "add", *paths)
    return git(repo, "commit", "-q", "-m", message, *extra, check=False)


def query(repo: Path, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(repo / ".gitgov" / "ledger.db") as db:
        return db.execute(sql, args).fetchall()


def test_a_dirty_file_is_blocked_at_commit_with_the_report_by_rule(repo):
    write(repo, "data/customers.csv", DIRTY)
    proc = commit(repo, "add customers", "data/customers.csv")
    assert proc.returncode == 1
    err = proc.stderr
    assert "commit blocked by policy (3 errors)" in err
    assert "validation/age.max: 1 row where 'age' is above the maximum 120: row 3 (line 4) \"400\"" in err
    assert "validation/primary_key: 1 row where the primary key (id) repeats an earlier row" in err
    assert "same as row 2" in err
    assert "validation/email.format" in err and '"Xxxxx.Xxxxxx@xxxx"' in err
    assert "Grace" not in err  # personal data is masked
    assert git(repo, "rev-list", "--count", "HEAD").stdout.strip() == "1"
    [(verdict, errors)] = query(repo, "SELECT verdict, errors FROM quality_checks")
    assert (verdict, errors) == ("block", 3)


def test_the_staged_version_is_checked_whether_or_not_the_working_tree_still_holds_it(repo):
    # Staged dirty, fixed on disk only: blocked. (A file on disk equal to the staged blob
    # is read from disk, which git would otherwise have to inflate; this one is not equal.)
    write(repo, "data/customers.csv", DIRTY)
    git(repo, "add", "data/customers.csv")
    write(repo, "data/customers.csv", CLEAN)
    proc = git(repo, "commit", "-q", "-m", "dirty staged", check=False)
    assert proc.returncode == 1 and "validation/age.max" in proc.stderr
    # Staged clean, broken on disk only: passes. Then the same bytes on disk and staged.
    git(repo, "add", "data/customers.csv")
    write(repo, "data/customers.csv", DIRTY)
    assert git(repo, "commit", "-q", "-m", "clean staged", check=False).returncode == 0
    write(repo, "data/customers.csv", CLEAN.replace("41", "42"))
    assert commit(repo, "clean on disk too", "data/customers.csv").returncode == 0
    assert git(repo, "rev-list", "--count", "HEAD").stdout.strip() == "3"


def test_the_working_tree_copy_is_used_only_when_it_is_the_blob(repo):
    from gitgov.core.events import DataAdded
    from gitgov.core.session import Session

    write(repo, "data/customers.csv", CLEAN)
    git(repo, "add", "data/customers.csv")
    blob = git(repo, "rev-parse", ":data/customers.csv").stdout.strip()
    event = DataAdded(path="data/customers.csv", dataset="customers", blob=blob)
    with Session.open(repo) as session:
        assert session.ctx.worktree_file(event) == repo / "data/customers.csv"
        assert session.ctx.read_data(event) == CLEAN.encode()
    write(repo, "data/customers.csv", DIRTY)
    with Session.open(repo) as session:
        assert session.ctx.worktree_file(event) is None
        assert session.ctx.read_data(event) == CLEAN.encode()  # from git: the staged bytes


def test_a_clean_commit_records_metrics_profile_and_its_commit(repo):
    write(repo, "data/customers.csv", CLEAN)
    assert commit(repo, "add customers", "data/customers.csv").returncode == 0
    head = git(repo, "rev-parse", "HEAD").stdout.strip()
    blob = git(repo, "rev-parse", "HEAD:data/customers.csv").stdout.strip()
    [(qblob, verdict, commit_sha, rows)] = query(
        repo, "SELECT blob, verdict, commit_sha, rows FROM quality_versions")
    assert (qblob, verdict, commit_sha, rows) == (blob, "pass", head, 3)
    metrics = dict(query(repo, "SELECT metric, value FROM quality_metrics"))
    assert metrics["rows"] == 3 and metrics["null_fraction.email"] == 0 and metrics["failed.age.max"] == 0
    [(profile,)] = query(repo, "SELECT profile FROM dataset_profiles")
    assert '"name": "age"' in profile and "ada@" not in profile  # masked columns keep no values
    age = next(c for c in json.loads(profile)["columns"] if c["name"] == "age")
    assert (age["min"], age["max"], age["mean"]) == (36, 45, pytest.approx(40.667, abs=1e-3))
    assert age["std"] == pytest.approx(4.509, abs=1e-3)  # the sample standard deviation
    [(ruleset,)] = query(repo, "SELECT ruleset FROM dataset_versions WHERE blob = ?", blob)
    from gitgov.core.ledger import open_ledger
    with open_ledger(repo / ".gitgov" / "ledger.db") as ledger:
        assert ledger.has_passing_check(blob, ruleset) and not ledger.has_passing_check(blob, "other")


def test_content_that_passed_under_the_same_rules_is_not_checked_again(repo):
    write(repo, "data/customers.csv", CLEAN)
    assert commit(repo, "v1", "data/customers.csv").returncode == 0
    write(repo, "data/customers_copy.csv", CLEAN)  # same bytes, same blob, another path
    assert commit(repo, "copy", "data/customers_copy.csv").returncode == 0
    rows = query(repo, "SELECT path, reused FROM quality_checks ORDER BY seq")
    assert rows == [("data/customers.csv", 0), ("data/customers_copy.csv", 1)]
    # other rules: a new ruleset hash, so the same content is checked again
    policy = repo / "gitgov.toml"
    policy.write_text(policy.read_text().replace("max = 120", "max = 40"))
    write(repo, "data/customers_again.csv", CLEAN)
    proc = commit(repo, "again", "gitgov.toml", "data/customers_again.csv")
    assert proc.returncode == 1 and "validation/age.max: 2 rows" in proc.stderr


def test_a_breaking_schema_change_needs_an_acknowledgement_in_the_message(repo):
    write(repo, "data/customers.csv", CLEAN)
    assert commit(repo, "v1", "data/customers.csv").returncode == 0
    policy = repo / "gitgov.toml"
    policy.write_text(policy.read_text().replace(
        '[datasets.customers.columns.age]\ntype = "integer"\nmin = 18\nmax = 120\n', ""))
    write(repo, "data/customers.csv", "id,email\n1,ada@example.com\n2,grace@example.org\n3,a@b.io\n")
    proc = commit(repo, "drop age", "gitgov.toml", "data/customers.csv")
    assert proc.returncode == 1
    # pre-commit cannot see the message: it lets the commit go on to commit-msg, and says so
    assert ("gitgov: commit allowed with 1 warning, if its message acknowledges the breaking "
            "change below\n") in proc.stderr
    assert "breaking schema change: removed column age" in proc.stderr
    assert "not acknowledged in the commit message" in proc.stderr
    assert "Breaking-Change: customers" in proc.stderr
    proc = commit(repo, "drop age\n\nBreaking-Change: customers the age column moved to profiles")
    assert proc.returncode == 0, proc.stderr
    assert not (repo / ".gitgov" / "state" / "pending-ack.json").exists()
    alerts = query(repo, "SELECT payload FROM journal WHERE kind = 'quality_alert'")
    assert alerts and '"metric":"schema"' in alerts[-1][0]


def test_pre_push_checks_what_was_committed_with_no_verify(repo, tmp_path):
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    write(repo, "data/customers.csv", DIRTY)
    assert commit(repo, "sneak", "data/customers.csv", extra=("--no-verify",)).returncode == 0
    proc = git(repo, "push", "-q", "origin", "main", check=False)
    assert proc.returncode == 1 and "push blocked by policy" in proc.stderr
    assert "validation/age.max" in proc.stderr
    assert git(remote, "rev-list", "--all").stdout == ""
    write(repo, "data/customers.csv", CLEAN)
    assert commit(repo, "fix", "data/customers.csv").returncode == 0
    # the dirty blob is still in the pushed range: history must be fixed, not just the tip
    proc = git(repo, "push", "-q", "origin", "main", check=False)
    assert proc.returncode == 1


def test_pre_push_reads_again_bytes_that_passed_under_another_name(repo, tmp_path):
    """The same bytes as Parquet are no Parquet file: a pass of data/customers.csv does not
    vouch for data/customers_2.parquet, committed with --no-verify."""
    policy = repo / "gitgov.toml"
    policy.write_text(policy.read_text().replace('paths = ["data/customers*.csv"]',
                                                 'paths = ["data/customers*.csv", "data/customers*.parquet"]'))
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    write(repo, "data/customers.csv", CLEAN)
    assert commit(repo, "customers", "gitgov.toml", "data/customers.csv").returncode == 0
    write(repo, "data/customers_2.parquet", CLEAN)
    assert commit(repo, "sneak", "data/customers_2.parquet", extra=("--no-verify",)).returncode == 0
    proc = git(repo, "push", "-q", "origin", "main", check=False)
    assert proc.returncode == 1, proc.stderr
    assert "data/customers_2.parquet (commit" in proc.stderr
    assert "read.unreadable: not a complete Parquet file" in proc.stderr


def test_a_breaking_change_pushed_without_acknowledgement_is_refused(repo, tmp_path):
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    write(repo, "data/customers.csv", CLEAN)
    assert commit(repo, "v1", "data/customers.csv").returncode == 0
    assert git(repo, "push", "-q", "origin", "main", check=False).returncode == 0
    policy = repo / "gitgov.toml"
    policy.write_text(policy.read_text().replace('type = "integer"\nmin = 18', 'type = "float"\nmin = 18'))
    write(repo, "data/customers.csv", CLEAN.replace(",36\n", ",36.5\n"))
    assert commit(repo, "retype", "gitgov.toml", "data/customers.csv",
                  extra=("--no-verify",)).returncode == 0
    proc = git(repo, "push", "-q", "origin", "main", check=False)
    assert proc.returncode == 1 and "changed type of age (integer -> float)" in proc.stderr
    assert "does not acknowledge it" in proc.stderr
    git(repo, "commit", "-q", "--amend", "--no-verify", "-m", "retype\n\nBreaking-Change: customers")
    assert git(repo, "push", "-q", "origin", "main", check=False).returncode == 0


def _remote(repo: Path, tmp_path: Path) -> Path:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    return remote


def test_a_pass_under_looser_rules_vouches_for_nothing_at_push(repo, tmp_path):
    """Bytes that passed while gitgov.toml allowed them, committed with --no-verify once the
    rules are strict again, are judged again by pre-push."""
    _remote(repo, tmp_path)
    write(repo, "data/customers.csv", CLEAN)
    assert commit(repo, "v1", "data/customers.csv").returncode == 0
    policy = repo / "gitgov.toml"
    strict = policy.read_text()
    policy.write_text(strict.replace("max = 120", "max = 1000"))
    write(repo, "data/customers.csv", CLEAN.replace(",41\n", ",700\n"))
    assert commit(repo, "loose", "gitgov.toml", "data/customers.csv").returncode == 0
    git(repo, "reset", "-q", "--soft", "HEAD~1")
    policy.write_text(strict)
    git(repo, "add", "gitgov.toml")
    assert commit(repo, "age 700", extra=("--no-verify",)).returncode == 0
    proc = git(repo, "push", "-q", "origin", "main", check=False)
    assert proc.returncode == 1, proc.stderr
    assert "validation/age.max" in proc.stderr and "data/customers.csv (commit" in proc.stderr


def test_a_breaking_change_refused_at_commit_msg_is_not_vouched_for_at_push(repo, tmp_path):
    """pre-commit leaves a breaking change to the commit message; when commit-msg refused
    that commit, the same bytes committed with --no-verify are still refused at push."""
    _remote(repo, tmp_path)
    noted = "".join(line + (",note\n" if i == 0 else ",x\n")
                    for i, line in enumerate(CLEAN.splitlines()))
    write(repo, "data/customers.csv", noted)
    assert commit(repo, "v1", "data/customers.csv").returncode == 0
    assert git(repo, "push", "-q", "origin", "main", check=False).returncode == 0
    write(repo, "data/customers.csv", CLEAN)
    proc = commit(repo, "drop note", "data/customers.csv")
    assert proc.returncode == 1 and "not acknowledged in the commit message" in proc.stderr
    assert commit(repo, "drop note", extra=("--no-verify",)).returncode == 0
    proc = git(repo, "push", "-q", "origin", "main", check=False)
    assert proc.returncode == 1, proc.stderr
    assert "breaking schema change: removed column note" in proc.stderr
    assert "does not acknowledge it" in proc.stderr


def test_a_pass_with_validation_turned_off_vouches_for_nothing_at_push(repo, tmp_path):
    import os

    _remote(repo, tmp_path)
    write(repo, "data/customers.csv", DIRTY)
    git(repo, "add", "data/customers.csv")
    off = git(repo, "commit", "-q", "-m", "dirty", env={**os.environ, "GITGOV_DISABLE": "validation"},
              check=False)
    assert off.returncode == 0 and "GITGOV_DISABLE turns off validation" in off.stderr
    proc = git(repo, "push", "-q", "origin", "main", check=False)
    assert proc.returncode == 1 and "validation/age.max" in proc.stderr


def test_an_unchanged_policy_still_vouches_for_what_passed(repo, tmp_path):
    """The other side: a file committed through the hooks is not judged again at push, nor
    after an edit of gitgov.toml that no check of a file reads (a role, a description)."""
    _remote(repo, tmp_path)
    write(repo, "data/customers.csv", CLEAN)
    assert commit(repo, "v1", "data/customers.csv").returncode == 0
    policy = repo / "gitgov.toml"
    policy.write_text(policy.read_text() + '\n[roles]\nanalysts = ["ada@example.com"]\n')
    assert commit(repo, "a role", "gitgov.toml").returncode == 0
    assert git(repo, "push", "-q", "origin", "main", check=False).returncode == 0
    pushed = query(repo, "SELECT count(*) FROM dataset_versions WHERE stage = 'pushed'")
    assert pushed == [(0,)]


def test_values_in_a_column_that_had_none_are_no_change_of_its_type(tmp_path):
    """A header-only file, or an empty column, has no type but the fallback "string": the
    first values are not a breaking change; a column whose values change type still is."""
    policy = ('version = 1\n[datasets.events]\npaths = ["data/*.csv"]\n'
              '[datasets.events.rules]\nmin_rows = 0\ndrift = { schema = "block" }\n'
              '[plugins]\nenable = ["validation"]\n')
    repo = governed_repo(tmp_path, policy)
    for i, content in enumerate(["a,b\n", "a,b\n1,\n2,\n", "a,b\n1,x\n2,y\n"]):
        write(repo, "data/e.csv", content)
        proc = commit(repo, f"v{i}", "data/e.csv")
        assert proc.returncode == 0, proc.stderr
        assert "breaking" not in proc.stderr
    write(repo, "data/e.csv", "a,b\nx,x\ny,y\n")
    proc = commit(repo, "a is text now", "data/e.csv")
    assert proc.returncode == 1 and "changed type of a (integer -> string)" in proc.stderr


def test_a_drift_warning_counts_in_the_version_s_metrics_too(repo):
    write(repo, "data/customers.csv", CLEAN)
    assert commit(repo, "v1", "data/customers.csv").returncode == 0
    grown = CLEAN + "".join(f"{i},u{i}@example.com,30\n" for i in range(4, 10))  # +200% rows
    write(repo, "data/customers.csv", grown)
    proc = commit(repo, "v2", "data/customers.csv")
    assert proc.returncode == 0 and "drift.rows" in proc.stderr
    versions = json.loads(gitgov(repo, "quality", "customers", "--json").stdout)["versions"]
    assert versions[-1]["warnings"] == versions[-1]["metrics"]["warnings"] == 1


def test_foreign_keys_look_up_the_staged_version_of_the_other_dataset(repo):
    write(repo, "data/customers.csv", CLEAN)
    write(repo, "data/orders.csv", "order,customer\nA,1\nB,3\nC,9\n")
    proc = commit(repo, "both", "data/customers.csv", "data/orders.csv")
    assert proc.returncode == 1
    assert "validation/customer.foreign_key: 1 row where 'customer' is not a id of dataset customers: row 3" in proc.stderr
    write(repo, "data/customers.csv", CLEAN + "9,new@example.com,30\n")
    assert commit(repo, "both", "data/customers.csv", "data/orders.csv").returncode == 0


ALERTS = '''
from gitgov.core.hookspecs import hookimpl

@hookimpl
def quality_alert(event, ctx):
    with open("alerts.log", "a") as f:
        f.write(f"{event.dataset} {event.metric} {event.previous} {event.current}\\n")
'''


def test_hook_quality_alert_reaches_plugins_on_drift(repo):
    write(repo, "checks/forward.py", ALERTS)
    policy = repo / "gitgov.toml"
    policy.write_text(policy.read_text().replace('enable = ["validation", "secrets"]',
                                                 'enable = ["validation", "secrets", "forward"]\n'
                                                 'local = ["checks/forward.py"]'))
    write(repo, "data/customers.csv", CLEAN)
    assert commit(repo, "v1", "gitgov.toml", "checks/forward.py", "data/customers.csv").returncode == 0
    rows = "".join(f"{i},u{i}@example.com,30\n" for i in range(4, 12))
    write(repo, "data/customers.csv", CLEAN + rows)
    proc = commit(repo, "v2", "data/customers.csv")
    assert proc.returncode == 0 and "drift.rows: row count changed by +266.7%" in proc.stderr
    assert (repo / "alerts.log").read_text() == "customers rows 3 11\n"


RULES = '''
from gitgov.core.hookspecs import hookimpl
from gitgov.plugins.validation.rules import column_rule

@column_rule("no_test_domain", description="is an address at a test domain")
def no_test_domain(values, param):
    import pyarrow.compute as pc
    return pc.ends_with(values, "@" + param)

@hookimpl
def register_rules():
    return [no_test_domain]
'''


def use_rules(repo: Path, code: str, domain: str = "example.net") -> None:
    """checks/rules.py holding `code`, enabled, its rule set on the email column."""
    write(repo, "checks/rules.py", code)
    policy = repo / "gitgov.toml"
    policy.write_text(policy.read_text()
                      .replace('pii = "email"', f'pii = "email"\nchecks = {{ no_test_domain = "{domain}" }}')
                      .replace('enable = ["validation", "secrets"]',
                               'enable = ["validation", "secrets", "rules"]\nlocal = ["checks/rules.py"]'))


def test_hook_register_rules_adds_a_rule_from_a_local_plugin_file(repo):
    use_rules(repo, RULES)
    write(repo, "data/customers.csv", CLEAN)
    proc = commit(repo, "v1", "gitgov.toml", "checks/rules.py", "data/customers.csv")
    assert proc.returncode == 1
    assert "validation/email.no_test_domain: 1 row where 'email' is an address at a test domain: row 3" in proc.stderr


@pytest.mark.parametrize("body, said", [
    ("raise KeyError('no rules today')", "plugin 'rules' failed in register_rules: KeyError"),
    ("return 'no_test_domain'", "plugin 'rules' answered register_rules with a str"),
])
def test_a_rules_plugin_that_fails_is_named_where_its_rule_is_missing(repo, body, said):
    use_rules(repo, RULES.replace("return [no_test_domain]", body))
    write(repo, "data/customers.csv", CLEAN)
    proc = commit(repo, "v1", "gitgov.toml", "checks/rules.py", "data/customers.csv")
    assert proc.returncode in (1, 2), proc.stderr
    assert "unknown column rule 'no_test_domain'" in proc.stderr and said in proc.stderr
    assert "plugin 'validation'" not in proc.stderr


def test_a_pass_under_a_rule_s_old_code_is_not_reused_once_the_code_changes(repo):
    use_rules(repo, RULES, domain="example.edu")
    write(repo, "data/customers.csv", CLEAN)
    assert gitgov(repo, "check", "data/customers.csv").returncode == 0
    again = gitgov(repo, "check", "data/customers.csv")
    assert "passed before under the same rules" in again.stdout
    write(repo, "checks/rules.py", RULES.replace('"@" + param', '".org"'))  # a new rule, same version
    changed = gitgov(repo, "check", "data/customers.csv")
    assert changed.returncode == 1 and "passed before" not in changed.stdout
    assert "no_test_domain" in changed.stdout


def readme_rule() -> tuple[str, str, str]:
    """The README's custom rule: the plugin file, and its two lines in gitgov.toml."""
    import re

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### A custom rule in a local plugin\n", 1)[1].split("\n### ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    toml = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    return code, re.search(r"^local = .*$", toml, re.M).group(0), re.search(r"^checks = .*$", toml, re.M).group(0)


def test_the_readme_s_custom_rule_works_as_shown(repo):
    """The README's example of a rule in a local plugin file, copied as a user would."""
    code, local, checks = readme_rule()
    assert local == 'local = ["checks/no_test_domain.py"]'
    write(repo, "checks/no_test_domain.py", code)
    policy = repo / "gitgov.toml"
    policy.write_text(policy.read_text()
                      .replace('pii = "email"', f'pii = "email"\n{checks}')
                      .replace('enable = ["validation", "secrets"]',
                               f'enable = ["validation", "secrets", "no_test_domain"]\n{local}'))
    write(repo, "data/customers.csv", CLEAN)
    proc = commit(repo, "v1", "gitgov.toml", "checks/no_test_domain.py", "data/customers.csv")
    assert proc.returncode == 1
    assert ("validation/email.no_test_domain: 1 row where 'email' is an address at a test domain: "
            "row 1 (line 2)") in proc.stderr


def test_a_parquet_file_naming_a_column_twice_is_blocked(repo):
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open(repo / "gitgov.toml", "a") as f:
        f.write('\n[datasets.scores]\npaths = ["data/scores.parquet"]\n'
                '[datasets.scores.columns.age]\nmax = 120\n')
    (repo / "data").mkdir()
    table = pa.table([pa.array([1, 2]), pa.array([30, 40]), pa.array([400, 500])],
                     names=["id", "age", "age"])  # the second 'age' breaks max
    pq.write_table(table, repo / "data/scores.parquet")
    proc = commit(repo, "scores", "gitgov.toml", "data/scores.parquet")
    assert proc.returncode == 1
    assert "validation/read.duplicate-column: the schema names column 'age' twice" in proc.stderr


WARNED = CLEAN.replace("grace@example.org", "Grace.Hopper@navy").replace(",41\n", ",400\n")


def test_content_not_checked_again_still_reports_the_warnings_found_before(repo):
    policy = repo / "gitgov.toml"
    policy.write_text(policy.read_text().replace('pii = "email"', 'pii = "email"\nseverity = "warning"')
                      .replace("max = 120", 'max = 120\nseverities = { max = "warning" }'))
    assert commit(repo, "warn only", "gitgov.toml").returncode == 0
    write(repo, "data/customers.csv", WARNED)
    first = json.loads(gitgov(repo, "check", "data/customers.csv", "--json").stdout)["files"][0]
    assert (first["status"], first["warnings"]) == ("pass", 2)
    again = json.loads(gitgov(repo, "check", "data/customers.csv", "--json").stdout)["files"][0]
    assert (again["status"], again["warnings"], again["format"]) == ("skipped", 2, "csv")
    assert again["rules"] == [r for r in first["rules"] if r["failed"]]
    rules = {r["id"]: r for r in again["rules"]}
    assert rules["email.format"]["samples"] == [{"row": 2, "line": 3, "value": "Xxxxx.Xxxxxx@xxxx"}]
    assert rules["age.max"]["samples"] == [{"row": 3, "line": 4, "value": "400"}]
    text = gitgov(repo, "check", "data/customers.csv").stdout
    assert "PASS: 2 warnings (not checked again: passed before under the same rules" in text
    assert 'row 2 (line 3) "Xxxxx.Xxxxxx@xxxx"' in text and "Grace" not in text
    proc = commit(repo, "customers", "data/customers.csv")
    assert proc.returncode == 0, proc.stderr
    assert "commit allowed with 2 warnings" in proc.stderr
    assert "validation/age.max: 1 row where 'age' is above the maximum 120: row 3 (line 4) \"400\"" in proc.stderr
    assert '"Xxxxx.Xxxxxx@xxxx"' in proc.stderr and "Grace" not in proc.stderr
    assert query(repo, "SELECT reused, warnings FROM quality_checks ORDER BY seq") == [
        (0, 2), (1, 2), (1, 2), (1, 2)]


def test_a_pass_recorded_without_what_it_found_is_checked_again_unless_nothing_failed(repo):
    from gitgov.core.ledger import Entry, open_ledger

    policy = repo / "gitgov.toml"
    policy.write_text(policy.read_text().replace("max = 120", 'max = 120\nseverity = "warning"'))
    write(repo, "data/customers.csv", CLEAN.replace(",41\n", ",400\n"))
    assert json.loads(gitgov(repo, "check", "data/customers.csv", "--json").stdout)["ok"]
    [(payload,)] = query(repo, "SELECT payload FROM journal WHERE kind = 'quality_check'")
    older = {k: v for k, v in json.loads(payload).items() if k != "found"}  # as older versions wrote it
    with open_ledger(repo / ".gitgov" / "ledger.db") as ledger:
        ledger.append([Entry("quality_check", older["blob"], older)])

    def status() -> dict:
        return json.loads(gitgov(repo, "check", "data/customers.csv", "--json").stdout)["files"][0]

    assert status()["status"] == "pass"  # its warning was not kept: read the file again
    assert (status()["status"], status()["warnings"]) == ("skipped", 1)
    write(repo, "data/customers.csv", CLEAN)
    assert status()["status"] == "pass"
    [(payload,)] = query(repo, "SELECT payload FROM journal WHERE kind = 'quality_check'"
                               " ORDER BY seq DESC LIMIT 1")
    older = {k: v for k, v in json.loads(payload).items() if k != "found"}
    with open_ledger(repo / ".gitgov" / "ledger.db") as ledger:
        ledger.append([Entry("quality_check", older["blob"], older)])
    assert (status()["status"], status()["warnings"]) == ("skipped", 0)  # nothing failed: reused
