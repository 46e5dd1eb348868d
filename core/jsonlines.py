"""One line of JSON Lines as the object it must be, with the same words wherever it is read."""
from __future__ import annotations

import json
from typing import Any


def json_object(line: str | bytes, number: int) -> dict[str, Any]:
    """The object on line ``number``; ValueError naming the line when it is not one."""
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise ValueError(f"line {number}: not valid JSON: {exc.args[0]}") from None
    if not isinstance(record, dict):
        raise ValueError(f"line {number}: expected a JSON object per line")
    return record
