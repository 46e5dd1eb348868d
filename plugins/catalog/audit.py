"""The audit summary: is the ledger intact, who did what and how often, and the notable acts."""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from gitgov.core.catalog_projections import NOTABLE

from .detail import summarize
from .sources import Sources, loads
from .worker import ACTIVITY

# The very text of the partial index's WHERE, so that SQLite uses the index.
_NOTABLE = f"""SELECT seq, time, kind, subject, actor, source, payload FROM journal
               WHERE {NOTABLE} ORDER BY seq DESC LIMIT ?"""
_BLOCKS = """SELECT plugin, code, COUNT(*) FROM findings WHERE severity = 'error'
             GROUP BY plugin, code ORDER BY 3 DESC LIMIT 12"""


def summary(src: Sources, check: dict[str, Any] | None, activity: list | None = None,
            notable: int = 40) -> dict[str, Any]:
    """Counts by kind, actor and day over the whole journal (`activity` when the worker counted
    them already, see worker.py); `check`: the chain check."""
    by_kind: Counter[str] = Counter()
    by_actor: Counter[str] = Counter()
    last_seen: dict[str, str] = {}
    by_day: dict[str, Counter[str]] = defaultdict(Counter)
    for kind, actor, day, n in activity if activity is not None else src.rows(ACTIVITY):
        by_kind[kind] += n
        who = actor or "(no identity)"
        by_actor[who] += n
        last_seen[who] = max(last_seen.get(who, ""), day)
        by_day[day][category(kind)] += n
    head = src.db.execute("SELECT seq, id, time FROM journal ORDER BY seq DESC LIMIT 1").fetchone()
    first = src.db.execute("SELECT time FROM journal ORDER BY seq LIMIT 1").fetchone()
    return {
        "verify": check,
        "entries": sum(by_kind.values()),
        "head": {"seq": head[0], "id": head[1], "time": head[2]} if head else None,
        "since": first[0] if first else None,
        "by_kind": by_kind.most_common(),
        "by_actor": [(a, n, last_seen[a]) for a, n in by_actor.most_common()],
        "by_day": {day: dict(c) for day, c in sorted(by_day.items())},
        "notable": notable_entries(src, notable),
        "blocks": [{"plugin": p, "code": c, "count": n} for p, c, n in src.rows(_BLOCKS)],
    }


def notable_entries(src: Sources, limit: int) -> list[dict[str, Any]]:
    out = []
    for seq, time, kind, subject, actor, source, payload in src.rows(_NOTABLE, (limit,)):
        p = loads(payload) or {}
        out.append({"seq": seq, "time": time, "kind": kind, "subject": subject, "actor": actor,
                    "source": source, "dataset": p.get("dataset"), "summary": summarize(kind, p)})
    return out


def category(kind: str) -> str:
    """The chart's coarse groups of entry kinds."""
    if kind.startswith("run_") or kind in ("lineage", "model_registered"):
        return "runs"
    if kind in ("quality_check", "quality_alert"):
        return "quality"
    if kind in ("data_added", "data_removed", "commit_created", "push_requested", "push_received"):
        return "data and commits"
    return "privacy, retention and policy"
