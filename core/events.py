"""The vocabulary of gitgov: lifecycle events and what plugins return for them.

Every source (git hooks, the watcher, `gitgov run`, the retention scheduler,
the server hook) turns what it saw into these frozen dataclasses and hands
them to the bus. Each event class names the plugin hook that receives it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import import_module
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

__all__ = ["SEVERITIES", "SOURCES", "EVENT_NAMES", "EVENT_TYPES", "Event", "Finding", "Fact", "utcnow",
           "error", "warning", "info", "DataAdded", "DataRemoved", "DataDisposed", "RetentionExpired",
           "QualityAlert", "PolicyStaged", "Change", "CommitCreated", "RefUpdate", "PushRequested",
           "PushReceived", "RunStarted", "RunFinished"]

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


# ---- the lifecycle events, one module per family --------------------------
# Each frozen dataclass costs about 1.5 ms to create (dataclasses compiles its
# methods), so a family is imported only when one of its classes is first
# used: `gitgov run` never builds the Git or data events, a commit never the
# run events. `from gitgov.core.events import DataAdded` works as before.

_FAMILIES = {
    "events_data": ("DataAdded", "DataRemoved", "DataDisposed", "RetentionExpired", "QualityAlert"),
    "events_policy": ("PolicyStaged",),
    "events_git": ("Change", "CommitCreated", "RefUpdate", "PushRequested", "PushReceived"),
    "events_run": ("RunStarted", "RunFinished"),
}
_HOME = {name: module for module, names in _FAMILIES.items() for name in names}
# The lifecycle events in hook order, by the hook they fire; "data_added" -> DataAdded.
EVENT_NAMES: tuple[str, ...] = ("data_added", "data_removed", "data_disposed", "retention_expired",
                                "policy_staged", "commit_created", "push_requested", "push_received",
                                "run_started", "run_finished", "quality_alert")

if TYPE_CHECKING:
    from .events_data import DataAdded, DataDisposed, DataRemoved, QualityAlert, RetentionExpired  # noqa: F401
    from .events_policy import PolicyStaged  # noqa: F401
    from .events_git import Change, CommitCreated, PushReceived, PushRequested, RefUpdate  # noqa: F401
    from .events_run import RunFinished, RunStarted  # noqa: F401

    EVENT_TYPES: tuple[type[Event], ...]


def __getattr__(name: str) -> Any:
    if name == "EVENT_TYPES":
        value: Any = tuple(__getattr__(n.title().replace("_", "")) for n in EVENT_NAMES)
    elif name in _HOME:
        value = getattr(import_module(f"{__package__}.{_HOME[name]}"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


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
