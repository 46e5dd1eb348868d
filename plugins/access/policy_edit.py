"""A change to gitgov.toml: which datasets it touches and whether its author may make it.

A dataset is touched when its section changes, is added or removed, when a
role it names (directly or through other roles) changes, or when one of the
commit's files moves from one dataset to another because globs changed.
Sections outside [datasets] and roles no dataset names are the policy
admins' (``[plugins.access] admins``, by default every owner and steward).
Authority comes from the current policy (the server's policy branch), never
from the changed file, so a change cannot grant itself the right to be made.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from .model import email_of, is_email

if TYPE_CHECKING:
    from gitgov.core.config import Policy

    from .model import AccessModel

POLICY_FILE = "gitgov.toml"
_PEOPLE_KEYS = ("owner", "stewards", "custodians", "consumers")
MAX_DIFF_LINES = 400


@dataclass
class Touched:
    datasets: dict[str, str] = field(default_factory=dict)  # name -> why
    global_keys: list[str] = field(default_factory=list)  # dotted sections outside [datasets]

    def add(self, name: str, why: str) -> None:
        self.datasets.setdefault(name, why)

    @property
    def empty(self) -> bool:
        return not self.datasets and not self.global_keys


@dataclass(frozen=True)
class Violation:
    what: str  # "dataset 'customers' (section changed)" or "[limits]"
    rule: str
    fix: str


def _names(table: Any) -> set[str]:
    """Role names (not addresses) a dataset table refers to."""
    out: set[str] = set()
    if not isinstance(table, dict):
        return out
    for key in _PEOPLE_KEYS:
        value = table.get(key)
        items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        out |= {v for v in items if isinstance(v, str) and not is_email(v)}
    return out


def _members(value: Any) -> list[str]:
    if isinstance(value, dict):
        value = value.get("members", [])
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _closure(names: set[str], graphs: Iterable[dict]) -> set[str]:
    """The roles reachable from ``names`` in any of the role tables."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for graph in graphs:
            todo += [m for m in _members(graph.get(name)) if not is_email(m)]
    return seen


def touched(old: dict, new: dict, moved: Iterable[tuple[str, str | None, str | None]] = ()) -> Touched:
    """What a change of gitgov.toml from ``old`` to ``new`` (parsed TOML) touches.

    ``moved`` lists (path, old dataset, new dataset) for files of the commit
    whose dataset differs under the two policies.
    """
    out = Touched()
    old_ds, new_ds = old.get("datasets") or {}, new.get("datasets") or {}
    for name in list(old_ds) + [n for n in new_ds if n not in old_ds]:
        if name not in new_ds:
            out.add(name, "section removed")
        elif name not in old_ds:
            out.add(name, "section added")
        elif old_ds[name] != new_ds[name]:
            out.add(name, "section changed")
    old_roles, new_roles = old.get("roles") or {}, new.get("roles") or {}
    changed = {r for r in set(old_roles) | set(new_roles) if old_roles.get(r) != new_roles.get(r)}
    graphs = (old_roles, new_roles)
    used: set[str] = set()
    for name in list(old_ds) + [n for n in new_ds if n not in old_ds]:
        refs = _closure(_names(old_ds.get(name)) | _names(new_ds.get(name)), graphs)
        hit = sorted(refs & changed)
        used |= refs
        if hit:
            out.add(name, f"role {hit[0]} changed")
    out.global_keys += [f"roles.{r}" for r in sorted(changed - used)]
    for path, before, after in moved:
        for name in (before, after):
            if name:
                out.add(name, f"{path} moves from {before or 'no dataset'} to {after or 'no dataset'}")
    for key in sorted(set(old) | set(new)):
        if key not in ("datasets", "roles") and old.get(key) != new.get(key):
            out.global_keys.append(key)
    return out


def moved_files(paths: Iterable[str], old: "Policy | None", new: "Policy") -> list[tuple[str, str | None, str | None]]:
    """Files whose dataset differs between the two policies (one example per pair)."""
    out, seen = [], set()
    for path in paths:
        a = old.dataset_for(path) if old is not None else None
        b = new.dataset_for(path)
        pair = (a.name if a else None, b.name if b else None)
        if pair[0] != pair[1] and pair not in seen:
            seen.add(pair)
            out.append((path, *pair))
    return out


def judge(author: str, what: Touched, current: "AccessModel", new: "AccessModel | None") -> list[Violation]:
    """Everything in ``what`` that ``author`` may not change under the current policy."""
    email = email_of(author)
    out: list[Violation] = []
    if not current.policy.raw and not current.policy.datasets:
        return out  # no policy yet: the first one is whoever sets it up (trust on first use)
    for name, why in what.datasets.items():
        if name in current.policy.datasets:
            decision = current.decide(email, "edit-policy", name)
            if not decision.allowed:
                out.append(Violation(f"dataset '{name}' ({why})", decision.rule, decision.fix))
        elif not _may_create(email, name, current, new):
            out.append(Violation(
                f"dataset '{name}' ({why})",
                f"a new dataset may be added only by the owner or a steward it names, or by a "
                f"policy admin; {email} is neither",
                "name yourself as its owner or steward, or ask a policy admin to add it"))
    for key in what.global_keys:
        if not current.is_admin(email):
            out.append(Violation(f"[{key}]", f"only policy admins may change [{key}] ({_admins(current)}); "
                                 f"{email} is not one",
                                 f"ask a policy admin ({_admins(current)}) to make this change"))
    return out


def _may_create(email: str, name: str, current: "AccessModel", new: "AccessModel | None") -> bool:
    if current.is_admin(email):
        return True
    ds = new.policy.datasets.get(name) if new is not None else None
    if ds is None:  # removed from a branch the server never had: nothing left to govern
        return True
    holders = new.holders(ds)
    return email in holders["owner"] | holders["steward"]


def _admins(model: "AccessModel") -> str:
    people = model.admins if model.admins is not None else model.governors()
    return ", ".join(sorted(people)) or "none"


def unified_diff(old_text: str, new_text: str) -> str:
    lines = list(difflib.unified_diff(old_text.splitlines(), new_text.splitlines(),
                                      f"a/{POLICY_FILE}", f"b/{POLICY_FILE}", lineterm=""))
    if len(lines) > MAX_DIFF_LINES:
        lines = lines[:MAX_DIFF_LINES] + [f"... {len(lines) - MAX_DIFF_LINES} more lines"]
    return "\n".join(lines)
