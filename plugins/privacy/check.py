"""The commit-time privacy check of one staged (or pushed, or observed) data file."""
from __future__ import annotations

from typing import Any

from gitgov.core.errors import InputError
from gitgov.core.events import DataAdded, Fact, Finding, error, info, warning

from .scan import SAMPLE_ROWS, THRESHOLD, ColumnScan, all_detectors, classify, format_of, read_sample

CHOICES = "protect = encrypt | pseudonymize | mask | drop | allow"


def settings(ctx: Any) -> tuple[float, int]:
    conf = ctx.settings("privacy")
    return float(conf.get("threshold", THRESHOLD)), int(conf.get("sample_rows", SAMPLE_ROWS))


def check(event: DataAdded, ctx: Any) -> list[Finding | Fact]:
    ds = ctx.dataset(event.dataset)
    fmt = format_of(event.path, ds.format) if ds else None
    if ds is None or ds.encrypt == "file" or fmt is None:
        return []  # not a dataset, or encrypted whole (the encryption plugin checks that)
    from gitgov.core.crypto.fileformat import is_encrypted

    data = ctx.read_data(event)
    if is_encrypted(data):
        return []
    threshold, rows = settings(ctx)
    try:
        scans, problems = _scans(event, ctx, data, fmt, rows)
    except InputError as exc:
        return [warning("not-scanned", f"not scanned for personal data: {exc}")]
    # A detector that failed to register looks for nothing: what it finds may be committed.
    found: list[Finding | Fact] = [error("detector-failed", p) for p in problems]
    for scan in scans:
        found += column_findings(scan, ds.name, ds.columns.get(scan.column) or {}, event.path,
                                 threshold)
    found.append(Fact(kind="pii_classification", subject=event.path, payload={
        "dataset": ds.name, "blob": event.blob,
        "columns": [s.to_dict(threshold) for s in scans if s.best(threshold)]}))
    return found


def _scans(event: DataAdded, ctx: Any, data: bytes, fmt: str, rows: int) -> tuple[list, list[str]]:
    """The file's column scans, from one batch with the other small files of its dataset
    when the run checks many (a push), else alone."""
    from .batch import scans_for

    detectors, problems = all_detectors(ctx.policy, ctx.root)
    scans = scans_for(event, ctx, fmt, detectors, rows)
    if isinstance(scans, InputError):
        raise scans
    if scans is None:
        scans = classify(read_sample(data, fmt, event.path, rows), detectors, rows)
    return scans, problems


def column_findings(scan: ColumnScan, dataset: str, decl: dict, path: str,
                    threshold: float) -> list[Finding]:
    best = scan.best(threshold)
    protect = decl.get("protect")
    col = scan.column
    if protect is None:
        if best is None or decl.get("pii") is False:
            return []
        return [error("pii-undeclared",
                      f"column '{col}' looks like {best.label} ({best.percent} of {best.sampled:,} "
                      f"sampled values); declare it in gitgov.toml with {CHOICES}, e.g. "
                      f"[datasets.{dataset}.columns.{col}] protect = \"pseudonymize\"",
                      column=col, kind=best.kind, confidence=round(best.confidence, 4))]
    fix = (f"run `gitgov protect {path} --in-place` and stage it again" if not path.endswith(".gz")
           else f"decompress {path} (gunzip -k), run `gitgov protect` on the result, compress it "
                "again and stage it")
    if protect == "allow":
        what = f"{best.label} ({best.percent})" if best else "personal data"
        return [info("pii-allowed", f"column '{col}' holds {what}, stored as is (protect = \"allow\")",
                     column=col)]
    if protect == "drop":
        return [error("pii-not-dropped", f"column '{col}' is declared protect = \"drop\" but is "
                      f"still in the file; {fix}", column=col)]
    if protect in ("encrypt", "pseudonymize"):
        plain = scan.sampled - scan.protected
        if plain > 0:
            verb = "encrypted" if protect == "encrypt" else "pseudonymized"
            return [error("pii-unprotected", f"column '{col}' is declared protect = \"{protect}\" "
                          f"but {plain:,} of {scan.sampled:,} sampled values are not {verb}; {fix}",
                          column=col, plain=plain)]
        return []
    if protect == "mask":
        leaks = max((c.matched for c in scan.found), default=0)
        if leaks:
            return [error("pii-unmasked", f"column '{col}' is declared protect = \"mask\" but "
                          f"{leaks:,} of {scan.sampled:,} sampled values are not masked; {fix}",
                          column=col, plain=leaks)]
    return []
