"""`gitgov catalog` and `gitgov report`: the catalog plugin's commands, loaded as built-ins.

Listed in cli.BUILTIN_COMMANDS so that they start without loading every
plugin (the catalog of a large policy must answer within a second); the
plugin's register_commands adds the same commands when plugins are loaded.
"""
from __future__ import annotations

import click


def register(group: click.Group) -> None:
    from gitgov.plugins.catalog.commands import register as add

    add(group)
