"""Cache files under .gitgov/cache: each written whole, and on a best-effort basis.

A temporary file beside the cache is renamed over it, so a reader sees the old
text or the new one, never half of either. The temporary name is per process
and per thread: hooks, commands and the watcher's threads write these files at
the same time. A write that fails (a read-only repository) only costs the time
the cache would have saved. Standard library only: the hooks' hot path uses it.
"""
from __future__ import annotations

import _thread
import os
from pathlib import Path


def write_whole(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (its folder made if need be); failures are ignored."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{_thread.get_ident()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
