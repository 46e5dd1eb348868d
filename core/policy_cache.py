"""gitgov.toml's parsed table, kept by the SHA-256 of the exact text it was parsed from.

Importing tomllib costs every command that loads the policy ~5 ms (`gitgov run`
and the hooks among them); reading the same table back as JSON costs ~0.1 ms.
An entry answers only for the text whose hash it carries, so an edit can never
be answered with an older table, and the table is still validated and built
into a Policy as before. A table that JSON cannot hold exactly (a TOML date,
NaN) is not kept.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from .cachefile import write_whole
from .small_hash import sha256

CACHE_NAME = "policy-tables.json"
KEEP = 4  # tables kept: linked worktrees share the cache folder, each with its own gitgov.toml


def parsed_table(text: str, cache_dir: Path | None, parse: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The table ``parse()`` gives for ``text``: from the cache when it holds this text's."""
    if cache_dir is None or not cache_dir.is_dir():
        return parse()
    key = sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    path = cache_dir / CACHE_NAME
    tables = _read(path)
    table = tables.get(key)
    if isinstance(table, dict):
        return table
    table = parse()
    stored = _as_json(table)
    if stored is not None:
        tables = {k: v for k, v in tables.items() if k != key}
        kept = list(tables.items())[-(KEEP - 1):]
        _write(path, dict(kept + [(key, json.loads(stored))]))
    return table


def _as_json(table: dict[str, Any]) -> str | None:
    """The table as JSON when it reads back equal, with the same types (JSON keeps int
    and float apart); None for values it cannot hold: dates, times, NaN, infinities."""
    try:
        text = json.dumps(table, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return text if json.loads(text) == table else None


def _read(path: Path) -> dict[str, Any]:
    try:
        tables = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return tables if isinstance(tables, dict) else {}


def _write(path: Path, tables: dict[str, Any]) -> None:
    write_whole(path, json.dumps(tables))
