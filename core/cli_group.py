"""The click group of the command line, built when a command first needs click
(cli.py starts without it, so that `gitgov run` does not pay for its import)."""
from __future__ import annotations

import importlib

import click

from . import __version__
from .cli import BUILTIN_COMMANDS, CONTEXT


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
