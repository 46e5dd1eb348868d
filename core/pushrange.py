"""The commits a push brings, who made them and what each one itself changed.

Shared by the pre-push hook, the server's pre-receive hook and the plugins
that judge a push (access), so that all of them see the same commits. Every
commit of every pushed range counts, not just the tips: a bad file in the
middle of a branch stays in its history. A merge is charged only with what
its author introduced: paths whose content differs from every parent, not
the changes it brings in from a branch whose commits are checked on their own.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from .errors import GitgovError

if TYPE_CHECKING:
    from .events import RefUpdate
    from .git import RawChange, Repo

_FORMAT = "%H%x00%P%x00%an%x00%ae%x00%ce%x00%s%x00%B%x01"


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    committer_email: str
    subject: str
    message: str = ""

    @property
    def author(self) -> str:
        return f"{self.author_name} <{self.author_email}>"


@dataclass
class PushRange:
    commits: list[str] = field(default_factory=list)  # oldest first, each once
    refs_of: dict[str, list[str]] = field(default_factory=dict)  # sha -> refs that bring it
    infos: dict[str, CommitInfo] = field(default_factory=dict)
    changes: dict[str, list["RawChange"]] = field(default_factory=dict)  # the commit's own changes
    problems: list[tuple[str, str]] = field(default_factory=list)  # (ref, why it cannot be read)

    def ref_of(self, sha: str) -> str:
        return (self.refs_of.get(sha) or [""])[0]


def compute(repo: "Repo", refs: Sequence["RefUpdate"],
            commits_of: Callable[["RefUpdate"], list[str]]) -> PushRange:
    """Read every pushed commit, its metadata and its own changes (a few git processes)."""
    out = PushRange()
    for ref in refs:
        if ref.is_delete:
            continue
        try:
            shas = commits_of(ref)
        except GitgovError as exc:
            out.problems.append((ref.ref, f"cannot read {ref.new[:12]}: {exc}"))
            continue
        for sha in shas:
            if sha not in out.refs_of:
                out.commits.append(sha)
            out.refs_of.setdefault(sha, []).append(ref.ref)
    if not out.commits:
        return out
    try:
        out.infos = commit_infos(repo, out.commits)
        # the log already gave each commit's parents: no process to look them up again
        first = {sha: next(iter(info.parents), None) for sha, info in out.infos.items()}
        by_commit = repo.changes_by_commit(out.commits, first_parents=first)
        out.changes = own_changes(repo, out.infos, by_commit)
    except GitgovError as exc:
        out.problems.append((out.ref_of(out.commits[0]), f"cannot read the pushed commits: {exc}"))
    return out


def peeled_kinds(repo: "Repo", refs: Iterable["RefUpdate"]) -> dict[str, str]:
    """New tip -> the type of what it points to, tags peeled ("commit", "tree", "blob"),
    for every ref the push does not delete: one `cat-file` process for all of them."""
    tips = list(dict.fromkeys(r.new for r in refs if not r.is_delete))
    if not tips:
        return {}
    out = repo.git("cat-file", "--batch-check=%(objecttype)",
                   input="".join(f"{tip}^{{}}\n" for tip in tips).encode())
    # A missing object ("<tip>^{} missing") is left out: server_commits asks again and fails as it did.
    return {tip: kind for tip, kind in zip(tips, out.decode().split("\n"))
            if kind in ("commit", "tree", "blob")}


def server_commits(repo: "Repo", ref: "RefUpdate", kind: str | None = None) -> list[str]:
    """On the receiving side: commits reachable from the new tip and from no existing ref.

    In pre-receive the refs still point where they did before the push, so
    this is exactly what the push adds, for a new branch, a force push or a tag.
    ``kind``: the tip's peeled type, when peeled_kinds already knows it.
    """
    if kind is None:
        kind = repo.git("cat-file", "-t", f"{ref.new}^{{}}").decode().strip()  # tags peeled
    if kind != "commit":
        return []  # a tree or a blob, tagged or not: no commits (the server refuses it)
    return repo.rev_list("--topo-order", "--reverse", f"{ref.new}^{{commit}}", "--not", "--all")


def commit_infos(repo: "Repo", shas: Sequence[str]) -> dict[str, CommitInfo]:
    out = repo.git("log", "--no-walk=unsorted", "--stdin", f"--format={_FORMAT}",
                   input="".join(f"{s}\n" for s in shas).encode())
    infos = {}
    for record in out.decode("utf-8", "replace").split("\x01"):
        parts = record.lstrip("\n").split("\x00")
        if len(parts) < 7:
            continue
        sha, parents, name, email, committer, subject, message = parts[:7]
        infos[sha] = CommitInfo(sha, tuple(parents.split()), name, email.lower(), committer.lower(),
                                subject, message.strip())
    return infos


def own_changes(repo: "Repo", infos: dict[str, CommitInfo],
                by_commit: dict[str, list["RawChange"]]) -> dict[str, list["RawChange"]]:
    """Drop from each merge the paths whose content is that of one of its other parents."""
    merges = {sha: info.parents[1:] for sha, info in infos.items() if len(info.parents) > 1}
    queries = [f"{p}:{c.path}" for sha, others in merges.items()
               for c in by_commit.get(sha, []) for p in others]
    found = _object_ids(repo, queries) if queries else {}
    out = {}
    for sha, changes in by_commit.items():
        others = merges.get(sha, ())
        out[sha] = [c for c in changes if not any(
            found.get(f"{p}:{c.path}") == (None if c.deleted else c.new_blob) for p in others)]
    return out


def _object_ids(repo: "Repo", names: Iterable[str]) -> dict[str, str | None]:
    """'<rev>:<path>' -> object id, or None where the path does not exist there."""
    names = list(names)
    out = repo.git("cat-file", "--batch-check=%(objectname)", input="\n".join(names).encode() + b"\n")
    lines = out.decode("utf-8", "replace").splitlines()
    return {name: (None if line.endswith(" missing") or " " in line else line)
            for name, line in zip(names, lines)}


def read_text(repo: "Repo", rev_path: str) -> str | None:
    """The text of ``<rev>:<path>``, or None when there is no such file."""
    import subprocess

    proc = subprocess.run(["git", "cat-file", "blob", rev_path], cwd=repo.root, capture_output=True)
    if proc.returncode != 0:
        return None
    return proc.stdout.decode("utf-8-sig", "replace")


def for_context(ctx: object, repo: "Repo", refs: Sequence["RefUpdate"],
                commits_of: Callable[["RefUpdate"], list[str]]) -> PushRange:
    """compute(), once per hook run: the hook and the plugins that judge the push share it."""
    cache = ctx.__dict__.setdefault("_push_ranges", {})
    key = tuple((r.ref, r.old, r.new) for r in refs)
    if key not in cache:
        cache[key] = compute(repo, refs, commits_of)
    return cache[key]
