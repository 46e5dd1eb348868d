"""The daemon's settings: [watch] in gitgov.toml, with the defaults and the fixed timings."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_DEBOUNCE_MS = 500
DEFAULT_RESCAN_S = 300.0
DEFAULT_SCHEDULE_MIN = 60.0
POLICY_POLL_S = 2.0
RETRY_S = 5.0  # after a ledger write failed
OPEN_GRACE_S = 5.0
RESCAN_GAP_S = 1.0  # between rescans that hints ask for (overflows)
LINGER_S = 0.05  # during a burst, what settles within this is recorded in one batch
STATUS_EVERY_S = 0.25


@dataclass
class Settings:
    debounce: float = DEFAULT_DEBOUNCE_MS / 1000
    rescan: float = DEFAULT_RESCAN_S
    schedule: float = DEFAULT_SCHEDULE_MIN * 60

    @property
    def open_grace(self) -> float:
        """How long a created file that was never closed is waited for."""
        return max(OPEN_GRACE_S, 10 * self.debounce)

    @classmethod
    def from_policy(cls, policy: Any) -> "Settings":
        w = policy.watch or {}
        return cls(debounce=w.get("debounce_ms", DEFAULT_DEBOUNCE_MS) / 1000,
                   rescan=float(w.get("rescan_seconds", DEFAULT_RESCAN_S)),
                   schedule=float(w.get("schedule_minutes", DEFAULT_SCHEDULE_MIN)) * 60)


def policy_stamp(path: Path) -> tuple[int, int] | None:
    """gitgov.toml's size and mtime: a change means the policy must be reloaded."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)
