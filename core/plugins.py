"""Builds the plugin host: one pluggy PluginManager per command or hook run.

Built-in plugins are declared as entry points of the `gitgov` group in
gitgov's own pyproject.toml, so they load through exactly the same path as
plugins that pip installed. Local plugin files named in gitgov.toml load last.
Every load is guarded on its own: a broken plugin is reported and skipped.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Iterable

import pluggy

from . import hookspecs

if TYPE_CHECKING:
    from .config import Policy

ENTRY_POINT_GROUP = "gitgov"
BUILTIN_MODULE_PREFIX = "gitgov.plugins."


@dataclass
class PluginInfo:
    """What `gitgov plugins` shows for one plugin."""

    name: str
    origin: str  # built-in | installed | local | test
    version: str = ""
    module: str = ""
    hooks: list[str] = field(default_factory=list)
    error: str | None = None
    enabled: bool = True

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Host:
    """The manager and what happened while loading it."""

    pm: pluggy.PluginManager
    plugins: list[PluginInfo]
    hung: set[str] = field(default_factory=set)  # plugins that missed a deadline in this run

    @property
    def load_errors(self) -> list[PluginInfo]:
        return [p for p in self.plugins if p.error]


def make_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def _allowed(name: str, policy: "Policy | None") -> bool:
    if policy is None:
        return True
    enable, disable = policy.plugins.enable, policy.plugins.disable
    env_disabled = {n.strip() for n in os.environ.get("GITGOV_DISABLE", "").split(",") if n.strip()}
    if name in disable or name in env_disabled:
        return False
    return enable is None or name in enable


def _hooks_of(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    callers = pm.get_hookcallers(plugin) or []
    return sorted(c.name for c in callers)


def _register(pm: pluggy.PluginManager, obj: object, info: PluginInfo) -> None:
    """Register and validate: an implementation of an unknown hook is a load error."""
    pm.register(obj, name=info.name)
    unknown = [name for name in dir(obj) if pm.parse_hookimpl_opts(obj, name) is not None
               and not getattr(pm.hook, name).has_spec()]
    if unknown:
        pm.unregister(obj)
        raise LookupError(f"implements unknown hook(s): {', '.join(sorted(unknown))}")
    info.hooks = _hooks_of(pm, obj)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _load_entry_points(pm: pluggy.PluginManager, policy: "Policy | None") -> list[PluginInfo]:
    infos = []
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        builtin = ep.value.startswith(BUILTIN_MODULE_PREFIX) and (dist is None or dist.name == "gitgov")
        info = PluginInfo(name=ep.name, origin="built-in" if builtin else "installed",
                          version=dist.version if dist else "", module=ep.value)
        infos.append(info)
        if not _allowed(ep.name, policy):
            info.enabled = False
            continue
        if pm.has_plugin(ep.name):  # the same name installed twice: first wins
            info.error = "another plugin with this name is already loaded"
            continue
        try:
            _register(pm, ep.load(), info)
        except BaseException as exc:  # noqa: BLE001 - a plugin's import may raise anything
            info.error = _describe(exc)
    return infos


def _import_file(path: Path) -> ModuleType:
    name = f"gitgov_local_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _load_local(pm: pluggy.PluginManager, policy: "Policy", root: Path) -> list[PluginInfo]:
    infos = []
    for rel in policy.plugins.local:
        path = (root / rel).resolve()
        info = PluginInfo(name=path.stem, origin="local", module=str(rel))
        infos.append(info)
        if not _allowed(info.name, policy):
            info.enabled = False
            continue
        try:
            if not path.is_file():
                raise FileNotFoundError(f"no such plugin file: {rel}")
            module = _import_file(path)
            info.version = str(getattr(module, "__version__", ""))
            _register(pm, module, info)
        except BaseException as exc:  # noqa: BLE001
            info.error = _describe(exc)
    return infos


def load_host(policy: "Policy | None" = None, root: Path | None = None,
              extra: Iterable[tuple[str, object]] = ()) -> Host:
    """A fresh manager with every allowed plugin; ``extra`` registers test plugins."""
    pm = make_manager()
    infos = _load_entry_points(pm, policy)
    if policy is not None and root is not None:
        infos += _load_local(pm, policy, root)
    for name, obj in extra:
        info = PluginInfo(name=name, origin="test")
        infos.append(info)
        try:
            _register(pm, obj, info)
        except BaseException as exc:  # noqa: BLE001
            info.error = _describe(exc)
    return Host(pm=pm, plugins=infos)
