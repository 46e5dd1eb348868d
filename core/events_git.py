"""Events about Git: a commit created, a push requested or received, and the
changes and ref updates they carry. Loaded on first use through events.py."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .events import Event


# ---- git ----------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    """One governed path changed by a commit."""

    path: str
    status: str  # A, M, D (git's letters)
    dataset: str | None = None
    blob: str | None = None


@dataclass(frozen=True, kw_only=True)
class CommitCreated(Event):
    name: ClassVar[str] = "commit_created"
    sha: str
    parents: tuple[str, ...] = ()
    author: str = ""
    message: str = ""
    changes: tuple[Change, ...] = ()

    @property
    def subject(self) -> str:
        return self.sha


@dataclass(frozen=True)
class RefUpdate:
    """One line of a push: git's ``<local ref> <local sha> <remote ref> <remote sha>``."""

    ref: str
    old: str
    new: str
    local_ref: str = ""

    @property
    def is_delete(self) -> bool:
        return set(self.new) == {"0"}

    @property
    def is_create(self) -> bool:
        return set(self.old) == {"0"}


@dataclass(frozen=True, kw_only=True)
class PushRequested(Event):
    name: ClassVar[str] = "push_requested"
    remote: str = ""
    url: str = ""
    refs: tuple[RefUpdate, ...] = ()

    @property
    def subject(self) -> str:
        return self.remote or self.url


@dataclass(frozen=True, kw_only=True)
class PushReceived(Event):
    name: ClassVar[str] = "push_received"
    refs: tuple[RefUpdate, ...] = ()

    @property
    def subject(self) -> str:
        return ",".join(r.ref for r in self.refs)
