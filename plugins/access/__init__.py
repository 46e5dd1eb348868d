"""Roles and access: who may change each dataset, its policy, and how they must sign.

- data_added / data_removed (pre-commit): the author of the commit must hold
  a role that the dataset's classification lets write (or delete) its data.
- push_requested (pre-push) and push_received (the server's pre-receive):
  every commit of every pushed range is reviewed: its author's right to
  change each dataset, signatures where a dataset requires signed commits,
  and changes to gitgov.toml, which only the owner or a steward of each
  dataset they touch may make (judged by the current policy, not the pushed one).
- register_commands: `gitgov access [NAME]` (the role x action matrix) and
  `gitgov access check --actor EMAIL --action ACTION --dataset NAME`.

Settings, in gitgov.toml::

    [plugins.access]
    signed_commits = ["restricted"]            # classifications that need signed commits
    writers = { internal = ["owner", "steward", "custodian"] }
    admins = ["dana@example.com"]              # may change sections outside [datasets]
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gitgov.core.hookspecs import hookimpl

if TYPE_CHECKING:
    import click

    from gitgov.core.context import Context

__version__ = "1.0"


def model_for(ctx: "Context", policy: Any = None) -> Any:
    """The access model of ``policy`` (default: the context's), built once per run."""
    from .model import AccessModel

    policy = policy if policy is not None else ctx.policy
    cache = ctx.__dict__.setdefault("_access_models", {})
    entry = cache.get(id(policy))
    if entry is None or entry[0] is not policy:
        entry = (policy, AccessModel.of(policy, getattr(ctx, "policy_text", None)
                                        if policy is ctx.policy else None))
        cache[id(policy)] = entry
    return entry[1]


def _checked(event: Any, ctx: "Context") -> Any:
    """What a commit would say of the dataset, with no change to judge: a bad [roles] or
    access setting (a ConfigError), and a dataset without an owner."""
    from .staged import no_owner

    model_for(ctx)
    ds = ctx.dataset(event.dataset)
    return no_owner(ds) if ds is not None else None


def _guarded(fn: Any) -> Any:
    """A bad [roles] or [plugins.access] is one error finding with its line, not a crash."""
    from gitgov.core.errors import ConfigError
    from gitgov.core.events import error

    try:
        return fn()
    except ConfigError as exc:
        return [error("config", str(exc))]


@hookimpl
def data_added(event: Any, ctx: "Context") -> Any:
    if event.dataset is not None and event.stage == "checked":
        return _guarded(lambda: _checked(event, ctx))  # `gitgov check`
    if event.dataset is None or event.stage != "staged":
        return None  # pushes are reviewed commit by commit (push_requested, push_received)
    from .staged import check_staged

    return _guarded(lambda: check_staged(event, ctx, model_for(ctx), "write"))


@hookimpl
def data_removed(event: Any, ctx: "Context") -> Any:
    if event.dataset is None or event.stage != "staged":
        return None
    from .staged import check_staged

    return _guarded(lambda: check_staged(event, ctx, model_for(ctx), "delete"))


@hookimpl
def push_requested(event: Any, ctx: "Context") -> Any:
    if ctx.repo is None:
        return None
    from .staged import review_outgoing

    return _guarded(lambda: review_outgoing(event, ctx))


@hookimpl
def push_received(event: Any, ctx: "Context") -> Any:
    if ctx.repo is None:
        return None
    from gitgov.core.pushrange import for_context, server_commits

    from .review import review

    repo = ctx.repo
    push = for_context(ctx, repo, event.refs, lambda ref: server_commits(repo, ref))
    authority = getattr(ctx, "authority_policy", None)  # the server's policy before this push
    return _guarded(lambda: review(repo, model_for(ctx), push,
                                   model_for(ctx, authority) if authority is not None else None))


@hookimpl
def register_commands(cli: "click.Group") -> None:
    from .commands import access_cmd

    cli.add_command(access_cmd)
