"""What the server checks in a push: one event per new file version, read once.

Each governed file version (and each file outside datasets that looks like
a secret by name, size or content) becomes a DataAdded event for the
plugins, unless the server's ledger shows that the same content at the same
path already passed under the same policy: an accepted blob is never read
again. The bytes of the versions to check are read with one
`git cat-file --batch` and served to plugins from memory (large ones stream).
"""
from __future__ import annotations

import io
import json
import re
import subprocess
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Iterable

from .context import Context
from .events import DataAdded, DataRemoved, Event, Finding

if TYPE_CHECKING:
    from pathlib import Path

    from .config import Policy
    from .git import RawChange, Repo
    from .ledger import Ledger
    from .pushrange import PushRange

ACCEPTED = "blob_accepted"  # ledger kind: this content passed at this path under this policy
GITLINK = "160000"
PREFETCH_EACH = 8 << 20  # bytes: smaller versions are read in one batch and kept in memory
PREFETCH_TOTAL = 256 << 20


class ServerContext(Context):
    """A Context for a bare repository: the policy's text for error lines, blobs from memory."""

    def __init__(self, policy: "Policy", repo: "Repo | None" = None, ledger_path: Path | None = None,
                 *, policy_text: str | None = None, authority_policy: "Policy | None" = None):
        super().__init__(policy, repo, ledger_path)
        self.policy_text = policy_text
        self.authority_policy = authority_policy  # judges policy edits; set while no policy exists yet
        self.blobs: dict[str, bytes] = {}
        # (commit, path) -> the path's blob in the commit's first parent (None: new there), from
        # the push's own diff, so that plugins comparing with the previous version start no git
        self.baselines: dict[tuple[str, str], str | None] = {}
        # every event this run checks, so that a plugin may handle the small files of one
        # dataset together (one set-up for all of them) instead of one by one
        self.planned: list[Event] = []

    def open_data(self, event: Event) -> IO[bytes]:
        blob = getattr(event, "blob", None)
        ds = self.dataset(getattr(event, "dataset", None))
        if blob in self.blobs and not (ds is not None and ds.encrypt == "file"):
            return io.BytesIO(self.blobs[blob])
        return super().open_data(event)


@dataclass
class Plan:
    events: list[Event] = field(default_factory=list)  # what the plugins are asked about
    problems: list[tuple[str, Finding]] = field(default_factory=list)  # (commit, finding)
    skipped: int = 0  # versions already accepted by this server under this policy
    keys: dict[int, tuple[str, str, str | None]] = field(default_factory=dict)  # id(event) -> (blob, path, ds)
    baselines: dict[tuple[str, str], str | None] = field(default_factory=dict)  # see ServerContext


def plan(repo: "Repo", policy: "Policy", push: "PushRange", ledger: "Ledger | None",
         fingerprint: str) -> Plan:
    from .config import secret_name_matcher

    out = Plan()
    secret = secret_name_matcher(policy)
    candidates: list[tuple[str, "RawChange"]] = []
    for sha in push.commits:
        for c in push.changes.get(sha, []):
            candidates.append((sha, c))
    # a thousand commits touch the same few paths: match each path against the datasets once
    datasets = {path: policy.dataset_for(path) for path in {c.path for _, c in candidates}}
    sizes = repo.blob_sizes(list({c.new_blob for _, c in candidates
                                  if not c.deleted and c.new_mode != GITLINK}))
    others = {c.new_blob: c.path for _, c in candidates
              if not c.deleted and c.new_mode != GITLINK and datasets[c.path] is None
              and c.new_blob in sizes}
    key_blobs = _key_material(repo, list(others))
    accepted = accepted_versions(ledger, {c.new_blob for _, c in candidates}, fingerprint)
    seen: set[tuple[str, str]] = set()
    for sha, c in candidates:
        info = push.infos.get(sha)
        actor = info.author if info else ""
        ds = datasets[c.path]
        if c.deleted:
            if ds is not None:
                out.events.append(DataRemoved(path=c.path, dataset=ds.name, stage="pushed",
                                              commit=sha, actor=actor, source="server"))
            continue
        limit = policy.limits.max_file_size
        suspicious = (secret.search(c.path) or c.new_blob in key_blobs
                      or sizes.get(c.new_blob, 0) > limit)
        if ds is None and not suspicious:
            continue
        if c.new_mode == GITLINK or c.new_blob not in sizes:
            what = "a submodule link, not a file" if c.new_mode == GITLINK else "the object is missing"
            out.problems.append((sha, _unreadable(f"cannot read {c.path} in commit {sha[:12]} ({what}: "
                                                  f"{c.new_blob[:12]}); commit the file itself", c.path)))
            continue
        key = (c.new_blob, c.path)
        if key in seen:
            continue
        seen.add(key)
        if (c.new_blob, c.path) in accepted:
            out.skipped += 1
            continue
        event = DataAdded(path=c.path, dataset=ds.name if ds else None, blob=c.new_blob,
                          size=sizes.get(c.new_blob), stage="pushed", commit=sha, actor=actor,
                          source="server")
        out.keys[id(event)] = (c.new_blob, c.path, event.dataset)
        out.baselines[(sha, c.path)] = None if c.old_blob.strip("0") == "" else c.old_blob
        out.events.append(event)
    return out


def _unreadable(message: str, path: str) -> Finding:
    return Finding(severity="error", code="unreadable", message=message, path=path, plugin="server",
                   hook="pre-receive")


def _key_material(repo: "Repo", blobs: list[str]) -> set[str]:
    from .hookrun import SECRET_CONTENT

    return repo.blobs_matching(re.compile(SECRET_CONTENT.encode()), blobs) if blobs else set()


def accepted_versions(ledger: "Ledger | None", blobs: Iterable[str], fingerprint: str) -> set[tuple[str, str]]:
    """(blob, path) pairs this server accepted before under the policy ``fingerprint``."""
    blobs = list(blobs)
    found: set[tuple[str, str]] = set()
    if ledger is None:
        return found
    for start in range(0, len(blobs), 500):
        chunk = blobs[start:start + 500]
        marks = ",".join("?" * len(chunk))
        rows = ledger.db.execute(f"SELECT subject, payload FROM journal WHERE kind = ? AND subject IN ({marks})",
                                 [ACCEPTED, *chunk])
        for subject, payload in rows:
            p = json.loads(payload)
            if p.get("policy") == fingerprint:
                found.add((subject, p.get("path")))
    return found


def prefetch(repo: "Repo", events: list[Event]) -> dict[str, bytes]:
    """The bytes of the events' smaller blobs, read by one `git cat-file --batch`."""
    wanted = list(dict.fromkeys(e.blob for e in events
                                if getattr(e, "blob", None) and (getattr(e, "size", 0) or 0) <= PREFETCH_EACH))
    total, chosen = 0, []
    sizes = {e.blob: e.size or 0 for e in events if getattr(e, "blob", None)}
    for blob in wanted:
        if total + sizes[blob] > PREFETCH_TOTAL:
            break
        total += sizes[blob]
        chosen.append(blob)
    if not chosen:
        return {}
    proc = subprocess.run(["git", "cat-file", "--batch"], cwd=repo.root, capture_output=True,
                          input="".join(f"{b}\n" for b in chosen).encode())
    return _split_batch(proc.stdout, chosen)


def _split_batch(out: bytes, blobs: list[str]) -> dict[str, bytes]:
    found, pos = {}, 0
    for blob in blobs:
        end = out.find(b"\n", pos)
        if end < 0:
            break
        header = out[pos:end].split()
        pos = end + 1
        if len(header) < 3:
            continue  # "<id> missing"
        size = int(header[2])
        found[blob] = out[pos:pos + size]
        pos += size + 1
    return found
