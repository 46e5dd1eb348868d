"""init, uninstall, hook-impl and plugins: putting gitgov into a repository."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..errors import InputError
from .options import echo_json, json_option, table

GITIGNORE_LINES = ("# gitgov: ledger, object store and keys stay out of Git", ".gitgov/")


def _ensure_gitignore(root: Path) -> str | None:
    path = root / ".gitignore"
    existing = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    if GITIGNORE_LINES[1] in (line.strip() for line in existing):
        return None
    prefix = "" if not existing or existing[-1] == "" else "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(prefix + "\n".join(GITIGNORE_LINES) + "\n")
    return "added .gitgov/ to .gitignore"


def _ensure_state(repo) -> list[str]:
    from ..ledger import Entry, open_ledger

    done = []
    state = repo.state_dir
    for sub in ("objects", "keys", "cache", "state"):
        d = state / sub
        if not d.is_dir():
            d.mkdir(parents=True, exist_ok=True)
            done.append(f"created {d.relative_to(repo.root) if d.is_relative_to(repo.root) else d}")
    os.chmod(state / "keys", 0o700)
    fresh = not repo.ledger_path.exists()
    with open_ledger(repo.ledger_path, create=True) as ledger:
        if fresh:
            ledger.append([Entry(kind="ledger_created", subject=str(repo.root),
                                 payload={"version": 1}, source="cli", actor=repo.identity())])
            done.append("created the ledger .gitgov/ledger.db")
    return done


def init_repo(start: Path = Path("."), *, hooks_path: bool = False) -> list[str]:
    """Everything `gitgov init` does; returns what changed (empty when nothing did)."""
    from ..config import load_policy
    from ..config_template import DEFAULT_TOML
    from ..git import Repo
    from ..install import install_hooks

    repo = Repo.discover(start)
    done = []
    if not repo.policy_path.exists():
        repo.policy_path.write_text(DEFAULT_TOML, encoding="utf-8")
        done.append("wrote gitgov.toml (commented; edit it to declare your datasets)")
    load_policy(repo.policy_path)  # refuse to install hooks over a broken policy
    done += _ensure_state(repo)
    line = _ensure_gitignore(repo.root)
    if line:
        done.append(line)
    done += install_hooks(repo.root, python=sys.executable, allow_hooks_path=hooks_path)
    return done


@click.command()
@click.option("--hooks-path", is_flag=True,
              help="Install into core.hooksPath when it is set, instead of refusing.")
def init(hooks_path: bool) -> int:
    """Set up gitgov in this repository: gitgov.toml, .gitgov/ and the Git hooks."""
    done = init_repo(Path("."), hooks_path=hooks_path)
    for line in done:
        click.echo(f"gitgov: {line}")
    if not done:
        click.echo("gitgov: already initialized; nothing changed")
    return 0


@click.command()
def uninstall() -> int:
    """Remove gitgov's hooks and restore the ones that were there before."""
    from ..git import Repo
    from ..install import uninstall_hooks

    repo = Repo.discover(".")
    done = uninstall_hooks(repo.root)
    for line in done:
        click.echo(f"gitgov: {line}")
    if not done:
        click.echo("gitgov: no gitgov hooks installed; nothing changed")
    return 0


@click.command("hook-impl", hidden=True, context_settings={"ignore_unknown_options": True})
@click.argument("hook")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def hook_impl(hook: str, args: tuple[str, ...]) -> int:
    """Run a Git hook's check (used by the shims and by the pre-commit framework)."""
    from ..hookrun import main as hook_main

    return hook_main([hook, *args])


@click.command("plugins")
@json_option
def plugins_cmd(as_json: bool) -> int:
    """List plugins: name, version, origin, hooks and load errors."""
    from ..plugins import load_host

    policy, root = _policy_if_any()
    host = load_host(policy, root)
    if as_json:
        echo_json([p.to_dict() for p in host.plugins])
        return 0
    rows = [[p.name, p.version or "-", p.origin, "yes" if p.enabled else "disabled",
             ", ".join(p.hooks) or "-", p.error or ""] for p in host.plugins]
    click.echo(table(rows, ["name", "version", "origin", "enabled", "hooks", "error"]))
    return 0


def _policy_if_any():
    from ..config import load_policy
    from ..git import Repo

    try:
        repo = Repo.discover(".")
    except InputError:
        return None, None
    return load_policy(repo.policy_path), repo.root


def register(group: click.Group) -> None:
    for command in (init, uninstall, hook_impl, plugins_cmd):
        group.add_command(command)
