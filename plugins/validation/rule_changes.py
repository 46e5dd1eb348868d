"""Committed files checked again when a commit changes their dataset's rules.

Tightening a rule in gitgov.toml must not leave committed data failing it
unnoticed until someone next edits that data. When gitgov.toml is staged,
each dataset whose rules or paths differ from the committed policy's (or
that is new) has its files in the index checked under the new rules, as
`gitgov check` would after the commit; their errors block the commit, which
can fix the data in the same commit. The files themselves do not change, so
they get no data_added event (the access plugin must not see them as
edited): the findings come from the policy's event, marked with why, as the
foreign-key re-checks of dependents.py do. A file that already passed under
the same rules is not read again (the ruleset hash), so renaming a dataset's
owner or putting a rule back costs nothing.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from gitgov.core.errors import ConfigError

from .dependents import check_again
from .hook import registry_for, ruleset_for
from .ruleset import compile_rules

if TYPE_CHECKING:
    from gitgov.core.config import DatasetPolicy, Policy
    from gitgov.core.context import Context
    from gitgov.core.events import Fact, Finding, PolicyStaged


def recheck_rules(event: "PolicyStaged", ctx: "Context") -> list["Finding | Fact"]:
    """The findings and facts of the files whose dataset's rules this change alters."""
    if ctx.repo is None:
        return []
    previous, unreadable = _previous(event, ctx)
    out: list[Finding | Fact] = []
    for ds in ctx.policy.datasets.values():
        change = f"replaces a {event.path} that did not load" if unreadable else \
            changed(previous, ds, ctx)
        if change is None:
            continue
        why = f"checked again: this commit {change} in {event.path}"
        out += check_again(ctx, ds, event, why, {"policy": event.path, "dataset": ds.name})
    return out


def changed(previous: "Policy | None", ds: "DatasetPolicy", ctx: "Context") -> str | None:
    """How the change alters what `ds` demands of its files, in words, or None."""
    before = previous.datasets.get(ds.name) if previous is not None else None
    if before is None:
        return f"adds dataset {ds.name}"
    if before.paths != ds.paths:
        return f"changes which files dataset {ds.name} holds"
    try:
        old = compile_rules(previous, before, registry_for(ctx)).fingerprint
    except ConfigError:
        return f"replaces the rules of dataset {ds.name}"  # the old ones did not even load
    try:
        new = ruleset_for(ctx, ds).fingerprint  # compiled once: the check uses it too
    except ConfigError:
        return f"changes the rules of dataset {ds.name}"  # check_version reports the error
    return None if old == new else f"changes the rules of dataset {ds.name}"


def _previous(event: "PolicyStaged", ctx: "Context") -> tuple["Policy | None", bool]:
    """(the committed policy this change replaces, or None when there was none; whether the
    committed one failed to load, in which case every dataset is checked)."""
    from gitgov.core.config import load_policy_text

    if event.previous is None or ctx.repo is None:
        return None, False
    try:
        text = ctx.repo.read_blob(event.previous).decode("utf-8")
        return load_policy_text(text, f"HEAD:{event.path}"), False
    except (ConfigError, UnicodeDecodeError):
        return None, True
