"""Who may do what to each dataset: roles, classifications and the decision with its rule.

People are git e-mail addresses. ``[roles]`` names groups of people (a group
may list other groups); each dataset names its owner, stewards, custodians
and consumers by address or by group. What a role may do depends on the
dataset's classification:

==============  ============================  ================  ================  ===========
classification  write (add or change data)    delete            reveal            edit-policy
==============  ============================  ================  ================  ===========
public          everyone                      owner, steward,   everyone          owner,
                                              custodian                           steward
internal        owner, steward, custodian,    same              owner, steward,   same
                consumer                                        custodian,
                                                                consumer
confidential    owner, steward, custodian     same              owner, steward    same
restricted      owner, steward, custodian     same              owner, steward    same
==============  ============================  ================  ================  ===========

``[plugins.access] writers = { internal = ["owner", "steward"] }`` changes the
writers of a classification; a restricted dataset never admits consumers or
other people, whatever the setting says.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from gitgov.core.errors import InputError

if TYPE_CHECKING:
    from gitgov.core.config import DatasetPolicy, Policy

ROLES = ("owner", "steward", "custodian", "consumer")
OTHER = "other"  # anyone the dataset does not name
ACTIONS = ("write", "delete", "reveal", "edit-policy")
ACTION_WORDS = {"write": "add or change its data", "delete": "delete its files",
                "reveal": "reveal or decrypt its protected data",
                "edit-policy": "change its section of gitgov.toml"}
_ALL = ROLES + (OTHER,)
_KEEPERS = ("owner", "steward", "custodian")
_GOVERNORS = ("owner", "steward")
DEFAULT_GRANTS: dict[str, dict[str, tuple[str, ...]]] = {
    "write": {"public": _ALL, "internal": ROLES, "confidential": _KEEPERS, "restricted": _KEEPERS},
    "delete": {c: _KEEPERS for c in ("public", "internal", "confidential", "restricted")},
    "reveal": {"public": _ALL, "internal": ROLES, "confidential": _GOVERNORS, "restricted": _GOVERNORS},
    "edit-policy": {c: _GOVERNORS for c in ("public", "internal", "confidential", "restricted")},
}
SETTINGS_KEYS = ("writers", "signed_commits", "admins")
_PLURAL = {"owner": "owner", "steward": "stewards", "custodian": "custodians", "consumer": "consumers"}


def email_of(actor: str) -> str:
    """'Ada <ada@example.com>' -> 'ada@example.com' (lower case); a bare address as is."""
    actor = actor.strip()
    if "<" in actor and actor.endswith(">"):
        actor = actor[actor.rindex("<") + 1:-1]
    return actor.strip().lower()


def is_email(name: str) -> bool:
    return "@" in name


@dataclass(frozen=True)
class Decision:
    allowed: bool
    actor: str
    action: str
    dataset: str
    roles: tuple[str, ...]  # the actor's roles on the dataset ("other" when none)
    rule: str  # why, in words
    fix: str = ""

    @property
    def answer(self) -> str:
        return "yes" if self.allowed else "no"

    def to_dict(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "answer": self.answer, "actor": self.actor,
                "action": self.action, "dataset": self.dataset, "roles": list(self.roles),
                "rule": self.rule, "fix": self.fix}


@dataclass
class AccessModel:
    policy: "Policy"
    groups: dict[str, frozenset[str]]  # role name -> e-mail addresses, nested roles expanded
    grants: dict[str, dict[str, tuple[str, ...]]]
    signed: frozenset[str]  # classifications whose changes must be signed commits
    admins: frozenset[str] | None  # who may change sections outside [datasets]; None: governors
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, policy: "Policy", text: str | None = None) -> "AccessModel":
        """Build and check the model; ConfigError for an unknown role or a bad setting."""
        from .checks import build

        return build(cls, policy, text)

    # ---- people -----------------------------------------------------------

    def members(self, names: Iterable[str]) -> set[str]:
        """The addresses that a list of addresses and role names stands for."""
        out: set[str] = set()
        for name in names:
            out |= self.groups.get(name, frozenset()) if not is_email(name) else {name.lower()}
        return out

    def holders(self, ds: "DatasetPolicy") -> dict[str, set[str]]:
        """role -> addresses, for one dataset."""
        return {"owner": self.members([ds.owner] if ds.owner else []),
                "steward": self.members(ds.stewards), "custodian": self.members(ds.custodians),
                "consumer": self.members(ds.consumers)}

    def roles_of(self, email: str, ds: "DatasetPolicy") -> tuple[str, ...]:
        email = email_of(email)
        mine = tuple(role for role, people in self.holders(ds).items() if email in people)
        return mine or (OTHER,)

    def allowed_roles(self, action: str, ds: "DatasetPolicy") -> tuple[str, ...]:
        return self.grants[action][ds.classification]

    def governors(self) -> set[str]:
        """Every owner and steward of every dataset."""
        out: set[str] = set()
        for ds in self.policy.datasets.values():
            holders = self.holders(ds)
            out |= holders["owner"] | holders["steward"]
        return out

    def is_admin(self, email: str) -> bool:
        """May change sections outside [datasets]: [plugins.access] admins, else every owner
        and steward; a policy that names no one at all restricts no one."""
        email = email_of(email)
        if self.admins is not None:
            return email in self.admins
        governors = self.governors()
        return email in governors or not governors

    @staticmethod
    def names_nobody(ds: "DatasetPolicy") -> bool:
        return not (ds.owner or ds.stewards or ds.custodians or ds.consumers)

    def requires_signature(self, ds: "DatasetPolicy") -> bool:
        flag = ds.raw.get("signed_commits")
        return bool(flag) if flag is not None else ds.classification in self.signed

    # ---- the decision ---------------------------------------------------------

    def decide(self, actor: str, action: str, dataset: str) -> Decision:
        if action not in ACTIONS:
            raise InputError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}"
                             + _hint(_near(action, ACTIONS)))
        ds = self.policy.datasets.get(dataset)
        if ds is None:
            raise InputError(f"no dataset named {dataset!r} in gitgov.toml"
                             + _hint(_near(dataset, list(self.policy.datasets))))
        email = email_of(actor)
        if self.names_nobody(ds):
            return self._unowned(email, action, ds)
        roles = self.roles_of(email, ds)
        allowed_roles = self.allowed_roles(action, ds)
        ok = any(r in allowed_roles for r in roles)
        who = _who(roles)
        rule = (f"dataset '{ds.name}' is {ds.classification}: {_allowed_words(allowed_roles)} may "
                f"{ACTION_WORDS[action]}; {email} is {who}")
        return Decision(ok, email, action, ds.name, roles, rule, "" if ok else self._fix(ds, action))

    def _unowned(self, email: str, action: str, ds: "DatasetPolicy") -> Decision:
        """A dataset that names no one cannot restrict anyone's data access (a warning says so);
        its section of gitgov.toml belongs to the policy admins."""
        if action == "edit-policy" and not self.is_admin(email):
            return Decision(False, email, action, ds.name, (OTHER,),
                            f"dataset '{ds.name}' names no owner, so only policy admins may change "
                            f"its section of gitgov.toml; {email} is not one",
                            "ask a policy admin (an owner or steward of another dataset, or "
                            "[plugins.access] admins) to make this change")
        return Decision(True, email, action, ds.name, (OTHER,),
                        f"dataset '{ds.name}' names no owner or other roles, so access to it is not "
                        f"restricted; name an owner in gitgov.toml to govern it")

    def _fix(self, ds: "DatasetPolicy", action: str) -> str:
        holders = self.holders(ds)
        named = [f"{', '.join(sorted(holders[r]))} ({r})" for r in _GOVERNORS if holders[r]]
        ask = " or ".join(named) if named else "a policy admin (the dataset has no owner)"
        if action == "edit-policy":
            return f"ask {ask} to make this change to gitgov.toml"
        grantable = [r for r in self.allowed_roles(action, ds) if r != OTHER]
        as_role = " or ".join(_PLURAL[r] for r in grantable if r != "owner") or "stewards"
        return f"ask {ask} to make this change, or to add you to the dataset's {as_role} in gitgov.toml"


def _who(roles: tuple[str, ...]) -> str:
    if roles == (OTHER,):
        return "not named by the dataset (no role)"
    return "its " + " and ".join(roles)


def _allowed_words(roles: tuple[str, ...]) -> str:
    if OTHER in roles:
        return "everyone"
    names = ["its owner" if r == "owner" else _PLURAL[r] for r in roles]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _hint(near: str | None) -> str:
    return f" (did you mean '{near}'?)" if near else ""


def _near(word: str, choices: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None
