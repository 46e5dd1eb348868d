"""log, verify and ledger rebuild: reading and proving the ledger."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import EXIT_BLOCKED
from ..report import one_line
from .options import count, echo_json, json_option


def _open(create: bool = False, start: Path | str = "."):
    from ..git import Repo
    from ..ledger import open_ledger

    repo = Repo.discover(start)
    return repo, open_ledger(repo.ledger_path, create=create)


def anchors(repo) -> dict[int, str]:
    """Ledger heads recorded as git notes on commits (see hookflow.anchor)."""
    from ..hookflow import NOTES_REF

    found: dict[int, str] = {}
    for _commit, note in repo.notes(NOTES_REF):
        for line in note.splitlines():
            try:
                head = json.loads(line)
                seq, rid = int(head["seq"]), str(head["id"])
            except (ValueError, KeyError, TypeError):
                continue  # a note that is not ours, or a hand-edited one: not an anchor
            if found.setdefault(seq, rid) != rid:
                # Two notes vouch for different entries at one seq: no row can match both.
                found[seq] = f"conflicting anchors {found[seq]} and {rid}"
    return found


def _as_dict(rec) -> dict:
    """A journal entry as JSON-ready fields."""
    return rec._asdict()


def _summary(payload: dict) -> str:
    findings = payload.get("findings") or []
    errors = sum(1 for f in findings if f.get("severity") == "error")
    parts = []
    if payload.get("verdict"):
        parts.append(payload["verdict"])
    if findings:
        parts.append(f"{len(findings)} finding(s), {errors} error(s)")
    if payload.get("dataset"):
        parts.append(f"dataset {payload['dataset']}")
    return "; ".join(parts)


@click.command("log")
@click.option("--kind", help="Only entries of this kind (e.g. data_added, commit_created).")
@click.option("--subject", help="Only entries about this path, sha or run id.")
@click.option("-n", "--limit", type=count(), default=50, show_default=True,
              help="How many entries.")
@json_option
def log_cmd(kind: str | None, subject: str | None, limit: int, as_json: bool) -> int:
    """Show ledger entries, newest first."""
    _repo, ledger = _open()
    with ledger:
        rows = list(ledger.entries(kind=kind, subject=subject, limit=limit, newest_first=True))
    if as_json:
        echo_json([_as_dict(r) for r in rows])
        return 0
    if not rows:
        click.echo("gitgov: the ledger has no matching entries")
    for r in rows:  # one_line: a path (the subject) may hold a line break
        click.echo(f"{r.seq:>6}  {r.time[:19]}  {r.kind:<18} {one_line(r.subject)}")
        detail = ", ".join(x for x in (r.actor, _summary(r.payload)) if x)
        if detail:
            click.echo(f"        {one_line(detail)}")
    return 0


@click.command("verify")
@click.option("--key", "key_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Trust only checkpoints signed by this Ed25519 public key (PEM).")
@click.option("--repo", "repo_path", type=click.Path(path_type=Path, file_okay=False),
              help="Verify this repository's ledger (e.g. a server's bare repository); default: here.")
@json_option
def verify_cmd(as_json: bool, key_path: Path | None = None, repo_path: Path | None = None) -> int:
    """Check the ledger's hash chain, every head anchored in git notes and every signed checkpoint."""
    from .. import checkpoints

    repo, ledger, lost = _open_to_verify(repo_path or ".")
    if ledger is None:
        if as_json:
            echo_json({"ok": False, "entries": None, "anchors": len(anchors(repo)),
                       "first_bad_seq": None, "reason": lost})
        else:
            click.echo(f"gitgov: ledger verification FAILED: {lost}", err=True)
        return EXIT_BLOCKED
    with ledger:
        known = anchors(repo)
        signed = checkpoints.verify(repo, ledger, key_path)
        for seq, rid in signed.anchors.items():  # a checkpoint is an anchor the server signed
            if known.setdefault(seq, rid) != rid:
                known[seq] = f"conflicting anchors {known[seq]} and {rid}"
        report = ledger.verify(known)
    ok = report.ok and signed.ok
    if as_json:
        echo_json({"ok": ok, "entries": report.count, "anchors": len(known),
                   "first_bad_seq": report.first_bad_seq, "reason": report.reason,
                   "checkpoints": {"ok": signed.ok, "count": signed.count, "reason": signed.reason,
                                   "of_another_ledger": signed.foreign, "key_id": signed.key_id}})
    elif not report.ok:
        click.echo(f"gitgov: ledger verification FAILED at entry {report.first_bad_seq}: "
                   f"{report.reason}", err=True)
    elif not signed.ok:
        click.echo(f"gitgov: checkpoint verification FAILED: {signed.reason}", err=True)
    else:
        click.echo(f"gitgov: ledger verified: {report.count} entries, chain intact, "
                   f"{len(known)} anchored head(s) match" + _checkpoint_words(signed))
    return 0 if ok else EXIT_BLOCKED


def _open_to_verify(start: Path | str):
    """(repository, its ledger, None); or (repository, None, why) for a ledger damaged, or
    gone while git notes anchor heads of it: a failed verification (exit 1), not missing
    input, since someone had a ledger there."""
    from ..errors import LedgerDamaged, LedgerError

    try:
        repo, ledger = _open(start=start)
        return repo, ledger, None
    except LedgerError as exc:
        from ..git import Repo

        repo = Repo.discover(start)
        known = anchors(repo)
        gone = not repo.ledger_path.exists() and bool(known)
        if not (isinstance(exc, LedgerDamaged) or gone):
            raise  # never a ledger here, or one this gitgov cannot open (newer, locked, denied)
        held = f"; git notes anchor {len(known)} head(s) of it, up to entry {max(known)}" if known else ""
        return repo, None, f"{exc}{held}"


def _checkpoint_words(signed) -> str:
    if not signed.count:
        return ""
    whose = " of another ledger (the server's)" if signed.foreign else ""
    return (f", {signed.count} signed checkpoint(s){whose} verified, each extending the one "
            f"before (key {signed.key_id[:16]})")


@click.group("ledger")
def ledger_group() -> None:
    """Maintain the ledger."""


@ledger_group.command("rebuild")
def rebuild_cmd() -> int:
    """Recreate the projection tables (datasets, versions, findings) from the journal."""
    _repo, ledger = _open()
    with ledger:
        n = ledger.rebuild()
    click.echo(f"gitgov: rebuilt projections from {n} journal entries")
    return 0


def register(group: click.Group) -> None:
    for command in (log_cmd, verify_cmd, ledger_group):
        group.add_command(command)
