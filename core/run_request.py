"""What `gitgov run` was asked to do: the request, read with or without click, and the
checks it must pass before anything is recorded (its name, its seed).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence

from .errors import InputError
from .run_params import load_params_file, parse_param

MAX_SEED = 2**32 - 1  # PYTHONHASHSEED's range


class RunRequest(NamedTuple):  # NamedTuples and plain classes: quicker to define than dataclasses
    command: tuple[str, ...]
    name: str | None = None  # None: no --name; "" was given, and is refused
    params: Mapping[str, Any] = {}  # never changed: a shared default is safe
    seed: int | None = None
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()


# What `gitgov runs show` reads as something other than a name: a name must not look like them.
RESERVED_NAMES = ("last", "latest")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
_ID_CHARS = frozenset("0123456789abcdef-")
MAX_NAME = 100


def check_name(name: str | None) -> None:
    """Refuse a run name that `gitgov runs show NAME` could not find: the rules of model
    names, and neither a word that means the newest run nor what reads as a run id."""
    if name is None:
        return
    if not (0 < len(name) <= MAX_NAME and name[0] not in "._-" and _NAME_CHARS.issuperset(name)):
        raise InputError(f"--name {name!r}: use letters, digits, '.', '_' and '-', starting with a "
                         f"letter or digit (at most {MAX_NAME})")
    if name.lower() in RESERVED_NAMES:
        raise InputError(f"--name {name!r}: '{name}' is reserved (`gitgov runs show last` is the "
                         "newest run); choose another name")
    if len(name) >= 4 and _ID_CHARS.issuperset(name.lower()):  # run_query.MIN_PREFIX
        raise InputError(f"--name {name!r}: it reads as a run id (only 0-9, a-f and '-'); add another "
                         f"letter, e.g. 'run-{name}'")


def check_seed(seed: int | None) -> int:
    if seed is None:  # recorded, so reproduce uses it
        return int.from_bytes(os.urandom(4), "big") >> 1  # what secrets.randbelow(2**31) gives
    if not 0 <= seed <= MAX_SEED:
        raise InputError(f"--seed {seed}: must be between 0 and {MAX_SEED}")
    return seed


# ---- `gitgov run` without click ----------------------------------------------------

_VALUE_OPTIONS = {"--name": "name", "--param": "params", "--params-file": "params_file",
                  "--seed": "seed", "--input": "inputs", "--output": "outputs"}


def fast_request(args: Sequence[str]) -> RunRequest | None:
    """The request of ``gitgov run ARGS`` read without click, which costs a run's
    start-up tens of milliseconds; None for anything unusual (--help, an unknown
    option, a bad value), which click then reads and reports exactly as before."""
    found: dict[str, Any] = {"params": [], "inputs": [], "outputs": []}
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] not in ("-", "--"):
        name, eq, value = args[i].partition("=")
        if name not in _VALUE_OPTIONS:
            return None
        if not eq:
            i += 1
            if i == len(args) or args[i] == "--":
                return None
            value = args[i]
        key = _VALUE_OPTIONS[name]
        if isinstance(found.get(key), list):
            found[key].append(value)
        else:
            found[key] = value
        i += 1
    command = args[i + 1:] if args[i:i + 1] == ["--"] else args[i:]
    try:
        seed = int(found["seed"]) if "seed" in found else None
    except ValueError:
        return None
    params_file = Path(found["params_file"]) if "params_file" in found else None
    if params_file is not None and params_file.is_dir():
        return None
    values = load_params_file(params_file) if params_file else {}
    values.update(parse_param(p) for p in found["params"])
    return RunRequest(command=tuple(command), name=found.get("name"), params=values, seed=seed,
                      inputs=tuple(found["inputs"]), outputs=tuple(found["outputs"]))
