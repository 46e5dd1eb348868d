"""`gitgov catalog`, `gitgov catalog show NAME` and `gitgov report`."""
from __future__ import annotations

from pathlib import Path

import click

from gitgov.core.commands.options import echo_json, json_option
from gitgov.core.errors import InputError

EXTRA_HINT = "pip install 'gitgov[report]'"


@click.group("catalog", invoke_without_command=True)
@json_option
@click.pass_context
def catalog_group(ctx: click.Context, as_json: bool) -> int:
    """Every dataset: owners, classification, current version, quality and retention."""
    if ctx.invoked_subcommand is not None:
        return 0
    from . import catalog
    from .sources import open_sources
    from .text import catalog_text

    with open_sources() as src:
        entries = catalog.build(src)
    if as_json:
        echo_json(entries)
    else:
        click.echo(catalog_text(entries))
    return 0


@catalog_group.command("show")
@click.argument("name")
@json_option
def show_cmd(name: str, as_json: bool) -> int:
    """One dataset in full: schema, versions, quality metrics, lineage, recent audit entries."""
    from . import detail
    from .sources import open_sources
    from .text import show_text

    with open_sources() as src:
        data = detail.show(src, name)
    if as_json:
        echo_json(data)
    else:
        click.echo(show_text(data))
    return 0


@click.command("report")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default="report.html",
              show_default=True, help="The HTML file to write.")
@click.option("--no-verify", "skip_verify", is_flag=True,
              help="Do not recheck the ledger's hash chain (faster on a very long ledger).")
def report_cmd(output: Path, skip_verify: bool) -> int:
    """Write the governance report: one self-contained HTML page that loads nothing from the network."""
    if not output.name:  # "" or "/": click lets them through as paths
        raise click.BadParameter("needs a file name, e.g. -o report.html", param_hint="'-o' / '--output'")
    try:
        from .html import render
    except ImportError as exc:
        missing = (exc.name or "").split(".")[0] or exc  # the package to install, not its module
        raise InputError(f"gitgov report needs the report extra ({missing} is missing): {EXTRA_HINT}") from None
    from . import worker
    from .gather import add_audit, gather
    from .html import figures
    from .sources import open_sources

    with open_sources() as src:
        # The chain check hashes the whole journal: a second process does that
        # while this one gathers and draws the rest.
        proc = None if skip_verify else worker.start(src.root, verify=True)
        try:
            data = gather(src)
            figs = figures(data)
        except BaseException:
            if proc is not None:
                proc.kill()
                proc.wait()
            raise
        add_audit(src, data, {"verify": None} if proc is None else worker.answer(proc, src.root, verify=True))
    html = render(data, figs)
    _write(output, html)
    click.echo(f"gitgov: wrote {output} ({len(html.encode()) / 1e6:.1f} MB): {summary_line(data)}")
    check = data["audit"]["verify"]
    if check is not None and not check["ok"]:
        click.echo(f"gitgov: warning: the ledger FAILED verification at entry {check['first_bad_seq']}: "
                   f"{check['reason']}; the report says so at the top", err=True)
    return 0


def summary_line(data: dict) -> str:
    c = data["compliance"]
    return (f"{len(data['catalog'])} dataset(s), {data['run_count']} run(s), "
            f"{c['open_findings']['errors']} open error(s), {data['problems']} compliance issue(s)")


def _write(path: Path, text: str) -> None:
    """Write through a temporary file: a reader never sees half a report. A link keeps
    naming its file, and a pipe or device (-o /dev/stdout) is written to, not replaced."""
    from gitgov.core.atomic import kept_mode, replacing

    path = path.expanduser()
    if not path.parent.is_dir():
        raise InputError(f"cannot write {path}: {path.parent} is not a directory")
    try:
        with replacing(path, kept_mode(path)) as tmp:
            with open(tmp, "w", encoding="utf-8") as out:
                out.write(text)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


def register(cli: click.Group) -> None:
    cli.add_command(catalog_group)
    cli.add_command(report_cmd)
