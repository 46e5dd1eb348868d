"""`gitgov check PATH --quarantine DIR`: split a file into the rows that pass and those that fail.

A second pass over the file (the check before found the repeated keys)
writes each row to NAME.passed.EXT or NAME.failed.EXT in DIR, in the folder
the file has in the repository (data/raw/x.csv: DIR/data/raw/x.passed.csv),
in the source format. Failing rows carry two more fields: `_gitgov_row`, the data row they
had, and `_gitgov_failures`, the rules they broke. Rows the reader could not
split into fields go to the failed file with their text. The input file is
never written.
"""
from __future__ import annotations

import contextlib
import csv
import gzip
import json
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import IO, Any, Iterator

from gitgov.core import arrow_values as av
from gitgov.core.errors import InputError

ROW, FAILURES = "_gitgov_row", "_gitgov_failures"
PARTIAL = ".gitgov-quarantine-"  # + pid: a split in progress (see _written_whole)


def out_paths(path: str, outdir: Path) -> tuple[Path, Path]:
    """The two outputs of one input, at its place in the repository under DIR: inputs of the
    same name in different folders never share an output."""
    rel = PurePosixPath(path)
    stem, dot, ext = rel.name.partition(".")
    ext = dot + ext if dot else ""
    folder = outdir.joinpath(*rel.parent.parts)
    return folder / f"{stem}.passed{ext}", folder / f"{stem}.failed{ext}"


def plan(root: Path, paths: list[str], outdir: Path) -> dict[str, tuple[Path, Path]]:
    """Each input's outputs, decided before the check runs, so that a run that would write
    over one of its own inputs, or write one output twice, stops before anything is written."""
    from gitgov.core.atomic import unwritable

    why = unwritable(outdir)
    if why:
        raise InputError(f"--quarantine {outdir}: cannot write there: {why}")
    inputs = {(Path(root) / p).resolve(): p for p in paths}
    planned = {p: out_paths(p, outdir) for p in paths}
    seen: dict[Path, str] = {}
    for path, outs in planned.items():
        for out in outs:
            target = out.resolve()
            if target in inputs:
                raise InputError(f"--quarantine {outdir}: {path} would overwrite the input "
                                 f"{inputs[target]}; choose another DIR")
            if target in seen:
                raise InputError(f"--quarantine {outdir}: {seen[target]} and {path} would both "
                                 f"write {out}")
            seen[target] = path
    return planned


def governed_outputs(root: Path, policy: Any, planned: dict[str, tuple[Path, Path]]) -> list[tuple[str, str]]:
    """(output, dataset) for the first output of each dataset whose paths an output matches."""
    found: dict[str, str] = {}
    top = Path(root).resolve()
    for outs in planned.values():
        for out in outs:
            try:
                rel = out.resolve().relative_to(top).as_posix()
            except ValueError:
                continue  # outside the repository
            ds = policy.dataset_for(rel)
            if ds is not None and ds.name not in found and not _ignored(top, rel):
                found[ds.name] = rel
    return [(rel, name) for name, rel in found.items()]


def _ignored(root: Path, rel: str) -> bool:
    import subprocess

    done = subprocess.run(["git", "check-ignore", "-q", "--no-index", "--", rel], cwd=root,
                          capture_output=True)
    return done.returncode == 0


def split_all(session: Any, reports: list, planned: dict[str, tuple[Path, Path]]) -> None:
    from .hook import options

    keep = options(session.ctx).get("keep", {})
    for report in reports:
        state = keep.get(report.path)
        if report.skipped or not state or "ruleset" not in state:
            continue
        report.quarantine = split(session.repo.root, report.path, state, planned[report.path])


def split(root: Path, path: str, state: dict[str, Any], outs: tuple[Path, Path]) -> dict[str, Any]:
    from .engine import Engine
    from .formats import Source, open_batches
    from .jsonread import open_lines
    from .report import FileReport

    rs, fmt = state["ruleset"], state["fmt"]
    full = str(Path(root) / path)
    source = Source(path, lambda: open(full, "rb"), local=full)
    passed, failed = outs
    try:
        passed.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # what unwritable() cannot foresee (/proc, a full disk)
        raise InputError(f"cannot make the folder {passed.parent}: {exc.strerror or exc}") from None
    if state.get("reopened"):
        opened = open_lines(source, fmt)
    else:
        opened = open_batches(source, fmt, delimiter=rs.delimiter, null_values=rs.null_values)
    with _written_whole(outs) as (passed_tmp, failed_tmp):
        writer = _writer(fmt, source, opened, passed_tmp, failed_tmp, rs.delimiter)
        engine = Engine(rs, FileReport(path, rs.dataset, str(fmt)),
                        references=state.get("references"), known_repeats=state.get("repeats"),
                        on_batch=writer.write)
        try:
            with opened:
                engine.run(opened)
            writer.problems(opened.problems)
        finally:
            writer.close()
    return {"passed": str(passed), "failed": str(failed), "passed_rows": writer.passed_rows,
            "failed_rows": writer.failed_rows}


@contextlib.contextmanager
def _written_whole(outs: tuple[Path, Path]) -> Iterator[tuple[Path, Path]]:
    """Paths to write both outputs to, in a private folder beside them, moved into place once
    the split is complete. A split that fails or is killed never leaves a file cut short
    under an output's name: a passed file with rows missing would look like a result.
    (The files keep their own names there, which gzip writes into its header.)"""
    passed, failed = outs
    _remove_leftovers(passed.parent)
    try:
        folder = Path(tempfile.mkdtemp(dir=passed.parent, prefix=f"{PARTIAL}{os.getpid()}-"))
    except OSError as exc:
        raise InputError(f"cannot write {passed}: {exc.strerror or exc}") from None
    try:
        yield folder / passed.name, folder / failed.name
        os.replace(folder / passed.name, passed)
        os.replace(folder / failed.name, failed)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _remove_leftovers(parent: Path) -> None:
    """The folders of splits whose process is gone (killed): another run's are kept."""
    from gitgov.core.process import alive

    for folder in parent.glob(f"{PARTIAL}*-*"):
        pid = folder.name[len(PARTIAL):].split("-", 1)[0]
        if pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _reasons(n: int, masks: list[tuple[str, Any]]) -> list[str]:
    """For each row of a batch, the ids of the rules it broke, joined by "; "."""
    from gitgov.core import arrow_kernels as pc

    out = [[] for _ in range(n)]
    for rule_id, mask in masks:
        for i in pc.indices_nonzero(mask).to_pylist():
            if rule_id not in out[i]:
                out[i].append(rule_id)
    return ["; ".join(r) for r in out]


class _Writer:
    def __init__(self, opened: Any):
        self.opened = opened
        self.passed_rows = self.failed_rows = 0

    def write(self, batch: Any, kept: int, masks: list) -> None:
        reasons = _reasons(batch.num_rows, masks)
        rows = [self.opened.data_row(kept + i) if r else None for i, r in enumerate(reasons)]
        self.failed_rows += sum(1 for r in reasons if r)
        self.passed_rows += sum(1 for r in reasons if not r)
        self.emit(batch, reasons, rows)

    def problems(self, problems: list) -> None:
        for p in problems:
            self.failed_rows += 1
            self.broken(p.row, f"read.{p.code}: {p.message}", p.raw or p.text)


class _CsvWriter(_Writer):
    """CSV/TSV with the csv module: quotes only where needed, bytes kept as they were."""

    def __init__(self, opened: Any, passed: Path, failed: Path, sep: str, gz: bool):
        super().__init__(opened)
        self.names = list(opened.names)
        self.files = [_open_text(passed, gz), _open_text(failed, gz)]
        self.out = [csv.writer(f, delimiter=sep, lineterminator="\n") for f in self.files]
        self.out[0].writerow(self.names)
        self.out[1].writerow(self.names + [ROW, FAILURES])

    def emit(self, batch: Any, reasons: list[str], rows: list) -> None:
        columns = [_texts(batch.column(i)) for i in range(batch.num_columns)]
        for i, reason in enumerate(reasons):
            values = [col[i] for col in columns]
            if reason:
                self.out[1].writerow(values + [rows[i], reason])
            else:
                self.out[0].writerow(values)

    def broken(self, row: int | None, reason: str, text: str) -> None:
        self.out[1].writerow([""] * len(self.names) + [row or "", f"{reason}: {text}"])

    def close(self) -> None:
        for f in self.files:
            f.close()


class _JsonlWriter(_Writer):
    """JSON Lines: passing rows are copied byte for byte from the input."""

    def __init__(self, opened: Any, source: Any, fmt: Any, passed: Path, failed: Path):
        from .jsonread import _lines

        super().__init__(opened)
        self.lines = _lines(source, fmt)
        self.skip = set(opened.skipped)
        self.files = [_open_bytes(passed, fmt.gzip), _open_bytes(failed, fmt.gzip)]

    def _next(self) -> tuple[int, bytes]:
        for number, line in self.lines:
            if number not in self.skip and line.strip():
                return number, line
        raise InputError("the file changed while it was split")

    def emit(self, batch: Any, reasons: list[str], rows: list) -> None:
        for reason in reasons:
            number, line = self._next()
            if not reason:
                self.files[0].write(line.rstrip(b"\r") + b"\n")
                continue
            obj = json.loads(line)
            obj.update({ROW: number, FAILURES: reason})
            self.files[1].write(json.dumps(obj, ensure_ascii=False).encode() + b"\n")

    def broken(self, row: int | None, reason: str, text: str) -> None:
        record = {ROW: row, FAILURES: f"{reason}: {text}"}
        self.files[1].write(json.dumps(record, ensure_ascii=False).encode() + b"\n")

    def close(self) -> None:
        for f in self.files:
            f.close()


class _ArrowWriter(_Writer):
    """Parquet and Arrow IPC: the batches as read, plus the two fields on failing rows."""

    def __init__(self, opened: Any, passed: Path, failed: Path, kind: str):
        super().__init__(opened)
        self.kind, self.paths = kind, (passed, failed)
        self.writers: list[Any] = [None, None]

    def _open(self, which: int, schema: Any) -> Any:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.writers[which] is None:
            path = str(self.paths[which])
            self.writers[which] = (pq.ParquetWriter(path, schema) if self.kind == "parquet"
                                   else pa.ipc.new_file(path, schema))
        return self.writers[which]

    def emit(self, batch: Any, reasons: list[str], rows: list) -> None:
        import pyarrow as pa
        from gitgov.core import arrow_kernels as pc

        failed = av.mask([bool(r) for r in reasons])
        good = batch.filter(pc.invert(failed))
        bad = batch.filter(failed)
        self._open(0, batch.schema).write_batch(good)
        extra = bad.append_column(ROW, av.array([r for r in rows if r is not None], pa.int64()))
        extra = extra.append_column(FAILURES, av.array([r for r in reasons if r], pa.string()))
        self._open(1, extra.schema).write_batch(extra)

    def broken(self, row: int | None, reason: str, text: str) -> None:
        pass  # binary formats have no ragged rows

    def close(self) -> None:
        import pyarrow as pa

        schema = pa.schema([(n, pa.null()) for n in self.opened.names])
        for which in (0, 1):
            if self.writers[which] is None:  # keep both files, even when one is empty
                self._open(which, schema if which == 0 else schema.append(pa.field(ROW, pa.int64()))
                           .append(pa.field(FAILURES, pa.string())))
            self.writers[which].close()


def _writer(fmt: Any, source: Any, opened: Any, passed: Path, failed: Path,
            delimiter: str | None) -> _Writer:
    if fmt.name in ("csv", "tsv"):
        sep = delimiter or ("\t" if fmt.name == "tsv" else ",")
        return _CsvWriter(opened, passed, failed, sep, fmt.gzip)
    if fmt.name == "jsonl":
        return _JsonlWriter(opened, source, fmt, passed, failed)
    return _ArrowWriter(opened, passed, failed, fmt.name)


def _texts(arr: Any) -> list[str]:
    return ["" if v is None else v.decode("utf-8", "surrogateescape") if isinstance(v, bytes)
            else str(v) for v in arr.to_pylist()]


def _open_text(path: Path, gz: bool) -> IO[str]:
    if gz:
        return gzip.open(path, "wt", newline="", encoding="utf-8", errors="surrogateescape")
    return open(path, "w", newline="", encoding="utf-8", errors="surrogateescape")


def _open_bytes(path: Path, gz: bool) -> IO[bytes]:
    return gzip.open(path, "wb") if gz else open(path, "wb")
