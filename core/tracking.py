"""The small API a training script uses: seed, params and metrics.

    from gitgov.core.tracking import seed_everything, params, log_metric

    seed = seed_everything()                     # the run's seed (or the default)
    p = params({"lr": 0.1, "epochs": 30})        # defaults, overridden by the run
    log_metric("loss", 0.42, step=3)

Under ``gitgov run`` these read what the run set (GITGOV_SEED, GITGOV_PARAMS,
GITGOV_METRICS_FILE) so that the run's snapshot, metrics and reproduction
line up with what the script did; params() writes the params it returned to
GITGOV_EFFECTIVE_PARAMS_FILE, which the run records. Outside it, the same calls work as a plain
local logger: the default seed, the default params, metrics on stderr.

Standard library only: a script must be able to import this cheaply.
"""
from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from typing import Any, Mapping

DEFAULT_SEED = 0
_logged: dict[str, list[tuple[int | None, float]]] = {}


def run_id() -> str | None:
    """The id of the ``gitgov run`` this process belongs to, or None."""
    return os.environ.get("GITGOV_RUN_ID") or None


def seed_everything(seed: int | None = None) -> int:
    """Seed every random generator this process uses, and return the seed.

    The run's seed (``--seed``, or the one gitgov chose and recorded) wins over
    ``seed``, so that ``gitgov reproduce`` gets the same numbers; outside a run,
    ``seed`` (default 0) is used. Seeds Python's ``random``, and NumPy,
    PyTorch and TensorFlow when the script has them installed.
    """
    env = os.environ.get("GITGOV_SEED")
    chosen = int(env) if env not in (None, "") else (DEFAULT_SEED if seed is None else int(seed))
    random.seed(chosen)
    # Child processes get a fixed hash seed; this process's is fixed at startup by
    # PYTHONHASHSEED, which `gitgov run` sets.
    os.environ.setdefault("PYTHONHASHSEED", str(chosen))
    _seed_optional(chosen)
    return chosen


def _seed_optional(seed: int) -> None:
    """Seed the numeric libraries that are installed, without importing absent ones."""
    import importlib.util

    if importlib.util.find_spec("numpy") is not None:
        import numpy

        numpy.random.seed(seed % 2**32)
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.manual_seed(seed)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)
    if importlib.util.find_spec("tensorflow") is not None:
        import tensorflow

        tensorflow.random.set_seed(seed)


class ParamError(ValueError):
    """A param given to the run that does not convert to the type of the script's default."""


def params(defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The script's parameters: ``defaults`` overridden by the run's ``--param`` values.

    A given value takes the type of the default it replaces (``--param epochs=10``
    gives the int 10 when the default is an int, ``--param lr=1`` the float 1.0),
    so the script sees the types it declared; one that does not convert (``epochs=2.5``
    or ``epochs=abc`` for an int, ``lr=true`` for a float) raises a ParamError naming
    the param, the value and the type. Keys without a default are passed as given.
    """
    merged = dict(defaults or {})
    for key, value in _run_params().items():
        merged[key] = _like(key, merged[key], value) if key in merged else value
    _write_back(merged)
    return merged


def _write_back(used: Mapping[str, Any]) -> None:
    """Tell the run which params the script used, its defaults included, so that they are
    recorded (GITGOV_EFFECTIVE_PARAMS_FILE). Calls from several stages add up; a file that
    cannot be written costs the record, never the script."""
    path = os.environ.get("GITGOV_EFFECTIVE_PARAMS_FILE")
    if not path:
        return
    try:
        with open(path, encoding="utf-8") as f:
            recorded = json.load(f)
    except (OSError, ValueError):
        recorded = {}
    if not isinstance(recorded, dict):
        recorded = {}
    recorded.update((str(k), _as_json(v)) for k, v in used.items())
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(recorded, f, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _as_json(value: Any) -> Any:
    """``value`` as the ledger can hold it: as it is, or as text (a Path, NaN)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return str(value)
    return value


def _run_params() -> dict[str, Any]:
    text = os.environ.get("GITGOV_PARAMS")
    if text is None and os.environ.get("GITGOV_PARAMS_FILE"):
        with open(os.environ["GITGOV_PARAMS_FILE"], encoding="utf-8") as f:
            text = f.read()
    if not text:
        return {}
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("GITGOV_PARAMS must be a JSON object")
    return value


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _like(key: str, default: Any, value: Any) -> Any:
    """``value`` (as given to the run) converted to the type of the script's ``default``."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        word = value.strip().lower() if isinstance(value, str) else None
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise _param_error(key, value, "true or false", default)
    if isinstance(default, (int, float)) and not isinstance(value, bool):
        wanted = type(default)
        if isinstance(value, str):
            try:
                return wanted(value.strip())
            except ValueError:
                pass
        elif isinstance(value, int):
            return wanted(value)
        elif isinstance(value, float) and (wanted is float or value.is_integer()):
            return wanted(value)
    if isinstance(default, (int, float)):
        raise _param_error(key, value, "an int" if isinstance(default, int) else "a float", default)
    if isinstance(default, str) and not isinstance(value, str):
        return json.dumps(value)  # as it was written: true, not Python's True
    return value


def _param_error(key: str, value: Any, expected: str, default: Any) -> ParamError:
    shown = value if isinstance(value, str) else json.dumps(value)
    return ParamError(f"--param {key}={shown}: expected {expected}, like the script's default "
                      f"{json.dumps(default)}")


def log_metric(name: str, value: float, step: int | None = None) -> None:
    """Record a metric value (at a step, for curves such as the loss per epoch).

    Under ``gitgov run`` it is appended to the run's metrics file; the last value
    of each metric is recorded with the run and compared by ``gitgov reproduce``.
    Outside a run it is printed to stderr.
    """
    if not str(name).strip():
        raise ValueError("log_metric: give the metric a name, e.g. log_metric('loss', 0.25)")
    try:
        str(name).encode("utf-8")
    except UnicodeEncodeError:  # the ledger keeps UTF-8 text: the run could not be recorded
        raise ValueError(f"log_metric({name!r}, ...): the name must be text (UTF-8)") from None
    shown = _short(value)
    try:
        value = float(value)  # also a NumPy or PyTorch scalar, and a number written as text
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"log_metric({name!r}, {shown}): the value must be a number "
                        f"(an int or a float), not {type(value).__name__}") from None
    except OverflowError:
        raise ValueError(f"log_metric({name!r}, {shown}): the value is too large for a float") from None
    if step is not None and not _storable_step(step):
        raise ValueError(f"log_metric({name!r}, ..., step={_short(step)}): the step must be a number "
                         "that fits in 64 bits")
    _logged.setdefault(name, []).append((step, value))
    line = {"name": str(name), "value": value, "step": step, "time": time.time()}
    path = os.environ.get("GITGOV_METRICS_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")
    else:
        at = "" if step is None else f" (step {step})"
        print(f"metric {name} = {value:g}{at}", file=sys.stderr)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _storable_step(step: object) -> bool:
    """What the ledger can keep as a step: an integer of 64 bits (a NumPy one too), or a
    finite number."""
    import operator

    try:
        whole = operator.index(step)  # type: ignore[arg-type]
    except TypeError:
        return isinstance(step, float) and math.isfinite(step)
    return -2**63 <= whole < 2**63


def recordable(value: float) -> float | str:
    """A metric value as the ledger keeps it. JSON has no NaN or infinity, and a training
    run whose loss diverged must still be recorded: those are kept as the text "nan",
    "inf" or "-inf", which float() reads back."""
    return value if math.isfinite(value) else str(value)


def logged_metrics() -> dict[str, float]:
    """The last value of each metric this process logged."""
    return {name: values[-1][1] for name, values in _logged.items()}


def read_metrics_file(path: str) -> dict[str, dict[str, Any]]:
    """A metrics file's metrics: the last value, its step, and how many were logged.

    Lines that are not metric records (a script killed mid-write, another tool's bytes
    that are not UTF-8, a name or step the ledger cannot keep) are skipped.
    """
    out: dict[str, dict[str, Any]] = {}
    try:
        with open(path, "rb") as f:  # bytes: json.loads raises a ValueError for bad UTF-8, per line
            lines = f.readlines()
    except FileNotFoundError:
        return out
    for line in lines:
        try:
            rec = json.loads(line)
            name, value = str(rec["name"]), float(rec["value"])
            name.encode("utf-8")  # the ledger keeps UTF-8 text only (UnicodeError is a ValueError)
        except (ValueError, KeyError, TypeError, OverflowError):
            continue
        step = rec.get("step")
        if step is not None and not _storable_step(step):
            continue  # written around log_metric: it would keep the whole run from being recorded
        prev = out.get(name, {"count": 0})
        out[name] = {"value": value, "step": step, "count": prev["count"] + 1}
    return out
