"""The rules a dataset's values must follow, as a registry that plugins extend.

A column rule is a function from one batch's values of a column (an Arrow
array, already converted to the column's declared type) and the rule's
parameter from gitgov.toml to a boolean array that is true where a row
fails. Built-in rules (min, max, pattern, format, ...) are registered the
same way as those that plugins return from the ``register_rules`` hook:

    from gitgov.plugins.validation.rules import column_rule

    @column_rule("no_test_domain", description="is an address at a test domain")
    def no_test_domain(values, param):
        from gitgov.core import arrow_kernels as pc
        return pc.match_substring(values, "@" + param)

and in gitgov.toml: ``checks = { no_test_domain = "example.com" }`` under
``[datasets.NAME.columns.COLUMN]``. A table rule is a class with
``update(batch, first_row)`` and ``finish()``, named under
``[datasets.NAME.rules] checks``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from gitgov.core import arrow_values as av

COLUMN_RULES = ("type", "required", "unique", "min", "max", "min_length", "max_length",
                "allowed", "pattern", "format", "max_null_fraction")
TABLE_RULES = ("min_rows", "max_rows", "columns_exact", "columns_required", "max_null_fraction",
               "freshness_days", "foreign_keys", "primary_key")


@dataclass(frozen=True)
class Rule:
    """A rule type: its name in gitgov.toml and how it checks values.

    kind "column": ``check(values, param) -> BooleanArray | None`` per batch
    (true = the row fails; nulls never fail, `required` sees to them).
    kind "table": ``check(param)`` returns an object with
    ``update(batch, first_row)`` and ``finish() -> int | str | None``
    (a number of failures, or one failure described, or None when it passes).
    """

    name: str
    kind: str
    check: Callable[..., Any]
    description: str = ""
    version: str = "1"
    values: str = "typed"  # column rules: "typed" (the declared type) or "text"

    def __post_init__(self) -> None:
        if self.kind not in ("column", "table"):
            raise ValueError(f"rule {self.name!r}: kind must be 'column' or 'table'")
        if self.values not in ("typed", "text"):
            raise ValueError(f"rule {self.name!r}: values must be 'typed' or 'text'")


def column_rule(name: str, *, description: str = "", version: str = "1",
                values: str = "typed") -> Callable[[Callable[..., Any]], Rule]:
    """Decorator: a function ``(values, param) -> BooleanArray`` becomes a column Rule."""
    def make(fn: Callable[..., Any]) -> Rule:
        return Rule(name=name, kind="column", check=fn, version=version, values=values,
                    description=description or (fn.__doc__ or "").strip().split("\n")[0])
    return make


def table_rule(name: str, *, description: str = "", version: str = "1"
               ) -> Callable[[Callable[..., Any]], Rule]:
    """Decorator: a class (or factory) taking the parameter becomes a table Rule."""
    def make(factory: Callable[..., Any]) -> Rule:
        return Rule(name=name, kind="table", check=factory, version=version,
                    description=description or (factory.__doc__ or "").strip().split("\n")[0])
    return make


# ---- named formats ---------------------------------------------------------------

@dataclass(frozen=True)
class NamedFormat:
    name: str
    description: str  # completes "is not ..."
    patterns: tuple[str, ...] = ()  # all must match the whole value
    parse: str | None = None  # "date" / "timestamp": valid when Arrow parses it
    team: bool = False


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
BUILTIN_FORMATS: Mapping[str, NamedFormat] = {f.name: f for f in (
    # The HTML living standard's e-mail grammar, with a dotted domain; label lengths
    # are left out: bounded repeats make the regular expression several times slower.
    NamedFormat("email", "a valid email address",
                (r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@" + _LABEL + r"(?:\." + _LABEL + r")+",)),
    NamedFormat("url", "a URL (http, https or ftp, with a host)",
                (r"(?i:https?|ftp)://[^\s/?#@]+(?:@[^\s/?#]+)?(?:[/?#]\S*)?",)),
    NamedFormat("iso_date", "an ISO 8601 date (YYYY-MM-DD)", (r"[0-9]{4}-[0-9]{2}-[0-9]{2}",),
                parse="date"),
    NamedFormat("iso_datetime", "an ISO 8601 timestamp (YYYY-MM-DDTHH:MM:SS, optional offset)",
                (r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
                 r"(Z|[+-][0-9]{2}:?[0-9]{2})?",), parse="timestamp"),
    NamedFormat("e164", "an E.164 phone number (+, country code, up to 15 digits)",
                (r"\+[1-9][0-9]{1,14}",)),
    NamedFormat("uuid", "a UUID", (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                                   r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",)),
    NamedFormat("country_code", "an ISO 3166-1 alpha-2 country code", (r"[A-Z]{2}",)),
    # Generic on purpose: teams state their own standard in [formats.postal_address].
    NamedFormat("postal_address", "a postal address (at least a street line and a place, "
                "separated by a comma or a line break, with a house or postal number)",
                (r"[^,\n]*[^\s,][^,\n]*(?:[,\n][^,\n]*[^\s,][^,\n]*)+", r"(?s).*[0-9].*")),
)}
FORMAT_ALIASES = {"iso-date": "iso_date", "date": "iso_date", "datetime": "iso_datetime",
                  "iso-datetime": "iso_datetime", "timestamp": "iso_datetime",
                  "phone": "e164", "e.164": "e164", "address": "postal_address",
                  "postal-address": "postal_address", "country": "country_code"}


def format_names(team: Mapping[str, Any]) -> list[str]:
    return sorted(set(BUILTIN_FORMATS) | set(team))


def resolve_format(name: str, team: Mapping[str, Any]) -> NamedFormat | None:
    """The team's format of that name, else a built-in one (by name or alias)."""
    if name in team:
        spec = team[name]
        return NamedFormat(name, spec.get("description") or f"in the {name} format",
                           (spec["pattern"],), team=True)
    key = FORMAT_ALIASES.get(name.lower(), name.lower().replace("-", "_"))
    return BUILTIN_FORMATS.get(key)


# ---- the built-in column rules -----------------------------------------------------

def _pc() -> Any:
    from gitgov.core import arrow_kernels as pc
    return pc


def regex_mask(text: Any, pattern: str) -> Any:
    """True where a value does NOT match `pattern` as a whole (RE2, else Python re)."""
    import pyarrow as pa

    from .matching import mismatches

    try:
        return mismatches(text, pattern)
    except pa.ArrowInvalid:  # a construct RE2 lacks (look-around, backreferences)
        compiled = re.compile(pattern)
        return av.array([None if v is None else compiled.fullmatch(v) is None
                         for v in text.to_pylist()], pa.bool_())


def _length(values: Any) -> Any:
    return _pc().utf8_length(values)


def _longer(values: Any, limit: int) -> Any:
    """True where a value has more than `limit` characters.

    A character takes at least one byte, so a value with no more bytes than the
    limit cannot be longer: characters are counted only when some value is.
    """
    pc = _pc()
    mask = pc.greater(pc.binary_length(values), limit)
    return pc.greater(_length(values), limit) if mask.true_count else mask


def _not_allowed(values: Any, allowed: Any) -> Any:
    """True where a value is not in `allowed`; an empty value is `required`'s to fail."""
    pc = _pc()
    mask = pc.invert(pc.is_in(values, value_set=allowed))
    return pc.and_(mask, pc.is_valid(values)) if values.null_count else mask


BUILTIN_RULES: Mapping[str, Rule] = {r.name: r for r in (
    Rule("min", "column", lambda v, p: _pc().less(v, p), "is below the minimum"),
    Rule("max", "column", lambda v, p: _pc().greater(v, p), "is above the maximum"),
    Rule("min_length", "column", lambda v, p: _pc().less(_length(v), p),
         "is shorter than the minimum length", values="text"),
    Rule("max_length", "column", _longer,
         "is longer than the maximum length", values="text"),
    Rule("allowed", "column", _not_allowed, "is not one of the allowed values"),
    Rule("pattern", "column", lambda v, p: regex_mask(v, p), "does not match the pattern",
         values="text"),
)}


def rule_identity(rule: Rule) -> str:
    """The rule's version and a hash of the file its code is in: a pass under the old code
    of a plugin's rule vouches for nothing once the code changed, version bumped or not."""
    import hashlib
    import inspect

    try:
        source = inspect.getsourcefile(rule.check) or ""
        with open(source, "rb") as fh:
            code = hashlib.sha256(fh.read()).hexdigest()[:16]
    except (TypeError, OSError):
        code = "?"  # built in C, or a file gone: the version alone
    return f"{rule.version}:{code}"


class Registry:
    """Rule types by name: the built-ins, then those plugins registered."""

    def __init__(self, extra: Iterable[Rule] = (), problems: Iterable[str] = ()):
        self.rules: dict[str, Rule] = dict(BUILTIN_RULES)
        self.custom: dict[str, Rule] = {}
        self.problems = list(problems)  # plugins whose register_rules failed, in words
        for rule in extra:
            if not isinstance(rule, Rule):
                raise TypeError(f"register_rules returned {type(rule).__name__}, expected a Rule")
            self.custom[rule.name] = rule

    def get(self, name: str) -> Rule | None:
        return self.custom.get(name) or self.rules.get(name)

    def names(self, kind: str) -> list[str]:
        return sorted(n for n, r in self.custom.items() if r.kind == kind)


def plugin_rules(answers: Iterable[tuple[str, Any]]) -> tuple[list[Rule], list[str]]:
    """Each plugin's register_rules answer as rules; an answer that holds anything else is
    that plugin's problem, in words, and none of its rules count."""
    rules: list[Rule] = []
    problems: list[str] = []
    for plugin, value in answers:
        try:
            found = flatten_rules([value])
        except TypeError:
            found = [value]
        wrong = [r for r in found if not isinstance(r, Rule)]
        if wrong:
            problems.append(f"plugin '{plugin}' answered register_rules with a "
                            f"{type(wrong[0]).__name__}, expected gitgov.plugins.validation.rules.Rule")
        else:
            rules += found
    return rules, problems


def flatten_rules(values: Iterable[Any]) -> list[Rule]:
    """register_rules results: a Rule, or an iterable of them, per plugin."""
    out: list[Rule] = []
    for value in values:
        if isinstance(value, Rule):
            out.append(value)
        elif isinstance(value, Mapping):
            out.extend(value.values())
        else:
            out.extend(value)
    return out
