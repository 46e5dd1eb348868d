"""A run's params: ``--param KEY=VALUE``, ``--params-file`` (JSON or TOML), and what JSON can hold.

Params reach the command as JSON (GITGOV_PARAMS and a params file) and are
recorded in the ledger, so a value JSON cannot hold (NaN, infinity, a TOML
date) is refused with its key before anything runs; a bad file names its line
and column.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .errors import InputError


def parse_param(text: str) -> tuple[str, Any]:
    """``k=v`` with v read as JSON when it is JSON (numbers, true, lists), else text."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise InputError(f"--param {text!r}: expected KEY=VALUE, e.g. --param lr=0.1")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # the run's record keeps UTF-8 text only
        shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise InputError(f"--param '{shown}': not UTF-8 text") from None
    try:
        value = json.loads(raw, parse_constant=_not_json)
        json_value(value, "")
    except (ValueError, InputError):  # NaN, Infinity, 1e999: not JSON a script could read back
        value = raw
    return key.strip(), value


def _not_json(constant: str) -> Any:
    raise ValueError(constant)


MAX_DEPTH = 64  # params nested deeper are no settings; every reader of the run recurses


def json_value(value: Any, where: str, depth: int = 0, top: str | None = None) -> None:
    """Params travel as JSON (the environment, the params file, the ledger): refuse, naming
    the key, what JSON cannot hold (NaN, infinity, a TOML date), and values nested deeper
    than MAX_DEPTH."""
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"{where}: {value} is not a number JSON can hold; write it as text")
    top = where if top is None else top  # the name the user wrote, not a path 64 keys long
    if depth > MAX_DEPTH and isinstance(value, (dict, list)):
        raise InputError(f"{top}: nested more than {MAX_DEPTH} levels deep; params are settings, "
                         "not data")
    if isinstance(value, dict):
        for key, item in value.items():
            json_value(item, f"{where}.{key}" if where else str(key), depth + 1, top)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            json_value(item, f"{where}[{i}]", depth + 1, top)
    elif not isinstance(value, (str, int, float, type(None))):
        raise InputError(f"{where}: a {type(value).__name__} is not a JSON value; params are "
                         "text, numbers, true/false, lists and tables (write a date as text)")


def load_params_file(path: Path) -> dict[str, Any]:
    """A JSON or TOML file of params; a file that does not parse names its line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"params file {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"params file {path}: cannot read it ({exc})") from None
    try:
        value = _parse(path, text)
        if not isinstance(value, dict):
            raise InputError(f"{path}: params file must hold an object of name = value pairs, "
                             f"not {type(value).__name__}")
        for key, item in value.items():
            json_value(item, f"params file {path}: {key}")
    except RecursionError:  # the parsers and json_value read nested values recursively
        raise InputError(f"{path}: params file is nested too deeply to read") from None
    return value


def _parse(path: Path, text: str) -> Any:
    if path.suffix.lower() == ".toml":
        return _parse_toml(path, text)
    try:
        return json.loads(text)  # it reads NaN and Infinity; json_value names them below
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}:{exc.colno}: params file is not valid JSON: "
                         f"{exc.msg}") from None


def _parse_toml(path: Path, text: str) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    import re

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        where = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        loc = f":{where.group(1)}:{where.group(2)}" if where else ""
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg)
        raise InputError(f"{path}{loc}: params file is not valid TOML: {msg}") from None
