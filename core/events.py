"""The vocabulary of gitgov: lifecycle events and what plugins return for them.

Every source (git hooks, the watcher, `gitgov run`, the retention scheduler,
the server hook) turns what it saw into these frozen dataclasses and hands
them to the bus. Each event class names the plugin hook that receives it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar, Mapping

SEVERITIES = ("info", "warning", "error")
SOURCES = ("hook", "watcher", "cli", "server", "scheduler", "run", "plugin")


def utcnow() -> str:
    """UTC time as ISO-8601 with a Z suffix, to the microsecond."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _plain(value: Any) -> Any:
    """JSON-safe copy of dataclasses, tuples and mappings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of all lifecycle events."""

    name: ClassVar[str] = "event"
    actor: str = ""
    source: str = "cli"
    created: str = field(default_factory=utcnow)

    @property
    def subject(self) -> str:
        """What the ledger indexes this event by (a path, a sha, a run id)."""
        return ""

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.name, **_plain(self)}


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


# ---- runs ---------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    name: ClassVar[str] = "run_started"
    run_id: str
    run_name: str = ""
    command: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    inputs: tuple[str, ...] = ()

    @property
    def subject(self) -> str:
        return self.run_id


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    name: ClassVar[str] = "run_finished"
    run_id: str
    status: str = "ok"  # ok | failed | interrupted
    exit_code: int | None = None
    duration: float = 0.0
    peak_memory: int | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)  # path -> sha256
    inputs: Mapping[str, str] = field(default_factory=dict)  # path -> sha256, declared or observed
    # per-file records ({path: {sha256, size, blob, tracked, clean, stored}} under "inputs"
    # and "outputs"), the ending signal, metric steps
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        return self.run_id


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


EVENT_TYPES: tuple[type[Event], ...] = (
    DataAdded, DataRemoved, DataDisposed, RetentionExpired,
    CommitCreated, PushRequested, PushReceived, RunStarted, RunFinished, QualityAlert,
)


# ---- what plugins return -------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Finding:
    """One observation by a plugin. Findings of severity ``error`` block."""

    severity: str
    code: str
    message: str
    path: str | None = None
    plugin: str = ""
    hook: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")

    @property
    def blocks(self) -> bool:
        return self.severity == "error"

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)


@dataclass(frozen=True, kw_only=True)
class Fact:
    """A plugin's record for the ledger (a profile, a snapshot), written with the event."""

    kind: str
    subject: str
    payload: Mapping[str, Any] = field(default_factory=dict)


def error(code: str, message: str, path: str | None = None, **details: Any) -> Finding:
    return Finding(severity="error", code=code, message=message, path=path, details=details)


def warning(code: str, message: str, path: str | None = None, **details: Any) -> Finding:
    return Finding(severity="warning", code=code, message=message, path=path, details=details)


def info(code: str, message: str, path: str | None = None, **details: Any) -> Finding:
    return Finding(severity="info", code=code, message=message, path=path, details=details)
