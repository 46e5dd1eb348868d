"""What a run's environment was: interpreter, packages, platform, hardware, env vars.

Used by the snapshot plugin when a run starts and by `gitgov reproduce` to
name the package versions that differ from the snapshot.
"""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .cachefile import write_whole
from .process import shebang, which

# Names that say "secret" are never recorded, even when allow-listed.
SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "PRIVATE")
# Variables that change what a program computes, and nothing that identifies a person.
DEFAULT_ENV_ALLOW = (
    "LANG", "LANGUAGE", "LC_*", "TZ", "PATH", "VIRTUAL_ENV", "CONDA_DEFAULT_ENV",
    "PYTHON*", "OMP_*", "MKL_*", "OPENBLAS_*", "NUMEXPR_*", "BLIS_*", "VECLIB_*",
    "CUDA_VISIBLE_DEVICES", "CUBLAS_WORKSPACE_CONFIG", "CUDNN_*", "NVIDIA_*", "TF_*", "TORCH_*",
    "JAX_*", "XLA_*", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM",
    "GITGOV_*",
)
# Where the machine put things: recorded, but not imposed on a reproduction.
LOCATION_VARS = ("PATH", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "CONDA_DEFAULT_ENV",
                 "PYTHONPYCACHEPREFIX", "PYTHONUSERBASE")
_PYTHON_NAME = re.compile(r"(?:python|pypy)[\d.]*(?:\.exe)?$")
_PACKAGES_SCRIPT = (
    "import json,sys,platform\n"
    "from importlib import metadata\n"
    "pk={}\n"
    "for d in metadata.distributions():\n"
    "    n=d.metadata.get('Name')\n"
    "    if n: pk.setdefault(n.lower(), d.version)\n"
    "print(json.dumps({'executable': sys.executable, 'version': platform.python_version(),\n"
    "  'implementation': platform.python_implementation(), 'prefix': sys.prefix,\n"
    "  'paths': [p for p in sys.path if p], 'packages': dict(sorted(pk.items()))}))\n"
)


def is_secret_name(name: str) -> bool:
    upper = name.upper()
    return any(word in upper for word in SECRET_WORDS)


def allowed_env(environ: Mapping[str, str], extra: Sequence[str] = ()) -> dict[str, str]:
    """The allow-listed variables of ``environ``; secret-sounding names never pass."""
    allowed = _env_matcher((*DEFAULT_ENV_ALLOW, *extra))
    return {k: v for k, v in sorted(environ.items()) if allowed(k) and not is_secret_name(k)}


def _env_matcher(patterns: Sequence[str]) -> Callable[[str], bool]:
    """fnmatch's (case-sensitive) test of a name against ``patterns``. Names and
    ``PREFIX*`` patterns, all of the defaults, are compared as text: compiling the
    whole list as one regular expression cost every run ~1 ms."""
    exact, prefixes, globs = set(), [], []
    for p in patterns:
        if not any(c in p for c in "*?["):
            exact.add(p)
        elif p.endswith("*") and not any(c in p[:-1] for c in "*?["):
            prefixes.append(p[:-1])
        else:
            globs.append(p)
    starts = tuple(prefixes)
    if globs:
        import fnmatch

        other = re.compile("|".join(fnmatch.translate(p) for p in globs)).match
    else:
        other = None
    return lambda name: name in exact or name.startswith(starts) or (other is not None and other(name) is not None)


def command_interpreter(command: Sequence[str], cwd: Path | None = None) -> str | None:
    """The Python interpreter that runs ``command``, if it is a Python command.

    ``python ...`` and ``python3.11 ...`` directly, or a script whose ``#!``
    line names Python.
    """
    if not command:
        return None
    exe = which(command[0], path=os.environ.get("PATH"))
    if exe is None and cwd is not None and (cwd / command[0]).is_file():
        exe = str(cwd / command[0])
    if exe is None:
        return None
    if _PYTHON_NAME.search(os.path.basename(command[0])) or _PYTHON_NAME.search(os.path.basename(exe)):
        return os.path.abspath(exe)
    return _shebang_python(exe)


def _shebang_python(path: str) -> str | None:
    line = shebang(path)
    if line is None:
        return None
    words = line.decode("utf-8", "replace").split()
    if words and os.path.basename(words[0]) == "env" and len(words) > 1:
        words = words[1:]
    if words and _PYTHON_NAME.search(os.path.basename(words[0])):
        return which(words[0]) or (words[0] if os.path.isabs(words[0]) else None)
    return None


def interpreter_packages(interpreter: str, cache_dir: Path | None = None) -> dict[str, Any]:
    """The exact distributions installed for ``interpreter``, cached until its
    site folders change (pip install and uninstall touch them)."""
    cache = None
    if cache_dir is not None:
        key = re.sub(r"[^A-Za-z0-9]+", "_", os.path.abspath(interpreter)).strip("_")[-120:]
        cache = cache_dir / f"packages-{key}.json"
        cached = _cached(cache)
        if cached is not None:
            return cached["info"]
    info = _ask_interpreter(interpreter)
    if cache is not None and info.get("packages") is not None:
        stamps = {p: _mtime(p) for p in info.get("paths", [])}
        stamps[interpreter] = _mtime(interpreter)
        write_whole(cache, json.dumps({"stamps": stamps, "info": info}))  # read-only: only time lost
    return info


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _cached(cache: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    stamps = data.get("stamps") or {}
    if not stamps or any(_mtime(p) != t for p, t in stamps.items()):
        return None
    return data


def _ask_interpreter(interpreter: str) -> dict[str, Any]:
    if os.path.abspath(interpreter) == os.path.abspath(sys.executable):
        scope: dict[str, Any] = {}
        return _run_here(scope)
    import subprocess

    try:
        proc = subprocess.run([interpreter, "-c", _PACKAGES_SCRIPT], capture_output=True,
                              timeout=60, stdin=subprocess.DEVNULL)
        return json.loads(proc.stdout)
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        return {"executable": interpreter, "packages": None, "error": str(exc)}


def _run_here(scope: dict[str, Any]) -> dict[str, Any]:
    """The same script in this process: gitgov's own interpreter needs no child."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(_PACKAGES_SCRIPT, scope)  # noqa: S102 - our own constant
    return json.loads(out.getvalue())


def platform_info(cache_dir: Path | None = None) -> dict[str, Any]:
    """OS, Python, CPU and GPUs; cached per kernel and interpreter (platform.platform()
    reads the interpreter's binary to find the C library, which is slow)."""
    key = "-".join((*os.uname()[2:5], sys.executable, str(_mtime("/proc/driver/nvidia/version"))))
    cache = cache_dir / "platform.json" if cache_dir is not None else None
    if cache is not None:
        try:
            data = json.loads(cache.read_text(encoding="utf-8"))
            if data.get("key") == key:
                return data["info"]
        except (OSError, ValueError, KeyError):
            pass
    info = _platform_now()
    if cache is not None:
        write_whole(cache, json.dumps({"key": key, "info": info}))
    return info


def _platform_now() -> dict[str, Any]:
    import platform

    return {
        "system": platform.system(), "release": platform.release(), "machine": platform.machine(),
        "platform": platform.platform(), "python": platform.python_version(),
        "cpu": _cpu_model(), "cpu_count": os.cpu_count(), "gpus": gpus(),
    }


def _cpu_model() -> str:
    import platform

    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpus() -> list[dict[str, str]]:
    """NVIDIA GPUs as nvidia-smi reports them; none when it is absent."""
    smi = which("nvidia-smi")
    if smi is None:
        return []
    import subprocess

    try:
        proc = subprocess.run([smi, "--query-gpu=name,driver_version,memory.total,uuid",
                               "--format=csv,noheader"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    found = []
    for line in proc.stdout.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 4:
            found.append(dict(zip(("name", "driver", "memory", "uuid"), parts)))
    return found


def package_differences(recorded: Mapping[str, str] | None,
                        current: Mapping[str, str] | None) -> list[dict[str, str | None]]:
    """Packages whose version differs, was added or was removed since the snapshot."""
    recorded, current = dict(recorded or {}), dict(current or {})
    out = []
    for name in sorted(set(recorded) | set(current)):
        old, new = recorded.get(name), current.get(name)
        if old != new:
            out.append({"name": name, "recorded": old, "current": new})
    return out
