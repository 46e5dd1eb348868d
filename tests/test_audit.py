"""`gitgov audit` from a server's ledger, overrides with their reason, signed checkpoints
and `gitgov verify`, concurrent pushes, a locked ledger and unreadable objects."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from conftest import git, gitgov
from gitgov.core import checkpoints
from gitgov.core.git import Repo
from server_helpers import (BAD, GOOD, POLICY, ZEROS, bootstrap, commit_as, person, push, pushes, rev,
                            server_entries)


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    """dana bootstraps the policy; lee's --no-verify push of bad data is refused; lee's policy
    edit is refused; dana's fix is accepted; sam's steward change is accepted."""
    tmp = tmp_path_factory.mktemp("story")
    env = {"HOME": str(tmp), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        central, work = bootstrap(tmp)
        commit_as(work, "lee", {"data/customers.csv": BAD}, "lee's export")
        assert push(work, "main", who="lee").returncode != 0
        git(work, "reset", "-q", "--hard", "HEAD~1")
        edited = POLICY.replace('stewards = ["sam@example.com"]', 'stewards = ["sam@example.com", "lee@example.com"]')
        commit_as(work, "lee", {"gitgov.toml": edited}, "make me a steward")
        assert push(work, "main", who="lee").returncode != 0
        git(work, "reset", "-q", "--hard", "HEAD~1")
        commit_as(work, "dana", {"data/customers.csv": GOOD + "3,33\n"}, "dana's fix")
        assert push(work, "main").returncode == 0
        commit_as(work, "sam", {"gitgov.toml": edited}, "lee helps steward customers")
        assert push(work, "main", who="sam").returncode == 0
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return central, work


def audit(where, *args):
    return gitgov(where, "audit", *args)


def test_audit_shows_rejected_and_accepted_pushes_with_who_and_why(story):
    central, work = story
    result = audit(work, "--repo", str(central))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    rejected = [line for line in lines if "lee@example.com pushed (rejected) refs/heads/main" in line]
    assert len(rejected) == 2
    assert "access/not-allowed on data/customers.csv" in rejected[0]
    assert any("dana@example.com pushed (accepted) refs/heads/main" in line for line in lines)
    assert any("dana@example.com changed data/customers.csv [customers]" in line for line in lines)
    assert any("lee@example.com changed (blocked) data/customers.csv" in line for line in lines)


def test_audit_lists_policy_changes_with_their_diff(story):
    central, _ = story
    out = audit(central, "--actor", "sam@example.com").stdout
    assert "sam@example.com changed policy (accepted) gitgov.toml [customers]" in out
    assert '-stewards = ["sam@example.com"]' in out
    assert '+stewards = ["sam@example.com", "lee@example.com"]' in out
    lee = audit(central, "--actor", "lee@example.com").stdout
    assert "lee@example.com changed policy (rejected) gitgov.toml [customers]" in lee
    assert {line[21:].split()[0] for line in lee.splitlines() if line[:2] == "20"} == {"lee@example.com"}


def test_audit_filters_by_dataset_and_since_and_prints_json(story):
    central, _ = story
    notes = audit(central, "--dataset", "notes").stdout
    assert "customers.csv" not in notes
    future = audit(central, "--since", "2999-01-01")
    assert future.returncode == 0 and future.stdout.strip() == "gitgov: nothing in the ledger matches"
    items = json.loads(audit(central, "--json", "--since", "1d").stdout)
    actions = {(i["actor"], i["action"], i.get("outcome", "")) for i in items}
    assert ("lee@example.com", "pushed", "rejected") in actions
    assert ("dana@example.com", "pushed", "accepted") in actions
    policy = [i for i in items if i["action"] == "changed policy"]
    assert all(i["diff"].startswith("--- a/gitgov.toml") for i in policy)
    for given in ("last tuesday", ""):  # an empty one is no date either, not "since always"
        bad = audit(central, "--since", given)
        assert bad.returncode == 2 and f"--since: {given!r} is not a date" in bad.stderr


def test_audit_since_long_ago_sees_everything_or_says_why_not(story):
    central, _ = story
    everything = audit(central, "--json").stdout
    for since in ("0898-01-01", "412000d"):  # the year 898: still before every entry
        assert audit(central, "--json", "--since", since).stdout == everything
    for since in ("99999999d", "0001-01-01T00:00+05:00"):
        out = audit(central, "--since", since)
        assert out.returncode == 2 and out.stderr == (
            f"gitgov: --since: '{since}' reaches back before the year 1; leave --since out to see everything\n")


def test_verify_checks_every_signed_checkpoint_on_the_server(story):
    central, _ = story
    result = gitgov(central, "verify", "--json")
    data = json.loads(result.stdout)
    assert result.returncode == 0 and data["ok"] is True
    assert data["checkpoints"]["count"] == len(pushes(central))  # one per push
    assert data["checkpoints"]["of_another_ledger"] is False


def test_a_clone_keeps_a_copy_of_the_checkpoints_and_verifies_them(story, tmp_path):
    central, _ = story
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(central), str(clone))
    gitgov(clone, "init", check=True)
    git(clone, "fetch", "-q", "origin", "refs/gitgov/checkpoints:refs/gitgov/checkpoints")
    result = gitgov(clone, "verify")
    assert result.returncode == 0, result.stderr
    assert f"{len(pushes(central))} signed checkpoint(s) of another ledger (the server's) verified" in result.stdout


def _copy(central, tmp_path):
    import shutil

    copy = tmp_path / "copy.git"
    shutil.copytree(central, copy, symlinks=True)
    return copy


def test_verify_fails_when_the_checkpoint_chain_is_rewritten(story, tmp_path):
    copy = _copy(story[0], tmp_path)
    assert gitgov(copy, "verify").returncode == 0  # remembers the tip it verified
    git(copy, "update-ref", "refs/gitgov/checkpoints", "refs/gitgov/checkpoints~1")
    result = gitgov(copy, "verify")
    assert result.returncode == 1
    assert "checkpoint chain was rewritten" in result.stderr


def test_verify_fails_when_a_checkpoint_was_edited(story, tmp_path):
    copy = _copy(story[0], tmp_path)
    repo = Repo.discover(copy)
    tip = rev(copy, "refs/gitgov/checkpoints")
    envelope = json.loads(git(copy, "cat-file", "blob", f"{tip}:checkpoint.json").stdout)
    payload = json.loads(__import__("base64").b64decode(envelope["payload"]))
    payload["seq"] += 5
    envelope["payload"] = __import__("base64").b64encode(json.dumps(payload).encode()).decode()
    blob = git(copy, "hash-object", "-w", "--stdin", input=json.dumps(envelope), stdin=None).stdout.strip()
    pem = git(copy, "rev-parse", f"{tip}:signer.pub.pem").stdout.strip()
    listing = f"100644 blob {blob}\tcheckpoint.json\n100644 blob {pem}\tsigner.pub.pem\n"
    tree = git(copy, "mktree", input=listing, stdin=None).stdout.strip()
    forged = git(copy, "commit-tree", tree, "-p", f"{tip}~1", "-m", "forged").stdout.strip()
    git(copy, "update-ref", "refs/gitgov/checkpoints", forged)
    report = checkpoints.verify(repo, None, remember=False)
    assert not report.ok and "the signature does not match the payload" in report.reason


def test_verify_fails_when_the_server_ledger_was_rewritten(story, tmp_path):
    copy = _copy(story[0], tmp_path)
    db = sqlite3.connect(copy / "gitgov" / "ledger.db")
    db.execute("DROP TRIGGER journal_no_delete")
    last = db.execute("SELECT max(seq) FROM journal").fetchone()[0]
    db.execute("DELETE FROM journal WHERE seq = ?", (last,))
    db.commit()
    db.close()
    result = gitgov(copy, "verify")
    assert result.returncode == 1 and "FAILED" in result.stderr


def test_an_acknowledged_breaking_change_is_an_override_with_its_reason(tmp_path):
    policy = POLICY + ('\n[datasets.events]\npaths = ["data/events*.csv"]\nowner = "dana@example.com"\n'
                       '\n[datasets.events.rules]\ndrift = { schema = "block" }\n')
    central, work = bootstrap(tmp_path, policy)
    commit_as(work, "dana", {"data/events.csv": "id,kind\n1,click\n"}, "events")
    assert push(work, "main").returncode == 0
    commit_as(work, "dana", {"data/events.csv": "id\n1\n2\n"}, "drop kind")
    refused = push(work, "main")
    assert refused.returncode != 0 and "validation/drift.schema" in refused.stderr
    git(work, "commit", "-q", "--amend", "--no-verify", "-m",
        "drop kind\n\nBreaking-Change: events kind is no longer collected", env=person("dana"))
    result = push(work, "main")
    assert result.returncode == 0, result.stderr
    [override] = [e.payload for e in server_entries(central, "override")]
    assert override["reason"] == "kind is no longer collected" and override["dataset"] == "events"
    out = audit(work, "--repo", str(central)).stdout
    assert "dana@example.com overrode data/events.csv [events]" in out
    assert "reason: kind is no longer collected" in out


def test_concurrent_pushes_are_all_recorded(tmp_path):
    central, work = bootstrap(tmp_path)
    for n in range(3):
        git(work, "checkout", "-q", "-b", f"b{n}", "main")
        commit_as(work, "dana", {f"data/notes{n}.csv": f"id\n{n}\n"}, f"branch {n}")
    results: list = [None] * 3
    threads = [threading.Thread(target=lambda n=n: results.__setitem__(n, push(work, f"b{n}")))
               for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]
    assert sorted(p["refs"][0]["ref"] for p in pushes(central)[1:]) == ["refs/heads/b0", "refs/heads/b1", "refs/heads/b2"]
    assert gitgov(central, "verify").returncode == 0


def test_a_ledger_locked_by_another_push_is_waited_for_and_the_push_recorded(tmp_path):
    central, work = bootstrap(tmp_path)
    commit_as(work, "dana", {"data/notes.csv": "id\n1\n"}, "while locked")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "db.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(2); db.execute('COMMIT')\n"),
        str(central / "gitgov" / "ledger.db")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    started = time.monotonic()
    result = push(work, "main")
    holder.wait()
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started > 1.0  # it waited for the lock rather than failing
    assert len(pushes(central)) == 2


def test_a_push_with_an_unreadable_object_is_refused(tmp_path):
    central, work = bootstrap(tmp_path)
    missing = "1" * 40  # a submodule link at a governed path: its commit is not in the push
    git(work, "update-index", "--add", "--cacheinfo", f"160000,{missing},data/customers_link.csv")
    git(work, "commit", "-q", "--no-verify", "-m", "link", env=person("dana"))
    result = push(work, "main")
    assert result.returncode != 0
    assert "server/unreadable: cannot read data/customers_link.csv" in result.stderr
    assert pushes(central)[-1]["verdict"] == "block"


def test_the_hook_given_an_unknown_object_refuses_with_one_line(tmp_path):
    central, _ = bootstrap(tmp_path)
    hook = central / "hooks" / "pre-receive"
    line = f"{ZEROS} {'ab' * 20} refs/heads/ghost\n"
    proc = subprocess.run([str(hook)], cwd=central, input=line, capture_output=True, text=True,
                          env={**os.environ, "GIT_DIR": "."})
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "refs/heads/ghost" in proc.stderr and "cannot read abababababab" in proc.stderr
    assert pushes(central)[-1]["verdict"] == "block"


def test_a_policy_change_is_the_authors_and_lands_only_with_its_push(tmp_path):
    """dana edits the policy (hers to edit), lee adds a commit he may not make and pushes
    both: the push is refused, so dana's edit did not land, and it is dana's, not lee's."""
    central, work = bootstrap(tmp_path)
    commit_as(work, "dana", {"gitgov.toml": POLICY.replace("timeout = 20", "timeout = 25")},
              "dana's policy tweak")
    commit_as(work, "lee", {"data/customers.csv": GOOD + "3,33\n"}, "lee adds a row")
    assert push(work, "main", who="lee").returncode != 0
    out = audit(central, "--repo", str(central)).stdout
    policy = [line for line in out.splitlines() if "changed policy" in line]
    assert len(policy) == 2 and "dana@example.com changed policy (accepted)" in policy[0]  # bootstrap
    assert "dana@example.com changed policy (rejected)" in policy[1] and "tweak" in policy[1], out
    assert "pushed by lee@example.com" in policy[1]  # who published it, as the hosting says
