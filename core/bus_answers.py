"""What a plugin may answer, checked before the bus takes it: findings, facts and
the events it emitted. A malformed answer raises here; the bus turns that into
a plugin-error finding that names the plugin, so one bad plugin never reaches
the ledger or the report with fields that do not fit them."""
from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from .events import EVENT_NAMES, Event, Fact, Finding, _plain

if TYPE_CHECKING:
    from .bus import Outcome
    from .context import Context

# Ledger kinds that only the engine writes: a plugin's fact must not pose as one.
RESERVED_KINDS = frozenset(EVENT_NAMES) | {"ledger_created"}


def results(value: Any) -> Iterable[Any]:
    if value is None:
        return ()
    if isinstance(value, (Finding, Fact)):
        return (value,)
    if isinstance(value, (str, bytes, dict)):
        raise TypeError(f"returned {type(value).__name__}, expected Finding, Fact or None")
    return value


def json_safe(what: str, value: Any) -> None:
    try:
        json.dumps(_plain(value), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} cannot be stored in the ledger: {exc}") from None


def taken(ctx: "Context", before: int) -> list[Event]:
    """The events a plugin queued with ctx.emit during its call."""
    new = ctx.pending[before:]
    del ctx.pending[before:]
    for item in new:
        if not isinstance(item, Event):
            raise TypeError(f"emitted {type(item).__name__}, expected an Event")
        json_safe(f"emitted {item.name}", item.to_dict())
    return new


def _text(what: str, **fields: Any) -> None:
    """The ledger stores these as text columns and the report prints them: only text fits."""
    for name, value in fields.items():
        if not isinstance(value, str):
            raise TypeError(f"{what} has a {name} of type {type(value).__name__}, expected str")


def accept(item: Any, plugin: str, event: Event, mine: list[Finding], out: "Outcome") -> None:
    if isinstance(item, Finding):
        _text("a finding", code=item.code, message=item.message)
        if item.path is not None:
            _text(f"finding {item.code!r}", path=item.path)
        if not isinstance(item.details, Mapping):
            raise TypeError(f"finding {item.code!r} has details of type "
                            f"{type(item.details).__name__}, expected a mapping")
        json_safe(f"finding {item.code!r}", item.details)
        # The bus, not the plugin, says who spoke: a finding cannot pose as another plugin's.
        mine.append(dataclasses.replace(item, plugin=plugin, hook=event.name,
                                        path=item.path or getattr(event, "path", None)))
    elif isinstance(item, Fact):
        _text("a fact", kind=item.kind)
        _text(f"fact {item.kind!r}", subject=item.subject)
        if not isinstance(item.payload, Mapping):
            raise TypeError(f"fact {item.kind!r} has a payload of type "
                            f"{type(item.payload).__name__}, expected a mapping")
        if item.kind in RESERVED_KINDS:
            raise ValueError(f"returned a fact of kind {item.kind!r}, which only gitgov records")
        json_safe(f"fact {item.kind!r}", item.payload)
        out.facts.append((event, item))
    else:
        raise TypeError(f"returned {type(item).__name__}, expected Finding, Fact or None")
