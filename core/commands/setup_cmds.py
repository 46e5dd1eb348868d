"""init, uninstall, hook-impl and plugins: putting gitgov into a repository."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click

from ..errors import InputError
from .options import echo_json, json_option, table

GITIGNORE_LINES = ("# gitgov: ledger, object store and keys stay out of Git", ".gitgov/")
# Lines that already keep .gitgov/ out of Git, so init does not add a second one.
GITIGNORE_EQUIVALENTS = frozenset({".gitgov", ".gitgov/", "/.gitgov", "/.gitgov/", ".gitgov/**"})
STATE_SUBDIRS = ("objects", "keys", "cache", "state")


class _Undo:
    """What init created, so a failure half-way leaves the repository as it was."""

    def __init__(self) -> None:
        self._steps: list = []

    def created(self, path: Path) -> None:
        self._steps.append(lambda: shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True))

    def step(self, action) -> None:
        self._steps.append(action)

    def rewrote(self, path: Path, before: bytes | None) -> None:
        self._steps.append(lambda: path.unlink(missing_ok=True) if before is None
                           else path.write_bytes(before))

    def run(self) -> None:
        for step in reversed(self._steps):
            try:
                step()
            except OSError:
                pass  # best effort: the error being reported matters more


def _ensure_ignored(repo, undo: _Undo) -> list[str]:
    """.gitgov/ in this worktree's .gitignore; and when the shared state lives in
    the main worktree (init ran in a linked one), in the common info/exclude too,
    which every worktree reads, so the main worktree cannot stage it either."""
    done = [_ensure_ignore_file(repo.root / ".gitignore", undo, "added .gitgov/ to .gitignore")]
    if not repo.state_dir.is_relative_to(repo.root):
        exclude = repo.common_dir / "info" / "exclude"
        done.append(_ensure_ignore_file(exclude, undo, f"added .gitgov/ to {exclude}"))
    return [line for line in done if line]


def _ensure_ignore_file(path: Path, undo: _Undo, message: str) -> str | None:
    before = path.read_bytes() if path.exists() else None
    existing = before.decode("utf-8", "replace").splitlines() if before is not None else []
    if GITIGNORE_EQUIVALENTS & {line.strip() for line in existing}:
        return None
    prefix = "" if not existing or existing[-1] == "" else "\n"
    undo.rewrote(path, before)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(prefix + "\n".join(GITIGNORE_LINES) + "\n")
    return message


def _shown(repo, path: Path) -> str:
    return str(path.relative_to(repo.root)) if path.is_relative_to(repo.root) else str(path)


def _ensure_state(repo, undo: _Undo) -> list[str]:
    from ..ledger import Entry, open_ledger

    done = []
    state = repo.state_dir
    if not state.exists():
        undo.created(state)  # removing it removes everything below
    for sub in STATE_SUBDIRS:
        d = state / sub
        if not d.is_dir():
            d.mkdir(parents=True, exist_ok=True)
            undo.created(d)
            done.append(f"created {_shown(repo, d)}")
            if sub == "keys":
                os.chmod(d, 0o700)  # keys are for this user only
    keys = state / "keys"
    if keys.stat().st_mode & 0o077:
        os.chmod(keys, 0o700)
        done.append(f"restricted {_shown(repo, keys)} to its owner (mode 0700)")
    path = repo.ledger_path
    # An empty file (touched, or truncated) holds no entry: the ledger's own error
    # says to run `gitgov init`, so init makes it one. Anchored heads still tell.
    empty = path.is_file() and path.stat().st_size == 0
    if empty or not path.exists():
        for suffix in ("-wal", "-shm"):
            undo.created(path.with_name(path.name + suffix))
        if empty:
            undo.rewrote(path, b"")
        else:
            undo.created(path)
        with open_ledger(path, create=True) as ledger:
            ledger.append([Entry(kind="ledger_created", subject=str(repo.root),
                                 payload={"version": 1}, source="cli", actor=repo.identity())])
        verb = "initialised the empty ledger file" if empty else "created the ledger"
        done.append(f"{verb} {_shown(repo, path)}")
    else:
        open_ledger(repo.ledger_path).close()  # refuse a ledger that is not one (LedgerError)
    return done


def _install(repo, hooks_path: bool, undo: _Undo) -> list[str]:
    """Install the shims; report only the hooks whose file actually changed."""
    from ..install import HOOK_TYPES, hooks_dir, install_hooks

    directory = hooks_dir(repo.root)

    def state(name: str):
        path = directory / name
        return (path.read_bytes(), path.stat().st_mode) if path.is_file() else None

    before = {name: state(name) for name in HOOK_TYPES}
    if not directory.exists():
        undo.created(directory)
    no_legacy = [n for n in HOOK_TYPES if not os.path.lexists(directory / f"{n}.legacy")]
    undo.step(lambda: _restore_hooks(directory, before, no_legacy))
    lines = install_hooks(repo.root, HOOK_TYPES, python=sys.executable, allow_hooks_path=hooks_path)
    return [line for name, line in zip(HOOK_TYPES, lines) if state(name) != before[name]]


def _restore_hooks(directory: Path, before: dict, no_legacy: list[str]) -> None:
    """Put every hook back as it was before init ran (a failure after the hooks)."""
    for name, was in before.items():
        hook, legacy = directory / name, directory / f"{name}.legacy"
        if name in no_legacy and os.path.lexists(legacy):
            os.replace(legacy, hook)  # init moved a foreign hook aside: it comes back
        elif was is None:
            hook.unlink(missing_ok=True)
        elif hook.is_file() and (hook.read_bytes(), hook.stat().st_mode) != was:
            hook.write_bytes(was[0])  # an older gitgov shim that init updated
            hook.chmod(was[1])


def _encryption(repo, undo: _Undo) -> list[str]:
    """The master key, the filter's git config and .gitattributes, undone with the rest."""
    from ..crypto.gitfilter import setup_encryption
    from ..keys import KeyStore
    from ..session import load_repo_policy

    master = KeyStore.for_repo(repo).master_path
    if not master.exists():
        undo.created(master)
    for path in (repo.common_dir / "config", repo.root / ".gitattributes"):
        undo.rewrote(path, path.read_bytes() if path.exists() else None)
    return setup_encryption(repo, load_repo_policy(repo))


def init_repo(start: Path = Path("."), *, hooks_path: bool = False) -> list[str]:
    """Everything `gitgov init` does; returns what changed (empty when nothing did).

    All or nothing: the policy is validated before anything is written, and
    whatever this run created is removed again if a later step fails.
    """
    from ..config_template import DEFAULT_TOML
    from ..git import Repo
    from ..session import load_repo_policy

    repo = Repo.discover(start)
    if repo.bare:  # no commit is made there: its pushes are checked by the server side
        raise InputError(f"{repo.root} is a bare repository; to enforce the policy on what is pushed "
                         f"to it, run `gitgov server install {repo.root}`")
    load_repo_policy(repo)  # a broken policy: refuse before touching anything
    undo, done = _Undo(), []
    try:
        if not repo.policy_path.exists():
            undo.created(repo.policy_path)
            repo.policy_path.write_text(DEFAULT_TOML, encoding="utf-8")
            load_repo_policy(repo)
            done.append("wrote gitgov.toml (commented; edit it to declare your datasets)")
        done += _ensure_state(repo, undo)
        done += _ensure_ignored(repo, undo)
        done += _install(repo, hooks_path, undo)  # it checks everything before it writes
        done += _encryption(repo, undo)
    except OSError as exc:  # a file or folder that cannot be written: one line, nothing left
        undo.run()
        raise InputError(f"cannot write {exc.filename or repo.root}: {exc.strerror or exc}; "
                         "nothing was changed") from None
    except BaseException:
        undo.run()
        raise
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
    rows = [[p.name, p.resolve_version() or "-", p.origin, "yes" if p.enabled else "disabled",
             ", ".join(p.hooks) or "-", p.error or ""] for p in host.plugins]
    click.echo(table(rows, ["name", "version", "origin", "enabled", "hooks", "error"]))
    return 0


def _policy_if_any():
    from ..git import Repo
    from ..session import load_repo_policy

    try:
        repo = Repo.discover(".")
    except InputError:
        return None, None
    return load_repo_policy(repo), repo.root


def register(group: click.Group) -> None:
    for command in (init, uninstall, hook_impl, plugins_cmd):
        group.add_command(command)
