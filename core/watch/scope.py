"""What the daemon watches: the governed files, and the folders that hold them.

The globs are the dataset paths of gitgov.toml, or ``[watch] paths`` when it is
set, minus ``[watch] ignore``. The folders to watch are the literal prefixes
of those globs (``data/raw/customers*.csv`` -> ``data/raw``), recursive only
when a glob reaches below its folder. gitgov's own state, Git's, SQLite's
side files and the temporary files of atomic rewrites are never watched, or
the daemon would feed on its own writes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..atomic import TEMP_PREFIX
from ..globs import compile_patterns

if TYPE_CHECKING:
    from ..config import Policy

IGNORED_DIRS = frozenset({".git", ".gitgov"})
IGNORED_SUFFIXES = ("-wal", "-journal", "-shm")
_WILD = re.compile(r"[*?\[\\]")


@dataclass(frozen=True)
class Root:
    """A folder to watch, relative to the worktree ("" is the worktree itself)."""

    rel: str
    recursive: bool

    def contains(self, rel: str) -> bool:
        """Whether a path below this folder is covered by watching it."""
        if not self.rel:
            return self.recursive or "/" not in rel
        if not rel.startswith(self.rel + "/"):
            return False
        return self.recursive or "/" not in rel[len(self.rel) + 1:]


def literal_root(glob: str) -> Root:
    """The folder a glob is anchored in, and whether it reaches below it."""
    if glob.endswith("/"):
        glob += "**"
    segments = glob.split("/")
    literal = []
    for seg in segments[:-1]:
        if _WILD.search(seg):
            break
        literal.append(seg)
    rest = segments[len(literal):]
    return Root("/".join(literal), len(rest) > 1 or "**" in rest)


def plan_roots(globs: tuple[str, ...]) -> tuple[Root, ...]:
    """The fewest folders that cover every glob: nested ones fold into a recursive parent."""
    merged: dict[str, bool] = {}
    for glob in globs:
        root = literal_root(glob)
        merged[root.rel] = merged.get(root.rel, False) or root.recursive
    roots = [Root(rel, rec) for rel, rec in sorted(merged.items())]
    return tuple(r for r in roots
                 if not any(o is not r and o.recursive and o.contains(r.rel + "/x") for o in roots))


def builtin_ignored(rel: str) -> bool:
    name = rel.rpartition("/")[2]
    if name.startswith(TEMP_PREFIX) or name.endswith(IGNORED_SUFFIXES):
        return True
    # Runs once per file in a scan: the substring test spares almost every path the split.
    return ".git" in rel and any(p in IGNORED_DIRS for p in rel.split("/"))


@dataclass(frozen=True)
class Scope:
    root: Path
    globs: tuple[str, ...]
    roots: tuple[Root, ...]
    matcher: re.Pattern[str]
    ignore: re.Pattern[str]
    policy: "Policy"

    @classmethod
    def from_policy(cls, root: Path, policy: "Policy") -> "Scope":
        watch = policy.watch or {}
        globs = tuple(watch.get("paths") or policy.governed_patterns())
        return cls(root=Path(root), globs=globs, roots=plan_roots(globs),
                   matcher=compile_patterns(globs), ignore=compile_patterns(watch.get("ignore", ())),
                   policy=policy)

    @classmethod
    def for_globs(cls, root: Path, globs: tuple[str, ...], policy: "Policy") -> "Scope":
        """Only these globs (one dataset's paths), without [watch] ignore."""
        return cls(root=Path(root), globs=tuple(globs), roots=plan_roots(tuple(globs)),
                   matcher=compile_patterns(globs), ignore=compile_patterns(()), policy=policy)

    def wants(self, rel: str) -> bool:
        """A file the daemon records: matched by a glob and not ignored."""
        return (self.matcher.match(rel) is not None and not builtin_ignored(rel)
                and self.ignore.match(rel) is None)

    def dataset(self, rel: str) -> str | None:
        ds = self.policy.dataset_for(rel)
        return ds.name if ds else None

    def covers_dir(self, rel: str) -> bool:
        """Whether files in folder `rel` could be watched (or it leads to a watched folder)."""
        if builtin_ignored(rel):
            return False
        return any(r.contains(rel + "/x") or _is_ancestor(rel, r.rel) for r in self.roots)

    def abspath(self, rel: str) -> Path:
        return self.root / rel


def _is_ancestor(rel: str, of: str) -> bool:
    return not rel or of == rel or of.startswith(rel + "/")


def to_rel(root: Path, path: str | Path) -> str | None:
    """Posix path relative to the worktree, or None when outside it."""
    text = str(path)
    base = str(root)
    if text == base:
        return ""
    if not text.startswith(base + "/"):
        return None
    return text[len(base) + 1:]
