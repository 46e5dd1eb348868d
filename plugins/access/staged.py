"""The client side: a staged change at pre-commit, and the commits a `git push` sends.

Both are advice that `--no-verify` skips; the server's pre-receive hook runs
the same review with the policy of its policy branch. At pre-push the
authority for policy edits is the remote's copy of gitgov.toml when Git has
one (``<remote>/HEAD`` or ``<remote>/main``), so a local edit cannot vouch for itself;
without one only the server can judge policy edits.
"""
from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING, Any

from gitgov.core.events import Finding, error, warning

if TYPE_CHECKING:
    from gitgov.core.context import Context

    from .model import AccessModel


def check_staged(event: Any, ctx: "Context", model: "AccessModel", action: str) -> list[Finding]:
    ds = ctx.dataset(event.dataset)
    if ds is None:
        return []
    out: list[Finding] = no_owner(ds)
    decision = model.decide(event.actor, action, ds.name)
    if not decision.allowed:
        out.append(error("not-allowed", f"{decision.rule}; fix: {decision.fix}",
                         dataset=ds.name, action=action, roles=list(decision.roles)))
    if model.requires_signature(ds) and not _signs_commits(ctx):
        out.append(warning("sign-commits", f"dataset '{ds.name}' requires signed commits: commit with "
                           "`git commit -S` (or `git config commit.gpgSign true`), or the push "
                           "will be refused"))
    return out


def _signs_commits(ctx: "Context") -> bool:
    proc = subprocess.run(["git", "config", "--bool", "commit.gpgSign"], cwd=ctx.root,
                          capture_output=True, text=True)
    return proc.stdout.strip() == "true"


def review_outgoing(event: Any, ctx: "Context") -> list[Any]:
    from gitgov.core.hookflow import pushed_commits
    from gitgov.core.pushrange import for_context

    from . import model_for
    from .review import review

    repo = ctx.repo
    push = for_context(ctx, repo, event.refs, lambda ref: pushed_commits(repo, ref, event.remote))
    out: list[Any] = [error("unreadable", f"{ref}: {why}") for ref, why in push.problems]
    return out + review(repo, model_for(ctx), push, model_for(ctx, _remote_policy(ctx, event)))


def _remote_policy(ctx: "Context", event: Any) -> Any:
    """The gitgov.toml the remote holds, which judges the push's edits of it (an edit never
    judges itself): at the tip each pushed branch has there now, else at the remote's
    default branch as last fetched; with none known, no authority (the server judges)."""
    from pathlib import Path

    from gitgov.core.config import Policy, load_policy_text
    from gitgov.core.errors import ConfigError
    from gitgov.core.pushrange import read_text

    remote = event.remote
    revs = [ref.old for ref in event.refs if not ref.is_create and not ref.is_delete]
    if remote:
        revs += [f"refs/remotes/{remote}/{b}" for b in ("HEAD", "main", "master")]
    for rev in revs:
        text = read_text(ctx.repo, f"{rev}:gitgov.toml")
        if text is not None:
            try:
                return load_policy_text(text, f"{remote or 'remote'}:gitgov.toml")
            except ConfigError:
                break  # a broken remote policy: the server will say so
    return Policy.empty(Path("gitgov.toml"))


def no_owner(ds: Any) -> list[Finding]:
    """The warning for a dataset nobody owns, at every check of its data."""
    if ds.owner:
        return []
    return [warning("no-owner", f"dataset '{ds.name}' has no owner in gitgov.toml; add "
                    f"owner = \"someone@example.com\" to [datasets.{ds.name}]")]
