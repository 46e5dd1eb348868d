"""lineage, attest, models, gc and store: what runs produced, proven and kept."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import EXIT_BLOCKED
from .options import MAX_COUNT, count, echo_json, json_option, table


@click.command("lineage")
@click.argument("target", metavar="PATH|RUN|DATASET")
@click.option("--upstream", is_flag=True, help="Follow what it came from.")
@click.option("--downstream", is_flag=True, help="Follow what it fed.")
@click.option("--depth", type=click.IntRange(max=MAX_COUNT), default=10, show_default=True, help="How many edges to follow.")
@click.option("--format", "fmt", type=click.Choice(["text", "dot", "json", "openlineage"]), default="text",
              show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write to this file instead of the terminal.")
def lineage_cmd(target: str, upstream: bool, downstream: bool, depth: int, fmt: str, output: Path | None) -> int:
    """Where a file, run, dataset or model came from, and what it fed.

    With --upstream or --downstream alone, only that direction is followed;
    with both flags, or neither, both are.

    \b
    gitgov lineage models/churn_model.json --upstream
    gitgov lineage customers --downstream --format dot | dot -Tsvg > lineage.svg
    gitgov lineage last --format openlineage > events.jsonl
    """
    from ..lineage import query, render_dot, render_text
    from ..session import Session

    with Session.open(".") as session:
        ledger = session.ctx.ledger()
        direction = "upstream" if upstream and not downstream else \
            "downstream" if downstream and not upstream else "both"
        graph = query(ledger, session.repo, session.policy, target, direction, depth)
        if fmt == "openlineage":
            from ..openlineage import events_for_graph

            events = events_for_graph(ledger, session.repo, session.policy, graph)
            text = "".join(json.dumps(event, sort_keys=True) + "\n" for event in events)
        elif fmt == "json":
            text = json.dumps(graph.to_dict(), indent=2) + "\n"
        else:
            text = (render_dot(graph) if fmt == "dot" else render_text(graph)) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        _write(output, text)
        what = f"{len(events)} OpenLineage event(s)" if fmt == "openlineage" else \
            f"the lineage of {graph.target} ({len(graph.nodes)} nodes, {len(graph.edges)} edges)"
        click.echo(f"gitgov: wrote {what} to {output}")
    return 0


def _write(path: Path, text: str) -> None:
    """Write whole or not at all; a file that cannot be written is one line naming it."""
    from ..atomic import replacing
    from ..errors import InputError

    try:
        with replacing(path, mode=0o644) as tmp:  # shared with others: not private like a key
            Path(tmp).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


@click.command("attest")
@click.argument("run_ref", metavar="RUN", required=False)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Where to write the envelope (default: NAME.intoto.jsonl in this folder, NAME being "
                   "the RUN's name, or its short id for a run without one).")
@click.option("--verify", "verify_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Verify this attestation instead of writing one.")
@click.option("--key", type=click.Path(path_type=Path, dir_okay=False),
              help="Ed25519 PEM key (default: the repository's key in .gitgov/keys).")
@json_option
def attest_cmd(run_ref: str | None, output: Path | None, verify_file: Path | None, key: Path | None,
               as_json: bool) -> int:
    """Sign an in-toto/SLSA provenance statement for RUN, or --verify one.

    \b
    gitgov attest train            # writes train.intoto.jsonl
    gitgov attest --verify train.intoto.jsonl
    """
    from ..errors import InputError

    if verify_file is not None:
        return _verify(verify_file, key, as_json)
    if run_ref is None:
        raise InputError("give a RUN to attest, or --verify FILE")
    return _attest(run_ref, output, key, as_json)


def _attest(run_ref: str, output: Path | None, key_path: Path | None, as_json: bool) -> int:
    from .. import attest
    from ..ledger import Entry
    from ..run_query import resolve
    from ..session import Session

    with Session.open(".") as session:
        ledger = session.ctx.ledger()
        run = resolve(ledger, run_ref)
        key = attest.load_private(key_path) if key_path else attest.signing_key(session.repo.state_dir)
        envelope = attest.sign(attest.statement(run, session.repo), key)
        target = output or attest.default_file(run)
        _write(target, json.dumps(envelope, sort_keys=True) + "\n")
        keyid = envelope["signatures"][0]["keyid"]
        ledger.append([Entry(kind="run_attested", subject=run.run_id, actor=session.actor(), source="cli",
                             payload={"file": str(target), "keyid": keyid, "subjects": len(run.outputs)})])
        public = attest.key_paths(session.repo.state_dir)[1]
    if as_json:
        echo_json({"run_id": run.run_id, "file": str(target), "keyid": keyid})
    else:
        click.echo(f"gitgov: wrote {target}: in-toto statement with SLSA provenance for run {run.short} "
                   f"({len(run.outputs)} subject(s)), signed with key {keyid[:16]}")
        if not key_path:
            click.echo(f"gitgov: share the public key {public} so that others can verify it")
    return 0


def _verify(path: Path, key_path: Path | None, as_json: bool) -> int:
    from .. import attest
    from ..errors import InputError
    from ..git import Repo

    envelopes = attest.read_envelopes(path)  # a bad file is reported before a missing key
    root = None
    try:
        repo = Repo.discover(".")
        root = repo.root
        key_path = key_path or attest.key_paths(repo.state_dir)[1]
    except InputError:
        if key_path is None:
            raise InputError("outside a repository, give the public key with --key") from None
    if not key_path.is_file():
        raise InputError(f"no public key at {key_path}; give one with --key")
    public = attest.load_public(key_path)
    results = [attest.verify(env, public, root) for env in envelopes]
    ok = all(r.ok for r in results)
    if as_json:
        echo_json([{"ok": r.ok, "reasons": r.reasons, "subjects": r.statement.get("subject", []),
                    "checked_files": r.checked_files} for r in results])
    else:
        for r in results:
            names = ", ".join(s.get("name", "?") for s in r.statement.get("subject", []))
            if r.ok:
                click.echo(f"gitgov: {path}: valid signature (key {attest.key_id(public)[:16]}); subjects: "
                           f"{names}; {r.checked_files} file(s) on disk match")
            else:
                click.echo(f"gitgov: {path}: verification FAILED: {'; '.join(r.reasons)}", err=True)
    return 0 if ok else EXIT_BLOCKED


@click.group("models")
def models_group() -> None:
    """A light model registry: versions with their run, lineage and hash."""


@models_group.command("register")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--name", required=True, help="The model's name.")
@click.option("--stage", type=click.Choice(["none", "staging", "production", "archived"]), default="none",
              show_default=True)
@json_option
def models_register(path: Path, name: str, stage: str, as_json: bool) -> int:
    """Record PATH as a new version of model NAME."""
    from ..models import register
    from ..session import Session

    with Session.open(".") as session:
        version = register(session, str(path), name, stage)
    if as_json:
        echo_json({k: v for k, v in version.items() if k not in ("nodes", "edges")})
    elif version.get("unchanged"):
        click.echo(f"gitgov: {path} is already model {name} v{version['version']} ({version['stage']}); "
                   "nothing recorded")
    else:
        run = f", produced by run {version['run_id'][:8]}" if version.get("run_id") else ", no recorded run produced it"
        click.echo(f"gitgov: registered model {name} v{version['version']} ({stage}): {version['path']} "
                   f"sha256:{version['sha256'][:12]}{run}")
    return 0


@models_group.command("list")
@json_option
def models_list(as_json: bool) -> int:
    """Every model with its latest version."""
    from ..models import list_models
    from ..run_query import open_repo_ledger

    _repo, ledger = open_repo_ledger()
    with ledger:
        models = list_models(ledger)
    if as_json:
        echo_json(models)
    elif not models:
        click.echo("gitgov: no models registered; use `gitgov models register PATH --name NAME`")
    else:
        click.echo(table([[m["name"], f"v{m['version']}", str(m["versions"]), m["stage"], m["path"],
                           m["sha256"][:12], (m["run_id"] or "-")[:8], m["time"][:19]] for m in models],
                         ["model", "latest", "versions", "stage", "path", "sha256", "run", "registered"]))
    return 0


@models_group.command("show")
@click.argument("name")
@json_option
def models_show(name: str, as_json: bool) -> int:
    """All versions of model NAME, with their runs and upstream lineage."""
    from ..models import show_model
    from ..run_query import open_repo_ledger

    _repo, ledger = open_repo_ledger()
    with ledger:
        versions = show_model(ledger, name)
    if as_json:
        echo_json(versions)
        return 0
    for v in versions:
        click.echo(f"model {name} v{v['version']} ({v['stage']})  registered {v['time'][:19]} by {v['actor']}")
        click.echo(f"  file     {v['path']}  sha256:{v['sha256']}")
        click.echo(f"  run      {v['run_id'] or '(none recorded)'}")
        lineage = v.get("lineage") or {}
        click.echo(f"  inputs   {', '.join(lineage.get('inputs') or []) or '-'}")
        click.echo(f"  commits  {', '.join(c[:12] for c in lineage.get('commits') or []) or '-'}")
    return 0


@click.command("gc")
@click.option("--older-than", "older_than", type=count(0), metavar="DAYS",
              help="Also release the objects of runs started more than DAYS days ago.")
@click.option("--keep-last", type=count(0), metavar="N", help="Also release the objects of all but the newest N runs.")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@click.option("--now", is_flag=True, help="Also remove objects no record names that are less than an "
              "hour old (they may belong to a run still writing its record).")
@json_option
def gc_cmd(older_than: int | None, keep_last: int | None, dry_run: bool, now: bool, as_json: bool) -> int:
    """Remove objects that no run, model or dataset version needs."""
    from ..gc import collect
    from ..session import Session

    with Session.open(".") as session:
        report = collect(session, older_than_days=older_than, keep_last=keep_last, dry_run=dry_run,
                         now=now)
    if as_json:
        echo_json(report.to_dict())
    else:
        verb = "would remove" if dry_run else "removed"
        young = (f" ({report.too_new} named by no record yet, less than an hour old: `--now` removes "
                 "them)") if report.too_new else ""
        click.echo(f"gitgov: {verb} {len(report.removed)} object(s), {report.freed / 2**20:.1f} MiB; "
                   f"kept {report.kept}{young}")
    return 0


@click.group("store")
def store_group() -> None:
    """Share the object store through its remote ([store] remote in gitgov.toml)."""


@store_group.command("push")
def store_push() -> int:
    """Upload the objects and the run records the remote does not have yet."""
    from ..run_share import push_records
    from ..session import Session
    from ..store import ObjectStore

    with Session.open(".", require_ledger=False) as session:
        store = ObjectStore.for_repo(session.repo, session.policy)
        store.check_remote(must_exist=False)  # a file there is an error even with nothing to send
        sent, there = store.push(store.digests())
        records = push_records(store, session.ctx.ledger()) if session.ctx.ledger_path else (0, 0)
    click.echo(f"gitgov: sent {sent} object(s) to {store.remote_uri}; {there} were there already")
    click.echo(f"gitgov: sent {records[0]} run record(s); {records[1]} were there already")
    return 0


@store_group.command("pull")
@click.argument("run_ref", metavar="RUN", required=False)
def store_pull(run_ref: str | None) -> int:
    """Download the run records and objects of RUN (default: of every run) missing here.

    A run recorded in another clone and sent with `gitgov store push` is found
    on the remote by its id, an id prefix or its name (the newest run of that
    name); its record joins this ledger first.
    """
    from ..gc import needed
    from ..run_query import NoSuchRun, resolve
    from ..run_share import pull_records
    from ..session import Session
    from ..store import ObjectStore

    with Session.open(".") as session:
        store = ObjectStore.for_repo(session.repo, session.policy)
        store.check_remote()  # "no remote" is an error even when nothing is missing here
        ledger = session.ctx.ledger()
        local = None
        if run_ref:
            try:
                local = resolve(ledger, run_ref)
            except NoSuchRun:
                pass  # recorded in another clone, perhaps: the remote's records say
        imported = [] if local else pull_records(store, ledger, run_ref)
        for run_id in imported:
            click.echo(f"gitgov: imported the record of run {run_id[:8]} from {store.remote_uri}")
        if run_ref:
            run = local or resolve(ledger, imported[0] if imported else run_ref)
            wanted = {r["sha256"] for r in [*run.inputs.values(), *run.outputs.values()] if r.get("stored")}
            wanted |= {run.diff_sha256} if run.diff_sha256 else set()
        else:
            wanted = needed(ledger.db, set())
        fetched = store.pull(sorted(wanted))
    click.echo(f"gitgov: fetched {len(fetched)} object(s) from {store.remote_uri}")
    return 0


def register(group: click.Group) -> None:
    for command in (lineage_cmd, attest_cmd, models_group, gc_cmd, store_group):
        group.add_command(command)
