"""A file written whole or not at all: a temporary file beside it, renamed over it."""
from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from typing import Iterator

from .errors import InputError

# A file being written, beside the one it replaces: .gitgov-tmp-NAME.PID.<random>. The watcher
# never records such a name (watch/scope.py), and the PID tells a killed writer's file.
TEMP_PREFIX = ".gitgov-tmp-"


@contextlib.contextmanager
def replacing(dest: str | os.PathLike[str], mode: int | None = None) -> Iterator[str]:
    """A temporary path beside ``dest``, renamed over it when the block succeeds and removed
    when it fails. A folder that cannot take the file is one InputError naming ``dest``.
    The file is private (0600, as mkstemp makes it) unless ``mode`` says otherwise.

    A symbolic link keeps naming the file it names, which is replaced. A device or a pipe
    (``-o /dev/stdout``) cannot be replaced, only written to: it gets the bytes directly."""
    if os.path.exists(dest) and not os.path.isfile(dest) and not os.path.isdir(dest):
        yield os.fspath(dest)
        return
    target = os.path.realpath(dest)
    folder, name = os.path.split(target)
    _remove_leftovers(folder, name)
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f"{TEMP_PREFIX}{name}.{os.getpid()}.")
    except OSError as exc:
        raise InputError(f"cannot write {dest}: {exc.strerror or exc}") from None
    os.close(fd)
    try:
        yield tmp
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _remove_leftovers(folder: str, name: str) -> None:
    """Temporary files of `name` whose writer was killed: the next write removes them."""
    from .process import alive

    start = f"{TEMP_PREFIX}{name}."
    try:
        entries = [e for e in os.listdir(folder) if e.startswith(start)]
    except OSError:
        return  # mkstemp says what is wrong with the folder
    for entry in entries:
        pid = entry[len(start):].split(".", 1)[0]
        if pid.isdigit() and not alive(int(pid)):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, entry))


def rewrite(dest: str | os.PathLike[str], data: bytes) -> None:
    """Replace a user's file (gitgov.toml, .gitattributes) with ``data`` whole: an edit that is
    cut short leaves the file as it was. It keeps its permissions; a new file gets the usual
    ones (0666 less the umask). A file this process may not write is not replaced either:
    PermissionError, as writing it in place would raise."""
    if os.path.exists(dest):
        open(dest, "ab").close()  # a rename would go around a read-only mark
    with replacing(dest, kept_mode(dest)) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def kept_mode(dest: str | os.PathLike[str]) -> int:
    """The permissions ``dest`` has, or those a new file gets (0666 less the umask)."""
    try:
        return stat.S_IMODE(os.stat(dest).st_mode)
    except (FileNotFoundError, NotADirectoryError):  # replacing() then says why it cannot be
        return 0o666 & ~_umask()


def unwritable(folder: str | os.PathLike[str]) -> str | None:
    """Why files cannot be made in ``folder`` (with the folders it needs), or None. Asked
    before work whose output would otherwise fail at the end, or be recorded and missing."""
    path = os.path.abspath(folder)
    while not os.path.lexists(path):
        path = os.path.dirname(path)
    if not os.path.isdir(path):
        return f"{path} is a file, not a folder"
    if not os.access(path, os.W_OK | os.X_OK):
        return f"{path} is not writable"
    return None


def _umask() -> int:
    mask = os.umask(0o022)  # reading it means setting it: put it straight back
    os.umask(mask)
    return mask
