"""The ledger entries of one push on the server, all appended in one transaction.

- one entry per checked file version (data_added, data_removed) with its findings,
- the plugins' facts (quality checks, personal-data scans, policy changes with their diff),
- ``blob_accepted`` for each version whose checks passed, so it is never read again,
- ``override`` for each breaking change a commit acknowledged, with its reason,
- ``push_received``: the refs, the pusher, the policy it was judged by, the verdict and its reasons.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .events import DataAdded, PushReceived, _plain
from .ledger import Entry
from .server_events import ACCEPTED

if TYPE_CHECKING:
    from .pushrange import PushRange
    from .server import ServerPolicy, Verdict

MAX_REASONS = 50
OVERRIDE_CODES = ("drift.schema",)
_TRAILER = re.compile(r"^\s*breaking[- ]change\s*:\s*(?P<what>\S.*)$", re.IGNORECASE | re.MULTILINE)


def entries_for(server: "ServerPolicy", verdict: "Verdict", outcome: Any, work: Any,
                push: "PushRange", event: PushReceived) -> list[Entry]:
    out: list[Entry] = []
    for ev in outcome.events:
        if ev is event:
            continue
        found = outcome.findings_for(ev)
        payload = {**ev.to_dict(), "findings": [f.to_dict() for f in found],
                   "verdict": "block" if any(f.blocks for f in found) else "pass"}
        out.append(Entry(kind=ev.name, subject=ev.subject, payload=payload, actor=ev.actor,
                         source="server", time=ev.created))
        if isinstance(ev, DataAdded) and id(ev) in work.keys and payload["verdict"] == "pass":
            blob, path, dataset = work.keys[id(ev)]
            out.append(Entry(kind=ACCEPTED, subject=blob, actor=ev.actor, source="server",
                             payload={"path": path, "dataset": dataset, "commit": ev.commit,
                                      "policy": server.fingerprint}))
        out += _overrides(ev, found, push)
    pushed = "block" if verdict.blocked else "pass"  # a fact of a refused push changed nothing
    for ev, fact in outcome.facts:
        payload = {**_fast_plain(fact.payload), "event": ev.name, "event_subject": ev.subject,
                   "push_verdict": pushed}
        out.append(Entry(kind=fact.kind, subject=fact.subject, payload=payload, actor=ev.actor,
                         source="server", time=ev.created))
    out.append(_push_entry(server, verdict, outcome.findings_for(event), event))
    return out


_SCALARS = (str, int, float, bool, type(None))


def _fast_plain(value: Any) -> Any:
    """events._plain for what plugins return (dicts, lists, scalars) without its slow ABC
    checks, which cost seconds on a push of a thousand file versions; anything else is
    handed to _plain."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        return {str(k): _fast_plain(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_fast_plain(v) for v in value]
    return _plain(value)


def _overrides(ev: Any, found: list, push: "PushRange") -> list[Entry]:
    """An acknowledged breaking change is an override: recorded with the reason the commit gives."""
    out = []
    for f in found:
        if f.code not in OVERRIDE_CODES or f.blocks or "acknowledged" not in f.message:
            continue
        info = push.infos.get(ev.commit or "")
        reason = _reason(info.message if info else "", ev.dataset, ev.path)
        out.append(Entry(kind="override", subject=ev.path, actor=ev.actor, source="server",
                         payload={"dataset": ev.dataset, "commit": ev.commit, "ref": push.ref_of(ev.commit),
                                  "rule": f"{f.plugin}/{f.code}", "reason": reason,
                                  "message": f.message}))
    return out


def _reason(message: str, dataset: str | None, path: str) -> str:
    for match in _TRAILER.finditer(message):
        words = match.group("what").strip()
        first, _, rest = words.partition(" ")
        if first.rstrip(",;:") in (dataset, path):
            return rest.strip() or words
    return ""


def _push_entry(server: "ServerPolicy", verdict: "Verdict", own: list, event: PushReceived) -> Entry:
    errors = [(ref, sha, f) for ref, sha, f in verdict.findings if f.blocks]
    reasons = [{"ref": ref, "commit": sha, "path": f.path, "rule": f"{f.plugin or 'gitgov'}/{f.code}",
                "dataset": _dataset(server, f), "message": f.message} for ref, sha, f in errors[:MAX_REASONS]]
    extra = [f for _, _, f in verdict.findings if f.plugin == "server"]
    payload = {
        **event.to_dict(),
        "findings": [f.to_dict() for f in own + extra],
        "verdict": "block" if verdict.blocked else "pass",
        "errors": len(errors), "reasons": reasons,
        "pusher": verdict.pusher, "commits": verdict.commits, "datasets": verdict.datasets,
        "checked": verdict.checked, "skipped": verdict.skipped,
        "policy": {"branch": server.branch, "commit": server.commit,
                   "fingerprint": server.fingerprint, "bootstrap": server.bootstrap},
    }
    return Entry(kind=event.name, subject=event.subject, payload=payload, actor=verdict.pusher,
                 source="server", time=event.created)


def _dataset(server: "ServerPolicy", f: Any) -> str | None:
    if f.details.get("dataset"):
        return str(f.details["dataset"])
    ds = server.policy.dataset_for(f.path) if f.path else None
    return ds.name if ds else None
