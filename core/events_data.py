"""Events about data: a governed file added, removed, disposed of, past its
retention, or drifting in quality. Loaded on first use through events.py."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .events import Event


# ---- data ---------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class DataAdded(Event):
    """A governed file was staged, observed on disk, pushed or checked on demand.

    ``blob`` is Git's object id when the bytes are in Git (staged or pushed);
    ``sha256`` is set when gitgov hashed the bytes itself (observed files).
    """

    name: ClassVar[str] = "data_added"
    path: str
    dataset: str | None = None
    blob: str | None = None
    sha256: str | None = None
    size: int | None = None
    stage: str = "staged"  # staged | observed | pushed | checked
    commit: str | None = None

    @property
    def subject(self) -> str:
        return self.path


@dataclass(frozen=True, kw_only=True)
class DataRemoved(Event):
    name: ClassVar[str] = "data_removed"
    path: str
    dataset: str | None = None
    stage: str = "staged"
    commit: str | None = None

    @property
    def subject(self) -> str:
        return self.path


@dataclass(frozen=True, kw_only=True)
class DataDisposed(Event):
    """A plugin disposed of data under a retention or erasure policy."""

    name: ClassVar[str] = "data_disposed"
    path: str
    dataset: str | None = None
    reason: str = ""
    rows_before: int | None = None
    rows_after: int | None = None
    sha256_before: str | None = None
    sha256_after: str | None = None

    @property
    def subject(self) -> str:
        return self.path


@dataclass(frozen=True, kw_only=True)
class RetentionExpired(Event):
    name: ClassVar[str] = "retention_expired"
    path: str
    dataset: str
    expired_on: str = ""
    rows: int | None = None

    @property
    def subject(self) -> str:
        return self.path


# ---- monitoring -----------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class QualityAlert(Event):
    """A dataset version drifted from the last committed one (emitted by validation).

    ``metric`` names what moved ("rows", "null_fraction.email", "schema"),
    ``previous`` and ``current`` its two values, ``change`` the rule's reading
    of it (a percentage, points, or the schema changes). Plugins forward these
    (chat, e-mail, an incident tool); the finding that blocks or warns is
    raised separately on the ``data_added`` event.
    """

    name: ClassVar[str] = "quality_alert"
    path: str
    dataset: str | None = None
    metric: str = ""
    severity: str = "warning"
    message: str = ""
    previous: Any = None
    current: Any = None
    change: Any = None
    blob: str | None = None
    baseline_blob: str | None = None
    commit: str | None = None

    @property
    def subject(self) -> str:
        # Not the path: the newest entry about a path decides its open findings.
        return f"quality:{self.dataset or self.path}"
