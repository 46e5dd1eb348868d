"""The server's pre-receive hook, end to end: a real bare remote, real `git push`.

Every violating push must be refused whole, with the ref, the commit, the
file, the rule and the fix; every valid one must land; the server's ledger
records both.
"""
from __future__ import annotations

from conftest import git, gitgov
import pytest

from server_helpers import (BAD, GOOD, ZEROS, commit_as, fresh, make_central, make_clone, person,
                            push, pushes, rev, server_entries, template)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """dana's first push: the policy and good customers data on main (copied for each test)."""
    return template(tmp_path_factory)


def test_server_install_sets_up_hook_ledger_key_and_policy_branch(tmp_path):
    central = make_central(tmp_path, branch="trunk")
    assert (central / "hooks" / "pre-receive").is_file()
    assert (central / "gitgov" / "ledger.db").is_file()
    assert (central / "gitgov" / "keys" / "attestation-ed25519.pub.pem").is_file()
    assert git(central, "config", "gitgov.policyBranch").stdout.strip() == "trunk"
    again = gitgov(tmp_path, "server", "install", str(central))
    assert again.returncode == 0 and "(kept)" in again.stdout


def test_server_install_refuses_a_repository_that_is_not_bare(tmp_path, repo):
    result = gitgov(tmp_path, "server", "install", str(repo))
    assert result.returncode == 2
    assert "is not a bare repository" in result.stderr and "Traceback" not in result.stderr
    missing = gitgov(tmp_path, "server", "install", str(tmp_path / "nope.git"))
    assert missing.returncode == 2 and "no such directory" in missing.stderr


def test_server_install_over_a_file_that_is_not_a_ledger_installs_nothing(tmp_path):
    central = tmp_path / "central.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(central))
    ledger = central / "gitgov" / "ledger.db"
    ledger.parent.mkdir()
    ledger.write_text("not a database\n")
    result = gitgov(tmp_path, "server", "install", str(central))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"gitgov: {ledger} is not a gitgov ledger (not an SQLite database)"]
    assert not (central / "hooks" / "pre-receive").exists()  # pushes are not refused by a half install
    assert git(central, "config", "gitgov.policyBranch", check=False).stdout == ""


def test_force_push_is_checked_like_any_other(base, tmp_path):
    central, work = fresh(base, tmp_path)
    git(work, "checkout", "-q", "-b", "topic")
    commit_as(work, "dana", {"data/notes.csv": "id\n1\n"}, "topic")
    assert push(work, "topic").returncode == 0
    (work / "data" / "customers.csv").write_text(BAD)
    git(work, "commit", "-q", "-a", "--amend", "--no-verify", "-m", "rewritten history", env=person("dana"))
    refused = push(work, "--force", "topic")
    assert refused.returncode != 0 and "validation/age.min" in refused.stderr
    (work / "data" / "customers.csv").write_text(GOOD + "9,9\n")
    git(work, "commit", "-q", "-a", "--amend", "--no-verify", "-m", "rewritten, good", env=person("dana"))
    assert push(work, "--force", "topic").returncode == 0
    assert rev(central, "refs/heads/topic") == rev(work)


def test_the_policy_branch_only_moves_forward(base, tmp_path):
    """Rewinding it brings no commit to check, yet puts back an older policy and older data."""
    central, work = fresh(base, tmp_path)
    first = rev(work)
    commit_as(work, "dana", {"data/customers.csv": GOOD + "9,9\n"}, "dana adds a customer")
    assert push(work, "main").returncode == 0
    tip = rev(central, "main")
    for who in ("lee", "dana"):  # a consumer, and the dataset's owner alike
        refused = push(work, "--force", f"{first}:refs/heads/main", who=who)
        assert refused.returncode != 0 and "server/policy-branch-rewind" in refused.stderr
        assert "push a commit that reverts them (git revert)" in refused.stderr
        assert rev(central, "main") == tip
    git(work, "revert", "--no-edit", "HEAD", env=person("dana"))
    assert push(work, "main").returncode == 0  # the revert is a commit, judged as any other
    assert pushes(central)[-2]["verdict"] == "block"
    # A history rewrite (an erasure) goes through once the server's admin allows it.
    git(central, "config", "gitgov.allowRewind", "true")
    assert push(work, "--force", f"{first}:refs/heads/main").returncode == 0
    assert rev(central, "main") == first


def test_first_push_bootstraps_the_policy_and_is_recorded_and_checkpointed(base, tmp_path):
    central, work = fresh(base, tmp_path)
    assert rev(central, "main") == rev(work)
    [first] = pushes(central)
    assert first["verdict"] == "pass" and first["policy"]["bootstrap"] is True
    assert first["checked"] == 1 and first["commits"] == 1
    assert rev(central, "refs/gitgov/checkpoints")


def test_no_verify_commit_of_bad_data_is_rejected_naming_ref_commit_file_rule_and_fix(base, tmp_path):
    central, work = fresh(base, tmp_path)
    gitgov(work, "init", check=True)  # client hooks exist; --no-verify skips them
    before = rev(central, "main")
    bad = commit_as(work, "dana", {"data/customers.csv": BAD}, "negative age")
    result = push(work, "main")
    assert result.returncode != 0
    err = result.stderr
    assert "gitgov: push rejected by policy" in err
    for part in ("refs/heads/main", f"commit {bad[:12]}", "data/customers.csv",
                 "validation/age.min", "fix:"):
        assert part in err, part
    assert rev(central, "main") == before
    last = pushes(central)[-1]
    assert last["verdict"] == "block" and last["reasons"][0]["commit"] == bad
    # amended into a good commit, the bad version never reaches the server
    (work / "data" / "customers.csv").write_text(GOOD + "3,52\n")
    git(work, "commit", "-q", "-a", "--amend", "--no-edit", "--no-verify", env=person("dana"))
    result = push(work, "main")
    assert result.returncode == 0, result.stderr
    assert [p["verdict"] for p in pushes(central)] == ["pass", "block", "pass"]


def test_every_commit_of_the_range_is_checked_not_just_the_tip(base, tmp_path):
    central, work = fresh(base, tmp_path)
    bad = commit_as(work, "dana", {"data/customers.csv": BAD}, "bad in the middle")
    commit_as(work, "dana", {"data/customers.csv": GOOD + "3,33\n"}, "fixed on top")
    result = push(work, "main")
    assert result.returncode != 0 and f"commit {bad[:12]}" in result.stderr
    assert "a new commit on top does not remove a bad file" in result.stderr
    # rebase the bad commit away (both changes squashed into one good commit): accepted
    git(work, "reset", "-q", "--soft", "HEAD~2")
    git(work, "commit", "-q", "--no-verify", "-m", "good change", env=person("dana"))
    assert push(work, "main").returncode == 0
    assert rev(central, "main") == rev(work)


def test_new_branch_and_tags_are_checked(base, tmp_path):
    central, work = fresh(base, tmp_path)
    git(work, "checkout", "-q", "-b", "feature")
    bad = commit_as(work, "dana", {"data/customers_new.csv": BAD}, "feature data")
    result = push(work, "feature")
    assert result.returncode != 0 and "refs/heads/feature" in result.stderr
    assert rev(central, "refs/heads/feature") == ""
    git(work, "tag", "v-bad", bad)
    assert push(work, "refs/tags/v-bad").returncode != 0
    assert rev(central, "refs/tags/v-bad") == ""
    git(work, "checkout", "-q", "main")
    git(work, "tag", "-a", "-m", "release", "v1", "main", env=person("dana"))
    assert push(work, "refs/tags/v1").returncode == 0
    assert rev(central, "refs/tags/v1") != ""


@pytest.mark.parametrize("kind", ["blob", "tree", "annotated tag of a blob"])
def test_a_tag_of_a_tree_or_a_blob_is_refused_not_let_through(base, tmp_path, kind):
    central, work = fresh(base, tmp_path)
    key = "-----BEGIN " + "OPENSSH PRIVATE KEY-----\nb3BlbnNzaA\n-----END " + "OPENSSH PRIVATE KEY-----\n"
    blob = git(work, "hash-object", "-w", "--stdin", input=key, stdin=None).stdout.strip()
    target = blob
    if kind == "tree":
        target = git(work, "mktree", input=f"100644 blob {blob}\tid_rsa\n", stdin=None).stdout.strip()
    git(work, "tag", *(["-a", "-m", "key"] if kind.startswith("annotated") else []), "stray", target)
    result = push(work, "refs/tags/stray")
    shown = "tree" if kind == "tree" else "blob"
    assert result.returncode != 0
    assert f"server/not-a-commit: refs/tags/stray points to a {shown}, not to a commit" in result.stderr
    assert rev(central, "refs/tags/stray") == ""


def test_several_refs_at_once_are_refused_together(base, tmp_path):
    central, work = fresh(base, tmp_path)
    good = commit_as(work, "dana", {"data/notes.csv": "id\n1\n"}, "good on main")
    git(work, "checkout", "-q", "-b", "feature")
    commit_as(work, "dana", {"data/customers.csv": BAD}, "bad on feature")
    result = push(work, "main", "feature")
    assert result.returncode != 0
    assert "refs/heads/feature" in result.stderr
    assert rev(central, "main") != good and rev(central, "refs/heads/feature") == ""
    git(work, "reset", "-q", "--hard", "HEAD~1")
    commit_as(work, "dana", {"data/customers_f.csv": GOOD}, "good on feature")
    assert push(work, "main", "feature").returncode == 0
    assert rev(central, "main") == good and rev(central, "refs/heads/feature") == rev(work)
    assert [r["ref"] for r in pushes(central)[-1]["refs"]] == ["refs/heads/main", "refs/heads/feature"]


def test_deleting_a_branch_is_recorded_the_policy_branch_and_checkpoints_are_protected(base, tmp_path):
    central, work = fresh(base, tmp_path)
    git(work, "checkout", "-q", "-b", "topic")
    commit_as(work, "dana", {"data/notes.csv": "id\n1\n"}, "topic")
    assert push(work, "topic").returncode == 0
    assert push(work, "--delete", "topic").returncode == 0
    assert rev(central, "refs/heads/topic") == ""
    deleted = pushes(central)[-1]
    assert deleted["verdict"] == "pass" and deleted["refs"][0]["new"] == ZEROS
    refused = push(work, "--delete", "main")
    assert refused.returncode != 0 and "server/policy-branch" in refused.stderr
    assert rev(central, "main") != ""
    reserved = push(work, "--force", "main:refs/gitgov/checkpoints")
    assert reserved.returncode != 0 and "server/reserved-ref" in reserved.stderr


def test_consumer_may_not_change_confidential_data(base, tmp_path):
    central, work = fresh(base, tmp_path)
    sha = commit_as(work, "lee", {"data/customers.csv": GOOD + "3,33\n"}, "lee adds a row")
    result = push(work, "main", who="lee")
    assert result.returncode != 0
    assert "access/not-allowed" in result.stderr and f"commit {sha[:12]}" in result.stderr
    assert "lee@example.com is its consumer" in result.stderr
    assert "ask dana@example.com (owner)" in result.stderr
    # internal data is open to consumers
    git(work, "reset", "-q", "--hard", "HEAD~1")
    commit_as(work, "lee", {"data/notes.csv": "id\n7\n"}, "lee's notes")
    assert push(work, "main", who="lee").returncode == 0


def test_a_push_by_a_non_owner_that_edits_the_policy_is_refused(base, tmp_path):
    central, work = fresh(base, tmp_path)
    policy = (work / "gitgov.toml").read_text()
    loosened = policy.replace('stewards = ["sam@example.com"]', 'stewards = ["sam@example.com", "lee@example.com"]')
    loosened = loosened.replace("min = 0", "min = -100")
    commit_as(work, "lee", {"gitgov.toml": loosened, "data/customers.csv": BAD}, "make me a steward")
    result = push(work, "main", who="lee")
    assert result.returncode != 0
    assert "access/policy-edit" in result.stderr and "dataset 'customers' (section changed)" in result.stderr
    # the pushed policy does not judge its own push: the data is checked with the server's rules
    assert "validation/age.min" in result.stderr
    changes = [e.payload for e in server_entries(central, "policy_changed")]
    assert changes[-1]["author"] == "lee@example.com" and changes[-1]["verdict"] == "block"
    assert '+stewards = ["sam@example.com", "lee@example.com"]' in changes[-1]["diff"]
    # the steward may make the same policy change
    git(work, "reset", "-q", "--hard", "HEAD~1")
    commit_as(work, "sam", {"gitgov.toml": loosened}, "lee joins the stewards")
    assert push(work, "main", who="sam").returncode == 0


def test_a_global_section_needs_a_policy_admin(base, tmp_path):
    central, work = fresh(base, tmp_path)
    policy = (work / "gitgov.toml").read_text()
    commit_as(work, "lee", {"gitgov.toml": policy.replace("timeout = 20", 'timeout = 20\ndisable = ["validation"]')},
              "turn validation off")
    result = push(work, "main", who="lee")
    assert result.returncode != 0 and "only policy admins may change [plugins]" in result.stderr


def test_a_merge_is_charged_only_with_what_it_introduces(base, tmp_path):
    central, work = fresh(base, tmp_path)
    git(work, "checkout", "-q", "-b", "data")
    commit_as(work, "dana", {"data/customers.csv": GOOD + "5,55\n"}, "dana's data")
    git(work, "checkout", "-q", "main")
    commit_as(work, "lee", {"data/notes.csv": "id\n1\n"}, "lee's notes")
    git(work, "merge", "-q", "--no-edit", "--no-verify", "data", env=person("lee"))
    result = push(work, "main", who="lee")
    assert result.returncode == 0, result.stderr


def test_an_accepted_blob_is_never_checked_again(base, tmp_path):
    central, work = fresh(base, tmp_path)
    commit_as(work, "dana", {"data/customers.csv": GOOD + "3,30\n", "data/customers_b.csv": GOOD}, "more")
    assert push(work, "main").returncode == 0
    assert pushes(central)[-1]["checked"] == 2
    checks = len(server_entries(central, "quality_check"))
    assert push(work, "main:refs/heads/copy").returncode == 0  # the same commits on a new branch
    git(work, "commit", "-q", "--amend", "--no-verify", "-m", "same files, new commit", env=person("dana"))
    assert push(work, "--force", "main:refs/heads/copy").returncode == 0  # a rebased branch
    assert [p["checked"] for p in pushes(central)[-2:]] == [0, 0]
    assert pushes(central)[-1]["skipped"] == 2
    assert len(server_entries(central, "quality_check")) == checks


def test_secrets_are_refused_outside_datasets_too(base, tmp_path):
    central, work = fresh(base, tmp_path)
    key = "-----BEGIN " + "OPENSSH PRIVATE KEY-----\nb3BlbnNzaA\n-----END " + "OPENSSH PRIVATE KEY-----\n"
    commit_as(work, "dana", {"deploy/config.txt": key}, "deploy config")
    result = push(work, "main")
    assert result.returncode != 0 and "secrets/private-key" in result.stderr
    assert "deploy/config.txt" in result.stderr


def test_a_server_without_policy_yet_still_refuses_secrets(tmp_path):
    central = make_central(tmp_path)
    work = make_clone(tmp_path, central)
    commit_as(work, "eve", {"id_rsa": "not really a key\n"}, "oops")
    result = push(work, "main", who="eve")
    assert result.returncode != 0 and "secrets/secret-file" in result.stderr
    assert "no policy yet" in result.stderr


def test_an_unloadable_pushed_policy_is_refused_with_its_line(base, tmp_path):
    central, work = fresh(base, tmp_path)
    broken = (work / "gitgov.toml").read_text().replace('classification = "confidential"',
                                                         'classification = "secret"')
    commit_as(work, "dana", {"gitgov.toml": broken}, "typo")
    result = push(work, "main")
    assert result.returncode != 0 and "access/policy-invalid" in result.stderr
    assert "gitgov.toml:3: datasets.customers.classification: expected one of" in result.stderr


def _ssh_key(tmp_path, name: str) -> tuple[str, str]:
    """(private key path, public key line) of a new ed25519 key, made by ssh-keygen."""
    import subprocess

    path = tmp_path / f"{name}_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)], check=True)
    return str(path), (tmp_path / f"{name}_key.pub").read_text().strip()


def test_restricted_data_needs_commits_signed_by_their_author(base, tmp_path):
    central, work = fresh(base, tmp_path)
    dana_key, dana_pub = _ssh_key(tmp_path, "dana")
    ops_key, ops_pub = _ssh_key(tmp_path, "ops")
    signers = tmp_path / "allowed_signers"
    signers.write_text(f"dana@example.com {dana_pub}\n")  # the server knows dana's key only
    git(central, "config", "gpg.ssh.allowedSignersFile", str(signers))
    git(work, "config", "gpg.format", "ssh")
    policy = (work / "gitgov.toml").read_text() + (
        '\n[datasets.contacts]\npaths = ["data/contacts*.csv"]\nclassification = "restricted"\n'
        'owner = "dana@example.com"\ncustodians = ["ops@example.com"]\n'
        '\n[plugins.access]\nsigned_commits = ["restricted"]\n')
    commit_as(work, "dana", {"gitgov.toml": policy}, "contacts are restricted")
    assert push(work, "main").returncode == 0
    unsigned = commit_as(work, "dana", {"data/contacts.csv": "id\n1\n"}, "unsigned")
    result = push(work, "main")
    assert result.returncode != 0 and "access/unsigned-commit" in result.stderr
    assert f"commit {unsigned[:12]}" in result.stderr and "the commit is not signed" in result.stderr
    git(work, "reset", "-q", "--hard", "HEAD~1")
    commit_as(work, "ops", {"data/contacts.csv": "id\n1\n"}, "signed by a key the server does not know",
              extra=(f"--gpg-sign={ops_key}",))
    result = push(work, "main", who="ops")
    assert result.returncode != 0 and "its signature does not verify here" in result.stderr
    git(work, "reset", "-q", "--hard", "HEAD~1")
    commit_as(work, "dana", {"data/contacts.csv": "id\n1\n"}, "signed", extra=(f"--gpg-sign={dana_key}",))
    result = push(work, "main")
    assert result.returncode == 0, result.stderr


def test_encrypted_dataset_on_a_server_without_keys_is_checked_for_ciphertext_only(base, tmp_path):
    central, work = fresh(base, tmp_path)
    policy = (work / "gitgov.toml").read_text() + (
        '\n[datasets.vault]\npaths = ["vault/*.csv"]\nowner = "dana@example.com"\nencrypt = "file"\n')
    commit_as(work, "dana", {"gitgov.toml": policy}, "a vault")
    assert push(work, "main").returncode == 0
    commit_as(work, "dana", {"vault/secrets.csv": "id,ssn\n1,123-45-6789\n"}, "plain text by mistake")
    result = push(work, "main")
    assert result.returncode != 0 and "encryption/not-encrypted" in result.stderr
    assert "validation/" not in result.stderr and "plugin-error" not in result.stderr


def test_plugins_read_blob_bytes_from_a_bare_repository(base, tmp_path):
    from gitgov.core.context import Context
    from gitgov.core.events import DataAdded
    from gitgov.core.git import Repo
    from gitgov.core.server import load_server_policy

    central, _ = fresh(base, tmp_path)
    repo = Repo.discover(central)
    assert repo.bare and repo.state_dir == central / "gitgov"
    blob = git(central, "rev-parse", "main:data/customers.csv").stdout.strip()
    server = load_server_policy(repo, [])
    assert server.commit == rev(central, "main") and "customers" in server.policy.datasets
    ctx = Context(policy=server.policy, repo=repo)
    assert ctx.read_data(DataAdded(path="data/customers.csv", dataset="customers", blob=blob)) == GOOD.encode()


def test_a_policy_loads_from_text_and_its_errors_name_where_it_came_from():
    from gitgov.core.config import load_policy_text
    from gitgov.core.errors import ConfigError

    policy = load_policy_text("[datasets.d]\npaths = ['d/*.csv']\nowner = 'a@b.c'\n", "main:gitgov.toml")
    assert policy.dataset_for("d/x.csv").owner == "a@b.c"
    with pytest.raises(ConfigError) as exc:
        load_policy_text("[datasets.d]\npaths = ['d/*.csv']\nclassification = 'secret'\n", "main:gitgov.toml")
    assert str(exc.value).startswith("main:gitgov.toml:3: datasets.d.classification: expected one of")


def test_a_policy_branch_the_server_lacks_refuses_pushes(tmp_path):
    """A typo in --policy-branch must not leave the server enforcing nothing."""
    central = make_central(tmp_path, branch="mian")
    work = make_clone(tmp_path, central)
    commit_as(work, "dana", {"gitgov.toml": "version = 1\n", "data/a.csv": "id\n1\n"}, "start")
    result = push(work, "main")
    assert result.returncode != 0
    assert "policy: no branch mian yet" in result.stderr
    assert ("server/policy-branch-missing: this server enforces gitgov.toml of branch 'mian', which "
            "it does not have; push that branch first") in result.stderr
    assert push(work, "main:mian").returncode == 0  # the branch it names: the policy arrives
    # Installed over a repository that has branches, the missing one is named at once.
    again = gitgov(tmp_path, "server", "install", str(central), "--policy-branch", "trunk")
    assert again.returncode == 0
    assert ("gitgov: warning: this repository has no branch 'trunk' (it has mian): pushes are refused "
            "until it exists") in again.stderr


def test_a_policy_that_does_not_load_is_named_in_the_refusal(tmp_path):
    central = make_central(tmp_path)
    work = make_clone(tmp_path, central)
    commit_as(work, "dana", {"gitgov.toml": "version = 1\n[datasets.d]\npaths = 'x'\n"}, "broken")
    result = push(work, "main")
    assert result.returncode != 0
    assert "policy: main:gitgov.toml does not load" in result.stderr
    assert "no policy yet" not in result.stderr
    assert "server/policy-broken: the server's policy does not load" in result.stderr
