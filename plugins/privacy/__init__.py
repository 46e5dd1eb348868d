"""Personal data: detection at commit, protection of columns, and revealing them.

- data_added: every staged file of a dataset is sampled; a column that looks
  like personal data blocks the commit unless gitgov.toml declares it, and a
  declared protection must actually be applied to the staged bytes.
- register_detectors: the built-in detectors (email, phone, card with Luhn,
  US SSN, IBAN with its checksum, IPv4/IPv6, date of birth).
- register_commands: `gitgov scan`, `gitgov protect`, `gitgov reveal`.

Settings, in gitgov.toml::

    [plugins.privacy]
    threshold = 0.5      # share of sampled values that must match
    sample_rows = 10000  # rows sampled per file, evenly spread
"""
from __future__ import annotations

from gitgov.core.hookspecs import hookimpl

__version__ = "1.0"


@hookimpl
def data_added(event, ctx):
    if event.dataset is None:
        return None
    from .check import check

    return check(event, ctx)


@hookimpl
def register_detectors():
    from .detectors import BUILTIN

    return list(BUILTIN)


@hookimpl
def register_commands(cli):
    from .commands import protect_cmd, reveal_cmd, scan_cmd

    for command in (scan_cmd, protect_cmd, reveal_cmd):
        cli.add_command(command)
