"""Whole-file encryption and the keys behind every protection.

- data_added: a staged file of a dataset with ``encrypt = "file"`` must be
  gitgov ciphertext (the Git filter that `gitgov init` sets up makes it so);
  plain text there blocks the commit, and so does a file of a shredded key.
- register_commands: `gitgov keys ...`, `gitgov unlock`, `gitgov crypt ...`.
"""
from __future__ import annotations

from gitgov.core.hookspecs import hookimpl

__version__ = "1.0"


@hookimpl
def data_added(event, ctx):
    if event.dataset is None or event.stage == "observed":
        return None  # on disk the file is plain text by design; only Git's copy must not be
    ds = ctx.dataset(event.dataset)
    if ds is None or ds.encrypt != "file" or not event.blob or ctx.repo is None:
        return None
    from .check import check_encrypted

    return check_encrypted(event, ctx)


@hookimpl
def register_commands(cli):
    from .commands import crypt_group, keys_group, unlock_cmd

    for command in (keys_group, unlock_cmd, crypt_group):
        cli.add_command(command)
