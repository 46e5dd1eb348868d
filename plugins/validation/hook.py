"""The check behind ``data_added``: rules, incremental reuse, drift, alerts, ledger facts.

One governed file version arrives as an event. Its dataset's rules are
compiled and hashed together with the versions of the datasets its foreign
keys point to; if the ledger says this content already passed under that
hash, the rules are not run again. Then the version is compared with the
last committed one (drift), and what was found becomes findings (which
block or warn), quality_alert events (which plugins forward) and one
``quality_check`` fact with the version's metrics and profile.

A version is checked once per run in each state: the files that refer to a
changed dataset are checked again by dependents.py, and one of them that is
part of the change also arrives as its own event; whichever comes second is
skipped.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitgov.core.errors import ConfigError
from gitgov.core.events import Fact, Finding, QualityAlert

from .report import FileReport, finding_message
from .rules import Registry, plugin_rules
from .ruleset import RuleSet, compile_rules
from .sources import Snapshot, hash_later, reference_values, snapshot_for
from .store import Passed, Store

if TYPE_CHECKING:
    from gitgov.core.context import Context
    from gitgov.core.events import DataAdded

_REGISTRY: dict[int, tuple[Any, Registry]] = {}
MEASURED_KEPT = 4096  # versions measured in this run, kept as baselines for later ones


def options(ctx: "Context") -> dict[str, Any]:
    """Per-run settings and results shared with `gitgov check` (force, reports by path)."""
    return ctx.__dict__.setdefault("_validation", {"force": False, "reports": {}})


def registry_for(ctx: "Context") -> Registry:
    """Built-in rules, plus plugins' rules when the policy names any (they cost a plugin load)."""
    policy = ctx.policy
    cached = _REGISTRY.get(id(policy))
    if cached is not None and cached[0] is policy:
        return cached[1]
    uses = any(any(c.get("checks") for c in ds.columns.values()) or ds.rules.get("checks")
               for ds in policy.datasets.values())
    registry = Registry()
    if uses:
        from gitgov.core.bus import collect_named
        from gitgov.core.plugins import load_host

        host = load_host(policy, ctx.root)
        # Half the deadline: this runs inside validation's own call, whose deadline would
        # otherwise end first and blame validation for the plugin that hangs here.
        answers, failures = collect_named(host, "register_rules", policy.plugins.timeout / 2)
        rules, problems = plugin_rules(answers)
        registry = Registry(rules, [f.message for f in failures] + problems)
    _REGISTRY.clear()
    _REGISTRY[id(policy)] = (policy, registry)
    return registry


def ruleset_for(ctx: "Context", ds: Any) -> RuleSet:
    """A dataset's rules, compiled once per run: a push checks many versions of its files."""
    registry = registry_for(ctx)
    cache = options(ctx).setdefault("rulesets", {})
    hit = cache.get(ds.name)
    if hit is not None and hit[0] is ctx.policy and hit[1] is ds and hit[2] is registry:
        return hit[3]
    rs = compile_rules(ctx.policy, ds, registry)
    cache[ds.name] = (ctx.policy, ds, registry, rs)
    return rs


def store_for(ctx: "Context") -> Store:
    """One ledger connection for the whole run, not three per file version."""
    opts = options(ctx)
    path = Path(ctx.ledger_path) if ctx.ledger_path else None
    store = opts.get("store")
    if store is None or store.path != path:
        store = opts["store"] = Store(path, keep_open=True)
    return store


def listings(ctx: "Context") -> dict:
    """This run's listings of the index and of commits (see Snapshot.files)."""
    return options(ctx).setdefault("listings", {})


def source_for(ctx: "Context", path: str, blob: str | None, dataset: str | None) -> Any:
    """A file's bytes through the context, which decrypts datasets stored encrypted in Git."""
    from gitgov.core.events import DataAdded

    from .formats import Source

    event = DataAdded(path=path, dataset=dataset, blob=blob)
    local = str(ctx.root / path) if blob is None else None
    return Source(path, lambda: ctx.open_data(event), local=local)


def references(ctx: "Context", snap: Snapshot, rs: RuleSet) -> tuple[dict, dict]:
    """Foreign-key value sets, and the blob ids they came from (part of the ruleset hash)."""
    from .formats import detect

    values: dict[str, Any] = {}
    ids: dict[str, Any] = {}
    if ctx.repo is None:
        return values, ids
    for col, (target, tcol) in rs.foreign_keys.items():
        ds = ctx.policy.datasets[target]
        found, files = reference_values(
            snap.files(ctx.repo, ds, listings(ctx), policy=ctx.policy), ds, tcol,
            lambda p, f=ds.format: detect(p, f),
            lambda p, b, name=ds.name: source_for(ctx, p, None if snap.kind == "worktree" else b, name),
            options(ctx).setdefault("reference_values", {}) if snap.kind != "worktree" else None)
        values[col] = found
        ids[col] = sorted(files.items())
    return values, ids


def claim(ctx: "Context", stage: str, commit: str | None, path: str, blob: str | None) -> bool:
    """True the first time a run is to check this file version in this state (the staged
    index, a pushed commit). A file whose foreign key points to a dataset that a commit
    changes is checked again for that change, and may also arrive as its own event, in
    either order; whichever comes second is not checked."""
    if blob is None or stage not in ("staged", "pushed"):
        return True
    seen = options(ctx).setdefault("checked", set())
    key = (stage, commit, path, blob)
    if key in seen:
        return False
    seen.add(key)
    return True


def check_event(event: "DataAdded", ctx: "Context") -> list[Finding | Fact]:
    if not claim(ctx, event.stage, event.commit, event.path, event.blob):
        return []  # checked a moment ago, as a file that refers to a dataset this change touches
    return check_version(event, ctx)


def check_version(event: "DataAdded", ctx: "Context") -> list[Finding | Fact]:
    """The check of one file version, whether or not this run checked it already."""
    ds = ctx.dataset(event.dataset)
    if ds is None:
        return []
    try:
        rs = ruleset_for(ctx, ds)
    except ConfigError as exc:
        return [Finding(severity="error", code="config", message=str(exc))]
    snap = snapshot_for(event.stage, event.commit)
    refs, ref_ids = references(ctx, snap, rs)
    digest = rs.digest(ref_ids)
    opts = options(ctx)
    blob, pending = event.blob, None
    if blob is None and ctx.repo is not None:
        # hashing overlaps the check when forced (`gitgov check` starts it even earlier)
        early = opts.get("hashes")
        pending = early if early is not None and event.path in early.paths else \
            hash_later(ctx.repo, [event.path])
        if not opts["force"]:
            blob, pending = pending().get(event.path), None
    store = store_for(ctx)
    earlier = store.passed(blob, digest) if blob and not opts["force"] else None
    if earlier is not None and earlier.format != _format(event.path, rs):
        earlier = None  # the same bytes under another name are read another way (.parquet, say)
    if earlier is not None:
        report, metrics, profile = _reused(event, ds.name, digest, blob, earlier, store)
    else:
        report = _check(ctx, event, snap, rs, refs)
        if pending is not None:
            blob = pending().get(event.path)
        report.ruleset, report.blob = digest, blob
        metrics, profile = report.metrics(), report.profile
        _remember(ctx, blob, metrics, profile)
    opts["reports"][event.path] = report
    out: list[Finding | Fact] = [_finding(t, report) for t in report.failures]
    out += _drift(ctx, event, snap, rs, report, blob, metrics, profile, store)
    if metrics:  # drift's alerts count too, as in the check's own errors and warnings
        counts = report.counts()
        metrics.update(errors=counts["error"], warnings=counts["warning"])
    out.append(_fact(event, report, metrics, profile))
    return out


def _format(path: str, rs: RuleSet) -> str | None:
    from .formats import ReadError, detect

    try:
        return str(detect(path, rs.format))
    except ReadError:
        return None


def _reused(event: "DataAdded", dataset: str, digest: str, blob: str, earlier: Passed,
            store: Store) -> tuple[FileReport, dict, dict | None]:
    """The report of content that passed before under the same rules, not read again: what
    that check found still applies to the same bytes, so its warnings are reported again."""
    report = FileReport(event.path, dataset, earlier.format, ruleset=digest, blob=blob,
                        results=list(earlier.found),
                        skipped=f"passed before under the same rules ({digest[:12]})")
    measured = store.measured(blob)
    metrics, profile = measured if measured else ({}, None)
    report.rows, report.profile = int(metrics.get("rows", 0)), profile
    return report, metrics, profile


def _check(ctx: "Context", event: "DataAdded", snap: Snapshot, rs: RuleSet, refs: dict) -> FileReport:
    from .check import check_source
    from .formats import Source

    local = None
    if event.stage in ("checked", "observed") or event.blob is None:
        local = str(ctx.root / event.path)
    elif (same := ctx.worktree_file(event)) is not None:  # staged, and the file on disk is it
        local = str(same)
    source = Source(event.path, lambda: ctx.open_data(event), local=local)
    keep = options(ctx).setdefault("keep", {}).setdefault(event.path, {})
    keep.update(ruleset=rs, references=refs)
    return check_source(source, rs, references=refs, keep=keep,
                        profile_mode=options(ctx).get("profile", "lite"))


def _remember(ctx: "Context", blob: str | None, metrics: dict, profile: dict | None) -> None:
    """What this run measured, by blob: a push that changes a file in several commits compares
    each version with one checked a moment ago, which the ledger does not hold yet."""
    if not blob or profile is None:
        return
    measured = options(ctx).setdefault("measured", {})
    if len(measured) >= MEASURED_KEPT:  # a long-lived context (the watcher) keeps no history
        measured.clear()
    measured[blob] = (metrics, profile)


def _finding(t: Any, report: FileReport) -> Finding:
    return Finding(severity=t.severity, code=t.id, message=finding_message(t), path=report.path,
                   details=t.to_dict())


def _fact(event: "DataAdded", report: FileReport, metrics: dict, profile: dict | None) -> Fact:
    payload = {
        "dataset": report.dataset, "path": event.path, "blob": report.blob, "stage": event.stage,
        "commit": event.commit, "ruleset": report.ruleset, "verdict": report.verdict,
        "reused": bool(report.skipped), "format": report.format, "rows": report.rows,
        "columns": len((profile or {}).get("columns", [])), "counts": report.counts(),
        "metrics": metrics,
    }
    if not report.skipped:
        payload["failures"] = {t.id: t.count for t in report.failures}
        payload["profile"] = profile
        # Kept for a later check of the same bytes under the same rules, which reports them
        # instead of reading the file again; drift is left out: it depends on the baseline.
        payload["found"] = [t.to_dict() for t in report.failures if t.rule != "drift"]
    return Fact(kind="quality_check", subject=report.blob or f"quality:{event.path}", payload=payload)


def _baseline(ctx: "Context", snap: Snapshot, rs: RuleSet, path: str, store: Store
              ) -> tuple[str | None, dict, dict | None]:
    """(blob, metrics, profile) of the last committed version of `path`."""
    if ctx.repo is None:
        return None, {}, None
    # The server already knows each pushed version's first-parent blob (its diff of the push)
    known = getattr(ctx, "baselines", None) if snap.kind == "commit" else None
    key = (snap.commit, path)
    base = known[key] if known is not None and key in known else snap.baseline(ctx.repo, path)
    if base is None:
        return None, {}, None
    measured = options(ctx).get("measured", {}).get(base) or store.measured(base)
    if measured is not None:
        return base, measured[0], measured[1]
    from .check import check_source

    # Never checked (committed before gitgov, or with --no-verify): measure it now.
    plain = RuleSet(dataset=rs.dataset, columns=rs.columns, checks=[], table={}, format=rs.format,
                    delimiter=rs.delimiter, null_values=rs.null_values)
    report = check_source(source_for(ctx, path, base, rs.dataset), plain)
    return base, report.metrics(), report.profile


def _drift(ctx: "Context", event: "DataAdded", snap: Snapshot, rs: RuleSet, report: FileReport,
           blob: str | None, metrics: dict, profile: dict | None, store: Store) -> list[Finding]:
    conf = dict(rs.table.get("drift") or {})
    if conf.get("schema") == "off" and not ({"max_row_change_pct", "max_null_increase_pts"} & set(conf)):
        return []
    if profile is None or not metrics:
        return []
    base, prev_metrics, prev_profile = _baseline(ctx, snap, rs, event.path, store)
    if base is None or base == blob or prev_profile is None:
        return []
    from .drift import compare

    out = []
    for d in compare(profile, prev_profile, conf, metrics, prev_metrics):
        tally = d.tally()
        severity, message = d.severity, f"{d.message} ({_note(tally)})"
        details = {"previous": d.previous, "current": d.current, "change": d.change,
                   "baseline_blob": base}
        if d.breaking and severity == "error":
            severity, message, pending = _acknowledge(ctx, event, snap, blob, message)
            if pending:
                details["acknowledge"] = pending  # the commit-msg hook decides
        tally.severity = severity
        report.results.append(tally)
        out.append(Finding(severity=severity, code=tally.id, message=message, path=event.path,
                           details=details))
        if d.severity != "info":
            ctx.emit(QualityAlert(path=event.path, dataset=rs.dataset, metric=d.metric,
                                  severity=severity, message=d.message, previous=d.previous,
                                  current=d.current, change=d.change, blob=blob,
                                  baseline_blob=base, commit=event.commit, actor=event.actor,
                                  source=event.source))
    return out


def _note(tally: Any) -> str:
    return tally.samples[0].note if tally.samples else ""


def _acknowledge(ctx: "Context", event: "DataAdded", snap: Snapshot, blob: str | None,
                 message: str) -> tuple[str, str, str | None]:
    """A breaking change: blocks unless the commit message acknowledges it. Returns the
    severity, the message, and the line the message still needs when the commit-msg hook
    is left to decide (staged), else None."""
    from gitgov.core import ack

    how = ack.how_to(event.dataset, event.path)
    if event.stage == "pushed" and ctx.repo is not None:
        if ack.acknowledged(snap.message(ctx.repo) or "", event.dataset, event.path):
            return "warning", f"{message}; acknowledged in commit {event.commit[:12]}", None
        return "error", f"{message}; commit {(event.commit or '')[:12]} does not acknowledge it: {how}", None
    if event.stage == "staged" and ctx.repo is not None:
        if not _commit_msg_hook(ctx):
            return "error", f"{message}; run `gitgov init` to install the commit-msg hook, then {how}", None
        ack.request(ctx.repo.root, [{"path": event.path, "blob": blob, "dataset": event.dataset,
                                     "summary": message}])
        return ("warning", f"{message}; the commit must acknowledge it: {how}",
                ack.trailer(event.dataset, event.path))
    return "warning", f"{message}; a commit of this version must acknowledge it: {how}", None


def _commit_msg_hook(ctx: "Context") -> bool:
    from gitgov.core.install import ID_PREFIX, hooks_dir

    try:
        with open(hooks_dir(ctx.repo.root) / "commit-msg", "rb") as fh:
            return ID_PREFIX in fh.read(4096)
    except OSError:
        return False
