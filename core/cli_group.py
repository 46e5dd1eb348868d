"""The click group of the command line, built when a command first needs click
(cli.py starts without it, so that `gitgov run` does not pay for its import)."""
from __future__ import annotations

import importlib

import click

from . import __version__
from .cli import BUILTIN_COMMANDS, CONTEXT, REGISTER_FAILED


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
            name = args[0] if args and not args[0].startswith("-") else None
            plugin = _plugin_adding(name) if name else None
            if plugin is not None:
                raise click.UsageError(f"No such command '{name}': it comes with the plugin "
                                       f"'{plugin}', which is not enabled here ([plugins] enable "
                                       "in gitgov.toml; `gitgov plugins` lists them)", ctx) from None
            off = _turned_off() if name else []
            if off:
                raise click.UsageError(f"No such command '{name}' ({', '.join(off)}, turned off here, "
                                       "may add it; `gitgov plugins` lists them)", ctx) from None
            if name and REGISTER_FAILED:
                failed = [f"'{p}'" for p in dict.fromkeys(REGISTER_FAILED)]
                who = f"the plugin {failed[0]} failed to add its" if len(failed) == 1 else \
                    f"the plugins {', '.join(failed)} failed to add their"
                raise click.UsageError(f"No such command '{name}' ({who} commands: see the "
                                       "warnings above)", ctx) from None
            raise

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
    """The installed plugin that would add `command` if gitgov.toml's `enable` named it.

    Asked only once the command was not found. A plugin turned off by name (`disable`,
    GITGOV_DISABLE) never runs, not even to answer this; the others are asked as any hook
    is, under the policy's deadline, a failure being no answer."""
    from .bus import DEFAULT_TIMEOUT, Caller
    from .cli import _policy_here
    from .plugins import load_host

    policy, root = _policy_here()
    if policy is None or policy.plugins.enable is None:
        return None  # every installed plugin is enabled: the command is nobody's
    # every installed plugin but those turned off by name (disable, GITGOV_DISABLE): not imported
    every = policy._replace(plugins=policy.plugins._replace(enable=None))
    host = load_host(every, root, hooks=("register_commands",))
    skip = set(policy.plugins.enable) | set(REGISTER_FAILED)
    with Caller(host, policy.plugins.timeout or DEFAULT_TIMEOUT) as caller:
        for impl in caller.impls("register_commands"):
            if impl.plugin_name in skip:
                continue
            scratch = click.Group()
            _value, failure = caller.call(impl, "register_commands", {"cli": scratch})
            if failure is None and command in scratch.commands:
                return impl.plugin_name
    return None


def _turned_off() -> list[str]:
    """Installed plugins turned off by name, each with what turned it off, named from the
    package metadata: a plugin that is off is not even imported."""
    from pathlib import PurePosixPath

    from .cli import _policy_here
    from .entrypoints import entry_points
    from .plugins import ENTRY_POINT_GROUP, env_disabled

    policy, _root = _policy_here()
    disabled = set(policy.plugins.disable) if policy is not None else set()
    local = {PurePosixPath(rel).stem for rel in policy.plugins.local} if policy is not None else set()
    out = []
    for name in sorted({ep.name for ep in entry_points(ENTRY_POINT_GROUP)} | local):
        why = "GITGOV_DISABLE" if name in env_disabled() else \
            "[plugins] disable" if name in disabled else None
        if why:
            out.append(f"'{name}' ({why})")
    return out
