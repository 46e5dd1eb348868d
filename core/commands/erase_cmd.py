"""`gitgov erase --subject COLUMN=VALUE`: the right to erasure."""
from __future__ import annotations

import click

HISTORY_SHOWN = 8


@click.command("erase")
@click.option("--subject", "subject", required=True, metavar="COLUMN=VALUE",
              help="The data subject, e.g. email=ada@example.com.")
@click.option("--dataset", metavar="NAME", help="Only this dataset (default: every dataset).")
@click.option("--dry-run", is_flag=True, help="Show what would be erased; change nothing.")
def erase_cmd(subject: str, dataset: str | None, dry_run: bool) -> int:
    """Remove every row of a data subject from the governed data, and record it by token only."""
    from .. import erase
    from ..session import Session

    column, value = erase.parse_subject(subject)
    with Session.open(".") as session:
        session.ctx.ledger()  # no ledger (no `gitgov init`): say so before a key is made or a file read
        report = erase.Report(column=column, token="")
        erase.find_rows(session, column, value, dataset, report)  # every file judged before any change
        erase.check_column(session, column, dataset, report)
        report.token = erase.subject_token(erase.token_key(session.repo, create=not dry_run), column, value)
        if not dry_run:
            report.files = [_erase_one(session, hit, report, value) for hit in report.files]
            erase.scrub_logs(session, value, report)
            erase.remaining(session, value, report)
        erase.objects(session, column, value, report, purge=not dry_run)
        erase.history(session, value, report)
        report.ledger_mentions = erase.ledger_mentions(session, value)
        if not dry_run:
            _record(session, report)
    _show(report, session, dry_run)
    return 0


def _erase_one(session, hit, report, value):
    from .. import erase
    from ..events import DataDisposed

    done = erase.erase_file(session, hit, report.column, value)
    session.emit([DataDisposed(path=done.path, dataset=done.dataset, rows_before=done.rows_before,
                               rows_after=done.rows_before - done.rows_removed,
                               sha256_before=done.sha256_before, sha256_after=done.sha256_after,
                               reason=f"erasure request {report.token} (column {report.column})",
                               actor=session.actor(), source="cli")])
    return done


def _record(session, report) -> None:
    from ..ledger import Entry

    payload = {
        "column": report.column, "token": report.token, "rows_removed": report.rows_removed,
        "files": [{"path": f.path, "dataset": f.dataset, "rows_removed": f.rows_removed,
                   "sha256_before": f.sha256_before, "sha256_after": f.sha256_after} for f in report.files],
        "objects_purged": report.objects, "objects_kept": [o["sha256"] for o in report.kept_objects],
        "logs_scrubbed": report.logs,
        "commits_holding_subject": sorted(report.commits), "still_in_files": report.elsewhere,
        "ledger_mentions": report.ledger_mentions, "files_shredded": report.shredded,
    }
    session.ctx.ledger().append([Entry(kind="erasure", subject=report.token, payload=payload,
                                       actor=session.actor(), source="cli")])


def _show(report, session, dry_run: bool) -> None:
    verb = "would remove" if dry_run else "removed"
    # The subject is named by its keyed token, never its value; before the first erasure
    # there is no key to make one with.
    keyed = not report.token.startswith("hmac-sha256:(")
    named = f"<{report.token[:24]}...>" if keyed else "(the value given)"
    click.echo(f"gitgov: erasure of {report.column}={named}"
               + (" (dry run: nothing changed)" if dry_run else ""))
    for f in report.files:
        click.echo(f"  {f.path}: {verb} {f.rows_removed} of {f.rows_before} row(s)"
                   + (f" (sha256 {f.sha256_before[:12]} -> {f.sha256_after[:12]})" if f.sha256_after else ""))
    if not report.files:
        click.echo(f"  no governed file in the working tree has a row with this {report.column}")
    for rel in report.shredded:
        click.echo(f"  {rel}: column '{report.column}' is encrypted with shredded keys only: nothing "
                   "in it can be read again, so nothing of the subject is left to remove there")
    for o in report.objects:
        where = "; ".join(o["runs"]) or "not referenced by a recorded run"
        click.echo(f"  object store: {'would purge' if dry_run else 'purged'} object {o['sha256'][:12]} ({where})")
    for o in report.kept_objects:
        where = "; ".join(o["runs"]) or "not referenced by a recorded run"
        click.echo(f"  warning: object {o['sha256'][:12]} ({where}) holds the value, but not in a "
                   f"row's column '{report.column}'; kept")
    for log in report.logs:
        click.echo(f"  scrubbed the value from {log}")
    for rel in report.elsewhere:
        click.echo(f"  warning: {rel} still contains the value outside column '{report.column}'; "
                   "remove it by hand")
    for line in _referring(session.policy, {f.dataset for f in report.files if f.rows_removed}):
        click.echo(f"  warning: {line}")
    _show_history(report, session)
    if report.ledger_mentions:
        click.echo(f"  warning: the ledger quotes the value {report.ledger_mentions} time(s) (in findings "
                   "that plugins wrote); the ledger is append-only and keeps them")
    if not dry_run:
        click.echo(f"gitgov: recorded the erasure in the ledger as {report.token} (the value itself "
                   "is not stored)")


def _referring(policy, changed: set[str]) -> list[str]:
    """Datasets whose foreign keys point into the datasets rows were removed from: their rows
    of the subject now point nowhere, and block the next commit of them until removed too."""
    out = []
    for ds in policy.datasets.values():
        for col, ref in (ds.rules.get("foreign_keys") or {}).items():
            target = ref.split(".", 1)[0]
            if target in changed and ds.name not in changed:
                out.append(f"dataset '{ds.name}' refers to '{target}' by its column '{col}' "
                           f"(foreign key {ref}): its rows of this subject now point to removed "
                           f"rows; erase them there too (--subject {col}=...)")
    return out


def _show_history(report, session) -> None:
    if not report.commits:
        click.echo("  Git history: no commit holds the value in plain text")
    else:
        shown = " ".join(sorted(report.commits)[:HISTORY_SHOWN])
        more = " ..." if len(report.commits) > HISTORY_SHOWN else ""
        paths = sorted({p for ps in report.commits.values() for p in ps})
        click.echo(f"  Git history: {len(report.commits)} commit(s) still hold the subject ({shown}{more}) "
                   f"in {', '.join(paths)}")
        click.echo("    a history rewrite removes it: put the line `VALUE==>***REMOVED***` in a file F "
                   "and run `git filter-repo --replace-text F`, then force-push (a gitgov server lets "
                   "the policy branch be rewritten once its admin sets gitgov.allowRewind); every "
                   "clone must re-clone")
    # Only datasets that can hold the subject: shredding destroys all of a dataset's history.
    encrypted = [n for n, ds in session.policy.datasets.items() if ds.encrypt and (
        n in report.in_datasets or report.column in ds.columns)]
    for name in encrypted:
        click.echo(f"    dataset '{name}' is encrypted in Git: `gitgov keys shred {name}` makes every "
                   "committed version of it unreadable (all rows, not just this subject's)")


def register(group: click.Group) -> None:
    group.add_command(erase_cmd)
