"""A commit that changes gitgov.toml checks the committed files whose rules it changes,
through the installed hooks: tightening a rule cannot leave failing data unnoticed."""
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
owner = "ada@example.com"
description = "people who bought something"

[datasets.customers.columns.age]
type = "integer"
max = 120

[datasets.events]
paths = ["data/events*.csv"]

[plugins]
enable = ["validation", "secrets", "access"]
timeout = 30
"""
CUSTOMERS = "id,age\n1,30\n2,61\n3,45\n4,70\n"
EVENTS = "id,kind\n1,click\n"
WHY = "checked again: this commit changes the rules of dataset customers in gitgov.toml"


@pytest.fixture
def repo(tmp_path) -> Path:
    path = governed_repo(tmp_path, POLICY)
    write(path, "data/customers.csv", CUSTOMERS)
    write(path, "data/events.csv", EVENTS)
    proc = commit(path, "data", "data")
    assert proc.returncode == 0, proc.stderr
    return path


def commit(repo: Path, message: str, *paths: str, extra: tuple = ()):
    git(repo, "add", "-A", *paths)
    return git(repo, "commit", "-q", "-m", message, *extra, check=False)


def edit_policy(repo: Path, old: str, new: str) -> None:
    policy = repo / "gitgov.toml"
    text = policy.read_text()
    assert old in text
    policy.write_text(text.replace(old, new))


def checks(repo: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(repo / ".gitgov" / "ledger.db") as db:
        return db.execute("SELECT path, verdict FROM quality_checks WHERE reused = 0 "
                          "ORDER BY seq").fetchall()


def commits(repo: Path) -> int:
    return int(git(repo, "rev-list", "--count", "HEAD").stdout)


def test_tightening_a_rule_blocks_the_commit_while_committed_data_fails_it(repo):
    before = checks(repo)
    edit_policy(repo, "max = 120", "max = 60")
    proc = commit(repo, "retire the over-60s", "gitgov.toml")
    assert proc.returncode == 1, proc.stderr
    assert "commit blocked by policy (1 error)" in proc.stderr
    assert "  data/customers.csv\n" in proc.stderr
    assert ("validation/age.max: 2 rows where 'age' is above the maximum 60: "
            'row 2 (line 3) "61"; row 4 (line 5) "70"; ' + WHY) in proc.stderr
    assert WHY in proc.stderr
    assert "data/events.csv" not in proc.stderr  # its rules did not change: not read
    assert commits(repo) == 2
    assert checks(repo) == before + [("data/customers.csv", "block")]
    # the data is fixed in the same commit: its own event checks it, once
    write(repo, "data/customers.csv", "id,age\n1,30\n3,45\n")
    proc = commit(repo, "retire the over-60s", "gitgov.toml", "data/customers.csv")
    assert proc.returncode == 0, proc.stderr
    assert commits(repo) == 3
    assert checks(repo)[len(before) + 1:] == [("data/customers.csv", "pass")]


def test_a_change_that_keeps_the_rules_reads_no_data(repo):
    before = checks(repo)
    edit_policy(repo, "people who bought something", "people who bought anything")
    proc = commit(repo, "reword", "gitgov.toml")
    assert proc.returncode == 0, proc.stderr
    assert commits(repo) == 3 and checks(repo) == before
    # the policy change itself is on record, with both versions of the file
    with sqlite3.connect(repo / ".gitgov" / "ledger.db") as db:
        rows = db.execute("SELECT payload FROM journal WHERE kind = 'policy_staged' ORDER BY seq").fetchall()
    first, event = [json.loads(p) for (p,) in rows]  # the fixture's commit of the policy, and this one
    assert first["previous"] is None
    assert event["path"] == "gitgov.toml" and event["actor"] == "Ada <ada@example.com>"
    assert event["previous"] == git(repo, "rev-parse", "HEAD~1:gitgov.toml").stdout.strip()
    assert event["blob"] == git(repo, "rev-parse", "HEAD:gitgov.toml").stdout.strip()


def test_loosening_a_rule_checks_again_and_passes(repo):
    edit_policy(repo, "max = 120", "max = 150")
    proc = commit(repo, "older customers", "gitgov.toml")
    assert proc.returncode == 0, proc.stderr
    assert checks(repo)[-1] == ("data/customers.csv", "pass")


def test_a_new_dataset_over_committed_files_checks_them(repo):
    write(repo, "data/scores.csv", "id,score\n1,0.5\n2,seven\n")
    assert commit(repo, "scores, ungoverned", "data/scores.csv").returncode == 0
    policy = repo / "gitgov.toml"
    policy.write_text(policy.read_text().replace("[plugins]", '[datasets.scores]\npaths = ["data/scores.csv"]\n\n'
                                                 '[datasets.scores.columns.score]\ntype = "float"\n\n[plugins]'))
    proc = commit(repo, "govern scores", "gitgov.toml")
    assert proc.returncode == 1, proc.stderr
    assert ("validation/score.type: 1 row where 'score' is not a number: row 2 (line 3) \"seven\"; "
            "checked again: this commit adds dataset scores in gitgov.toml") in proc.stderr


def test_widening_a_dataset_s_paths_checks_the_files_it_gains(repo):
    write(repo, "data/old/customers_2019.csv", "id,age\n9,130\n")
    assert commit(repo, "archive, outside the dataset", "data/old").returncode == 0
    edit_policy(repo, 'paths = ["data/customers*.csv"]', 'paths = ["data/customers*.csv", "data/old/*.csv"]')
    proc = commit(repo, "govern the archive", "gitgov.toml")
    assert proc.returncode == 1, proc.stderr
    assert "  data/old/customers_2019.csv\n" in proc.stderr
    assert "checked again: this commit changes which files dataset customers holds" in proc.stderr
    # `gitgov check` after the commit would have said the same
    check = gitgov(repo, "check", "data/old/customers_2019.csv")
    assert check.returncode == 1 and "age.max: 1 row where 'age' is above the maximum 120" in check.stdout


def test_the_hook_s_fast_path_does_not_skip_a_staged_policy(repo):
    edit_policy(repo, "max = 120", "max = 60")
    write(repo, "data/events.csv", EVENTS + "2,view\n")
    # a full check after the edit caches its pathspecs under the edited policy's stamp (and
    # holds the commit back until the policy is staged too)
    held = commit(repo, "more events", "data/events.csv")
    assert held.returncode == 1 and "gitgov/rules-not-staged" in held.stderr, held.stderr
    git(repo, "reset", "-q", "data/events.csv")
    proc = commit(repo, "retire the over-60s", "gitgov.toml")
    assert proc.returncode == 1 and WHY in proc.stderr, proc.stderr


GUARD = '''
from gitgov.core.events import error
from gitgov.core.hookspecs import hookimpl

try:
    import tomllib
except ImportError:
    import tomli as tomllib


@hookimpl
def policy_staged(event, ctx):
    if event.previous is None:
        return None
    old, new = (tomllib.loads(ctx.repo.read_blob(b).decode()) for b in (event.previous, event.blob))
    gone = sorted(set(old["datasets"]) - set(new.get("datasets", {})))
    if gone:
        return error("dataset-removed", f"{event.path} drops the rules of {', '.join(gone)}")
'''


def test_hook_policy_staged_lets_a_plugin_judge_a_policy_change(repo):
    write(repo, "checks/guard.py", GUARD)
    edit_policy(repo, 'enable = ["validation", "secrets", "access"]',
                'enable = ["validation", "secrets", "access", "guard"]\nlocal = ["checks/guard.py"]')
    assert commit(repo, "guard the policy", "gitgov.toml", "checks").returncode == 0
    policy = repo / "gitgov.toml"
    text = policy.read_text()
    policy.write_text(text.replace('[datasets.events]\npaths = ["data/events*.csv"]\n', ""))
    proc = commit(repo, "stop governing events", "gitgov.toml")
    assert proc.returncode == 1, proc.stderr
    assert "guard/dataset-removed: gitgov.toml drops the rules of events" in proc.stderr
    assert commits(repo) == 3


def test_fixing_a_policy_that_did_not_load_checks_every_dataset(repo):
    policy = repo / "gitgov.toml"
    good = policy.read_text()
    policy.write_text(good.replace("max = 120", "max = = 120"))
    assert commit(repo, "typo", "gitgov.toml", extra=("--no-verify",)).returncode == 0
    policy.write_text(good.replace("max = 120", "max = 60"))
    proc = commit(repo, "fix the typo", "gitgov.toml")
    assert proc.returncode == 1, proc.stderr
    assert "checked again: this commit replaces a gitgov.toml that did not load" in proc.stderr
    assert "validation/age.max: 2 rows" in proc.stderr
