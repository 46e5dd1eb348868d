"""The hooks read the working tree's gitgov.toml and local plugins, and a commit takes the
staged ones. A rule loosened in the working tree only must not let data through that breaks
the committed rules."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import git, governed_repo, write

POLICY = """\
version = 1

[datasets.people]
paths = ["data/people*.csv"]

[datasets.people.columns.age]
type = "integer"
max = 120

[plugins]
enable = ["validation"]
timeout = 30
"""
GOOD = "id,age\n1,30\n"
BAD = "id,age\n1,30\n2,500\n"
BLOCKED = ("gitgov/rules-not-staged: gitgov.toml has changes that are not staged, and this "
           "commit holds governed data")


@pytest.fixture
def repo(tmp_path) -> Path:
    path = governed_repo(tmp_path, POLICY)
    write(path, "data/people.csv", GOOD)
    git(path, "add", "data")
    git(path, "commit", "-q", "-m", "people")
    return path


def commit(repo: Path, *paths: str) -> subprocess.CompletedProcess:
    git(repo, "add", *paths)
    return git(repo, "commit", "-q", "-m", "change", check=False)


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").stdout.strip()


def loosen(repo: Path, old: str = "max = 120", new: str = "max = 1000") -> None:
    policy = repo / "gitgov.toml"
    policy.write_text(policy.read_text().replace(old, new))


def test_data_staged_beside_an_unstaged_looser_rule_is_blocked(repo):
    before = head(repo)
    loosen(repo)
    write(repo, "data/people.csv", BAD)
    proc = commit(repo, "data/people.csv")
    assert proc.returncode == 1, proc.stderr
    assert "commit blocked by policy (1 error)" in proc.stderr
    assert "  gitgov.toml\n" in proc.stderr and BLOCKED in proc.stderr
    assert "`git add gitgov.toml`" in proc.stderr
    assert head(repo) == before
    # Staged together, the commit holds the rule it was checked by: it goes through.
    proc = commit(repo, "gitgov.toml")
    assert proc.returncode == 0, proc.stderr
    assert "max = 1000" in git(repo, "show", "HEAD:gitgov.toml").stdout


def test_a_commit_of_files_neither_version_governs_goes_on(repo):
    loosen(repo)
    write(repo, "README.md", "people data\n")
    proc = commit(repo, "README.md")
    assert proc.returncode == 0, proc.stderr
    assert "rules-not-staged" not in proc.stderr


def test_the_fast_path_does_not_skip_data_the_staged_policy_governs(repo):
    """Narrowed in the working tree, the dataset's paths no longer match its files: the
    cached pathspecs written from that version would let the commit skip every check."""
    loosen(repo, 'paths = ["data/people*.csv"]', 'paths = ["elsewhere/*.csv"]')
    write(repo, "README.md", "people data\n")
    assert commit(repo, "README.md").returncode == 0  # the full flow wrote its cache
    write(repo, "data/people.csv", BAD)
    proc = commit(repo, "data/people.csv")
    assert proc.returncode == 1, proc.stderr
    assert BLOCKED in proc.stderr


def test_a_policy_deleted_from_the_working_tree_only_still_governs(repo):
    (repo / "gitgov.toml").unlink()
    write(repo, "data/people.csv", BAD)
    proc = commit(repo, "data/people.csv")
    assert proc.returncode == 1, proc.stderr
    assert BLOCKED in proc.stderr


def test_a_partly_staged_policy_is_blocked_too(repo):
    loosen(repo, "max = 120", "max = 110")
    git(repo, "add", "gitgov.toml")
    loosen(repo, "max = 110", "max = 1000")
    proc = git(repo, "commit", "-q", "-m", "rules", check=False)
    assert proc.returncode == 1, proc.stderr
    assert ("gitgov.toml has changes that are not staged, and this commit stages another "
            "version of gitgov.toml") in proc.stderr


def test_an_untracked_policy_is_the_policy(tmp_path):
    """Before gitgov.toml is first committed there is no staged version to hold to."""
    path = governed_repo(tmp_path, POLICY, commit=False)
    write(path, "data/people.csv", BAD)
    proc = commit(path, "data/people.csv")
    assert proc.returncode == 1, proc.stderr
    assert "validation/age.max" in proc.stderr and "rules-not-staged" not in proc.stderr


RULE = '''
from gitgov.core.hookspecs import hookimpl
from gitgov.plugins.validation.rules import column_rule


@column_rule("small", description="is too large")
def small(values, param):
    import pyarrow.compute as pc
    return pc.greater(values, param)


@hookimpl
def register_rules():
    return [small]
'''


def test_a_local_rule_loosened_in_the_working_tree_only_is_blocked_too(repo):
    write(repo, "checks/rules.py", RULE)
    policy = repo / "gitgov.toml"
    policy.write_text(policy.read_text().replace("max = 120", "max = 120\nchecks = { small = 50 }")
                      .replace('enable = ["validation"]', 'enable = ["validation", "rules"]')
                      .replace("timeout = 30", 'timeout = 30\nlocal = ["./checks/rules.py"]'))
    assert commit(repo, "gitgov.toml", "checks/rules.py").returncode == 0
    write(repo, "checks/rules.py", RULE.replace("pc.greater(values, param)", "pc.greater(values, 1000)"))
    write(repo, "data/people.csv", "id,age\n1,30\n2,90\n")
    proc = commit(repo, "data/people.csv")
    assert proc.returncode == 1, proc.stderr
    assert ("gitgov/rules-not-staged: checks/rules.py has changes that are not staged, and this "
            "commit holds governed data") in proc.stderr
    assert "`git add checks/rules.py`" in proc.stderr
    git(repo, "add", "checks/rules.py")  # staged, then loosened further: part of it is staged
    write(repo, "checks/rules.py", RULE.replace("pc.greater(values, param)", "pc.greater(values, 2000)"))
    partly = git(repo, "commit", "-q", "-m", "people", check=False)
    assert partly.returncode == 1 and "this commit stages another version of checks/rules.py" in \
        partly.stderr, partly.stderr
    git(repo, "reset", "-q", "checks/rules.py")
    # with the plugin as committed, the file fails its rule
    git(repo, "checkout", "checks/rules.py")
    proc = git(repo, "commit", "-q", "-m", "people", check=False)
    assert proc.returncode == 1 and "validation/age.small" in proc.stderr, proc.stderr


def use_local_rule(repo: Path) -> None:
    write(repo, "checks/rules.py", RULE)
    policy = repo / "gitgov.toml"
    policy.write_text(policy.read_text().replace("max = 120", "max = 120\nchecks = { small = 50 }")
                      .replace('enable = ["validation"]', 'enable = ["validation", "rules"]')
                      .replace("timeout = 30", 'timeout = 30\nlocal = ["./checks/rules.py"]'))


def test_a_local_rule_git_does_not_track_is_blocked(repo):
    """Committed without its plugin file, the policy names a rule no other clone can run."""
    use_local_rule(repo)
    before = head(repo)
    proc = commit(repo, "gitgov.toml")
    assert proc.returncode == 1, proc.stderr
    assert ("gitgov/rules-not-staged: checks/rules.py is listed in [plugins] local in gitgov.toml "
            "but not tracked by git, and this commit stages another version of gitgov.toml: every "
            "other clone would check the data without it; add it (`git add checks/rules.py`), "
            "then commit again") in proc.stderr
    assert head(repo) == before
    assert commit(repo, "checks/rules.py").returncode == 0  # together: the rule travels
    assert git(repo, "ls-files", "checks").stdout == "checks/rules.py\n"
    # An ignored plugin file is left out of commits all the same.
    write(repo, ".gitignore", "checks/\n")
    git(repo, "rm", "-q", "--cached", "checks/rules.py")
    git(repo, "commit", "-q", "--no-verify", "-m", "drop the rule file")
    write(repo, "data/people.csv", "id,age\n1,30\n2,40\n")
    proc = commit(repo, "data/people.csv")
    assert proc.returncode == 1 and "checks/rules.py is listed in [plugins] local" in proc.stderr
    assert "this commit holds governed data" in proc.stderr


def test_untracked_local_rules_do_not_stop_other_commits_or_a_first_policy(repo, tmp_path):
    use_local_rule(repo)
    git(repo, "add", "gitgov.toml")
    git(repo, "commit", "-q", "--no-verify", "-m", "rules without their file")
    write(repo, "README.md", "people data\n")
    proc = commit(repo, "README.md")
    assert proc.returncode == 0 and "rules-not-staged" not in proc.stderr, proc.stderr
    # Before gitgov.toml is first committed, nothing committed can lose its rules.
    (tmp_path / "fresh").mkdir()
    fresh = governed_repo(tmp_path / "fresh", POLICY, commit=False)
    use_local_rule(fresh)
    write(fresh, "data/people.csv", "id,age\n1,30\n2,90\n")
    proc = commit(fresh, "data/people.csv")
    assert proc.returncode == 1, proc.stderr
    assert "validation/age.small" in proc.stderr and "rules-not-staged" not in proc.stderr
