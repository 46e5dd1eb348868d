"""The event of a staged gitgov.toml, in a module of its own: only a commit that
stages the policy loads it (through events.py, on first use)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .events import Event


@dataclass(frozen=True, kw_only=True)
class PolicyStaged(Event):
    """gitgov.toml is staged: the commit being made changes the policy (pre-commit).

    ``blob`` is its new Git object id, ``previous`` the one it replaces (None
    when the file is new); read either with ``ctx.repo.read_blob``. Files of
    datasets whose rules change are not changed themselves, so they get no
    ``data_added`` event: the validation plugin checks them again under the
    new rules from this one.
    """

    name: ClassVar[str] = "policy_staged"
    path: str
    blob: str | None = None
    previous: str | None = None

    @property
    def subject(self) -> str:
        return self.path
