"""`gitgov audit`: who did what to which data, and when, from the ledger."""
from __future__ import annotations

import textwrap
from pathlib import Path

import click

from .options import echo_json, json_option

DIFF_LINES = 30
EXAMPLES = """
\b
  gitgov audit --since 7d                        the last week
  gitgov audit --actor lee@example.com --json    one person, for machines
  gitgov audit --repo /srv/git/churn.git         the server's ledger (accepted and rejected pushes)
"""


@click.command("audit", epilog=EXAMPLES)
@click.option("--since", help="Only from this date or time (2025-01-31, 2025-01-31T12:00) or this long ago (7d, 12h, 2w).")
@click.option("--actor", help="Only what this person did (git e-mail address).")
@click.option("--dataset", help="Only what touched this dataset.")
@click.option("--repo", "repo_path", type=click.Path(path_type=Path, file_okay=False),
              help="Read this repository's ledger (e.g. a server's bare repository); default: here.")
@json_option
def audit_cmd(since: str | None, actor: str | None, dataset: str | None, repo_path: Path | None,
              as_json: bool) -> int:
    """Who added, changed, removed, revealed, decrypted, disposed of or overrode what, and when.

    Policy changes are listed with their diff and overrides with their reason.
    """
    from ..audit import items, parse_since
    from ..git import Repo
    from ..ledger import open_ledger

    start = parse_since(since) if since is not None else None  # "" is no date either
    repo = Repo.discover(repo_path or ".")
    with open_ledger(repo.ledger_path) as ledger:
        found = items(ledger, since=start, actor=actor, dataset=dataset)
    if as_json:
        echo_json([i.to_dict() for i in found])
        return 0
    if not found:
        click.echo("gitgov: nothing in the ledger matches")
        return 0
    for item in found:
        click.echo(_line(item))
        if item.reason:
            click.echo(f"{'':22}reason: {item.reason}")
        if item.diff:
            lines = item.diff.splitlines()
            shown = "\n".join(lines[:DIFF_LINES])
            if len(lines) > DIFF_LINES:
                shown += f"\n... {len(lines) - DIFF_LINES} more lines (--json has the whole diff)"
            click.echo(textwrap.indent(shown, " " * 22))
    return 0


def _line(item) -> str:
    what = item.subject
    scope = f" [{item.dataset}]" if item.dataset else (f" [{', '.join(item.datasets)}]" if item.datasets else "")
    outcome = f" ({item.outcome})" if item.outcome else ""
    detail = f": {item.detail}" if item.detail else ""
    head = f"{item.time[:19].replace('T', ' ')}  {item.actor or '?'} {item.action}{outcome}"
    return f"{head} {what}{scope}{detail}".rstrip()


def register(group: click.Group) -> None:
    group.add_command(audit_cmd)
