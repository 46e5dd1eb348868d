"""`gitgov scan`, `gitgov protect` and `gitgov reveal`."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from gitgov.core.commands.options import count, echo_json, json_option, table
from gitgov.core.errors import EXIT_BLOCKED, InputError


def _session():
    from gitgov.core.config import load_policy
    from gitgov.core.git import Repo

    repo = Repo.discover(".")
    return repo, load_policy(repo.policy_path)


def _relpath(repo, path: str) -> str:
    full = Path(path).resolve()
    try:
        return full.relative_to(repo.root.resolve()).as_posix()
    except ValueError:
        return path


def _dataset(policy, rel: str, name: str | None):
    if name:
        ds = policy.datasets.get(name)
        if ds is None:
            raise InputError(f"no dataset '{name}' in gitgov.toml")
        return ds
    return policy.dataset_for(rel)


def _read(path: str, fmt: str | None, rev: str | None = None, repo=None, *, scan: bool = False):
    """The file as a table. A scan reads a gzip-compressed file through gzip (its head, if
    large); protect and reveal write what they read, so they take plain files only."""
    from .scan import format_of, plain, read_table

    fmt = format_of(path, fmt)
    if fmt is None:
        raise InputError(f"{path}: unknown format; give a .csv, .tsv, .parquet or .jsonl file")
    if rev:
        data = repo.git("show", f"{rev}:{_relpath(repo, path)}")
    else:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    from gitgov.core.crypto.fileformat import is_encrypted
    from gitgov.core.textsniff import GZIP_MAGIC

    if is_encrypted(data):
        raise InputError(f"{path}: the whole file is encrypted (encrypt = \"file\"); "
                         "run `gitgov unlock` to get its plain text")
    if data.startswith(GZIP_MAGIC):
        if not scan:
            raise InputError(f"{path}: gzip-compressed; protect and reveal write plain files: "
                             "decompress it first (gunzip -k), then compress the result")
        try:
            data = plain(data)
        except ValueError as exc:
            raise InputError(f"{path}: {exc}") from None
    return read_table(data, fmt, path), fmt


# ---- scan ----------------------------------------------------------------------------------

@click.command("scan")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--threshold", type=click.FloatRange(0, 1), help="Share of values that must match.")
@json_option
def scan_cmd(paths: tuple[str, ...], threshold: float | None, as_json: bool) -> int:
    """Look for personal data in data files: each column's kind and confidence."""
    from .check import column_findings
    from .scan import SAMPLE_ROWS, THRESHOLD, all_detectors, classify

    repo, policy = _session()
    conf = policy.plugins.settings.get("privacy", {})
    threshold = threshold if threshold is not None else float(conf.get("threshold", THRESHOLD))
    detectors, problems = all_detectors(policy, repo.root)
    for p in problems:
        click.echo(f"gitgov: warning: {p}", err=True)
    reports, blocked = [], False
    for path in paths:
        rel = _relpath(repo, path)
        ds = policy.dataset_for(rel)
        tbl, _fmt = _read(path, ds.format if ds else None, scan=True)
        scans = classify(tbl, detectors, int(conf.get("sample_rows", SAMPLE_ROWS)))
        rows = []
        for s in scans:
            decl = (ds.columns.get(s.column) or {}) if ds else {}
            issues = column_findings(s, ds.name, decl, rel, threshold) if ds else []
            blocked |= any(f.blocks for f in issues)
            rows.append({**s.to_dict(threshold), "declared": decl.get("protect"),
                         "problems": [f.message for f in issues if f.severity != "info"]})
        reports.append({"path": rel, "dataset": ds.name if ds else None, "rows": tbl.num_rows,
                        "columns": rows})
    if as_json:
        echo_json(reports)
    else:
        _print_scan(reports)
    return EXIT_BLOCKED if blocked else 0


def _print_scan(reports: list[dict]) -> None:
    for rep in reports:
        where = f"dataset {rep['dataset']}" if rep["dataset"] else "in no dataset"
        click.echo(f"{rep['path']} ({where}, {rep['rows']:,} rows)")
        rows = [[c["column"], c["kind"] or "-",
                 f"{c['confidence'] * 100:.0f}%" if c["kind"] else "-",
                 f"{c['sampled']:,}", c["declared"] or "-"] for c in rep["columns"]]
        click.echo("  " + table(rows, ["column", "looks like", "confidence", "sampled",
                                       "protect"]).replace("\n", "\n  "))
        for c in rep["columns"]:
            for message in c["problems"]:
                click.echo(f"  error: {message}")


# ---- protect --------------------------------------------------------------------------------

@click.command("protect")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Where to write (default: NAME.protected.EXT).")
@click.option("--in-place", is_flag=True, help="Replace the file itself.")
@click.option("--dataset", help="The dataset whose declarations apply (default: by path).")
@json_option
def protect_cmd(path: str, output: str | None, in_place: bool, dataset: str | None, as_json: bool) -> int:
    """Apply the column protections gitgov.toml declares: encrypt, pseudonymize, mask, drop."""
    from gitgov.core.crypto.audit import record
    from gitgov.core.keys import KeyStore

    from .protect import first_row, plans, protect_table

    if in_place and output:
        raise click.UsageError("give --in-place or --output, not both")
    repo, policy = _session()
    rel = _relpath(repo, path)
    ds = _dataset(policy, rel, dataset)
    if ds is None:
        raise InputError(f"{rel} is in no dataset of gitgov.toml; give --dataset NAME")
    tbl, fmt = _read(path, ds.format)
    plan = plans(ds, _detected_kinds(tbl, policy, repo))
    if not plan:
        raise InputError(f"dataset '{ds.name}' declares no column with protect = encrypt | "
                         "pseudonymize | mask | drop in gitgov.toml")
    first = first_row(fmt)
    dest = Path(path) if in_place else Path(output or _default_output(path))
    from gitgov.core.atomic import kept_mode, replacing

    with replacing(dest, kept_mode(dest)) as tmp:  # first: an unwritable one mints no key
        new, done = protect_table(tbl, ds, KeyStore.for_repo(repo), rel, plan, first)
        try:
            _write(new, fmt, tmp)
        except OSError as exc:  # a full disk, say: the file stays as it was
            raise InputError(f"cannot write {dest}: {exc.strerror or exc}") from None
    record(repo, "data_protected", rel, {**done, "output": _relpath(repo, str(dest))})
    if as_json:
        echo_json({"path": rel, "output": str(dest), **done})
        return 0
    cols = ", ".join(f"{c} ({m})" for c, m in done["columns"].items())
    click.echo(f"gitgov: protected {cols} in {done['rows']:,} rows -> {dest}")
    if done["key_id"]:
        click.echo(f"gitgov: data key {done['key_id'][:12]} of dataset '{ds.name}'")
    return 0


def _detected_kinds(tbl: Any, policy: Any, repo: Any) -> dict[str, str]:
    """What each column looks like, so masking keeps the shape (a***@example.com)."""
    from .scan import all_detectors, classify

    detectors, _ = all_detectors(policy, repo.root)
    return {s.column: best.kind for s in classify(tbl, detectors) if (best := s.best())}


def _default_output(path: str) -> str:
    p = Path(path)
    return str(p.with_name(f"{p.stem}.protected{p.suffix}"))


def write_table(tbl: Any, fmt: str, dest: Path) -> None:
    """Write atomically: a failure leaves the destination as it was (and its permissions)."""
    from gitgov.core.atomic import kept_mode, replacing

    with replacing(dest, kept_mode(dest)) as tmp:
        _write(tbl, fmt, tmp)


def _write(tbl: Any, fmt: str, dest: str | Any) -> None:
    if fmt in ("csv", "tsv"):
        import pyarrow.csv as pcsv

        pcsv.write_csv(tbl, dest, pcsv.WriteOptions(quoting_style="needed",
                                                    delimiter="\t" if fmt == "tsv" else ","))
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(tbl, dest)
    else:
        import json

        with (open(dest, "w", encoding="utf-8") if isinstance(dest, str) else dest) as f:
            for row in tbl.to_pylist():
                f.write(json.dumps(row, default=str) + "\n")


# ---- reveal -----------------------------------------------------------------------------------

def _writable(output: str) -> None:
    from gitgov.core.atomic import unwritable

    folder = Path(output).resolve().parent
    why = unwritable(folder) if folder.exists() else f"{folder} does not exist"
    if why:
        raise InputError(f"-o {output}: cannot write there: {why}")


def _may_reveal(repo, policy, ds, rel: str) -> None:
    """The access table's `reveal` column, enforced: a refusal is recorded, then exit 1.

    Whoever holds the key could still decrypt by other means; the role check makes the
    policy explicit and puts every attempt, granted or not, in the ledger."""
    if not policy.plugins.allows("access"):
        return
    from gitgov.core.crypto.audit import record
    from gitgov.core.errors import PolicyBlocked
    from gitgov.plugins.access.model import AccessModel

    decision = AccessModel.of(policy).decide(repo.identity(), "reveal", ds.name)
    if decision.allowed:
        return
    record(repo, "data_reveal_refused", rel, {"dataset": ds.name, "roles": list(decision.roles),
                                              "rule": decision.rule})
    raise PolicyBlocked(f"reveal refused: {decision.rule}" + (f"; to get access: {decision.fix}"
                                                               if decision.fix else ""))


@click.command("reveal")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--rev", help="Read the file as of this Git revision instead of the working tree.")
@click.option("--column", "columns", multiple=True, help="Only these columns (repeatable).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
@click.option("--limit", type=count(), help="Only the first N rows.")
@click.option("--dataset", help="The dataset the file belongs to (default: by path).")
def reveal_cmd(path: str, rev: str | None, columns: tuple[str, ...], output: str | None,
               limit: int | None, dataset: str | None) -> int:
    """Decrypt the encrypted columns of a file; the access is recorded in the ledger."""
    from gitgov.core.crypto.audit import record
    from gitgov.core.keys import KeyStore

    from .protect import first_row, reveal_table

    repo, policy = _session()
    rel = _relpath(repo, path)
    ds = _dataset(policy, rel, dataset)
    if ds is None:
        raise InputError(f"{rel} is in no dataset of gitgov.toml; give --dataset NAME")
    _may_reveal(repo, policy, ds, rel)
    if output:  # before the reveal is recorded
        _writable(output)
    tbl, fmt = _read(path, ds.format, rev, repo)
    if limit:
        tbl = tbl.slice(0, limit)
    first = first_row(fmt)
    plain, done = reveal_table(tbl, ds, KeyStore.for_repo(repo), rel, list(columns) or None, first)
    # Every value authenticated; the access is on record before a value is shown.
    record(repo, "data_revealed", rel, {**done, "rev": rev, "output": output})
    if output:
        write_table(plain, fmt, Path(output))
        click.echo(f"gitgov: revealed {', '.join(done['columns'])} of {done['rows']:,} rows -> {output}",
                   err=True)
    else:
        _write(plain, "csv" if fmt != "tsv" else "tsv", sys.stdout.buffer)
        sys.stdout.flush()
    return 0
