"""The version history of a dataset: each distinct content of each of its files, with its check.

A version is a (path, content) pair, dated by its first entry; the content
is the Git blob, or the SHA-256 for files seen on disk by the watcher (a
`gitgov check` of the working tree names neither: it is a check, not a version). It
is committed once a commit recorded that blob; staged versions that a check
blocked are kept, marked not committed: they show what was refused.
The grouping is done by SQLite over the (dataset, seq) index, so asking for
the newest few versions of a dataset costs the same however long its past.
"""
from __future__ import annotations

from typing import Any

from .sources import Sources, ids_json

# Each (path, content) of the dataset, newest first, dated by its first entry; its stage
# and verdict are those of its latest entry (bytes refused once may be committed later,
# under other rules), and its check is the latest of that content at that path, else
# the first check of the path after the first entry (the watcher's versions name no
# blob: the validation plugin records the check right after the event).
_VERSIONS = """
WITH g AS (SELECT path, COALESCE(blob, sha256) AS content, MIN(seq) AS first, MAX(seq) AS last,
                  MAX(commit_sha) AS commit_sha, group_concat(seq) AS seqs
           FROM dataset_versions WHERE dataset = ? AND change = 'added' AND content IS NOT NULL
           GROUP BY path, content ORDER BY first DESC LIMIT ?)
SELECT g.path, g.first, g.commit_sha, g.seqs, v.blob, v.sha256, v.size, l.stage, l.verdict, v.time, v.actor,
       q.seq, q.blob, q.verdict, q.rows, q.columns, q.errors, q.warnings
FROM g JOIN dataset_versions AS v ON v.seq = g.first
JOIN dataset_versions AS l ON l.seq = g.last
LEFT JOIN quality_checks AS q ON q.seq = COALESCE(
    (SELECT MAX(c.seq) FROM quality_checks AS c WHERE c.blob = v.blob AND c.path = g.path),
    (SELECT MIN(c.seq) FROM quality_checks AS c WHERE c.path = g.path AND c.seq > g.first))
ORDER BY g.first DESC"""
# The same count as the dataset_summary view; _COUNTS: of every dataset at once.
_COUNT = """SELECT COUNT(DISTINCT path || char(0) || COALESCE(blob, sha256)) FROM dataset_versions
            WHERE dataset = ? AND change = 'added'"""
_COUNTS = """SELECT dataset, COUNT(*) FROM (SELECT DISTINCT dataset, path, COALESCE(blob, sha256) AS content
              FROM dataset_versions WHERE change = 'added' AND content IS NOT NULL) GROUP BY dataset"""

# The commit that recorded a version comes after it in the journal (post-commit
# runs right after pre-commit): the next few commits are enough to look at.
# SQLite reads their JSON: no payload is parsed in Python.
_COMMIT = """SELECT j.subject, j.time, COALESCE(json_extract(j.payload, '$.author'), j.actor)
             FROM (SELECT subject, time, actor, payload FROM journal
                   WHERE kind = 'commit_created' AND seq > ? ORDER BY seq LIMIT ?) AS j,
                  json_each(j.payload, '$.changes') AS c
             WHERE json_extract(c.value, '$.path') = ? AND json_extract(c.value, '$.blob') = ?
             LIMIT 1"""
LOOK_AHEAD = 8


def count(src: Sources, dataset: str) -> int:
    known = src.cache.get("version_counts")
    if known is not None:
        return known.get(dataset, 0)
    return src.db.execute(_COUNT, (dataset,)).fetchone()[0]


def count_all(src: Sources) -> dict[str, int]:
    """dataset -> its number of versions, in one pass; count() answers from it afterwards."""
    if "version_counts" not in src.cache:
        src.cache["version_counts"] = dict(src.rows(_COUNTS))
    return src.cache["version_counts"]


def history(src: Sources, dataset: str, newest: int | None = None, commits: int | None = None
            ) -> list[dict[str, Any]]:
    """The dataset's versions, oldest first: all, or the `newest` few; the commits are
    looked up for the newest `commits` of them (None: all)."""
    total = count(src, dataset)
    out = []
    for n, row in enumerate(src.rows(_VERSIONS, (dataset, -1 if newest is None else newest))):
        v = _version(dataset, row)
        v["version"] = total - n
        wanted = (commits is None or n < commits) and not v["commit"] and v["blob"]
        # A staged version that a check blocked was never committed (the commit was refused).
        made = _commit_of(src, v) if wanted and not (v["stage"] == "staged" and v["verdict"] == "block") else None
        v["commit"] = v["commit"] or (made[0] if made else None)
        v["author"] = made[2] if made else v["actor"]
        v["committed"] = bool(v["commit"])
        out.append(v)
    return out[::-1]


def _version(dataset: str, row: tuple) -> dict[str, Any]:
    (path, seq, commit, seqs, blob, sha256, size, stage, verdict, time, actor, check_seq, check_blob,
     check_verdict, rows, columns, errors, warnings) = row
    v = {"dataset": dataset, "seq": seq, "path": path, "blob": blob, "sha256": sha256, "size": size,
         "stage": stage, "commit": commit, "verdict": verdict, "time": time, "actor": actor,
         "seqs": sorted(int(s) for s in seqs.split(",")),
         "check_seq": None, "rows": None, "columns": None, "errors": None, "warnings": None}
    # A check of another content means this version was never checked.
    if check_seq is not None and not (check_blob and blob and check_blob != blob):
        v.update(check_seq=check_seq, rows=rows, columns=columns, errors=errors, warnings=warnings,
                 verdict=check_verdict or verdict, blob=blob or check_blob)
    return v


def find_commit(src: Sources, path: str, blob: str | None, after: int) -> tuple[str, str, str] | None:
    """(sha, time, author) of the commit that recorded this content of `path`, if any."""
    if not blob:
        return None
    return src.db.execute(_COMMIT, (after, LOOK_AHEAD, path, blob)).fetchone()


def _commit_of(src: Sources, v: dict[str, Any]) -> tuple[str, str, str] | None:
    """The commit after one of the version's last few entries that recorded its content."""
    for seq in v["seqs"][-3:]:
        made = find_commit(src, v["path"], v["blob"], seq)
        if made:
            return made
    return None


def metrics(src: Sources, versions: list[dict[str, Any]]) -> dict[int, dict[str, float]]:
    """check seq -> {metric: value} for these versions."""
    seqs = [v["check_seq"] for v in versions if v.get("check_seq")]
    out: dict[int, dict[str, float]] = {}
    if seqs:
        sql = "SELECT seq, metric, value FROM quality_metrics WHERE seq IN (SELECT value FROM json_each(?))"
        for seq, metric, value in src.rows(sql, (ids_json(seqs),)):
            out.setdefault(seq, {})[metric] = value
    return out
