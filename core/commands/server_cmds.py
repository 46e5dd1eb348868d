"""`gitgov server install|uninstall PATH`: enforcement on the team's central bare repository."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import InputError


def _bare(path: Path):
    from ..git import Repo

    if not path.is_dir():
        raise InputError(f"{path}: no such directory (create the server repository with "
                         f"`git init --bare {path}`)")
    repo = Repo.discover(path)
    if not repo.bare:
        raise InputError(f"{path} is not a bare repository; the server side belongs in the central "
                         "repository that people push to (`git init --bare`)")
    return repo


@click.group("server")
def server_group() -> None:
    """Enforce the policy on a central bare repository (pre-receive), where --no-verify cannot reach."""


@server_group.command("install")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--policy-branch", default="main", show_default=True,
              help="The branch whose gitgov.toml the server enforces (never the pushed one).")
def install_cmd(path: Path, policy_branch: str) -> int:
    """Install the pre-receive hook, the server ledger and the checkpoint key into PATH."""
    from ..attest import key_id, key_paths, signing_key
    from ..git import run
    from ..install import install_server_hook
    from ..ledger import Entry, open_ledger
    from ..server import CONFIG_KEY

    repo = _bare(path)
    if not policy_branch or policy_branch.startswith(("-", "refs/")) or " " in policy_branch:
        raise InputError(f"--policy-branch: {policy_branch!r} is not a branch name (e.g. main)")
    kept = repo.ledger_path.exists()
    if kept:  # refuse a file that is not a ledger before the hook would refuse every push
        open_ledger(repo.ledger_path).close()
    lines = install_server_hook(repo.git_dir, python=sys.executable)
    run(["config", CONFIG_KEY, policy_branch], repo.git_dir)
    lines.append(f"policy: the server enforces gitgov.toml of branch '{policy_branch}'")
    if not kept:
        repo.ledger_path.parent.mkdir(parents=True, exist_ok=True)
        with open_ledger(repo.ledger_path, create=True) as ledger:
            ledger.append([Entry(kind="ledger_created", subject=str(repo.git_dir), source="cli",
                                 payload={"version": 1, "server": True, "policy_branch": policy_branch},
                                 actor="gitgov server install")])
        lines.append(f"ledger: created {repo.ledger_path}")
    else:
        lines.append(f"ledger: {repo.ledger_path} (kept)")
    key = signing_key(repo.state_dir)
    lines.append(f"checkpoints: signed with Ed25519 key {key_id(key.public_key())[:16]} "
                 f"({key_paths(repo.state_dir)[1]}), kept in refs/gitgov/checkpoints")
    for line in lines:
        click.echo(f"gitgov: {line}")
    _warn_missing_branch(repo, policy_branch)
    return 0


def _warn_missing_branch(repo, branch: str) -> None:
    """A repository with branches but not this one: a typo, most likely; pushes are refused
    until it exists."""
    from ..git import run

    heads = run(["for-each-ref", "--format=%(refname:short)", "refs/heads/"], repo.git_dir).decode().split()
    if heads and branch not in heads:
        click.echo(f"gitgov: warning: this repository has no branch '{branch}' (it has "
                   f"{', '.join(heads[:5])}{', ...' if len(heads) > 5 else ''}): pushes are refused "
                   f"until it exists; `gitgov server install PATH --policy-branch NAME` sets another",
                   err=True)


@server_group.command("uninstall")
@click.argument("path", type=click.Path(path_type=Path))
def uninstall_cmd(path: Path) -> int:
    """Remove the pre-receive hook (the ledger and checkpoints stay)."""
    from ..install import SERVER_HOOK_TYPES, uninstall_hooks

    repo = _bare(path)
    for line in uninstall_hooks(repo.git_dir, SERVER_HOOK_TYPES):
        click.echo(f"gitgov: {line}")
    return 0


def register(group: click.Group) -> None:
    group.add_command(server_group)
