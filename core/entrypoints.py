"""Entry points of the installed distributions, read straight from their files,
and a cache of the hooks each plugin implements.

importlib.metadata finds the same entry points, but importing it (it brings
the email package) and building its objects costs tens of milliseconds on
every command, `gitgov run` included. The files are simple: each
``*.dist-info``/``*.egg-info`` folder on ``sys.path`` may hold an INI-style
``entry_points.txt``. Anything this reader does not handle (a zip on
``sys.path``, another finder that provides distributions) falls back to
importlib.metadata, so the answer is always the same.
"""
from __future__ import annotations

import importlib
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any, Iterable

_SUFFIXES = (".dist-info", ".egg-info")


class EntryPoint:
    """What plugins.py uses of importlib.metadata.EntryPoint: name, value, load() and dist."""

    __slots__ = ("name", "value", "group", "_folder", "_dist")

    def __init__(self, name: str, value: str, group: str, folder: str | None, dist: Any = None):
        self.name, self.value, self.group, self._folder, self._dist = name, value, group, folder, dist

    def load(self) -> Any:
        module, _, attr = self.value.partition("[")[0].partition(":")  # "module:attr [extras]"
        obj = importlib.import_module(module.strip())
        for part in attr.strip().split("."):
            obj = getattr(obj, part) if part else obj
        return obj

    @property
    def dist(self) -> Any:
        if self._dist is None and self._folder is not None:
            self._dist = _LazyDist(self._folder)
        return self._dist


class _LazyDist:
    """A distribution whose METADATA is read only when something of it is asked for
    (`gitgov plugins` shows versions; running a hook never needs them)."""

    def __init__(self, folder: str):
        self._folder = folder
        self._real: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._real is None:
            from importlib import metadata

            self._real = metadata.Distribution.at(self._folder)
        return getattr(self._real, name)


def entry_points(group: str, cache: "HookCache | None" = None) -> list[EntryPoint]:
    """The entry points of ``group``, the first distribution of a name on sys.path winning;
    ``cache`` remembers them while no folder on sys.path changed (see HookCache)."""
    if not _readable_here():
        return _from_metadata(group)
    key = _path_key() if cache is not None else None
    if key is not None:
        known = cache.entry_points(group, key)
        if known is not None:
            return known
    found = _scan(group)
    if key is not None and found is not None:
        cache.remember_entry_points(group, key, found)
    return _from_metadata(group) if found is None else found


# A folder changed this recently may change again within its mtime's tick, unseen.
RACY_NS = 2_000_000_000


def _path_key() -> list[list[Any]] | None:
    """Each folder on sys.path with its mtime: installing or removing a distribution adds
    or removes a folder there, and so changes it. None: do not remember (a zip on the
    path, or a folder changed in the last RACY_NS)."""
    import time

    key: list[list[Any]] = []
    newest_trusted = time.time_ns() - RACY_NS
    for entry in sys.path:
        folder = os.path.abspath(entry or ".")
        try:
            st = os.stat(folder)
        except OSError:
            key.append([folder, None])
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_mtime_ns > newest_trusted:
            return None
        key.append([folder, st.st_mtime_ns])
    return key


def _scan(group: str) -> list[EntryPoint] | None:
    """None: a zip is on sys.path (importlib.metadata reads those)."""
    found: list[EntryPoint] = []
    seen: set[str] = set()
    for entry in sys.path:
        folder = entry or "."
        if os.path.isfile(folder):
            return None
        try:
            names = sorted(e.name for e in os.scandir(folder) if e.name.endswith(_SUFFIXES))
        except OSError:
            continue  # missing, not a folder, or unreadable: nothing installed there
        for name in names:
            dist = _normalize(os.path.splitext(name)[0].partition("-")[0])
            if dist in seen:
                continue
            seen.add(dist)
            path = os.path.join(folder, name)
            found += _read(os.path.join(path, "entry_points.txt"), group, path)
    return found


def _readable_here() -> bool:
    """Only the standard path finder provides distributions (no custom finders)."""
    from importlib.machinery import PathFinder

    return all(f is PathFinder or not hasattr(f, "find_distributions") for f in sys.meta_path)


def _normalize(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _read(path: str, group: str, folder: str) -> list[EntryPoint]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return []
    found, section = [], None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == group and "=" in line:
            name, _, value = line.partition("=")
            found.append(EntryPoint(name.strip(), value.strip(), group, folder))
    return found


def _from_metadata(group: str) -> list[EntryPoint]:
    from importlib import metadata

    return [EntryPoint(ep.name, ep.value, group, None, getattr(ep, "dist", None))
            for ep in metadata.entry_points(group=group)]


_EP_PREFIX = "[entry points] "  # not a module path: cannot clash with a plugin's entry


class HookCache:
    """Which hooks each entry point's plugin implements, remembered with the size and
    mtime of every source file of its module, so that a command that needs two hooks
    (`gitgov run`) imports only the plugins that implement them. A plugin whose files
    changed, or that was never seen, is imported and looked at again.

    It also keeps the entry points found on sys.path, with the mtime of each folder
    there: reading every installed distribution's entry_points.txt costs about 5 ms
    per hundred distributions, and an ML environment holds several hundred."""

    def __init__(self, path: Path | None):
        self.path = path
        self.changed = False
        self._stamps: dict[str, Any] = {}
        self._data: dict[str, Any] = {}
        if path is not None:
            try:
                self._data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._data = {}

    @classmethod
    def for_root(cls, root: Path | None) -> "HookCache":
        """The cache in the repository's .gitgov/cache (none outside a repository)."""
        folder = Path(root) / ".gitgov" / "cache" if root is not None else None
        return cls(folder / "plugin-hooks.json" if folder is not None and folder.is_dir() else None)

    def entry_points(self, group: str, key: list[list[Any]]) -> list[EntryPoint] | None:
        """The entry points of ``group`` found when sys.path was ``key``, if it still is."""
        seen = self._data.get(f"{_EP_PREFIX}{group}")
        if not isinstance(seen, dict) or seen.get("path") != key:
            return None
        try:
            return [EntryPoint(name, value, group, folder) for name, value, folder in seen["points"]]
        except (KeyError, TypeError, ValueError):
            return None

    def remember_entry_points(self, group: str, key: list[list[Any]], found: list[EntryPoint]) -> None:
        points = [[ep.name, ep.value, ep._folder] for ep in found]
        entry = {"path": key, "points": points}
        if self._data.get(f"{_EP_PREFIX}{group}") != entry:
            self._data[f"{_EP_PREFIX}{group}"] = entry
            self.changed = True

    def hooks(self, ep: EntryPoint) -> set[str] | None:
        """The hooks ``ep`` implements, or None when that is not known for its current files."""
        seen = self._data.get(ep.value)
        if not isinstance(seen, dict) or seen.get("stamp") != self._stamp(ep):
            return None
        return set(seen.get("hooks") or ())

    def remember(self, ep: EntryPoint, hooks: Iterable[str]) -> None:
        stamp = self._stamp(ep)
        if stamp is None or self.hooks(ep) == set(hooks):
            return
        self._data[ep.value] = {"stamp": stamp, "hooks": sorted(hooks)}
        self.changed = True

    def _stamp(self, ep: EntryPoint) -> list[list[Any]] | None:
        if ep.value not in self._stamps:
            self._stamps[ep.value] = _stamp(ep)
        return self._stamps[ep.value]

    def save(self) -> None:
        if not self.changed or self.path is None:
            return
        from .cachefile import write_whole

        write_whole(self.path, json.dumps(self._data, sort_keys=True))


def hook_names(obj: object, project: str) -> set[str]:
    """The hooks ``obj`` has implementations of (functions marked by pluggy's HookimplMarker)."""
    import inspect
    from types import ModuleType

    marker = f"{project}_impl"
    # like pluggy: a property of a plugin object must not run just by being looked at
    found = (vars(obj).items() if isinstance(obj, ModuleType)
             else ((a, inspect.getattr_static(obj, a, None)) for a in dir(obj)))
    names = set()
    for attr, value in found:
        opts = getattr(value, marker, None) if callable(value) else None
        if isinstance(opts, dict):
            names.add(opts.get("specname") or attr)
    return names


def _stamp(ep: EntryPoint) -> list[list[Any]] | None:
    """(file, size, mtime) of every source file of the entry point's module and of the
    package it is in (its own folder for a package, else its parent's): `pkg.plugin` may
    take its hooks from `pkg.impl`. None when the module cannot be found."""
    from importlib.util import find_spec

    module = ep.value.partition("[")[0].partition(":")[0].strip()
    try:
        spec = find_spec(module)
        # gitgov's own plugins define their hooks in their own module or package
        home = spec if spec is None or spec.submodule_search_locations or "." not in module \
            or module.startswith("gitgov.") else find_spec(module.rpartition(".")[0])
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not os.path.isfile(spec.origin):
        return None
    files = {spec.origin}
    for folder in (home.submodule_search_locations if home is not None else None) or ():
        files.update(_sources(folder))
    stamp = []
    for name in sorted(files):
        try:
            st = os.stat(name)
        except OSError:
            return None
        stamp.append([name, st.st_size, st.st_mtime_ns])
    return stamp


_SOURCES: dict[str, list[str]] = {}  # folder -> its .py files: seven built-ins share one


def _sources(folder: str) -> list[str]:
    if folder not in _SOURCES:
        found = []
        for base, dirs, names in os.walk(folder):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            found += [os.path.join(base, n) for n in names if n.endswith(".py")]
        _SOURCES[folder] = found
    return _SOURCES[folder]
