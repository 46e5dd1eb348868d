"""A generated repository for the catalog benchmark: a gitgov.toml of N datasets and a
ledger of realistic entries (shapes and sizes as the plugins write them).

Per dataset version: a data_added event (with its findings), the validation
plugin's quality_check fact (metrics and profile), the privacy plugin's
pii_classification fact, and a commit_created event. Per run: run_started,
run_snapshot, lineage and run_finished; some runs are reproduced (a few
differ) and some register a model. A few reveals, disposals and expiries
complete the audit trail. Times spread over half a year.
"""
from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

COLUMNS = ("id", "email", "country", "amount", "created", "score", "status", "note")


def policy(datasets: int) -> str:
    parts = ["version = 1\n"]
    for d in range(datasets):
        parts.append(f'[datasets.ds{d:03d}]\ndescription = "Generated dataset {d}: one row per event."\n'
                     f'paths = ["data/ds{d:03d}/*.csv"]\nclassification = "{("internal", "confidential", "restricted", "public")[d % 4]}"\n')
        if d % 17:
            parts.append(f'owner = "owner{d % 9}@example.com"\nstewards = ["steward{d % 5}@example.com"]\n'
                         'consumers = ["ml-team"]\n')
        if d % 5 == 0:
            parts.append('retention = "90d"\n')
        parts.append(f'[datasets.ds{d:03d}.columns.id]\nrequired = true\nunique = true\n'
                     f'[datasets.ds{d:03d}.columns.email]\npii = "email"\n'
                     + ('protect = "pseudonymize"\n' if d % 3 else '')
                     + f'[datasets.ds{d:03d}.columns.amount]\ntype = "float"\nmin = 0\n\n')
    return "".join(parts)


class _Clock:
    def __init__(self, start: datetime, total: int, days: int = 180):
        self.now, self.step = start, timedelta(days=days) / max(total, 1)

    def tick(self) -> str:
        self.now += self.step
        return self.now.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _sha(*parts: Any, n: int = 64) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:n]


def _profile(rows: int, rnd: random.Random) -> dict[str, Any]:
    cols = []
    for name in COLUMNS:
        cols.append({"name": name, "type": "float" if name in ("amount", "score") else "string",
                     "declared": None, "nulls": rnd.randrange(3), "null_fraction": rnd.random() / 50,
                     "distinct": rnd.randrange(1, rows + 1), "masked": name == "email",
                     "min": 0.0 if name == "amount" else None, "max": 999.0 if name == "amount" else None,
                     "top": None if name in ("id", "email") else
                     [{"value": f"v{i}", "count": rnd.randrange(1, 50)} for i in range(5)]})
    return {"columns": cols}


def version_entries(d: int, v: int, rnd: random.Random, clock: _Clock, actor: str) -> list[Any]:
    from gitgov.core.ledger import Entry

    name, path = f"ds{d:03d}", f"data/ds{d:03d}/part.csv"
    blob, rows = _sha(d, v, n=40), 1000 + rnd.randrange(-100, 400) + v * 3
    blocked = rnd.random() < 0.08
    errors = rnd.randrange(1, 5) if blocked else 0
    findings = [{"severity": "error", "code": "validation/amount.min", "plugin": "validation",
                 "message": f"column 'amount': {errors} value(s) below min 0", "hook": "data_added",
                 "path": path, "details": {"count": errors}}] if blocked else []
    when = clock.tick()
    metrics = {"rows": rows, "columns": len(COLUMNS), "errors": errors, "warnings": 0,
               **{f"null_fraction.{c}": rnd.random() / 50 for c in COLUMNS},
               **{f"failed.{c}.required": 0 for c in COLUMNS[:4]}, "failed.amount.min": errors,
               "mean.amount": 100 + rnd.random() * 10, "mean.score": rnd.random()}
    out = [
        Entry("data_added", path, {"path": path, "dataset": name, "blob": blob, "size": rows * 61,
                                   "stage": "staged", "verdict": "block" if blocked else "pass",
                                   "findings": findings, "actor": actor, "source": "hook", "created": when},
              actor=actor, source="hook", time=when),
        Entry("quality_check", blob, {"dataset": name, "path": path, "blob": blob, "stage": "staged",
                                      "ruleset": _sha(d, n=16), "verdict": "block" if blocked else "pass",
                                      "reused": False, "format": "csv", "rows": rows, "columns": len(COLUMNS),
                                      "counts": {"error": errors, "warning": 0}, "metrics": metrics,
                                      "failures": {"amount.min": errors} if blocked else {},
                                      "profile": _profile(rows, rnd), "event": "data_added",
                                      "event_subject": path}, actor=actor, source="hook", time=when),
        Entry("pii_classification", path, {"dataset": name, "blob": blob, "columns": [
            {"column": "email", "kind": "email", "confidence": 1.0, "sampled": 500,
             "protected": 500 if d % 3 else 0,
             "candidates": [{"kind": "email", "label": "email addresses", "matched": 500, "sampled": 500,
                             "confidence": 1.0}]}], "event": "data_added", "event_subject": path},
              actor=actor, source="hook", time=when),
    ]
    if not blocked:
        sha = _sha("commit", d, v, n=40)
        out.append(Entry("commit_created", sha, {
            "sha": sha, "parents": [_sha("commit", d, v - 1, n=40)], "author": actor,
            "message": f"Update {name} (export {v})", "changes": [{"path": path, "status": "M",
                                                                  "dataset": name, "blob": blob}],
            "findings": [], "verdict": "pass", "actor": actor, "source": "hook", "created": when},
            actor=actor, source="hook", time=clock.tick()))
    return out


def run_entries(i: int, datasets: int, rnd: random.Random, clock: _Clock, actor: str) -> list[Any]:
    from gitgov.core.ledger import Entry

    run_id = f"{_sha('run', i, n=8)}-0000-4000-8000-{i:012d}"
    name = ("train", "evaluate", "features", "tune")[i % 4]
    inputs = [f"ds{rnd.randrange(datasets):03d}" for _ in range(2)]
    in_files = {f"data/{d}/part.csv": {"sha256": _sha(d, i), "size": 61000, "blob": _sha(d, i, n=40),
                                       "tracked": True, "clean": True, "stored": False} for d in inputs}
    out_path = f"models/{name}.pkl" if name in ("train", "tune") else f"data/ds{(i * 7) % datasets:03d}/part.csv"
    out_files = {out_path: {"sha256": _sha("out", i), "size": 4096, "blob": None, "tracked": False,
                            "clean": False, "stored": True}}
    params = {"lr": rnd.choice((0.1, 0.01, 0.001)), "epochs": rnd.choice((10, 20, 40)), "seed": i % 5}
    metrics = {"accuracy": 0.7 + rnd.random() / 5, "loss": 0.3 + rnd.random() / 4}
    started = clock.tick()
    run_node = f"run:{run_id}"
    nodes = [{"id": run_node, "kind": "run", "label": name, "run_id": run_id}]
    nodes += [{"id": f"data:{p}@{r['sha256']}", "kind": "data", "path": p, "sha256": r["sha256"],
               "dataset": p.split("/")[1]} for p, r in in_files.items()]
    out_ds = out_path.split("/")[1] if out_path.startswith("data/") else None
    nodes.append({"id": f"data:{out_path}@{out_files[out_path]['sha256']}", "kind": "data", "path": out_path,
                  "sha256": out_files[out_path]["sha256"], "dataset": out_ds})
    edges = [{"src": f"data:{p}@{r['sha256']}", "dst": run_node, "relation": "input"} for p, r in in_files.items()]
    edges.append({"src": run_node, "dst": nodes[-1]["id"], "relation": "output"})
    base = {"actor": actor, "source": "cli"}
    out = [
        Entry("run_started", run_id, {**base, "run_id": run_id, "run_name": name, "command": ["python", f"{name}.py"],
                                      "params": params, "seed": i % 5, "findings": [], "verdict": "pass"},
              actor=actor, time=started),
        Entry("run_snapshot", run_id, {"commit": _sha("commit", i, n=40), "branch": "main", "dirty": i % 9 == 0,
                                       "cwd": ".", "host": "bench", "pid": 1000 + i, "inputs": in_files,
                                       "platform": {"python": "3.11", "system": "Linux"},
                                       "python": {"packages": {f"pkg{k}": "1.0" for k in range(40)}}},
              actor=actor, time=started),
        Entry("lineage", run_id, {"nodes": nodes, "edges": edges}, actor=actor, time=started),
        Entry("run_finished", run_id, {**base, "run_id": run_id, "status": "ok" if i % 23 else "failed",
                                       "exit_code": 0 if i % 23 else 1, "duration": 10 + rnd.random() * 50,
                                       "metrics": metrics, "details": {"inputs": in_files, "outputs": out_files},
                                       "findings": [], "verdict": "pass"}, actor=actor, time=clock.tick()),
    ]
    if i % 10 == 0:
        verdict = "differs" if i % 70 == 0 else "reproduced"
        out.append(Entry("run_reproduced", run_id, {"verdict": verdict, "summary": "" if verdict == "reproduced"
                                                    else "models/train.pkl differs"}, actor=actor, time=clock.tick()))
    return out


def extras(n: int, datasets: int, clock: _Clock) -> list[Any]:
    from gitgov.core.ledger import Entry

    out = []
    for i in range(n):
        path = f"data/ds{(i * 5) % datasets:03d}/part.csv"
        kind = ("data_revealed", "retention_expired", "data_disposed", "policy_changed")[i % 4]
        payload = {"dataset": path.split("/")[1], "path": path, "columns": ["email"], "rows": 10,
                   "expired_on": "2025-01-01", "rows_before": 100, "rows_after": 90, "reason": "retention 90d"}
        out.append(Entry(kind, path if kind != "policy_changed" else "gitgov.toml", payload,
                         actor=f"user{i % 7}@example.com", time=clock.tick()))
    return out


def build(ledger_path: Path, total: int, datasets: int, runs: int, seed: int = 1) -> int:
    """Append about `total` entries to the ledger at `ledger_path`; returns the count."""
    from gitgov.core.ledger import open_ledger

    rnd = random.Random(seed)
    clock = _Clock(datetime(2025, 6, 1, tzinfo=timezone.utc), total)
    run_entries_total = runs * 4 + runs // 10
    per_version = 3.92  # data_added + quality_check + pii_classification + commit_created (92%)
    versions = max(1, int((total - run_entries_total - 200) / per_version / datasets))
    batch: list[Any] = []
    count = 0
    with open_ledger(ledger_path) as ledger:
        steps = [("v", d, v) for v in range(versions) for d in range(datasets)]
        steps += [("r", i, 0) for i in range(runs)]
        rnd.shuffle(steps)
        steps.sort(key=lambda s: 0)  # keep the shuffled order: runs and versions interleave
        for kind, a, b in steps:
            actor = f"user{a % 7} <user{a % 7}@example.com>"
            batch += (version_entries(a, b, rnd, clock, actor) if kind == "v"
                      else run_entries(a, datasets, rnd, clock, actor))
            if len(batch) >= 5000:
                count += len(ledger.append(batch))
                batch = []
        batch += extras(max(0, total - count - len(batch)), datasets, clock)
        count += len(ledger.append(batch))
    return count
