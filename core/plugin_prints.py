"""With --json, standard output holds the document alone: what a plugin prints while it
loads or answers a hook goes to standard error. A command's own output, a plugin's
command included, stays where it is."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

_JSON = [False]


def json_mode(on: bool) -> None:
    _JSON[0] = on


@contextmanager
def to_stderr() -> Iterator[None]:
    """Around a plugin's import or hook call: its print() lands on stderr in JSON mode."""
    if not _JSON[0]:
        yield
        return
    real, sys.stdout = sys.stdout, sys.stderr
    try:
        yield
    finally:
        sys.stdout = real
