"""Install and uninstall gitgov's Git hook shims.

The shim (hooks/hook-tmpl) is a small POSIX sh script that records the
interpreter that installed it and the fast-path entry file, so a hook never
pays for a version-manager `python3` on PATH. Install recognises its own files
by the ID line, moves a foreign hook aside as NAME.legacy (the shim runs it
first), and uninstall puts back exactly what was there before.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .errors import InputError
from .git import NOT_A_REPO_HINT

HOOK_TYPES = ("pre-commit", "commit-msg", "post-commit", "pre-push")
SERVER_HOOK_TYPES = ("pre-receive",)
ALL_HOOK_TYPES = HOOK_TYPES + SERVER_HOOK_TYPES

# Any version of our ID line counts as ours, so a newer gitgov rewrites an
# older shim instead of moving it aside as a foreign hook.
ID_PREFIX = b"# gitgov-hook-id: 7c1d0c0e-gitgov-"
PENDING_MARKER = ".gitgov/state/pending-commit"
# commit-msg has work only when pre-commit noted a breaking data change (core/ack.py).
ACK_MARKER = ".gitgov/state/pending-ack.json"
ONLY_IF = {"post-commit": PENDING_MARKER, "commit-msg": ACK_MARKER}
STDIN_HOOKS = frozenset({"pre-push", "pre-receive"})
SKIP_HINTS = {
    "pre-commit": "`git commit --no-verify` to skip",
    "commit-msg": "`git commit --no-verify` to skip",
    "post-commit": "remove the post-commit hook to skip",
    "pre-push": "`git push --no-verify` to skip",
    # The server is the real enforcement: without gitgov it refuses pushes.
    "pre-receive": "remove the pre-receive hook to accept pushes unchecked",
}


def hooks_dir(repo: Path) -> Path:
    """The directory Git runs hooks from (core.hooksPath, else the common dir's hooks/)."""
    out = _git(repo, "rev-parse", "--git-path", "hooks")
    if out is None:
        raise InputError(f"not a git repository: {repo} ({NOT_A_REPO_HINT})")
    # --git-path answers relative to the directory git ran in.
    return Path(repo).absolute() / out


def render_shim(hook_type: str, python: str, fastpath: str) -> str:
    """The shim text for one hook type, with its install-time values filled in."""
    _check_types([hook_type])
    values = {
        "@HOOK_TYPE@": hook_type,
        "@PYTHON@": python,
        "@FASTPATH@": fastpath,
        "@ONLY_IF@": ONLY_IF.get(hook_type, ""),
        "@SKIP_HINT@": SKIP_HINTS[hook_type],
        "@HAS_STDIN@": "1" if hook_type in STDIN_HOOKS else "0",
    }
    text = _template()
    for key, value in values.items():
        text = text.replace(key, shlex.quote(value))
    return text


def install_hooks(repo: Path, hook_types: Iterable[str] = HOOK_TYPES, *,
                  python: str = sys.executable, allow_hooks_path: bool = False) -> list[str]:
    """Install the shims into the repo's hooks dir; return one line per hook."""
    directory = hooks_dir(repo)
    hooks_path = _git(repo, "config", "--get", "core.hooksPath")
    if hooks_path and not allow_hooks_path:
        raise InputError(
            f"core.hooksPath is set to {hooks_path} (managed by another tool?); re-run "
            "`gitgov init --hooks-path` to install there, or unset it with "
            "`git config --unset core.hooksPath`")
    return _install(directory, tuple(hook_types), python)


def install_server_hook(bare_repo: Path, *, python: str = sys.executable,
                        allow_hooks_path: bool = False) -> list[str]:
    """Install the pre-receive shim into a (normally bare) server repository."""
    return install_hooks(bare_repo, SERVER_HOOK_TYPES, python=python,
                         allow_hooks_path=allow_hooks_path)


def uninstall_hooks(repo: Path, hook_types: Iterable[str] = HOOK_TYPES) -> list[str]:
    """Remove our shims only, and move each NAME.legacy back to NAME."""
    hook_types = tuple(hook_types)
    _check_types(hook_types)
    directory = hooks_dir(repo)
    return [_uninstall_one(directory, name) for name in hook_types]


def fastpath_file() -> Path:
    """The hook fast-path script inside the installed package (it runs hookrun)."""
    import gitgov.core

    return Path(gitgov.core.__file__).parent / "hookstart.py"


def is_ours(path: Path) -> bool:
    """True for a regular file carrying our ID line near the top."""
    if path.is_symlink() or not path.is_file():
        return False  # a symlink belongs to whoever made it: moved aside, never edited
    try:
        with open(path, "rb") as f:
            head = f.read(1024)
    except OSError:
        return False
    return any(line.startswith(ID_PREFIX) for line in head.splitlines()[:5])


# -- planning: decide everything before touching anything ---------------------

@dataclass(frozen=True)
class _Step:
    name: str
    action: str  # "unchanged", "mode", "update", "install", "chain"
    content: bytes


def _install(directory: Path, hook_types: tuple[str, ...], python: str) -> list[str]:
    _check_types(hook_types)
    python = _absolute_python(python)
    fastpath = str(fastpath_file())
    # Plan every hook first so a refusal on the last one leaves the first untouched.
    steps = [_plan(directory, name, render_shim(name, python, fastpath).encode())
             for name in hook_types]
    try:
        directory.mkdir(parents=True, exist_ok=True)
        return [_apply(directory, step) for step in steps]
    except OSError as exc:  # e.g. a read-only hooks folder; `gitgov init` undoes what was done
        raise InputError(f"cannot install the hooks in {directory}: {exc.strerror or exc}") from None


def _plan(directory: Path, name: str, content: bytes) -> _Step:
    hook, legacy = directory / name, directory / f"{name}.legacy"
    if is_ours(hook):
        if hook.read_bytes() != content:
            return _Step(name, "update", content)
        return _Step(name, "unchanged" if os.access(hook, os.X_OK) else "mode", content)
    if not os.path.lexists(hook):
        return _Step(name, "install", content)
    if os.path.lexists(legacy):
        raise InputError(
            f"{hook} is not a gitgov hook and {legacy.name} already exists; "
            "merge or move one of them aside, then re-run")
    return _Step(name, "chain", content)


def _apply(directory: Path, step: _Step) -> str:
    hook = directory / step.name
    if step.action == "unchanged":
        return f"{step.name}: already installed at {hook}"
    if step.action == "mode":
        hook.chmod(0o755)  # same bytes: only the lost exec bit comes back
        return f"{step.name}: made executable at {hook}"
    if step.action == "chain":
        # rename, not copy: a symlink stays a symlink and mode/mtime survive.
        os.rename(hook, directory / f"{step.name}.legacy")
    _write_atomic(hook, step.content)
    if step.action == "chain":
        return f"{step.name}: installed at {hook}; the existing hook runs first as {step.name}.legacy"
    verb = "updated" if step.action == "update" else "installed"
    return f"{step.name}: {verb} at {hook}"


def _uninstall_one(directory: Path, name: str) -> str:
    try:
        return _uninstall_steps(directory, name)
    except OSError as exc:
        raise InputError(f"cannot remove {directory / name}: {exc.strerror or exc}") from None


def _uninstall_steps(directory: Path, name: str) -> str:
    hook, legacy = directory / name, directory / f"{name}.legacy"
    if os.path.lexists(hook) and not is_ours(hook):
        return f"{name}: not a gitgov hook, left alone"
    removed = os.path.lexists(hook)
    if removed:
        hook.unlink()
    if os.path.lexists(legacy):
        os.rename(legacy, hook)
        return f"{name}: removed; restored the previous hook from {legacy.name}"
    return f"{name}: removed from {directory}" if removed else f"{name}: not installed"


# -- small helpers -------------------------------------------------------------

def _git(repo: Path, *args: str) -> str | None:
    """stdout of a git command run in repo, or None when it fails."""
    try:
        proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    except (OSError, ValueError):  # repo missing / not a directory, or no git at all
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _template() -> str:
    from importlib.resources import files

    return files("gitgov.hooks").joinpath("hook-tmpl").read_text(encoding="utf-8")


def _check_types(hook_types: Iterable[str]) -> None:
    for name in hook_types:
        if name not in ALL_HOOK_TYPES:
            raise InputError(f"unknown hook type {name!r}; expected one of {', '.join(ALL_HOOK_TYPES)}")


def _absolute_python(python: str) -> str:
    # absolute() not resolve(): a venv's python is a symlink, and resolving it
    # would record the base interpreter, which lacks the venv's packages.
    if not python:
        raise InputError("cannot tell which Python to record in the hooks (sys.executable is empty)")
    return str(Path(python).absolute())


def _write_atomic(path: Path, content: bytes) -> None:
    """Write via a temp file + rename so a running git never sees half a hook."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
