"""Data quality: the rules of each dataset, checked on the bytes Git is about to record.

Each staged (or pushed, observed, checked) governed file is read as a stream
of Arrow record batches and checked against its dataset's column and table
rules in gitgov.toml; failures are grouped by rule with their first rows.
The version's metrics and profile go to the ledger, drift from the last
committed version raises alerts, and content that already passed under the
same rules is not read again. A staged or pushed change of a dataset (a
file added, changed or removed) also checks again, in the same state, the
files whose foreign keys point to it (dependents.py); a staged change of
gitgov.toml checks the files of each dataset whose rules it changes
(rule_changes.py). Commands: check,
profile, infer, quality.

Importing this module is cheap: pyarrow is imported only when governed data
is actually checked.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gitgov.core.hookspecs import hookimpl

if TYPE_CHECKING:
    import click

    from gitgov.core.context import Context
    from gitgov.core.events import DataAdded, DataRemoved, PolicyStaged

__version__ = "1.0"


@hookimpl
def data_added(event: "DataAdded", ctx: "Context") -> Any:
    if event.dataset is None:
        return None  # not data: a file the secrets check looks at
    from .dependents import recheck
    from .hook import check_event

    return check_event(event, ctx) + recheck(event, ctx)


@hookimpl
def data_removed(event: "DataRemoved", ctx: "Context") -> Any:
    """A deleted file of a dataset that foreign keys point to: the files that refer to it."""
    if event.dataset is None:
        return None
    from .dependents import recheck

    return recheck(event, ctx)


@hookimpl
def policy_staged(event: "PolicyStaged", ctx: "Context") -> Any:
    """gitgov.toml staged: the committed files of datasets whose rules it changes."""
    from .rule_changes import recheck_rules

    return recheck_rules(event, ctx)


@hookimpl
def register_commands(cli: "click.Group") -> None:
    from .commands import register

    register(cli)
