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

    def resolve_command(self, ctx: click.Context, args: list[str]):  # type: ignore[no-untyped-def]
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError:
            plugin = _plugin_adding(args[0]) if args and not args[0].startswith("-") else None
            if plugin is None:
                raise
            raise click.UsageError(f"No such command '{args[0]}': it comes with the plugin "
                                   f"'{plugin}', which is not enabled here ([plugins] enable and "
                                   "disable in gitgov.toml, GITGOV_DISABLE; `gitgov plugins` "
                                   "lists them)", ctx) from None

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


def _plugin_adding(command: str) -> str | None:
    """The installed plugin that adds `command`, whatever gitgov.toml or GITGOV_DISABLE turn
    off; asked only once the command was not found."""
    from .entrypoints import entry_points
    from .plugins import ENTRY_POINT_GROUP

    for ep in sorted(entry_points(ENTRY_POINT_GROUP), key=lambda e: e.name):
        scratch = click.Group()
        try:
            hook = getattr(ep.load(), "register_commands", None)
            if hook is None:
                continue
            hook(cli=scratch)
        except Exception:  # noqa: BLE001 - a broken plugin is no answer here
            continue
        if command in scratch.commands:
            return ep.name
    return None
