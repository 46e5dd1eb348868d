"""The access plugin on the client: roles in gitgov.toml, `gitgov access`, the pre-commit
check of who may change which dataset, and the errors a bad [roles] table gets."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import git, gitgov, write
from gitgov.core.config import load_policy_text
from gitgov.core.errors import ConfigError
from gitgov.plugins.access.model import AccessModel
from gitgov.plugins.access.policy_edit import judge, touched
from server_helpers import GOOD, POLICY, isolated, person

RESTRICTED = POLICY + """
[datasets.contacts]
paths = ["data/contacts*.csv"]
classification = "restricted"
owner = "dana@example.com"
custodians = ["ops@example.com"]
consumers = ["ml-team"]
"""


@pytest.fixture(scope="module")
def team_template(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("team")
    path = base / "team"
    with isolated(base):
        git(base, "init", "-q", "-b", "main", str(path))
        write(path, "gitgov.toml", RESTRICTED)
        gitgov(path, "init", check=True)
        git(path, "add", "gitgov.toml", ".gitignore")
        git(path, "commit", "-q", "-m", "policy", env=person("dana"))
    return path


@pytest.fixture
def team(team_template, tmp_path) -> Path:
    """A repository with the team's policy, gitgov's hooks and a first commit by the owner."""
    path = tmp_path / "team"
    shutil.copytree(team_template, path, symlinks=True)
    return path


def cli(where: Path, monkeypatch, capsys, *args: str) -> tuple[str, str, int]:
    """The CLI in this process (as `gitgov ARGS` in `where`): (stdout, stderr, exit code)."""
    from gitgov.core.cli import main

    monkeypatch.chdir(where)
    code = main(list(args))
    out, err = capsys.readouterr()
    return out, err, code


def model(text: str) -> AccessModel:
    return AccessModel.of(load_policy_text(text, "gitgov.toml"), text)


# ---- the matrix and check ----------------------------------------------------------------

def test_access_prints_the_role_action_matrix_of_each_dataset(team):
    result = gitgov(team, "access")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "customers  (confidential)"
    assert lines[1].split() == ["role", "write", "delete", "reveal", "edit-policy", "people"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[3:8]}
    assert rows["owner"][:4] == ["yes", "yes", "yes", "yes"] and rows["owner"][4] == "dana@example.com"
    assert rows["consumer"][:4] == ["-", "-", "-", "-"] and rows["consumer"][4] == "lee@example.com"
    one = gitgov(team, "access", "notes")
    assert one.stdout.startswith("notes  (internal)") and "customers" not in one.stdout
    consumer = next(line for line in one.stdout.splitlines() if line.strip().startswith("consumer"))
    assert consumer.split()[1:3] == ["yes", "-"]  # consumers may write internal data, not delete it


def test_access_json_matrix(team):
    data = json.loads(gitgov(team, "access", "contacts", "--json").stdout)
    [ds] = data["datasets"]
    assert ds["classification"] == "restricted" and ds["people"]["custodian"] == ["ops@example.com"]
    assert ds["matrix"]["custodian"]["write"] is True and ds["matrix"]["consumer"]["write"] is False
    assert ds["matrix"]["custodian"]["reveal"] is False


@pytest.mark.parametrize("actor, action, dataset, code, start", [
    ("dana@example.com", "edit-policy", "customers", 0, "yes: dataset 'customers' is confidential"),
    ("Sam Steward <SAM@example.com>", "write", "customers", 0, "yes:"),
    ("lee@example.com", "write", "customers", 1, "no: dataset 'customers' is confidential"),
    ("lee@example.com", "write", "notes", 0, "yes: dataset 'notes' is internal"),
    ("ops@example.com", "write", "contacts", 0, "yes: dataset 'contacts' is restricted"),
    ("lee@example.com", "write", "contacts", 1, "no: dataset 'contacts' is restricted"),
    ("eve@example.com", "reveal", "customers", 1, "no:"),
])
def test_access_check_answers_yes_or_no_with_the_rule(team, monkeypatch, capsys, actor, action, dataset,
                                                     code, start):
    out, err, rc = cli(team, monkeypatch, capsys, "access", "check", "--actor", actor, "--action", action,
                       "--dataset", dataset)
    assert rc == code, err
    assert out.startswith(start)
    if code:
        assert "to get access: ask dana@example.com (owner)" in out


def test_access_check_runs_as_a_command(team):
    result = gitgov(team, "access", "check", "--actor", "lee@example.com", "--action", "write",
                    "--dataset", "customers")
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == (
        "no: dataset 'customers' is confidential: its owner, stewards and custodians may add or change "
        "its data; lee@example.com is its consumer")


def test_access_check_json_and_usage_errors(team):
    data = json.loads(gitgov(team, "access", "check", "--actor", "lee@example.com", "--action", "write",
                             "--dataset", "customers", "--json").stdout)
    assert data["answer"] == "no" and data["roles"] == ["consumer"] and "consumers" not in data["fix"][:4]
    missing = gitgov(team, "access", "check", "--actor", "lee@example.com")
    assert missing.returncode == 2 and "missing --action, --dataset" in missing.stderr
    typo = gitgov(team, "access", "check", "--actor", "x@example.com", "--action", "write", "--dataset", "custmers")
    assert typo.returncode == 2
    assert typo.stderr.strip() == "gitgov: no dataset named 'custmers' in gitgov.toml (did you mean 'customers'?)"
    bad_action = gitgov(team, "access", "check", "--actor", "x@e.com", "--action", "read", "--dataset", "notes")
    assert bad_action.returncode == 2 and "Invalid value for '--action'" in bad_action.stderr


def test_access_check_of_a_role_or_a_name_is_bad_input_not_a_no(team):
    role = gitgov(team, "access", "check", "--actor", "ml-team", "--action", "write", "--dataset", "customers")
    assert role.returncode == 2 and role.stdout == ""
    assert role.stderr == ("gitgov: --actor: 'ml-team' is a role in [roles], not an e-mail address; "
                           "access is decided per person: give the git e-mail address of one\n")
    name = gitgov(team, "access", "check", "--actor", "Lee", "--action", "write", "--dataset", "customers")
    assert name.returncode == 2 and "'Lee' is a name, not an e-mail address" in name.stderr
    named = gitgov(team, "access", "check", "--actor", "Lee <lee@example.com>", "--action", "write",
                   "--dataset", "customers")
    assert named.returncode == 1 and "lee@example.com is its consumer" in named.stdout


# ---- pre-commit ----------------------------------------------------------------------------

def test_pre_commit_blocks_a_consumer_and_lets_the_owner_commit(team):
    write(team, "data/customers.csv", GOOD)
    git(team, "add", "data/customers.csv")
    blocked = git(team, "commit", "-q", "-m", "lee's data", check=False, env=person("lee"))
    assert blocked.returncode == 1
    assert "access/not-allowed: dataset 'customers' is confidential" in blocked.stderr
    assert "lee@example.com is its consumer" in blocked.stderr
    passed = git(team, "commit", "-q", "-m", "dana's data", check=False, env=person("dana"))
    assert passed.returncode == 0, passed.stderr


def test_restricted_data_needs_owner_steward_or_custodian(team):
    write(team, "data/contacts.csv", "id\n1\n")
    git(team, "add", "data/contacts.csv")
    assert git(team, "commit", "-q", "-m", "x", check=False, env=person("lee")).returncode == 1
    ops = {**person("lee"), "GIT_AUTHOR_NAME": "Ops", "GIT_AUTHOR_EMAIL": "ops@example.com"}
    result = git(team, "commit", "-q", "-m", "by the custodian", check=False, env=ops)
    assert result.returncode == 0, result.stderr


def test_restricted_writers_cannot_be_widened_to_consumers():
    text = RESTRICTED + '\n[plugins.access]\nwriters = { restricted = ["owner", "consumer"] }\n'
    with pytest.raises(ConfigError) as exc:
        model(text)
    assert str(exc.value).startswith("gitgov.toml:")
    assert "plugins.access.writers.restricted: restricted data may only be changed by its owner" in str(exc.value)
    assert "remove consumer" in str(exc.value)


def test_writers_setting_narrows_a_classification():
    text = POLICY + '\n[plugins.access]\nwriters = { internal = ["owner", "steward"] }\n'
    assert not model(text).decide("lee@example.com", "write", "notes").allowed
    assert model(POLICY).decide("lee@example.com", "write", "notes").allowed


# ---- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("policy, message", [
    (POLICY.replace('ml-team = ["lee@example.com"]', 'ml-team = "lee@example.com"'),
     "gitgov.toml:23: roles.ml-team: expected a list of strings or a table"),
    (POLICY.replace('consumers = ["ml-team"]\n\n[datasets.customers.columns.id]',
                    'consumers = ["ml-teem"]\n\n[datasets.customers.columns.id]'),
     "gitgov.toml:6: datasets.customers.consumers[0]: unknown role 'ml-teem': not an e-mail address and "
     "not defined in [roles] (defined: ml-team) (did you mean 'ml-team'?)"),
    (POLICY.replace('ml-team = ["lee@example.com"]', 'ml-team = ["lee@example.com", "analysts"]'),
     "gitgov.toml:23: roles.ml-team[1]: unknown role 'analysts'"),
    (POLICY.replace('ml-team = ["lee@example.com"]', 'ml-team = ["core"]\ncore = { members = ["ml-team"] }'),
     "roles contain each other"),
    (POLICY.replace('ml-team = ["lee@example.com"]', 'steward = ["lee@example.com"]'),
     "gitgov.toml:23: roles.steward: 'steward' is a built-in role of every dataset"),
    (POLICY + "\n[plugins.access]\nsigned = [\"restricted\"]\n",
     "plugins.access.signed: unknown key; expected one of writers, signed_commits, admins "
     "(did you mean 'signed_commits'?)"),
])
def test_bad_roles_are_reported_with_file_line_key_and_rule(tmp_path, monkeypatch, capsys, policy, message):
    path = tmp_path / "p"
    git(tmp_path, "init", "-q", str(path))
    write(path, "gitgov.toml", policy)
    out, err, rc = cli(path, monkeypatch, capsys, "access")
    assert rc == 2
    assert message in err, err
    assert "Traceback" not in err and err.count("\n") == 1 and err.startswith("gitgov: ")


def test_a_bad_roles_table_is_one_line_from_the_real_command(tmp_path):
    path = tmp_path / "p"
    git(tmp_path, "init", "-q", str(path))
    write(path, "gitgov.toml", POLICY.replace('ml-team = ["lee@example.com"]', 'ml-team = "lee@example.com"'))
    result = gitgov(path, "access")
    assert result.returncode == 2
    assert result.stderr == "gitgov: gitgov.toml:23: roles.ml-team: expected a list of strings or a table\n"


def test_unknown_role_blocks_the_commit_with_the_same_message(team):
    write(team, "gitgov.toml", RESTRICTED.replace('consumers = ["ml-team"]\n\n[datasets.customers.columns.id]',
                                                  'consumers = ["ml-teem"]\n\n[datasets.customers.columns.id]'))
    write(team, "data/customers.csv", GOOD)
    git(team, "add", "gitgov.toml", "data/customers.csv")
    result = git(team, "commit", "-q", "-m", "x", check=False, env=person("dana"))
    assert result.returncode == 1
    assert "access/config: gitgov.toml:6: datasets.customers.consumers[0]: unknown role 'ml-teem'" in result.stderr
    check = gitgov(team, "check", "data/customers.csv")  # no commit to judge, the same config error
    assert check.returncode == 1
    assert "access/config: gitgov.toml:6: datasets.customers.consumers[0]: unknown role 'ml-teem'" in check.stdout


def test_a_dataset_without_owner_is_a_warning_not_a_block(team):
    write(team, "gitgov.toml", RESTRICTED + '\n[datasets.scratch]\npaths = ["scratch/*.csv"]\n')
    access = gitgov(team, "access", "scratch")
    assert access.returncode == 0
    assert "gitgov: warning: gitgov.toml:35: datasets.scratch: has no owner" in access.stderr
    git(team, "add", "gitgov.toml")
    assert git(team, "commit", "-q", "-m", "scratch space", check=False,
               env=person("dana")).returncode == 0
    write(team, "scratch/a.csv", "x\n1\n")
    git(team, "add", "scratch/a.csv")
    result = git(team, "commit", "-q", "-m", "scratch", check=False, env=person("eve"))
    assert result.returncode == 0, result.stderr
    assert "warning access/no-owner: dataset 'scratch' has no owner" in result.stderr
    check = gitgov(team, "check", "scratch/a.csv")  # the same warning, as the commit gave it
    assert check.returncode == 0 and "warning access/no-owner: dataset 'scratch' has no owner" in check.stdout


# ---- what a policy edit touches -----------------------------------------------------------

def test_touched_names_changed_sections_roles_they_use_and_global_keys():
    old = load_policy_text(POLICY, "gitgov.toml").raw
    new = load_policy_text(POLICY.replace('ml-team = ["lee@example.com"]', 'ml-team = ["lee@example.com", "x@y.z"]')
                           .replace("timeout = 20", "timeout = 30"), "gitgov.toml").raw
    what = touched(old, new)
    assert what.datasets == {"customers": "role ml-team changed", "notes": "role ml-team changed"}
    assert what.global_keys == ["plugins"]
    current = model(POLICY)
    assert [v.what for v in judge("sam@example.com", what, current, None)] == ["dataset 'notes' (role ml-team changed)"]
    assert judge("dana@example.com", what, current, None) == []


def test_a_moved_file_touches_both_datasets():
    from gitgov.plugins.access.policy_edit import moved_files

    old = load_policy_text(POLICY, "gitgov.toml")
    new = load_policy_text(POLICY.replace('paths = ["data/notes*.csv"]', 'paths = ["data/*.csv"]')
                           .replace('paths = ["data/customers*.csv"]', 'paths = ["data/cust/*.csv"]'), "gitgov.toml")
    moved = moved_files(["data/customers.csv", "data/notes.csv"], old, new)
    assert moved == [("data/customers.csv", "customers", "notes")]


def test_pre_push_refuses_a_consumer_commit_that_skipped_pre_commit(team, tmp_path):
    remote = tmp_path / "plain.git"  # no server hook: only the client's pre-push speaks
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(team, "remote", "add", "origin", str(remote))
    write(team, "data/customers.csv", GOOD)
    git(team, "add", "data/customers.csv")
    git(team, "commit", "-q", "--no-verify", "-m", "lee's data", env=person("lee"))
    result = git(team, "push", "-q", "origin", "main", check=False, env=person("lee"))
    assert result.returncode == 1
    assert "access/not-allowed" in result.stderr and "lee@example.com is its consumer" in result.stderr
    assert git(remote, "rev-parse", "--verify", "-q", "main", check=False).stdout == ""


def test_pre_push_judges_a_policy_edit_by_what_the_remote_branch_holds(team, tmp_path):
    """Whatever the branch is called, and whether or not the remote's default branch was
    fetched: the policy at the tip the push replaces judges the edit, never the edit itself."""
    remote = tmp_path / "plain.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(team, "branch", "-m", "main", "trunk")
    assert git(team, "push", "-q", str(remote), "trunk", check=False, env=person("dana")).returncode == 0
    policy = (team / "gitgov.toml").read_text()
    write(team, "gitgov.toml", policy.replace('custodians = ["ops@example.com"]',
                                              'custodians = ["ops@example.com", "lee@example.com"]', 1))
    git(team, "add", "gitgov.toml")
    git(team, "commit", "-q", "--no-verify", "-m", "promote myself", env=person("lee"))
    result = git(team, "push", "-q", str(remote), "trunk", check=False, env=person("lee"))  # by path
    assert result.returncode == 1, result.stderr
    assert "access/policy-edit" in result.stderr and "lee@example.com is its consumer" in result.stderr
