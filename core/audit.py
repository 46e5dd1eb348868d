"""The audit trail: who added, changed, removed, revealed, decrypted, disposed of or
overrode what, and when, read from the ledger (a repository's or a server's).

Each journal entry that records an act becomes one AuditItem; entries that
only derive from another (quality checks, scans, accepted-blob markers) are
left out. A policy change carries its diff; an override carries its reason.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Iterator

from .errors import InputError

if TYPE_CHECKING:
    from .ledger import Ledger

ACTIONS: dict[str, str] = {
    "data_removed": "removed", "data_revealed": "revealed", "data_reveal_refused": "was refused a reveal of",
    "data_protected": "protected",
    "data_disposed": "disposed", "erasure": "disposed", "key_shredded": "disposed",
    "override": "overrode", "policy_changed": "changed policy", "push_received": "pushed",
    "keys_exported": "exported keys", "keys_imported": "imported keys",
    "dataset_key_rotated": "rotated a key", "master_key_rotated": "rotated a key",
}
DECRYPT_WORDS = ("decrypt", "unlock")
KINDS = tuple(ACTIONS) + ("data_added", "commit_created")
_TRAILER = re.compile(r"^\s*breaking[- ]change\s*:\s*(?P<what>\S.*)$", re.IGNORECASE | re.MULTILINE)
_RELATIVE = re.compile(r"(\d+)\s*([dwh])")


@dataclass
class AuditItem:
    seq: int
    time: str
    actor: str
    action: str
    subject: str
    dataset: str | None = None
    outcome: str = ""  # accepted | rejected | blocked | ""
    detail: str = ""
    datasets: list[str] = field(default_factory=list)  # a policy change touches several
    diff: str = ""
    reason: str = ""
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in ("", None, [])}


def parse_since(text: str, now: datetime | None = None) -> str:
    """'2025-01-31', '2025-01-31T12:00', or '7d' / '12h' / '2w' ago -> a UTC ISO time."""
    now = now or datetime.now(timezone.utc)
    m = _RELATIVE.fullmatch(text.strip())
    try:
        if m:
            n, unit = int(m.group(1)), m.group(2)
            when = now - timedelta(**{{"h": "hours", "d": "days", "w": "weeks"}[unit]: n})
        else:
            when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
        when = when.astimezone(timezone.utc)
    except ValueError:
        raise InputError(f"--since: {text!r} is not a date; use 2025-01-31, "
                         "2025-01-31T12:00 or 7d (days ago)") from None
    except OverflowError:
        raise InputError(f"--since: {text!r} reaches back before the year 1; "
                         "leave --since out to see everything") from None
    # isoformat, not strftime: the ledger's times are compared as text, and only isoformat
    # writes the year 898 as 0898
    return when.replace(tzinfo=None).isoformat(timespec="seconds")


def email(actor: str) -> str:
    actor = (actor or "").strip()
    if "<" in actor and actor.endswith(">"):
        actor = actor[actor.rindex("<") + 1:-1]
    return actor.lower()


def items(ledger: "Ledger", since: str | None = None, actor: str | None = None,
          dataset: str | None = None) -> list[AuditItem]:
    """Audit items in ledger order, filtered."""
    out = []
    for item in _all(ledger, since):
        if actor and email(actor) not in (item.actor, email(item.actor)):
            continue
        if dataset and dataset != item.dataset and dataset not in item.datasets:
            continue
        out.append(item)
    return out


def _all(ledger: "Ledger", since: str | None) -> Iterator[AuditItem]:
    sql = "SELECT seq, time, kind, actor, source, subject, payload FROM journal WHERE (kind IN ({}) OR kind GLOB '*decrypt*' OR kind GLOB '*unlock*')".format(
        ",".join("?" * len(KINDS)))
    args: list[Any] = list(KINDS)
    if since:
        sql += " AND time >= ?"
        args.append(since)
    seen_paths: set[str] = set()
    seen_versions: set[tuple] = set()
    for seq, time, kind, actor, source, subject, text in ledger.db.execute(sql + " ORDER BY seq", args):
        try:
            payload = json.loads(text)
        except ValueError:
            continue
        base = dict(seq=seq, time=time, actor=email(actor) or actor, subject=subject, source=source)
        item = _item(kind, payload, base, seen_paths, seen_versions)
        if item is not None:
            yield item


def _item(kind: str, p: dict, base: dict, seen_paths: set[str], seen_versions: set[tuple]) -> AuditItem | None:
    ds = p.get("dataset")
    if kind == "data_added":
        return _data_added(p, base, seen_paths, seen_versions)
    if kind == "commit_created":
        return _acknowledged(p, base)
    if kind == "policy_changed":
        # The commit's author changed it, whoever pushed; a push refused for any reason
        # (the edit itself, or another commit of it) changed nothing.
        landed = p.get("verdict") == "pass" and p.get("push_verdict", "pass") == "pass"
        author = email(str(p.get("author") or "")) or base["actor"]
        pushed = f"; pushed by {base['actor']}" if base["actor"] != author else ""
        return AuditItem(**{**base, "actor": author}, action="changed policy",
                         datasets=list(p.get("datasets") or []),
                         outcome="accepted" if landed else "rejected",
                         detail=_policy_detail(p) + pushed, diff=p.get("diff") or "")
    if kind == "push_received":
        return _push(p, base)
    if kind == "override":
        return AuditItem(**base, action="overrode", dataset=ds, reason=p.get("reason") or "",
                         detail=f"{p.get('rule', '')} in commit {str(p.get('commit') or '')[:12]}".strip())
    action = ACTIONS.get(kind) or ("decrypted" if any(w in kind for w in DECRYPT_WORDS) else None)
    if action is None:
        return None
    if kind == "data_removed":
        seen_paths.discard(base["subject"])
    detail = p.get("reason") or p.get("rev") or p.get("output") or ""
    return AuditItem(**base, action=action, dataset=ds, detail=str(detail),
                     outcome="blocked" if p.get("verdict") == "block" else "")


def _data_added(p: dict, base: dict, seen_paths: set[str], seen_versions: set[tuple]) -> AuditItem | None:
    path, blob = base["subject"], p.get("blob")
    blocked = p.get("verdict") == "block"
    key = (path, blob, blocked)
    if blob and key in seen_versions:
        return None  # the same version recorded again at another stage (staged, pushed)
    seen_versions.add(key)
    action = "changed" if path in seen_paths else "added"
    if not blocked and p.get("dataset"):
        seen_paths.add(path)
    errors = [f for f in p.get("findings") or [] if f.get("severity") == "error"]
    detail = f"{p.get('stage', '')} {str(blob or '')[:12]}".strip()
    if p.get("commit"):
        detail += f" in commit {p['commit'][:12]}"
    if errors:
        detail += "; " + _rules(errors)
    return AuditItem(**base, action=action, dataset=p.get("dataset"),
                     outcome="blocked" if blocked else "", detail=detail)


def _acknowledged(p: dict, base: dict) -> AuditItem | None:
    """A commit whose message acknowledges a breaking change (core/ack.py) overrode a block."""
    match = _TRAILER.search(p.get("message") or "")
    if not match:
        return None
    first, _, rest = match.group("what").strip().partition(" ")
    datasets = sorted({c.get("dataset") for c in p.get("changes") or [] if c.get("dataset")})
    dataset = first if first in datasets else (datasets[0] if len(datasets) == 1 else None)
    return AuditItem(**base, action="overrode", dataset=dataset, reason=rest.strip() or match.group("what"),
                     detail=f"breaking change acknowledged in commit {str(p.get('sha', ''))[:12]}")


def _push(p: dict, base: dict) -> AuditItem:
    ok = p.get("verdict") == "pass"
    detail = f"{p.get('commits', 0)} commit(s), {p.get('checked', 0)} file version(s) checked"
    if p.get("skipped"):
        detail += f", {p['skipped']} accepted before"
    reasons = p.get("reasons") or []
    if reasons:
        first = reasons[0]
        detail += f"; {first.get('rule')}"
        if first.get("path"):
            detail += f" on {first['path']}"
        if first.get("commit"):
            detail += f" in commit {first['commit'][:12]}"
        if p.get("errors", 0) > 1:
            detail += f" (+{p['errors'] - 1} more)"
    datasets = sorted(set(p.get("datasets") or []) | {r["dataset"] for r in reasons if r.get("dataset")})
    return AuditItem(**{**base, "actor": email(p.get("pusher") or base["actor"])}, action="pushed",
                     outcome="accepted" if ok else "rejected", detail=detail, datasets=datasets)


def _policy_detail(p: dict) -> str:
    touched = ", ".join(p.get("datasets") or []) or "no dataset"
    sections = p.get("sections") or []
    extra = f"; sections {', '.join(sections)}" if sections else ""
    return f"commit {str(p.get('commit', ''))[:12]} \"{p.get('message', '')}\": datasets {touched}{extra}"


def _rules(errors: list[dict]) -> str:
    names = list(dict.fromkeys(f"{f.get('plugin')}/{f.get('code')}" for f in errors))
    return ", ".join(names[:3]) + (f" (+{len(names) - 3})" if len(names) > 3 else "")
