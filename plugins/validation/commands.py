"""gitgov check, profile, infer and quality: data quality outside the hooks."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gitgov.core.commands.options import count, echo_json, json_option
from gitgov.core.errors import EXIT_BLOCKED, InputError


def _rel(repo_root: Path, arg: str) -> str:
    """A path given on the command line, relative to the repository root, with "/"."""
    full = Path(arg).resolve()
    if not full.exists():
        raise InputError(f"{arg}: no such file")
    if full.is_dir():
        raise InputError(f"{arg}: is a directory; give files, or --dataset NAME")
    try:
        return full.relative_to(Path(repo_root).resolve()).as_posix()
    except ValueError:
        raise InputError(f"{arg}: is outside the repository {repo_root}") from None


def _targets(session: Any, paths: tuple[str, ...], dataset: str | None) -> list[tuple[str, str | None]]:
    """(path, dataset name) for each file to check."""
    from .sources import worktree_files

    policy, repo = session.policy, session.repo
    if dataset is not None and dataset not in policy.datasets:
        known = ", ".join(policy.datasets) or "none"
        raise InputError(f"no dataset named '{dataset}' in gitgov.toml (datasets: {known})")
    if paths:
        out = []
        given: dict[str, str] = {}  # a file named twice is checked once
        for arg in paths:
            given.setdefault(_rel(repo.root, arg), arg)
        for rel, arg in given.items():
            ds = policy.datasets[dataset] if dataset else policy.dataset_for(rel)
            if ds is None:
                raise InputError(f"{arg}: is in no dataset of gitgov.toml; name one with --dataset "
                                 "NAME, or add its path to a dataset's `paths`")
            out.append((rel, ds.name))
        return out
    files = worktree_files(repo)
    out = _owned(policy, files, dataset)
    if not out and dataset is not None and any(policy.datasets[dataset].matches(p) for p in files):
        raise InputError(_nothing_to_check(policy, files, dataset))  # another dataset owns them
    return out


def _nothing_to_check(policy: Any, paths: list[str], dataset: str) -> str:
    ds = policy.datasets[dataset]
    taken = sorted({policy.dataset_for(p).name for p in paths if ds.matches(p)})
    from .infer import next_step

    # Its globs match, but an earlier dataset owns those files: say so, not just "none".
    return (f"no files belong to dataset '{dataset}': the files its paths match belong to "
            f"{', '.join(repr(n) for n in taken)}, listed before it; to check one by its rules, "
            f"name it: {next_step(dataset)} PATH")


def _owned(policy: Any, paths: list[str], dataset: str | None) -> list[tuple[str, str]]:
    """(path, dataset) with each file under the first dataset that matches it, as the hooks
    see it: a file two datasets match is checked once, by the rules that guard its commits."""
    order = {name: i for i, name in enumerate(policy.datasets)}
    out = [(p, ds.name) for p in paths if (ds := policy.dataset_for(p)) is not None]
    if dataset is not None:
        out = [t for t in out if t[1] == dataset]
    return sorted(out, key=lambda t: (order[t[1]], t[0]))


@click.command("check")
@click.argument("paths", nargs=-1, type=click.Path(dir_okay=True))
@click.option("--dataset", "dataset", metavar="NAME", help="Check as this dataset (default: by path); "
              "without PATHs, every file of it.")
@click.option("--quarantine", "quarantine", metavar="DIR", type=click.Path(file_okay=False),
              help="Write the passing and the failing rows into two files in DIR.")
@click.option("--force", is_flag=True, help="Check again even what passed under the same rules.")
@click.option("-v", "--verbose", is_flag=True, help="List the rules that passed too.")
@json_option
def check_cmd(paths: tuple[str, ...], dataset: str | None, quarantine: str | None, force: bool,
              verbose: bool, as_json: bool) -> int:
    """Check data files against their dataset's rules, as the pre-commit hook does."""
    from gitgov.core.commands.options import open_session
    from gitgov.core.events import DataAdded

    from .hook import options
    from .report import render_text, to_json
    from .sources import hash_later

    with open_session(require_ledger=False) as session:
        for info in session.host.load_errors:  # as the hooks say it: a skipped plugin checks nothing
            click.echo(info.skipped_warning, err=True)
        targets = _targets(session, paths, dataset)
        if not targets and not as_json:  # a new repository: nothing to check is no failure
            where = f" in dataset '{dataset}'" if dataset else ""
            click.echo(f"gitgov: no governed files to check{where}", err=True)
            return 0
        planned = _plan(session, targets, quarantine)
        opts = options(session.ctx)
        # The files' blob ids are hashed on another thread from now on, while the rest starts up.
        opts["hashes"] = hash_later(session.repo, [p for p, _d in targets])
        _compile_all(session, {d for _p, d in targets if d})  # bad rules: exit 2, before anything
        opts["force"] = force or quarantine is not None
        actor = session.actor()
        events = [DataAdded(path=p, dataset=d, stage="checked", actor=actor, source="cli")
                  for p, d in targets]
        outcome = session.emit(events)
        failed = [f for f in outcome.findings if f.plugin == "validation" and f.code in _FAILURES]
        reports = [opts["reports"].get(p) or _not_validated(p, d, failed) for p, d in targets]
        if planned is not None:
            from .quarantine import split_all

            split_all(session, reports, planned)
        others = [f for f in outcome.findings if f.plugin != "validation" or f.code == "config"]
        if as_json:
            doc = to_json(reports)
            doc["findings"] = [f.to_dict() for f in others]
            doc["ok"] = doc["ok"] and not any(f.blocks for f in others)
            echo_json(doc)
        else:
            click.echo(render_text(reports, verbose=verbose))
            _echo_others(others)
        return EXIT_BLOCKED if outcome.blocked else 0


def _plan(session: Any, targets: list[tuple[str, str]], quarantine: str | None) -> dict | None:
    if quarantine is None:
        return None
    from .quarantine import governed_outputs, plan

    planned = plan(session.repo.root, [p for p, _d in targets], Path(quarantine))
    for out, ds in governed_outputs(session.repo.root, session.policy, planned):
        click.echo(f"gitgov: warning: --quarantine {quarantine}: {out} matches the paths of dataset "
                   f"{ds}, so `git add` would take the split files for {ds} data; choose a DIR "
                   "outside every dataset's paths, or list it in .gitignore", err=True)
    return planned


def _compile_all(session: Any, names: set[str]) -> None:
    from .hook import registry_for
    from .ruleset import compile_rules

    if not session.policy.plugins.allows("validation"):
        return
    registry = registry_for(session.ctx)
    for name in sorted(names):
        compile_rules(session.policy, session.policy.datasets[name], registry)


_FAILURES = ("plugin-error", "plugin-timeout", "plugin-skipped")  # the plugin itself failed


def _not_validated(path: str, dataset: str | None, failed: list) -> Any:
    """The report of a file the plugin gave none for: it is off, or it failed (then the file
    was not checked, which is no pass)."""
    from .report import FileReport
    from .tally import Tally

    if not failed:
        return FileReport(path, dataset, "", skipped="the validation plugin is disabled")
    tally = Tally("check-failed", "file", None, "error", failed[0].message)
    tally.add(None, None)
    return FileReport(path, dataset, "", results=[tally])


def _echo_others(findings: list) -> None:
    from gitgov.core.report import format_findings

    shown = [f for f in findings if f.severity != "info"]
    if shown:
        click.echo("other findings:")
        click.echo(format_findings(shown))


@click.command("profile")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dataset", metavar="NAME", help="Use this dataset's declared types and format.")
@json_option
def profile_cmd(path: str, dataset: str | None, as_json: bool) -> int:
    """Show a file's schema and column statistics (nulls, distinct, range, mean, top values)."""
    from .profiling import profile_file, render_profile

    result = profile_file(Path(path), dataset)
    unread = [p for p in result["problems"] if p["rule"].startswith("read.")]
    if unread and not result["columns"]:  # nothing to profile: bad input, not a finding
        raise InputError(f"{path}: {unread[0]['message']}")
    if as_json:
        echo_json(result)
    else:
        click.echo(render_profile(result))
    return EXIT_BLOCKED if result.get("problems") else 0


@click.command("infer")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dataset", "dataset", metavar="NAME", required=True,
              help="Name of the new dataset in gitgov.toml.")
@click.option("--force", is_flag=True, help="Re-infer an existing dataset, keeping the keys written by "
              "hand.")
@click.option("--print", "print_only", is_flag=True, help="Print the rules; do not write gitgov.toml.")
def infer_cmd(path: str, dataset: str, force: bool, print_only: bool) -> int:
    """Write a starter rule set for a new dataset into gitgov.toml, from a sample file."""
    from .infer import infer_into

    inferred = infer_into(Path(path), dataset, force=force, write=not print_only)
    if print_only:
        click.echo(inferred.block, nl=False)
    for note in inferred.notes:
        click.echo(f"gitgov: {note}", err=print_only)
    for warning in inferred.warnings:
        click.echo(f"gitgov: warning: {warning}", err=True)
    return 0


@click.command("quality")
@click.argument("dataset")
@click.option("--path", "path", help="Only versions of this file.")
@click.option("-n", "--limit", type=count(), default=8, show_default=True,
              help="How many of the newest versions to show in the text table.")
@click.option("--all", "show_all", is_flag=True, help="Show every metric, not just the main ones.")
@json_option
def quality_cmd(dataset: str, path: str | None, limit: int, show_all: bool, as_json: bool) -> int:
    """Show a dataset's quality metrics across its versions."""
    from .history import history, render_history

    data = history(dataset, path)
    if as_json:
        echo_json(data)
    else:
        click.echo(render_history(data, limit=limit, show_all=show_all))
    return 0


def register(cli: click.Group) -> None:
    for command in (check_cmd, profile_cmd, infer_cmd, quality_cmd):
        if command.name not in cli.commands:
            cli.add_command(command)

