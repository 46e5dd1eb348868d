"""Where a check reads other versions from: the index, a commit, or the working tree.

A staged file is checked against what is staged (its foreign keys look up
the staged version of the other dataset) and compared with HEAD; a pushed
commit against that commit and its first parent; a file on disk against
the working tree and HEAD.
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from .formats import Source

if TYPE_CHECKING:
    from gitgov.core.config import DatasetPolicy, Policy
    from gitgov.core.git import Repo


def _git(repo: "Repo", *args: str, input: bytes | None = None) -> bytes | None:
    proc = subprocess.run(["git", *args], cwd=repo.root, capture_output=True, input=input)
    return proc.stdout if proc.returncode == 0 else None


def hash_files(repo: "Repo", paths: list[str]) -> dict[str, str]:
    """Git blob ids of files in the working tree (without writing them to Git)."""
    from gitgov.core.blobid import blob_ids, cache_file

    return blob_ids(repo.root, paths, cache_file(repo))


def hash_later(repo: "Repo", paths: list[str]) -> "Callable[[], dict[str, str]]":
    """Start hashing on another thread now; the returned call waits for the ids."""
    import threading

    out: dict[str, str] = {}
    thread = threading.Thread(target=lambda: out.update(hash_files(repo, paths)), daemon=True,
                              name="gitgov-hash")
    thread.start()

    def result() -> dict[str, str]:
        thread.join()
        return out
    result.paths = frozenset(paths)  # type: ignore[attr-defined]
    return result


def worktree_files(repo: "Repo") -> list[str]:
    """Tracked and untracked files on disk, sorted, leaving out what .gitignore ignores."""
    out = _git(repo, "ls-files", "-z", "-co", "--exclude-standard") or b""
    paths = (p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p)
    return sorted(p for p in paths if os.path.isfile(repo.root / p))


@dataclass(frozen=True)
class Snapshot:
    """One state of the repository: "index", "commit" (with sha) or "worktree"."""

    kind: str
    commit: str | None = None

    def files(self, repo: "Repo", ds: "DatasetPolicy", listings: dict | None = None, *,
              policy: "Policy") -> dict[str, str | None]:
        """path -> blob id of the files the dataset owns in this state: those its globs match
        and no earlier dataset of ``policy`` matches (the first that matches a file owns it).

        ``listings`` (one per run) keeps the index's or a commit's listing: during a hook
        neither changes, and every foreign key and every re-check asks for one."""
        def mine(path: str) -> bool:
            owner = policy.dataset_for(path) if ds.matches(path) else None
            return owner is not None and owner.name == ds.name

        if self.kind == "worktree":
            return hash_files(repo, [p for p in worktree_files(repo) if mine(p)])  # type: ignore[return-value]
        return {path: blob for path, blob in self._listing(repo, listings) if mine(path)}

    def _listing(self, repo: "Repo", listings: dict | None) -> list[tuple[str, str]]:
        key = (self.kind, self.commit)
        if listings is not None and key in listings:
            return listings[key]
        args = ["ls-files", "-s", "-z"] if self.kind == "index" else ["ls-tree", "-r", "-z", self.commit or "HEAD"]
        out = _git(repo, *args) or b""
        entries = []
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, _, name = record.partition(b"\t")
            fields = meta.decode().split()
            entries.append((name.decode("utf-8", "surrogateescape"),
                            fields[1] if self.kind == "index" else fields[2]))
        if listings is not None:
            if len(listings) >= 4:  # a push walks its commits in order: keep the recent ones
                listings.clear()
            listings[key] = entries
        return entries

    def baseline(self, repo: "Repo", path: str) -> str | None:
        """Blob id of the last committed version of `path` before this state, if any."""
        base = f"{self.commit}^" if self.kind == "commit" else "HEAD"
        out = _git(repo, "rev-parse", "--verify", "-q", f"{base}:{path}")
        return out.decode().strip() if out else None

    def message(self, repo: "Repo") -> str | None:
        if self.kind != "commit":
            return None
        out = _git(repo, "log", "-1", "--format=%B", self.commit or "HEAD")
        return out.decode("utf-8", "replace") if out is not None else None


def snapshot_for(stage: str, commit: str | None) -> Snapshot:
    if stage == "staged":
        return Snapshot("index")
    if stage == "pushed" and commit:
        return Snapshot("commit", commit)
    return Snapshot("worktree")


def reference_values(files: dict[str, str | None], target: "DatasetPolicy", column: str,
                     fmt_of: Any, source_of: Callable[[str, str | None], Source],
                     memo: dict | None = None) -> tuple[Any, dict[str, str | None]]:
    """(the distinct values of target.column in `files`, the target's files in this state,
    as text; path -> blob read).

    ``memo`` (one per run) keeps the values by the exact file versions they came from:
    the files of a push's commits that do not touch the target are read once, not per commit.
    """
    key = (target.name, column, tuple(sorted(files.items())))
    if memo is not None and key in memo:
        return memo[key], files
    found = _distinct(files, column, fmt_of, source_of)
    if memo is not None:
        if len(memo) >= 64:  # value sets can be large: keep the recent ones only
            memo.clear()
        memo[key] = found
    return found, files


def _distinct(files: dict[str, str | None], column: str, fmt_of: Any,
              source_of: Callable[[str, str | None], Source]) -> Any:
    import pyarrow as pa
    from gitgov.core import arrow_kernels as pc

    from .coerce import as_text
    from .formats import ReadError, Reopen, open_batches

    chunks = []
    for path, blob in sorted(files.items()):
        try:
            opened = open_batches(source_of(path, blob), fmt_of(path))
        except ReadError:
            continue  # an unreadable target file fails its own check, not this one
        found: list = []
        while opened is not None:
            try:
                with opened:
                    if column in opened.names:
                        for batch in opened:
                            text, _bad = as_text(batch.column(opened.names.index(column)))
                            found.append(pc.unique(text))
                opened = None
            except Reopen as again:  # the fast reader gave up: the careful one reads it all
                opened, found = again.batches, []
            except ReadError:
                opened = None  # what was read before the damage still holds keys
        chunks += found
    if not chunks:
        return None
    return pc.unique(pa.chunked_array(chunks, pa.string()))
