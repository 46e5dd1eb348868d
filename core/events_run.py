"""Events about runs under `gitgov run`: started and finished. Loaded on first
use through events.py. Each class has a docstring: for a dataclass without one,
dataclasses builds it from inspect.signature on every import (~0.2 ms a class)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from .events import Event


# ---- runs ---------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    """A command is about to run: what it is, with which params, seed and declared inputs.
    A plugin's error finding refuses the run before the command starts."""

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
    """A run's command ended: how, how long it took, its metrics, and the inputs and
    outputs with their hashes."""

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
