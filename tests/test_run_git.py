"""The git queries of `gitgov run`: where the repository is (one git process for
every kind of folder), and the queries started ahead of need give the same answers."""
from __future__ import annotations

import pytest

from conftest import git
from gitgov.core import git as gitmod
from gitgov.core.errors import InputError
from gitgov.core.git import Repo


def test_discover_finds_the_work_tree_from_its_root_and_from_a_subfolder(repo):
    (repo / "data" / "raw").mkdir(parents=True)
    for start in (repo, repo / "data" / "raw"):
        found = Repo.discover(start)
        assert found.root == repo.resolve() and not found.bare
        assert found.git_dir == (repo / ".git").resolve() and found.common_dir == (repo / ".git").resolve()


def test_discover_in_a_linked_worktree_shares_the_main_state_dir(repo, tmp_path):
    git(repo, "commit", "-q", "--allow-empty", "-m", "first")
    git(repo, "worktree", "add", "-q", str(tmp_path / "wt"))
    found = Repo.discover(tmp_path / "wt")
    assert found.root == (tmp_path / "wt").resolve() and found.state_dir == repo.resolve() / ".gitgov"


def test_discover_a_bare_repository(tmp_path):
    git(tmp_path, "init", "-q", "--bare", "central.git")
    found = Repo.discover(tmp_path / "central.git")
    assert found.bare and found.root == (tmp_path / "central.git").resolve()
    assert found.state_dir == found.git_dir / "gitgov"


def test_discover_inside_dot_git_and_outside_any_repository_say_why(repo, tmp_path):
    with pytest.raises(InputError, match=r"\.git is inside the repository's git folder; run gitgov from its work tree"):
        Repo.discover(repo / ".git")
    (tmp_path / "plain").mkdir()
    with pytest.raises(InputError, match="not a git repository"):
        Repo.discover(tmp_path / "plain")


def test_a_prefetched_query_is_taken_once_and_answers_as_a_fresh_one(repo):
    fresh = Repo.discover(repo)
    who = fresh.identity()
    gitmod.prefetch(gitmod.DISCOVER_ARGS, str(repo.resolve()))
    gitmod.prefetch(("var", "GIT_AUTHOR_IDENT"), str(fresh.root))
    try:
        assert len(gitmod._started) == 2
        assert Repo.discover(repo) == fresh and fresh.identity() == who
        assert gitmod._started == {}  # both were taken, not started again
    finally:
        gitmod.discard_prefetched()


def test_unused_prefetched_queries_are_reaped(repo):
    gitmod.prefetch(gitmod.STATUS_ARGS, str(repo))
    gitmod.discard_prefetched()
    assert gitmod._started == {}


def test_a_run_from_the_root_records_who_ran_it_and_the_commit_and_cleans_up(initialized):
    import json
    import sys

    from conftest import gitgov

    head = git(initialized, "rev-parse", "HEAD").stdout.strip()
    done = gitgov(initialized, "run", "--", sys.executable, "-c", "open('out.txt', 'w').write('x')")
    assert done.returncode == 0, done.stderr
    run = json.loads(gitgov(initialized, "runs", "show", "last", "--json", check=True).stdout)
    who = Repo.discover(initialized).identity()
    assert run["commit"] == head and who in json.dumps(run)
    run_dir = initialized / ".gitgov" / "runs" / run["run_id"]
    assert (run_dir / "params.json").is_file() and not (run_dir / "audit").exists()
