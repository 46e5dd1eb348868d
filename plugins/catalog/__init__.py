"""The data catalog and the governance report.

- register_commands: `gitgov catalog [--json]` (every dataset: owners,
  classification, current version, quality and retention status),
  `gitgov catalog show NAME [--json]` (schema, versions, quality metrics,
  lineage, recent audit entries) and `gitgov report [-o report.html]` (one
  self-contained HTML page: the catalog, quality charts, the lineage graph,
  runs, compliance and an audit summary).

Everything is read from gitgov.toml and the ledger; the catalog writes
nothing. The report's graph layout and page need the `report` extra
(`pip install 'gitgov[report]'`: grandalf, Jinja2; its charts are drawn
as plain SVG); the rest needs only the standard library.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from gitgov.core.hookspecs import hookimpl

if TYPE_CHECKING:
    import click

__version__ = "1.0"


@hookimpl
def register_commands(cli: "click.Group") -> None:
    from .commands import register

    register(cli)
