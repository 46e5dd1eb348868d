"""Foreign keys hold when the dataset they point to changes: the files that refer to it
are checked again, in the same state, by the commit and the push that change it."""
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
primary_key = "customer_id"

[datasets.customers.columns.customer_id]
type = "integer"
required = true

[datasets.orders]
paths = ["data/orders*.csv", "data/a/orders*.csv"]
owner = "ada@example.com"

[datasets.orders.rules]
foreign_keys = { customer_id = "customers.customer_id" }

[plugins]
enable = ["validation", "secrets", "access"]
timeout = 30
"""
CUSTOMERS = "customer_id,name\n" + "".join(f"{i},c{i}\n" for i in range(1, 10))
WITHOUT_9 = "customer_id,name\n" + "".join(f"{i},c{i}\n" for i in range(1, 9))
ORDERS = "order,customer_id\nA,1\nB,3\nC,9\n"
RECHECK = "checked again: its foreign key customer_id points to customers, which this commit changes"


@pytest.fixture
def repo(tmp_path) -> Path:
    return governed_repo(tmp_path, POLICY)


def commit(repo: Path, message: str, *paths: str, extra: tuple = ()):
    if paths:
        git(repo, "add", "-A", *paths)
    return git(repo, "commit", "-q", "-m", message, *extra, check=False)


def query(repo: Path, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(repo / ".gitgov" / "ledger.db") as db:
        return db.execute(sql, args).fetchall()


def both(repo: Path, orders: str = "data/orders.csv") -> None:
    write(repo, "data/customers.csv", CUSTOMERS)
    write(repo, orders, ORDERS)
    proc = commit(repo, "customers and their orders", "data/customers.csv", orders)
    assert proc.returncode == 0, proc.stderr


def commits(repo: Path) -> int:
    return int(git(repo, "rev-list", "--count", "HEAD").stdout)


def test_removing_a_referenced_customer_is_blocked_at_commit(repo):
    both(repo)
    write(repo, "data/customers.csv", WITHOUT_9)
    proc = commit(repo, "drop customer 9", "data/customers.csv")
    assert proc.returncode == 1, proc.stderr
    assert "commit blocked by policy (1 error)" in proc.stderr
    assert "  data/orders.csv\n" in proc.stderr
    assert ("validation/customer_id.foreign_key: 1 row where 'customer_id' is not a customer_id "
            "of dataset customers: row 3") in proc.stderr
    assert RECHECK in proc.stderr
    assert commits(repo) == 2
    # what the hook refused is what `gitgov check` finds in the working tree
    assert gitgov(repo, "check", "data/orders.csv").returncode == 1


@pytest.mark.parametrize("orders", ["data/orders.csv", "data/a/orders.csv"])
def test_changing_both_files_consistently_passes_and_checks_orders_once(repo, orders):
    # data/a/orders.csv is listed before data/customers.csv: the child's event comes first
    both(repo, orders)
    write(repo, "data/customers.csv", WITHOUT_9)
    assert commit(repo, "drop customer 9", "data/customers.csv").returncode == 1
    write(repo, orders, "order,customer_id\nA,1\nB,3\n")
    proc = commit(repo, "drop customer 9 and the order", "data/customers.csv", orders)
    assert proc.returncode == 0, proc.stderr
    blob = git(repo, "rev-parse", f"HEAD:{orders}").stdout.strip()
    assert query(repo, "SELECT reused FROM quality_checks WHERE path = ? AND blob = ?",
                 orders, blob) == [(0,)]


def test_a_parent_change_that_keeps_every_referenced_key_passes(repo):
    both(repo)
    blob = git(repo, "rev-parse", "HEAD:data/orders.csv").stdout.strip()
    write(repo, "data/customers.csv", CUSTOMERS.replace("c3", "Carla") + "10,c10\n")
    proc = commit(repo, "rename a customer, add one", "data/customers.csv")
    assert proc.returncode == 0, proc.stderr
    # orders was checked again against the new customers (a new ruleset hash) ...
    rows = query(repo, "SELECT reused, verdict FROM quality_checks WHERE path = ? AND blob = ?"
                 " ORDER BY seq", "data/orders.csv", blob)
    assert rows == [(0, "pass"), (0, "pass")]
    # ... without posing as a change of orders to the other plugins
    added = query(repo, "SELECT count(*) FROM journal WHERE kind = 'data_added' AND subject = ?",
                  "data/orders.csv")
    assert added == [(1,)]
    # and the same state is not read a third time
    out = gitgov(repo, "check", "data/orders.csv")
    assert out.returncode == 0 and "passed before under the same rules" in out.stdout + out.stderr


def test_deleting_the_referenced_dataset_file_blocks(repo):
    both(repo)
    git(repo, "rm", "-q", "data/customers.csv")
    proc = commit(repo, "no more customers")
    assert proc.returncode == 1, proc.stderr
    assert "  data/orders.csv\n" in proc.stderr
    assert "validation/customer_id.foreign_key" in proc.stderr
    assert "dataset customers has no data with a column customer_id" in proc.stderr
    keys = sum(1 for line in ORDERS.splitlines()[1:] if line.split(",")[1])  # every key is missing
    assert f"{keys} rows where 'customer_id'" in proc.stderr
    assert RECHECK in proc.stderr
    assert commits(repo) == 2


@pytest.mark.parametrize("change", ["drop customer 9", "delete customers.csv"])
def test_pre_push_catches_a_no_verify_commit_of_the_parent(repo, tmp_path, change):
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    both(repo)
    assert git(repo, "push", "-q", "origin", "main", check=False).returncode == 0
    pushed = git(remote, "rev-parse", "main").stdout
    if change == "delete customers.csv":
        git(repo, "rm", "-q", "data/customers.csv")
        assert commit(repo, change, extra=("--no-verify",)).returncode == 0
    else:
        write(repo, "data/customers.csv", WITHOUT_9)
        assert commit(repo, change, "data/customers.csv", extra=("--no-verify",)).returncode == 0
    proc = git(repo, "push", "-q", "origin", "main", check=False)
    assert proc.returncode == 1, proc.stderr
    assert "push blocked by policy" in proc.stderr
    head = git(repo, "rev-parse", "HEAD").stdout.strip()
    assert f"  data/orders.csv (commit {head[:12]})\n" in proc.stderr  # as that commit leaves it
    assert "validation/customer_id.foreign_key" in proc.stderr
    assert "checked again: its foreign key customer_id points to customers, which commit" in proc.stderr
    assert git(remote, "rev-parse", "main").stdout == pushed


@pytest.mark.parametrize("orders", ["data/orders.csv", "data/a/orders.csv"])
def test_a_push_of_both_files_checks_orders_once_in_that_commit(repo, tmp_path, orders):
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    both(repo, orders)
    assert git(repo, "push", "-q", "origin", "main", check=False).returncode == 0
    write(repo, "data/customers.csv", WITHOUT_9)
    write(repo, orders, "order,customer_id\nA,1\nB,3\n")
    assert commit(repo, "drop customer 9 and the order", "data/customers.csv", orders,
                  extra=("--no-verify",)).returncode == 0
    proc = git(repo, "push", "-q", "origin", "main", check=False)
    assert proc.returncode == 0, proc.stderr
    head = git(repo, "rev-parse", "HEAD").stdout.strip()
    assert query(repo, "SELECT path FROM quality_checks WHERE stage = 'pushed' AND commit_sha = ?"
                 " AND path = ?", head, orders) == [(orders,)]
    # both changed, the key broken: refused once, whichever of the two events comes first
    write(repo, "data/customers.csv", WITHOUT_9.replace("1,c1\n", ""))
    write(repo, orders, "order,customer_id\nA,1\nB,3\nE,2\n")
    assert commit(repo, "drop customer 1", "data/customers.csv", orders,
                  extra=("--no-verify",)).returncode == 0
    proc = git(repo, "push", "-q", "origin", "main", check=False)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("validation/customer_id.foreign_key") == 1


@pytest.mark.parametrize("change", ["drop customer 9", "delete customers.csv", "change both"])
def test_the_server_refuses_a_parent_change_that_breaks_a_foreign_key(tmp_path, change):
    from server_helpers import commit_as, make_central, make_clone, push, rev, server_entries

    central = make_central(tmp_path)
    work = make_clone(tmp_path, central)
    commit_as(work, "dana", {"gitgov.toml": POLICY.replace("ada@", "dana@"),
                             "data/customers.csv": CUSTOMERS, "data/orders.csv": ORDERS}, "orders")
    assert push(work, "main").returncode == 0
    before = rev(central, "main")
    if change == "delete customers.csv":
        (work / "data" / "customers.csv").unlink()
        bad = commit_as(work, "dana", {}, change)
    elif change == "change both":
        bad = commit_as(work, "dana", {"data/customers.csv": WITHOUT_9,
                                       "data/orders.csv": ORDERS + "D,2\n"}, change)
    else:
        bad = commit_as(work, "dana", {"data/customers.csv": WITHOUT_9}, change)
    result = push(work, "main")
    assert result.returncode != 0, result.stderr
    assert "data/orders.csv" in result.stderr
    assert "validation/customer_id.foreign_key" in result.stderr
    assert result.stderr.count("validation/customer_id.foreign_key") == 1
    assert rev(central, "main") == before
    if change == "change both":  # its own event, not a re-check, carries the verdict
        assert "checked again" not in result.stderr
        [orders] = [e.payload for e in server_entries(central, "data_added")
                    if e.subject == "data/orders.csv" and e.payload["commit"] == bad]
        assert orders["verdict"] == "block"
    else:
        assert f"points to customers, which commit {bad[:12]} changes" in result.stderr


def test_the_index_is_listed_once_for_every_dataset_and_file_that_asks(repo, monkeypatch):
    """Each staged parent file re-checks the files that refer to it, and each of those looks
    up the parent's files: one `git ls-files` per run, not one per question."""
    from gitgov.core.config import load_policy
    from gitgov.core.git import Repo
    from gitgov.plugins.validation import sources

    both(repo)
    write(repo, "data/customers2.csv", "customer_id,name\n10,c10\n")
    git(repo, "add", "data/customers2.csv")
    calls: list[tuple] = []
    real = sources._git
    monkeypatch.setattr(sources, "_git", lambda r, *args, **kw: calls.append(args) or real(r, *args, **kw))
    policy = load_policy(repo / "gitgov.toml")
    snap, listings, git_repo = sources.Snapshot("index"), {}, Repo.discover(repo)
    customers = snap.files(git_repo, policy.datasets["customers"], listings, policy=policy)
    orders = snap.files(git_repo, policy.datasets["orders"], listings, policy=policy)
    assert sorted(customers) == ["data/customers.csv", "data/customers2.csv"]
    assert list(orders) == ["data/orders.csv"]
    assert snap.files(git_repo, policy.datasets["customers"], listings, policy=policy) == customers
    assert calls == [("ls-files", "-s", "-z")]
    assert snap.files(git_repo, policy.datasets["orders"], policy=policy) == orders  # without listings: asked again
    assert len(calls) == 2


def test_keys_are_looked_up_only_in_files_the_target_dataset_owns(tmp_path):
    """A file matched by the target's globs but owned by an earlier dataset (the first that
    matches) is not the target's data: its keys do not satisfy the foreign key."""
    legacy = ('[datasets.legacy]\npaths = ["data/customers_legacy.csv"]\nowner = "ada@example.com"\n\n')
    repo = governed_repo(tmp_path, POLICY.replace("version = 1\n\n", "version = 1\n\n" + legacy))
    write(repo, "data/customers.csv", WITHOUT_9)
    write(repo, "data/customers_legacy.csv", "customer_id,name\n9,c9\n")
    assert commit(repo, "customers", "data").returncode == 0
    write(repo, "data/orders.csv", ORDERS)
    blocked = commit(repo, "orders", "data/orders.csv")
    assert blocked.returncode == 1, blocked.stderr
    assert "orders.csv" in blocked.stderr and "customer_id" in blocked.stderr and "foreign" in blocked.stderr
    check = gitgov(repo, "check", "data/orders.csv", "--json")
    assert check.returncode == 1, check.stdout + check.stderr
    failed = {r["rule"]: r["failed"] for f in json.loads(check.stdout)["files"] for r in f["rules"]
              if r["failed"]}
    assert failed == {"foreign_key": 1}  # order C, customer 9
