"""The right to erasure: remove one data subject's rows, and say where they still are.

The subject is recorded only as a keyed token, HMAC-SHA256 over
"COLUMN\\0VALUE" with a key from the repository's key store, so the ledger
proves that an erasure happened, and a later request for the same subject is
recognisable, without the ledger ever holding the value. Rows are removed
from the governed files in the working tree atomically (core/rowfilter.py);
copies in gitgov's object store (run inputs and outputs) are purged; the
daemon's logs are scrubbed. Git history cannot be changed from here: the
commits that still hold the subject are listed with what shredding a key or
rewriting history would do.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from .errors import InputError
from .rowfilter import RowError, filter_rows, format_of

ERASURE_KEY = "gitgov:erasure"  # a data key in the key ring used only for subject tokens
SCRUBBED = b"[erased]"
GREP_BATCH = 100
# An object that is no table is purged for holding the value only when the value is at
# least this long: a short id ("7") would match bytes of unrelated objects.
MIN_FREE_TEXT = 5


def parse_subject(text: str) -> tuple[str, str]:
    column, sep, value = text.partition("=")
    if not sep or not column.strip() or not value:
        raise InputError("--subject: expected COLUMN=VALUE, e.g. --subject email=ada@example.com")
    return column.strip(), value


def token_key(repo: Any, *, create: bool = True) -> bytes | None:
    """The key for subject tokens: a data key of the repository's key store, made on first use
    (None when it does not exist yet and `create` is false: a dry run changes nothing)."""
    from .crypto import MissingKey
    from .keys import KeyStore

    store = KeyStore.for_repo(repo)
    if not store.has_master():
        if not create:
            return None
        store.create_master()
    try:
        key = store.active_key(ERASURE_KEY, create=create)
    except MissingKey:
        return None
    return key.subkey("erasure-subject-token-v1")


def subject_token(key: bytes | None, column: str, value: str) -> str:
    if key is None:
        return "hmac-sha256:(no key yet; made by the first erasure)"
    digest = hmac.new(key, f"{column}\0{value}".encode("utf-8", "surrogateescape"), hashlib.sha256)
    return "hmac-sha256:" + digest.hexdigest()


def as_text(cell: Any) -> str | None:
    """A cell as the text a user would type for it."""
    if cell is None or isinstance(cell, str):
        return cell
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, (date, datetime)):
        return cell.isoformat()
    return str(cell)


@dataclass
class FileHit:
    path: str
    dataset: str
    rows_before: int
    rows_removed: int
    sha256_before: str = ""
    sha256_after: str | None = None
    cells: frozenset[str] = frozenset()  # the subject's protected values in this file, as written
    swap: dict[str, str] = field(default_factory=dict)  # encrypted values re-bound to new row numbers


@dataclass
class Report:
    column: str
    token: str
    files: list[FileHit] = field(default_factory=list)
    no_column: list[str] = field(default_factory=list)  # governed files without that column
    with_column: int = 0  # governed files that have it
    in_datasets: set[str] = field(default_factory=set)  # the datasets of those files
    elsewhere: list[str] = field(default_factory=list)  # files still holding the value in another column
    commits: dict[str, list[str]] = field(default_factory=dict)  # commit -> paths
    objects: list[dict] = field(default_factory=list)  # {"sha256", "runs": [...]}
    kept_objects: list[dict] = field(default_factory=list)  # hold the value, not as the subject's row
    logs: list[str] = field(default_factory=list)
    ledger_mentions: int = 0
    shredded: list[str] = field(default_factory=list)  # files whose column only shredded keys could read

    @property
    def rows_removed(self) -> int:
        return sum(f.rows_removed for f in self.files)


def _files(session: Any, dataset: str | None) -> list[tuple[str, Any]]:
    from .watch.reconcile import walk
    from .watch.scope import Scope

    policy = session.policy
    if dataset is not None and dataset not in policy.datasets:
        raise InputError(f"no dataset '{dataset}' in gitgov.toml (datasets: {', '.join(policy.datasets) or 'none'})")
    out = []
    for ds in policy.datasets.values():
        if dataset is None or ds.name == dataset:
            scan = walk(Scope.for_globs(session.repo.root, ds.paths, policy))
            out += [(rel, ds) for rel in sorted(scan.files)]
    return out


def find_rows(session: Any, column: str, value: str, dataset: str | None, report: Report) -> None:
    """Count the subject's rows in every governed file; change nothing."""
    from . import erase_protected as protected

    for rel, ds in _files(session, dataset):
        fmt = format_of(rel, ds.format)
        if fmt is None:
            continue
        probe = protected.Probe(value)
        try:
            result = _filter(session, rel, fmt, column, probe, write=False)
        except RowError as exc:
            if f"no column '{column}'" in str(exc) or f"field '{column}'" in str(exc):
                report.no_column.append(rel)
                continue
            raise
        report.with_column += 1
        report.in_datasets.add(ds.name)
        protected.refuse_masked(ds, column)
        cells: frozenset[str] = frozenset()
        if probe.protected:  # ciphertexts or pseudonyms: the typed value cannot match them as text
            try:
                cells = protected.subject_cells(session, rel, ds, fmt, column, value)
            except protected.AllShredded:
                report.shredded.append(rel)
                continue
            result = _filter(session, rel, fmt, column, protected.matcher(value, cells), write=False)
        if result.removed:
            swap = protected.rebind(session.repo, rel, ds, fmt, column, protected.matcher(value, cells), result)
            report.files.append(FileHit(rel, ds.name, result.rows_before, result.removed,
                                        result.sha256_before, result.sha256_after, cells, swap))


def _filter(session: Any, rel: str, fmt: str, column: str, drop: Any, *, write: bool,
            swap: dict[str, str] | None = None) -> Any:
    return filter_rows(session.repo.root / rel, fmt, column, drop, write=write, show=rel,
                       label=f"--subject {column}=...", swap=swap)


def erase_file(session: Any, hit: FileHit, column: str, value: str) -> FileHit:
    """Rewrite one file without the subject's rows (atomically)."""
    from .erase_protected import matcher

    ds = session.policy.datasets[hit.dataset]
    result = _filter(session, hit.path, format_of(hit.path, ds.format), column, matcher(value, hit.cells),
                     write=True, swap=hit.swap)
    return FileHit(hit.path, hit.dataset, result.rows_before, result.removed, result.sha256_before,
                   result.sha256_after)


def remaining(session: Any, value: str, report: Report) -> None:
    """Governed files that still hold the value's bytes (another column, free text)."""
    needle = value.encode("utf-8", "surrogateescape")
    for rel, _ds in _files(session, None):
        try:
            if needle in (session.repo.root / rel).read_bytes():
                report.elsewhere.append(rel)
        except OSError:
            continue


def history(session: Any, value: str, report: Report) -> None:
    """Commits on any ref whose governed files contain the value (git grep, fixed string)."""
    repo = session.repo
    revs = repo.git("rev-list", "--all", check=False).decode().split()
    specs = [f":(glob){g}" for g in session.policy.governed_patterns()]
    if not revs or not specs:
        return
    for i in range(0, len(revs), GREP_BATCH):
        out = repo.git("grep", "-l", "-I", "-F", "-e", value, *revs[i:i + GREP_BATCH], "--", *specs,
                       check=False)
        for line in out.decode("utf-8", "replace").splitlines():
            rev, _, path = line.partition(":")
            report.commits.setdefault(rev[:12], []).append(path)


def check_column(session: Any, column: str, dataset: str | None, report: Report) -> None:
    """Refuse a column no governed file has and no dataset declares: a typo would otherwise
    go on to search the objects and the history for a bare value."""
    if report.with_column or not report.no_column:
        return
    declared = sorted({c for ds in session.policy.datasets.values() if dataset in (None, ds.name)
                       for c in ds.columns})
    if column in declared:
        return
    known = f"declared columns: {', '.join(declared)}" if declared else "no dataset declares its columns"
    raise InputError(f"--subject {column}=...: no governed file has a column '{column}' ({known})")


def objects(session: Any, column: str, value: str, report: Report, purge: bool) -> None:
    """Objects in .gitgov/objects holding the subject; purged unless this is a dry run.

    A table (known by the path a run recorded for it, or Parquet's magic bytes) holds the
    subject when a row has the value in the column; any other object when it holds the
    value's bytes and the value is not too short to say so. The rest is only reported."""
    from .store import ObjectStore

    store = ObjectStore.for_repo(session.repo, session.policy)
    needle = value.encode("utf-8", "surrogateescape")
    for digest in list(store.digests()):
        path = store.path(digest)
        if not _object_holds(path, needle, value):
            continue
        uses = _run_files(session, digest)
        item = {"sha256": digest, "runs": [f"{role} {rel} of run {run_id}" for run_id, role, rel in uses]}
        if _holds_subject(path, [rel for _r, _role, rel in uses], column, value):
            report.objects.append(item)
            if purge:
                store.remove(digest)
        else:
            report.kept_objects.append(item)


def _holds_subject(path: Path, names: list[str], column: str, value: str) -> bool:
    fmt = next((f for f in map(format_of, names) if f), None)
    if fmt is None and _starts_with(path, b"PAR1"):
        fmt = "parquet"
    if fmt is None:
        return len(value) >= MIN_FREE_TEXT
    try:
        found = filter_rows(path, fmt, column, lambda cell: as_text(cell) == value, write=False,
                            show=path.name, label=f"--subject {column}=...")
    except RowError:  # not a table after all, or without the column
        return False
    return found.removed > 0


def _starts_with(path: Path, magic: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(magic)) == magic
    except OSError:
        return False


def _object_holds(path: Path, needle: bytes, value: str) -> bool:
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if needle in data:
        return True
    if data[:4] == b"PAR1":  # compressed columns: search the decoded values
        try:
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            return any(as_text(v) == value for col in table.columns for v in col.to_pylist())
        except Exception:  # noqa: BLE001 - not readable as Parquet: the raw search stands
            return False
    return False


def _run_files(session: Any, digest: str) -> list[tuple[str, str, str]]:
    """(run id, role, path) of every run input or output stored as this object."""
    try:
        return session.ctx.ledger().db.execute(
            "SELECT run_id, role, path FROM run_files WHERE sha256 = ?", (digest,)).fetchall()
    except Exception:  # noqa: BLE001 - a ledger without run tables
        return []


def scrub_logs(session: Any, value: str, report: Report) -> None:
    """Replace the value in gitgov's own logs (they are derived; the ledger is not touched)."""
    needle = value.encode("utf-8", "surrogateescape")
    local = session.repo.local_dir
    candidates = list(local.glob("*.log*")) + list((local / "state").glob("*.out"))
    for path in candidates:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if needle in data:
            tmp = path.with_name(f".{path.name}.erase.tmp")
            tmp.write_bytes(data.replace(needle, SCRUBBED))
            os.replace(tmp, path)
            report.logs.append(str(path.relative_to(session.repo.root)))


def ledger_mentions(session: Any, value: str) -> int:
    """How many ledger entries quote the value (plugins' findings may quote data), plus
    occurrences in the -wal file. The database file itself is searched through SQLite:
    opening it directly would drop this process's locks on it."""
    db = session.ctx.ledger().db
    count = db.execute("SELECT count(*) FROM journal WHERE instr(payload, ?) > 0 OR instr(subject, ?) > 0",
                       (value, value)).fetchone()[0]
    try:
        count += Path(str(session.repo.ledger_path) + "-wal").read_bytes().count(
            value.encode("utf-8", "surrogateescape"))
    except OSError:
        pass
    return count
