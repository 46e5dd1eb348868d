"""With --json, standard output holds the document alone: what a plugin prints while it
loads or answers a hook goes to standard error. A command's own output, a plugin's
command included, stays where it is."""
from __future__ import annotations

import sys

_JSON = [False]


def json_mode(on: bool) -> None:
    _JSON[0] = on


class to_stderr:  # noqa: N801 - used as a context manager, named for what it does
    """Around a plugin's import or hook call: its print() lands on stderr in JSON mode.
    (A plain class: contextlib would be an import on `gitgov run`'s path.)"""

    def __enter__(self) -> None:
        self.real = sys.stdout
        if _JSON[0]:
            sys.stdout = sys.stderr

    def __exit__(self, *exc: object) -> None:
        sys.stdout = self.real
