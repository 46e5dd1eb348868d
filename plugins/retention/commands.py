"""`gitgov retention check | apply`."""
from __future__ import annotations

import subprocess
from datetime import date, datetime, timezone

import click

from gitgov.core.commands.options import echo_json, json_option, table
from gitgov.core.errors import EXIT_BLOCKED, PolicyBlocked

from .expiry import Expired, already_reported, find

_AS_OF = click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]),
                      help="Judge as if today were this date (YYYY-MM-DD).")
_DATASET = click.option("--dataset", metavar="NAME", help="Only this dataset.")


def _today(as_of: datetime | None) -> date:
    return as_of.date() if as_of else datetime.now(timezone.utc).date()


def _scan(session, dataset: str | None, today: date):
    from gitgov.core.watch.cache import HashCache, cache_path

    cache = HashCache(cache_path(session.repo.local_dir))
    try:
        return find(session.repo.root, session.policy, session.ctx.ledger().db, today, dataset, cache)
    finally:
        cache.close()


def _status(item: Expired) -> str:
    if item.held:
        return "on legal hold"
    return "OVERDUE" if item.overdue else "expired (in grace)"


def _rows(items: list[Expired]) -> list[list[str]]:
    return [[i.dataset, i.path, i.what, i.expired_on.isoformat(), i.basis, _status(i)] for i in items]


def _dicts(items: list[Expired]) -> list[dict]:
    return [{"dataset": i.dataset, "path": i.path, "mode": i.mode, "rows": i.rows, "total_rows": i.total,
             "expired_on": i.expired_on.isoformat(), "basis": i.basis, "held": i.held,
             "overdue": i.overdue, "sha256": i.sha256} for i in items]


def _record_new(session, items: list[Expired], source: str) -> int:
    """Fire RetentionExpired for what the ledger does not already say."""
    db = session.ctx.ledger().db
    fresh = [i for i in items if not already_reported(db, i)]
    if fresh:
        actor = session.actor()
        session.emit([i.event(source, actor) for i in fresh])
    return len(fresh)


@click.group("retention")
def retention_group() -> None:
    """Find, report and dispose of data past its retention period."""


@retention_group.command("check")
@_DATASET
@_AS_OF
@json_option
def check_cmd(dataset: str | None, as_of: datetime | None, as_json: bool) -> int:
    """Report what is past retention; exit 1 if anything not on hold is overdue."""
    from gitgov.core.session import Session

    with Session.open(".") as session:
        found = _scan(session, dataset, _today(as_of))
        # --as-of a later date previews: the ledger only learns of what has expired by now.
        _record_new(session, [i for i in found.items if i.expired_on <= _today(None)], "cli")
    overdue = [i for i in found.items if i.overdue and not i.held]
    if as_json:
        echo_json({"expired": _dicts(found.items), "notes": found.notes, "overdue": len(overdue)})
        return EXIT_BLOCKED if overdue else 0
    for note in found.notes:
        click.echo(f"gitgov: note: {note}")
    if not found.items:
        click.echo("gitgov: nothing is past its retention period")
        return 0
    click.echo(table(_rows(found.items), ["dataset", "path", "expired", "since", "counted from", "status"]))
    held = [i for i in found.items if i.held]
    if held:
        names = sorted({i.dataset for i in held})
        click.echo(f"gitgov: {len(held)} item(s) are under legal hold (hold = true in "
                   f"{', '.join('datasets.' + n for n in names)}) and will not be disposed of")
    if overdue:
        click.echo(f"gitgov: {len(overdue)} item(s) overdue; `gitgov retention apply` disposes of them")
    return EXIT_BLOCKED if overdue else 0


@retention_group.command("apply")
@click.option("--dry-run", is_flag=True, help="Show what would be disposed of; change nothing.")
@click.option("--commit", "do_commit", is_flag=True, help="Commit the disposal (tracked files only).")
@click.option("--shred-key", is_flag=True,
              help="Also shred the data keys of encrypted datasets disposed of, making their "
                   "versions in Git history unreadable.")
@_DATASET
@_AS_OF
def apply_cmd(dry_run: bool, do_commit: bool, shred_key: bool, dataset: str | None,
              as_of: datetime | None) -> int:
    """Delete expired files and rewrite files without their expired rows, and record it."""
    from gitgov.core.session import Session

    from . import dispose

    today = _today(as_of)
    with Session.open(".") as session:
        found = _scan(session, dataset, today)  # every file is judged before any is changed
        held = [i for i in found.items if i.held]
        todo = [i for i in found.items if not i.held]
        for ds in sorted({i.dataset for i in held}):
            click.echo(f"gitgov: datasets.{ds} is under legal hold (hold = true): nothing of it "
                       "is disposed of")
        if not todo:
            click.echo("gitgov: nothing to dispose of")
            return 0
        if dry_run:
            click.echo(table(_rows(todo), ["dataset", "path", "expired", "since", "counted from", "status"]))
            click.echo(f"gitgov: dry run: {len(todo)} item(s) would be disposed of; nothing changed")
            return 0
        actor = session.actor()
        for item in todo:
            event = dispose.dispose(session.repo, item, session.policy, today, source="cli", actor=actor)
            first = [] if already_reported(session.ctx.ledger().db, item) else [item.event("cli", actor)]
            session.emit(first + [event])  # recorded right after its own file changed
            click.echo(f"gitgov: {_done(event)}")
        _after(session, todo, do_commit, shred_key)
    return 0


def _done(event) -> str:
    if event.rows_before is None:
        return f"deleted {event.path} (sha256 {event.sha256_before[:12]})"
    return (f"removed {event.rows_before - event.rows_after} of {event.rows_before} rows from "
            f"{event.path} (sha256 {event.sha256_before[:12]} -> {event.sha256_after[:12]})")


def _after(session, todo: list[Expired], do_commit: bool, shred_key: bool) -> None:
    from . import dispose

    paths = sorted({i.path for i in todo})
    policy = session.policy
    encrypted = {n for n, ds in policy.datasets.items() if ds.encrypt}
    if do_commit:
        _commit(session, paths)
    if shred_key:
        targets = sorted({i.dataset for i in todo} & encrypted)
        for ds in sorted({i.dataset for i in todo} - encrypted):
            click.echo(f"gitgov: datasets.{ds} is not encrypted (no `encrypt`): there is no key to "
                       "shred; its history stays readable")
        for line in dispose.shred_keys(session.repo, targets):
            click.echo(f"gitgov: {line}")
        if targets:
            _record_shred(session, targets)
    for line in dispose.history_advice(dispose.history(session.repo, paths), encrypted,
                                       {i.path: i.dataset for i in todo}):
        click.echo(f"gitgov: {line}")


def _commit(session, paths: list[str]) -> None:
    repo = session.repo
    tracked = repo.git("ls-files", "-z", "--", *paths).decode().split("\0")
    tracked = [p for p in tracked if p]
    if not tracked:
        click.echo("gitgov: --commit: none of the disposed files is tracked by Git; nothing to commit")
        return
    repo.git("add", "-A", "--", *tracked)
    # Through the hooks, with their report on the terminal: a refusal must say why.
    proc = subprocess.run(["git", "commit", "-q", "-m", "Dispose of data past its retention period",
                           "--", *tracked], cwd=repo.root, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise PolicyBlocked("--commit: git commit refused the disposal (see above); the disposed "
                            "files are staged as they are now: fix what it says and commit them")
    click.echo(f"gitgov: committed the disposal of {len(tracked)} file(s)")


def _record_shred(session, datasets: list[str]) -> None:
    from gitgov.core.ledger import Entry

    actor = session.actor()
    session.ctx.ledger().append([Entry(kind="key_shredded", subject=ds, actor=actor, source="cli",
                                       payload={"dataset": ds, "reason": "retention apply --shred-key"})
                                 for ds in datasets])
