"""Each dataset should say what it is: warn when a governed file's dataset has no description.

Shows the three things most plugins do: implement a lifecycle hook and return
findings, record a fact in the ledger, and add a command to the CLI.
"""
from __future__ import annotations

import click

from gitgov.core.events import DataAdded, Fact, warning
from gitgov.core.hookspecs import hookimpl


@hookimpl
def data_added(event: DataAdded, ctx):
    dataset = ctx.dataset(event.dataset)
    if dataset is None:
        return None  # not a dataset file (e.g. a suspected secret): not our business
    results = [Fact(kind="example_seen", subject=event.path,
                    payload={"dataset": event.dataset, "size": event.size, "stage": event.stage})]
    if not dataset.description:
        results.append(warning(
            "no-description",
            f"dataset '{event.dataset}' has no description; add description = \"...\" to "
            f"[datasets.{event.dataset}] in gitgov.toml"))
    return results


@hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.command("example-hello")
    @click.argument("name", default="world")
    def hello(name: str) -> None:
        """Say hello (added by the example plugin)."""
        click.echo(f"hello, {name}, from the gitgov example plugin")
