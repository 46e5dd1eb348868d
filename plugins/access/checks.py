"""Checking the access part of gitgov.toml: every role a dataset names exists, groups
do not contain themselves, and ``[plugins.access]`` is well formed.

The shape of ``[roles]`` (a list of people, or a table with ``members``) is
checked by core/config.py from the schema; what only the access plugin can
know (which names are roles) is checked here, with the same kind of error:
file, line, dotted key, rule and the nearest name.
"""
from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from gitgov.core.errors import ConfigError

from .model import DEFAULT_GRANTS, OTHER, ROLES, SETTINGS_KEYS, is_email

if TYPE_CHECKING:
    from gitgov.core.config import Policy

    from .model import AccessModel

CLASSIFICATIONS = ("public", "internal", "confidential", "restricted")
_RESTRICTED_CEILING = frozenset({"owner", "steward", "custodian"})
_PEOPLE_KEYS = ("owner", "stewards", "custodians", "consumers")


class _Where:
    """Turns a key path into a ConfigError with the line it is on."""

    def __init__(self, policy: "Policy", text: str | None) -> None:
        self.file = policy.path.name if policy.path.name else "gitgov.toml"
        if text is None:
            try:
                text = policy.path.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError):
                text = ""
        self.text = text
        self._lines: dict | None = None

    def error(self, path: tuple, rule: str, hint: str | None = None) -> ConfigError:
        from gitgov.core.config import dotted
        from gitgov.core.tomlpos import key_lines, line_of

        if self._lines is None:
            self._lines = key_lines(self.text)
        return ConfigError(self.file, line_of(self._lines, path), dotted(path), rule, hint)

    def line(self, path: tuple) -> int | None:
        from gitgov.core.tomlpos import key_lines, line_of

        if self._lines is None:
            self._lines = key_lines(self.text)
        return line_of(self._lines, path)


def build(cls: type["AccessModel"], policy: "Policy", text: str | None) -> "AccessModel":
    where = _Where(policy, text)
    raw_roles = policy.raw.get("roles", {})
    _check_role_members(raw_roles, set(policy.roles), where)
    groups = _expand(policy.roles, raw_roles, where)
    for name, ds in policy.datasets.items():
        _check_people(name, ds.raw, set(groups), where)
    settings = policy.plugins.settings.get("access", {})
    grants, signed, admins = _settings(settings, set(groups), where)
    model = cls(policy=policy, groups=groups, grants=grants, signed=signed,
                admins=None if admins is None else frozenset(
                    e for n in admins for e in ({n.lower()} if is_email(n) else groups[n])))
    model.warnings = [_no_owner(name, where) for name, ds in policy.datasets.items() if not ds.owner]
    return model


def _no_owner(name: str, where: _Where) -> str:
    line = where.line(("datasets", name))
    at = f"{where.file}:{line}" if line else where.file
    return (f"{at}: datasets.{name}: has no owner; add owner = \"someone@example.com\" (only its "
            f"stewards and the policy admins can govern it, and a dataset that names no one "
            f"restricts no one)")


def _role_items(value: Any) -> tuple[list, tuple]:
    """(members, the key path suffix they sit under) of one [roles] entry."""
    if isinstance(value, dict):
        return list(value.get("members", [])), ("members",)
    return list(value), ()


def _check_role_members(raw_roles: dict, names: set[str], where: _Where) -> None:
    for role, value in raw_roles.items():
        if is_email(role):
            raise where.error(("roles", role), "a role name cannot be an e-mail address; "
                              "name the group (e.g. ml-team = [\"a@example.com\"])")
        if role in ROLES or role == OTHER:
            raise where.error(("roles", role), f"'{role}' is a built-in role of every dataset; "
                              "give the group another name")
        members, suffix = _role_items(value)
        for i, member in enumerate(members):
            if not is_email(member) and member not in names:
                raise _unknown(where, ("roles", role) + suffix + (i,), member, names)


def _expand(roles: dict[str, tuple[str, ...]], raw: dict, where: _Where) -> dict[str, frozenset[str]]:
    """Each role's addresses, with the roles it lists expanded; a cycle is an error."""
    done: dict[str, frozenset[str]] = {}

    def visit(name: str, trail: tuple[str, ...]) -> frozenset[str]:
        if name in done:
            return done[name]
        if name in trail:
            cycle = " -> ".join(trail[trail.index(name):] + (name,))
            raise where.error(("roles", name), f"roles contain each other ({cycle}); "
                              "a group cannot include itself")
        out: set[str] = set()
        for member in roles.get(name, ()):
            out |= {member.lower()} if is_email(member) else visit(member, trail + (name,))
        done[name] = frozenset(out)
        return done[name]

    for name in roles:
        visit(name, ())
    return done


def _check_people(name: str, table: dict, roles: set[str], where: _Where) -> None:
    for key in _PEOPLE_KEYS:
        value = table.get(key)
        if value is None:
            continue
        items = [(None, value)] if isinstance(value, str) else list(enumerate(value))
        for i, person in items:
            if not is_email(person) and person not in roles:
                path = ("datasets", name, key) + (() if i is None else (i,))
                raise _unknown(where, path, person, roles)


def _unknown(where: _Where, path: tuple, name: str, roles: set[str]) -> ConfigError:
    near = difflib.get_close_matches(name, sorted(roles), n=1, cutoff=0.6)
    defined = ", ".join(sorted(roles)) or "none"
    return where.error(path, f"unknown role '{name}': not an e-mail address and not defined in "
                       f"[roles] (defined: {defined})", near[0] if near else None)


def _settings(conf: dict, roles: set[str], where: _Where
              ) -> tuple[dict[str, dict[str, tuple[str, ...]]], frozenset[str], list[str] | None]:
    base = ("plugins", "access")
    for key in conf:
        if key not in SETTINGS_KEYS:
            near = difflib.get_close_matches(key, SETTINGS_KEYS, n=1, cutoff=0.6)
            raise where.error(base + (key,), "unknown key; expected one of " + ", ".join(SETTINGS_KEYS),
                              near[0] if near else None)
    grants = {action: dict(by_class) for action, by_class in DEFAULT_GRANTS.items()}
    writers = conf.get("writers", {})
    if not isinstance(writers, dict):
        raise where.error(base + ("writers",), "expected a table: classification = [roles], "
                          "e.g. writers = { internal = [\"owner\", \"steward\"] }")
    for cls_name, names in writers.items():
        grants["write"][cls_name] = _writers(cls_name, names, where, base + ("writers", cls_name))
    signed = conf.get("signed_commits", [])
    if not isinstance(signed, list) or any(c not in CLASSIFICATIONS for c in signed):
        raise where.error(base + ("signed_commits",), "expected a list of classifications from "
                          + ", ".join(CLASSIFICATIONS))
    admins = conf.get("admins")
    if admins is not None:
        if not isinstance(admins, list) or not all(isinstance(a, str) for a in admins):
            raise where.error(base + ("admins",), "expected a list of e-mail addresses and roles")
        for i, name in enumerate(admins):
            if not is_email(name) and name not in roles:
                raise _unknown(where, base + ("admins", i), name, roles)
    return grants, frozenset(signed), admins


def _writers(cls_name: str, names: Any, where: _Where, path: tuple) -> tuple[str, ...]:
    if cls_name not in CLASSIFICATIONS:
        raise where.error(path, "unknown classification; expected one of " + ", ".join(CLASSIFICATIONS))
    allowed = ROLES + (OTHER,)
    if not isinstance(names, list) or any(n not in allowed for n in names):
        raise where.error(path, "expected a list of roles from " + ", ".join(allowed))
    if cls_name == "restricted" and not set(names) <= _RESTRICTED_CEILING:
        raise where.error(path, "restricted data may only be changed by its owner, stewards and "
                          "custodians; remove " + ", ".join(n for n in names if n not in _RESTRICTED_CEILING))
    return tuple(r for r in ROLES + (OTHER,) if r in names)

