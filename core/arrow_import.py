"""pyarrow imported without numpy, when nothing in the process can want numpy from it.

pyarrow imports numpy whenever numpy is installed, as it is in every ML
environment, so that it can hand arrays to numpy: 80-120 ms on this kind of
machine, about half of pyarrow's own import, paid by every hook and `gitgov
check` that reads data. gitgov never converts Arrow data to numpy. So when a
short-lived process (a command, a hook) has loaded only gitgov's built-in
plugins, its first ``import pyarrow`` runs with numpy hidden, and numpy stays
importable for everything else afterwards.

pyarrow remembers at import whether numpy was there, so a plugin from
elsewhere that converts Arrow data to numpy would then fail. With such a
plugin enabled, or in the long-lived watcher (a changed policy may enable one
later), pyarrow is imported as usual.
"""
from __future__ import annotations

import sys
from importlib.machinery import ModuleSpec, PathFinder
from typing import Any, Iterable

_state = {"short_lived": False}


def short_lived() -> None:
    """This process runs one command or hook: its plugins are known before pyarrow is needed."""
    _state["short_lived"] = True


def keep_numpy() -> None:
    """This process may load other plugins later (the watcher): import pyarrow as usual."""
    _state["short_lived"] = False
    _uninstall()


def plugins_loaded(origins: Iterable[str]) -> None:
    """After the plugin host loaded: hide numpy from pyarrow only if every plugin is built in.

    ``origins``: the origin of each plugin enabled in the host ("built-in", "installed",
    "local", "test"; "unknown" names load nothing)."""
    others = any(o not in ("built-in", "unknown") for o in origins)
    if others or not _state["short_lived"]:
        _uninstall()
    elif "pyarrow" not in sys.modules and "numpy" not in sys.modules:
        _install()


def _install() -> None:
    if not any(isinstance(f, _PyarrowFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _PyarrowFinder())


def _uninstall() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _PyarrowFinder)]


class _PyarrowFinder:
    """Finds pyarrow and its modules as the path finder does, and loads them with numpy hidden.

    Not only pyarrow itself: its compute module, imported later, would import numpy too."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if fullname != "pyarrow" and not fullname.startswith("pyarrow."):
            return None
        if sys.modules.get("numpy") is not None:  # imported by someone for itself: too late
            _uninstall()
            return None
        spec = PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _WithoutNumpy(spec.loader)
        return spec


class _WithoutNumpy:
    """A loader that runs another with ``import numpy`` failing, as if numpy were absent."""

    def __init__(self, loader: Any):
        self.loader = loader

    def create_module(self, spec: ModuleSpec) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        hide = "numpy" not in sys.modules  # not when an outer pyarrow module hides it already
        if hide:
            sys.modules["numpy"] = None  # type: ignore[assignment]  # makes `import numpy` fail
        try:
            self.loader.exec_module(module)
        finally:
            if hide and sys.modules.get("numpy", 0) is None:
                del sys.modules["numpy"]
        module.__loader__ = module.__spec__.loader = self.loader  # for resources, reloads

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)
