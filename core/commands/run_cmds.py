"""run, reproduce and runs: recorded, reproducible runs of commands."""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import EXIT_BLOCKED
from .options import count, echo_json, json_option, table


@click.command("run", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--name", help="A name for the run (runs can be found by it): letters, digits, '.', '_', '-'.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A parameter for the command (repeatable); VALUE is read as JSON when it is JSON.")
@click.option("--params-file", type=click.Path(path_type=Path, dir_okay=False),
              help="A JSON or TOML file of parameters (--param values win).")
@click.option("--seed", type=int, help="The seed (default: a random one, recorded).")
@click.option("--input", "inputs", multiple=True, metavar="PATH",
              help="An input to hash and keep (repeatable); inputs are also found automatically.")
@click.option("--output", "outputs", multiple=True, metavar="PATH",
              help="An output to hash and keep (repeatable); outputs are also found automatically.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def run_cmd(name, params, params_file, seed, inputs, outputs, command) -> int:
    """Run COMMAND as a recorded run: snapshot, metrics, inputs, outputs and lineage.

    \b
    gitgov run --param lr=0.1 --seed 7 -- python train.py
    The command's exit status is passed through.
    """
    from ..run_params import load_params_file, parse_param
    from ..run_request import RunRequest
    from ..runs import start

    values = load_params_file(params_file) if params_file else {}
    values.update(parse_param(p) for p in params)
    return start(RunRequest(command=tuple(command), name=name, params=values, seed=seed,
                            inputs=tuple(inputs), outputs=tuple(outputs)))


@click.command("reproduce")
@click.argument("run_ref", metavar="RUN")
@click.option("--tolerance", "tolerances", multiple=True, metavar="NAME=REL",
              help="Let metric NAME differ by this fraction of its value (repeatable).")
@click.option("--keep", is_flag=True, hidden=True, help="Keep the worktree (for debugging).")
@json_option
def reproduce_cmd(run_ref: str, tolerances: tuple[str, ...], keep: bool, as_json: bool) -> int:
    """Re-run RUN in a clean worktree and check that it gives the same outputs.

    Exit 0 when every output is bit-identical and every metric within its
    tolerance, 1 when something differs, 2 when it cannot be attempted.
    """
    from ..reproduce import check_runnable, parse_tolerances, record, reproduce
    from ..run_query import resolve
    from ..session import Session

    limits = parse_tolerances(tolerances)
    with Session.open(".") as session:
        run = resolve(session.ctx.ledger(), run_ref)
        check_runnable(session.repo, run, limits)  # say why not before announcing anything
        if not as_json:
            click.echo(f"gitgov: reproducing run {run.short} at {run.commit[:12]} in a fresh worktree",
                       err=True)
        cmp = reproduce(session, run, limits, quiet_stdout=as_json, keep=keep)
        record(session, run, cmp)
    if as_json:
        echo_json({"run_id": run.run_id, **cmp.to_dict()})
    else:
        _print_comparison(run, cmp)
    return 0 if cmp.verdict == "reproduced" else EXIT_BLOCKED


def _print_comparison(run, cmp) -> None:
    if cmp.verdict == "reproduced":
        click.echo(f"gitgov: run {run.short} reproduced: {len(cmp.outputs)} output(s) bit-identical, "
                   f"{len(cmp.metrics)} metric(s) within tolerance")
    else:
        click.echo(f"gitgov: run {run.short} did NOT reproduce:")
        for problem in cmp.problems:
            click.echo(f"  - {problem}")
    for note in cmp.notes:
        click.echo(f"  {note}")
    if cmp.packages:
        click.echo(f"  packages that differ from the snapshot ({len(cmp.packages)}):")
        for d in cmp.packages[:20]:
            click.echo(f"    {d['name']}: {d['recorded'] or 'absent'} then, {d['current'] or 'absent'} now")


@click.group("runs")
def runs_group() -> None:
    """List, show and compare recorded runs."""


@runs_group.command("list")
@click.option("-n", "--limit", type=count(), default=20, show_default=True)
@click.option("--name", help="Only runs with this name.")
@json_option
def runs_list(limit: int, name: str | None, as_json: bool) -> int:
    """The newest runs first."""
    from ..run_query import list_runs, open_repo_ledger
    from ..run_report import LIST_HEADERS, list_rows

    _repo, ledger = open_repo_ledger()
    with ledger:
        runs = list_runs(ledger, limit, name)
    if as_json:
        echo_json([r.to_dict() for r in runs])
    elif not runs and name:
        click.echo(f"gitgov: no run named '{name}'; `gitgov runs list` shows all runs")
    elif not runs:
        click.echo("gitgov: no runs yet; start one with `gitgov run -- COMMAND`")
    else:
        click.echo(table(list_rows(runs), LIST_HEADERS))
    return 0


@runs_group.command("show")
@click.argument("run_ref", metavar="RUN")
@json_option
def runs_show(run_ref: str, as_json: bool) -> int:
    """Everything recorded about RUN (an id, an id prefix of 4 or more characters, a name or 'last')."""
    from ..run_query import open_repo_ledger, resolve
    from ..run_report import show
    from ..store import ObjectStore

    repo, ledger = open_repo_ledger()
    with ledger:
        run = resolve(ledger, run_ref)
    if as_json:
        echo_json(run.to_dict())
    else:
        click.echo(show(run, ObjectStore.for_repo(repo).has))
    return 0


@runs_group.command("diff")
@click.argument("first", metavar="RUN1")
@click.argument("second", metavar="RUN2")
@json_option
def runs_diff(first: str, second: str, as_json: bool) -> int:
    """RUN1 and RUN2 side by side: params, metrics, inputs, outputs, environment, packages."""
    from ..run_query import open_repo_ledger, resolve
    from ..run_report import diff_rows

    _repo, ledger = open_repo_ledger()
    with ledger:
        a, b = resolve(ledger, first), resolve(ledger, second)
    rows = diff_rows(a, b)
    if as_json:
        echo_json({"runs": [a.run_id, b.run_id],
                   "rows": [dict(zip(("section", "key", "run1", "run2", "differs"), r[:4] + [bool(r[4])]))
                            for r in rows]})
        return 0
    click.echo(table(rows, ["", "", a.short, b.short, "differs"]))
    return 0


def register(group: click.Group) -> None:
    for command in (run_cmd, reproduce_cmd, runs_group):
        group.add_command(command)
