"""`gitgov access [NAME]` and `gitgov access check --actor EMAIL --action ACTION --dataset NAME`."""
from __future__ import annotations

from typing import Any

import click

from .model import ACTIONS, OTHER, ROLES

EXAMPLES = """
\b
  gitgov access                      the role x action matrix of every dataset
  gitgov access customers            ... of one dataset
  gitgov access check --actor lee@example.com --action write --dataset customers
"""


@click.command("access", epilog=EXAMPLES)
@click.argument("words", nargs=-1, metavar="[NAME] | check")
@click.option("--actor", help="check: a git e-mail address (or 'Name <email>').")
@click.option("--action", type=click.Choice(ACTIONS), help="check: what the actor wants to do.")
@click.option("--dataset", help="check: the dataset's name in gitgov.toml.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def access_cmd(words: tuple[str, ...], actor: str | None, action: str | None, dataset: str | None,
               as_json: bool) -> int:
    """Who may write, delete, reveal and govern each dataset; or check one person and action.

    Exit code of `check`: 0 for yes, 1 for no.
    """
    from gitgov.core.errors import InputError
    from gitgov.core.git import Repo
    from gitgov.core.session import load_repo_policy

    from .model import AccessModel

    model = AccessModel.of(load_repo_policy(Repo.discover(".")))
    if words[:1] == ("check",):
        missing = [o for o, v in (("--actor", actor), ("--action", action), ("--dataset", dataset)) if not v]
        if missing or len(words) > 1:
            raise InputError("usage: gitgov access check --actor EMAIL --action "
                             f"{{{','.join(ACTIONS)}}} --dataset NAME" +
                             (f" (missing {', '.join(missing)})" if missing else ""))
        return _check(model, actor, action, dataset, as_json)
    if len(words) > 1 or actor or action or dataset:
        raise InputError("usage: gitgov access [NAME], or gitgov access check --actor EMAIL "
                         "--action ACTION --dataset NAME")
    return _matrix(model, words[0] if words else None, as_json)


def _check(model: Any, actor: str, action: str, dataset: str, as_json: bool) -> int:
    from gitgov.core.errors import InputError

    from .model import email_of, is_email

    if not is_email(email_of(actor)):  # a person is judged by address; a name would be "no one"
        what = "a role in [roles]" if actor in model.groups else "a name"
        raise InputError(f"--actor: {actor!r} is {what}, not an e-mail address; access is decided "
                         "per person: give the git e-mail address of one")
    decision = model.decide(actor, action, dataset)
    if as_json:
        from gitgov.core.commands.options import echo_json

        echo_json(decision.to_dict())
    else:
        click.echo(f"{decision.answer}: {decision.rule}")
        if decision.fix:
            click.echo(f"  to get access: {decision.fix}")
    return 0 if decision.allowed else 1


def _matrix(model: Any, name: str | None, as_json: bool) -> int:
    from gitgov.core.errors import InputError

    datasets = model.policy.datasets
    if name is not None and name not in datasets:
        from .model import _near

        near = _near(name, list(datasets))
        raise InputError(f"no dataset named {name!r} in gitgov.toml"
                         + (f" (did you mean '{near}'?)" if near else ""))
    chosen = [datasets[name]] if name else list(datasets.values())
    if as_json:
        from gitgov.core.commands.options import echo_json

        echo_json({"datasets": [_as_dict(model, ds) for ds in chosen], "warnings": model.warnings})
        return 0
    if not chosen:
        click.echo("gitgov: gitgov.toml declares no datasets")
    for i, ds in enumerate(chosen):
        click.echo(("\n" if i else "") + _section(model, ds))
    for line in model.warnings:
        click.echo(f"gitgov: warning: {line}", err=True)
    return 0


def _as_dict(model: Any, ds: Any) -> dict[str, Any]:
    holders = model.holders(ds)
    return {"dataset": ds.name, "classification": ds.classification,
            "signed_commits": model.requires_signature(ds),
            "people": {role: sorted(p) for role, p in holders.items()},
            "matrix": {role: {a: role in model.allowed_roles(a, ds) for a in ACTIONS}
                       for role in ROLES + (OTHER,)}}


def _section(model: Any, ds: Any) -> str:
    from gitgov.core.commands.options import table

    holders = model.holders(ds)
    head = f"{ds.name}  ({ds.classification}{', signed commits required' if model.requires_signature(ds) else ''})"
    rows = []
    for role in ROLES + (OTHER,):
        people = ", ".join(sorted(holders[role])) if role in holders else "anyone else"
        marks = ["yes" if role in model.allowed_roles(a, ds) else "-" for a in ACTIONS]
        rows.append([role, *marks, people or "(nobody)"])
    return head + "\n" + "\n".join("  " + line for line in
                                   table(rows, ["role", *ACTIONS, "people"]).splitlines())
