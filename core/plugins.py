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
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Collection, Iterable

import pluggy

from . import arrow_import, hookspecs
from .entrypoints import HookCache, entry_points, hook_names
from .plugin_prints import to_stderr

if TYPE_CHECKING:
    from .config import Policy

ENTRY_POINT_GROUP = "gitgov"
BUILTIN_MODULE_PREFIX = "gitgov.plugins."


class PluginInfo:  # plain classes: a dataclass costs every command ~1 ms to define
    """What `gitgov plugins` shows for one plugin."""

    def __init__(self, name: str, origin: str, version: str = "", module: str = "",
                 hooks: list[str] | None = None, error: str | None = None, enabled: bool = True,
                 dist: Any = None):
        self.name = name
        self.origin = origin  # built-in | installed | local | test | unknown (named in enable, not found)
        self.version = version
        self.module = module
        self.hooks = hooks if hooks is not None else []
        self.error = error
        self.enabled = enabled
        # Reading a distribution's version parses its METADATA file (~5 ms each), so
        # it is looked up only when someone asks (`gitgov plugins`), not per commit.
        self.dist = dist

    def __repr__(self) -> str:
        return f"PluginInfo({self.name!r}, {self.origin!r}, error={self.error!r})"

    @property
    def skipped_warning(self) -> str:
        """The line every command and hook prints for a plugin that did not load."""
        return f"gitgov: warning: plugin '{self.name}' ({self.origin}) was skipped: {self.error}"

    def resolve_version(self) -> str:
        if not self.version and self.dist is not None:
            self.version = self.dist.version
        return self.version

    def to_dict(self) -> dict[str, Any]:
        self.resolve_version()
        return {k: v for k, v in self.__dict__.items() if k != "dist"}


class Host:
    """The manager and what happened while loading it."""

    def __init__(self, pm: pluggy.PluginManager, plugins: list[PluginInfo],
                 hung: set[str] | None = None):
        self.pm = pm
        self.plugins = plugins
        self.hung = hung if hung is not None else set()  # plugins that missed a deadline in this run

    @property
    def load_errors(self) -> list[PluginInfo]:
        return [p for p in self.plugins if p.error]


def make_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def env_disabled() -> set[str]:
    """Plugins turned off for one run with GITGOV_DISABLE=name,name."""
    return {n.strip() for n in os.environ.get("GITGOV_DISABLE", "").split(",") if n.strip()}


def _allowed(name: str, policy: "Policy | None") -> bool:
    if name in env_disabled():  # honoured outside a repository too
        return False
    return policy is None or policy.plugins.allows(name)


def _register(pm: pluggy.PluginManager, obj: object, info: PluginInfo) -> None:
    """Register and validate: an implementation of an unknown hook is a load error."""
    if pm.has_plugin(info.name):  # the same name twice (installed and local): first wins
        raise LookupError(f"another plugin named '{info.name}' is already loaded")
    pm.register(obj, name=info.name)
    callers = pm.get_hookcallers(obj) or []
    unknown = sorted(c.name for c in callers if not c.has_spec())
    wrappers = sorted(c.name for c in callers
                      if any(i.plugin is obj and (i.hookwrapper or i.wrapper)
                             for i in c.get_hookimpls()))
    problem = None
    if unknown:
        problem = f"implements unknown hook(s): {', '.join(unknown)} (see gitgov.core.hookspecs)"
    elif wrappers:
        problem = f"hook wrappers are not supported: {', '.join(wrappers)}"
    elif not callers:
        problem = "implements no hook (mark hook functions with @hookimpl from gitgov.core.hookspecs)"
    if problem:
        pm.unregister(obj)
        raise LookupError(problem)
    info.hooks = sorted(c.name for c in callers)


def _describe(exc: BaseException) -> str:
    """One line: pluggy's validation errors span several."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def _implements(obj: object, hooks: Collection[str] | None) -> bool:
    """Whether ``obj`` has an implementation of one of ``hooks`` (None: of any)."""
    return hooks is None or not hook_names(obj, hookspecs.PROJECT).isdisjoint(hooks)


def _load_entry_points(pm: pluggy.PluginManager, policy: "Policy | None",
                       hooks: Collection[str] | None = None, root: Path | None = None) -> list[PluginInfo]:
    infos = []
    # Every command remembers the entry points (a scan of every installed distribution);
    # the hooks each plugin implements only matter when a subset is asked for.
    cache = HookCache.for_root(root)
    for ep in sorted(entry_points(ENTRY_POINT_GROUP, cache), key=lambda e: e.name):
        # The module path alone tells a built-in: only gitgov ships gitgov.plugins.
        builtin = ep.value.startswith(BUILTIN_MODULE_PREFIX)
        info = PluginInfo(name=ep.name, origin="built-in" if builtin else "installed",
                          module=ep.value, dist=getattr(ep, "dist", None))
        infos.append(info)
        if not _allowed(ep.name, policy):
            info.enabled = False
            continue
        known = cache.hooks(ep) if hooks is not None else None
        if known is not None and known.isdisjoint(hooks):
            continue  # it has none of the hooks asked for: not even imported
        try:
            obj = ep.load()
            cache.remember(ep, hook_names(obj, hookspecs.PROJECT))
            if _implements(obj, hooks):
                _register(pm, obj, info)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - a plugin's import may raise anything
            info.error = _describe(exc)
    cache.save()
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


def _load_local(pm: pluggy.PluginManager, policy: "Policy", root: Path,
                hooks: Collection[str] | None = None) -> list[PluginInfo]:
    infos = []
    for rel in policy.plugins.local:
        path = (root / rel).resolve()
        info = PluginInfo(name=path.stem, origin="local", module=str(rel))
        infos.append(info)
        if not _allowed(info.name, policy):
            info.enabled = False
            continue
        try:
            if path.is_dir():
                raise IsADirectoryError(f"{rel} is a folder, not a Python file (listed in [plugins] local)")
            if not path.is_file():
                raise FileNotFoundError(f"no such plugin file: {rel} (listed in [plugins] local)")
            if pm.has_plugin(info.name):  # before running its code, which could clobber the first
                raise LookupError(f"another plugin named '{info.name}' is already loaded")
            module = _import_file(path)
            info.version = str(getattr(module, "__version__", ""))
            if _implements(module, hooks):
                _register(pm, module, info)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - SystemExit at import too
            info.error = _describe(exc)
    return infos


def load_host(policy: "Policy | None" = None, root: Path | None = None,
              extra: Iterable[tuple[str, object]] = (), hooks: Collection[str] | None = None) -> Host:
    """A fresh manager with every allowed plugin; ``extra`` registers test plugins.

    With ``hooks``, only plugins implementing one of them are registered (the others
    are not validated, and not even imported once the hook cache knows them): `gitgov
    run` needs two hooks of ten plugins.
    """
    pm = make_manager()
    with to_stderr():  # a plugin that prints at import must not break a --json document
        infos = _load_entry_points(pm, policy, hooks, root)
        if policy is not None and root is not None:
            infos += _load_local(pm, policy, root, hooks)
    for name, obj in extra:
        info = PluginInfo(name=name, origin="test")
        infos.append(info)
        try:
            _register(pm, obj, info)
        except BaseException as exc:  # noqa: BLE001
            info.error = _describe(exc)
    if policy is not None:
        infos += _unknown_names(policy, infos)
    arrow_import.plugins_loaded(i.origin for i in infos if i.enabled)
    return Host(pm=pm, plugins=infos)


def _unknown_names(policy: "Policy", infos: list[PluginInfo]) -> list[PluginInfo]:
    """Names in [plugins] enable that match no plugin: a typo, or a plugin not installed here.

    Either way something the policy expects to run does not, and a typo also
    turns the intended plugin off, so it is reported like a load error. (A
    name in ``disable`` that is not installed is harmless: nothing to say.)
    """
    known = [i.name for i in infos]
    found: list[PluginInfo] = []
    for name in dict.fromkeys(policy.plugins.enable or ()):
        if name in known:
            continue
        import difflib  # only for a name that matches nothing: not on every run

        near = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        found.append(PluginInfo(name=name, origin="unknown", enabled=False,
                                error=f"named in [plugins] enable in gitgov.toml, but no plugin "
                                      f"has this name{hint}"))
    return found
