"""The server part of `gitgov demo`: enforcement that `--no-verify` cannot reach.

A bare "central" repository (Demo.central) gets gitgov's pre-receive
hook. A consumer of the customers dataset commits a bad export with
`--no-verify` and pushes: the server refuses it, naming the commit, the file
and each broken rule. The owner drops that commit, commits a correct change
(checked on the client as usual) and pushes: accepted. `gitgov audit` on the
server shows both pushes, and `gitgov verify` checks its signed checkpoints.
Each step is a function of the Demo (core/demo.py), run after the repository
has its first data commit.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:
    from .demo import Demo

CUSTOMERS = "data/raw/customers.csv"
CONSUMER = {"GIT_AUTHOR_NAME": "Lee Analyst", "GIT_AUTHOR_EMAIL": "lee@example.com",
            "GIT_COMMITTER_NAME": "Lee Analyst", "GIT_COMMITTER_EMAIL": "lee@example.com"}
BAD_ROW = "C00999,lee.export@example,2024-07-09,XX,7,gold,-12.00,2\n"
GOOD_ROW = "C00998,zoe.hamilton998@example.com,2024-07-09,DE,35,pro,49.00,0\n"


@contextmanager
def acting_as(d: "Demo", identity: dict[str, str]) -> Iterator[None]:
    """Run the commands inside as another person (git identity through the environment)."""
    saved = {k: d.env.get(k) for k in identity}
    d.env.update(identity)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                d.env.pop(key, None)
            else:
                d.env[key] = value


def _append(d: "Demo", row: str) -> None:
    path = d.root / CUSTOMERS
    text = path.read_text(encoding="utf-8")
    path.write_text(text.rstrip("\n") + "\n" + row, encoding="utf-8")


def central_remote(d: "Demo") -> None:
    d.step("A central repository that enforces the policy",
           "Client hooks are advice: `git commit --no-verify` skips them. The team's central bare "
           "repository gets gitgov's pre-receive hook, which checks every pushed commit with the "
           "policy of its main branch, keeps its own ledger and signs its head after each push.")
    d.run("git", "init", "-q", "--bare", "-b", "main", d.central)
    d.run("gitgov", "server", "install", d.central, "--policy-branch", "main")
    d.run("git", "remote", "add", "origin", d.central)
    d.run("git", "push", "-q", "origin", "main")
    d.run("gitgov", "access", "customers")


def consumer_bypass(d: "Demo") -> None:
    d.step("A consumer skips the client checks",
           "Lee, a consumer of the confidential customers data (ml-team), appends a row from a "
           "spreadsheet and commits with --no-verify, then pushes with --no-verify too. The server "
           "refuses the push: Lee may not change this dataset, and the row breaks six rules.")
    with acting_as(d, CONSUMER):
        _append(d, BAD_ROW)
        d.run("git", "commit", "-q", "--no-verify", "-am", "Add a customer from the sales sheet")
        d.run("git", "push", "--no-verify", "origin", "main", expect=1)


def owner_fix(d: "Demo") -> None:
    d.step("The owner makes the change properly",
           "Dana, the dataset's owner, drops Lee's commit, adds the customer with valid values and "
           "pushes. The client and the server check it the same way, and the push is accepted.")
    d.run("git", "reset", "-q", "--hard", "origin/main")
    _append(d, GOOD_ROW)
    d.run("git", "commit", "-q", "-am", "Add customer C00998 (requested by Lee)")
    d.run("git", "push", "origin", "main")


def server_audit(d: "Demo") -> None:
    d.step("The audit trail on the server",
           "The server's ledger holds every push, refused or accepted, with who made it and why; "
           "its head is signed after each push and kept in refs/gitgov/checkpoints.")
    d.run("gitgov", "audit", "--repo", d.central, "--since", "1d", "--dataset", "customers")
    d.run("gitgov", "verify", "--repo", d.central)


STEPS: tuple[Callable[["Demo"], None], ...] = (central_remote, consumer_bypass, owner_fix, server_audit)
