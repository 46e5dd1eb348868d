"""The `gitgov` command line: one click group; plugins add commands to it.

Every error reaches the user as one line and an exit code (0 ok, 1 blocked by
policy, 2 bad input or usage). GITGOV_DEBUG=1 shows the traceback instead.
"""
from __future__ import annotations

import importlib
import os
import sys
from typing import Sequence

import click

from . import __version__
from .errors import EXIT_INPUT, GitgovError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


# Built-in commands by name -> the module whose register() adds them. Modules are
# imported only when one of their commands runs (or for --help), so `gitgov run`
# does not pay for the import of every other command.
BUILTIN_COMMANDS: dict[str, str] = {
    "init": "commands.setup_cmds", "uninstall": "commands.setup_cmds",
    "hook-impl": "commands.setup_cmds", "plugins": "commands.setup_cmds",
    "log": "commands.ledger_cmds", "verify": "commands.ledger_cmds", "ledger": "commands.ledger_cmds",
    "watch": "commands.watch_cmds", "erase": "commands.erase_cmd",
    "run": "commands.run_cmds", "runs": "commands.run_cmds", "reproduce": "commands.run_cmds",
    "lineage": "commands.lineage_cmds", "attest": "commands.lineage_cmds",
    "gc": "commands.lineage_cmds", "models": "commands.lineage_cmds", "store": "commands.lineage_cmds",
    "demo": "demo",
}


class LazyGroup(click.Group):
    """A click group that imports a built-in command's module on first use."""

    def _load(self, module: str) -> None:
        importlib.import_module(f"{__package__}.{module}").register(self)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in BUILTIN_COMMANDS:
            self._load(BUILTIN_COMMANDS[name])
        return super().get_command(ctx, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for module in dict.fromkeys(BUILTIN_COMMANDS.values()):
            self._load(module)
        return super().list_commands(ctx)


@click.group(cls=LazyGroup, context_settings=CONTEXT)
@click.version_option(__version__, prog_name="gitgov")
def cli() -> None:
    """Git-native data governance for ML: quality, privacy, access, lineage, reproducibility.

    Run `gitgov init` in a Git repository to begin, or `gitgov demo` to see it work.
    """


def _register_plugin_commands(group: click.Group) -> None:
    """Let plugins add commands; a broken gitgov.toml or plugin must not break --help."""
    from .bus import collect
    from .plugins import load_host

    policy, root = None, None
    try:
        from .config import load_policy
        from .git import Repo

        repo = Repo.discover(".")
        root, policy = repo.root, load_policy(repo.policy_path)
    except GitgovError:
        pass  # the command that needs the policy will report it
    host = load_host(policy, root)
    _, failures = collect(host, "register_commands", cli=group)
    for f in failures:
        click.echo(f"gitgov: warning: {f.message}", err=True)


def build(argv: Sequence[str] | None = None) -> click.Group:
    # Loading every plugin costs tens of ms; a built-in command does not need
    # the commands that plugins add (`gitgov run` would pay this on every run).
    first = next((a for a in argv or () if not a.startswith("-")), None)
    if first is None or first not in BUILTIN_COMMANDS:
        _register_plugin_commands(cli)
    return cli


def _debug() -> bool:
    return os.environ.get("GITGOV_DEBUG", "") not in ("", "0")


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry: run the CLI and map every failure to a message and a code."""
    try:
        group = build(list(argv) if argv is not None else sys.argv[1:])
        result = group.main(args=list(argv) if argv is not None else None, prog_name="gitgov",
                            standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except click.exceptions.Abort:
        click.echo("gitgov: aborted", err=True)
        code = 130
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = EXIT_INPUT
    except GitgovError as exc:
        if _debug():
            raise
        click.echo(f"gitgov: {exc}", err=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        click.echo("gitgov: interrupted", err=True)
        code = 130
    except BrokenPipeError:
        code = 0
    except Exception as exc:  # noqa: BLE001 - a bug must still not show a traceback
        if _debug():
            raise
        click.echo(f"gitgov: internal error: {type(exc).__name__}: {exc} "
                   "(set GITGOV_DEBUG=1 for the traceback)", err=True)
        code = EXIT_INPUT
    sys.stdout.flush()
    return code


def console() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["hook-impl"]:
        # The pre-commit framework calls this on every commit: skip click and the
        # plugin host, and take the same fast path as the installed shims.
        from .hookrun import main as hook_main

        hook, rest = argv[1:2], argv[2:]
        sys.exit(hook_main(hook + (rest[1:] if rest[:1] == ["--"] else rest)))
    sys.exit(main())
