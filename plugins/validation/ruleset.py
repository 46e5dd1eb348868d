"""A dataset's rules from gitgov.toml, compiled once per check: specs, parameters, hash.

Parameters are converted to Arrow scalars of the column's type here, so a
`min` that cannot be a date for a date column is a configuration error that
names its key and line (exit 2), not a surprise in the middle of a file.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from gitgov.core import arrow_values as av
from gitgov.core.errors import ConfigError

from .rules import COLUMN_RULES, NamedFormat, Registry, Rule, format_names, resolve_format, rule_identity

if TYPE_CHECKING:
    from gitgov.core.config import DatasetPolicy, Policy

ENGINE_VERSION = "1"  # part of every ruleset hash: a new engine re-checks everything once
MASKED_PROTECTIONS = ("encrypt", "pseudonymize", "mask", "drop")
# Stored as tokens (gg1:...) or masked: a value's shape is no longer the data's, so only
# these rules still apply to such a column (every key is still validated).
REWRITTEN = ("encrypt", "pseudonymize", "mask")
KEPT_WHEN_REWRITTEN = ("required", "unique")
TYPE_WORDS = {"integer": "an integer", "float": "a number", "boolean": "true or false",
              "date": "a date (YYYY-MM-DD)", "timestamp": "an ISO 8601 timestamp",
              "string": "text"}


@dataclass
class ColumnSpec:
    name: str
    type: str | None  # declared (or implied by min/max); None: inferred from the data
    masked: bool  # personal data: values never shown
    conf: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class CheckSpec:
    """One rule on one column (or on the table), ready to run."""

    id: str  # "email.format", "min_rows"
    rule: str
    column: str | None
    severity: str
    message: str  # completes "'<column>' ..." for each failing row
    param: Any = None  # as the engine uses it (Arrow scalar or array)
    shown: Any = None  # as gitgov.toml says it
    impl: Rule | None = None
    values: str = "typed"


@dataclass
class RuleSet:
    dataset: str | None
    columns: dict[str, ColumnSpec]
    checks: list[CheckSpec]
    table: dict[str, Any]
    primary_key: tuple[str, ...] = ()
    foreign_keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    format: str | None = None
    delimiter: str | None = None
    null_values: list[str] | None = None
    fingerprint: dict[str, Any] = field(default_factory=dict)

    def digest(self, references: Mapping[str, Any] | None = None) -> str:
        """The ruleset hash: these rules, the engine, and the data that foreign keys point to."""
        doc = dict(self.fingerprint, references=dict(references or {}))
        text = json.dumps(doc, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def column_checks(self, column: str) -> list[CheckSpec]:
        return [c for c in self.checks if c.column == column]


class Problems:
    """Raises ConfigError for a key of the dataset, with the line it is on."""

    def __init__(self, policy: "Policy", dataset: str):
        self.policy, self.dataset = policy, dataset
        self._lines: dict | None = None

    def error(self, keys: tuple, rule: str, hint: str | None = None) -> ConfigError:
        from gitgov.core.config import dotted, shown_path
        from gitgov.core.tomlpos import key_lines, line_of

        path = ("datasets", self.dataset) + keys
        if self._lines is None:
            try:
                self._lines = key_lines(self.policy.path.read_text(encoding="utf-8-sig"))
            except OSError:
                self._lines = {}
        return ConfigError(shown_path(self.policy.path), line_of(self._lines, path), dotted(path),
                           rule, hint)


def is_masked(conf: Mapping[str, Any]) -> bool:
    protect = conf.get("protect")
    return bool(conf.get("pii")) or (protect is not None and protect in MASKED_PROTECTIONS)


def _severity(conf: Mapping[str, Any], rules: Mapping[str, Any], rule: str) -> str:
    for table in (conf, rules):
        by_rule = table.get("severities") or {}
        if rule in by_rule:
            return by_rule[rule]
        if table.get("severity"):
            return table["severity"]
    return "error"


def implied_type(conf: Mapping[str, Any]) -> str | None:
    import datetime as dt

    if conf.get("type"):
        return conf["type"]
    bounds = [conf[k] for k in ("min", "max") if k in conf]
    if any(isinstance(b, dt.datetime) for b in bounds):
        return "timestamp"
    if any(isinstance(b, dt.date) for b in bounds):
        return "date"
    if bounds and all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds):
        return "float"
    return None


def compile_rules(policy: "Policy", ds: "DatasetPolicy | None", registry: Registry) -> RuleSet:
    """The RuleSet of a dataset (None: a file in no dataset, checked only for readability)."""
    if ds is None:
        return RuleSet(dataset=None, columns={}, checks=[], table={},
                       fingerprint={"engine": ENGINE_VERSION, "dataset": None})
    problems = Problems(policy, ds.name)
    team_formats = dict(policy.raw.get("formats", {}))
    columns: dict[str, ColumnSpec] = {}
    checks: list[CheckSpec] = []
    used_formats: dict[str, Any] = {}
    custom: dict[str, str] = {}
    for name, conf in ds.columns.items():
        spec = ColumnSpec(name, implied_type(conf), is_masked(conf), conf)
        found = _column_checks(spec, ds.rules, registry, problems, team_formats, used_formats, custom)
        if conf.get("protect") in REWRITTEN:
            spec = ColumnSpec(name, None, True, conf)
            found = [c for c in found if c.rule in KEPT_WHEN_REWRITTEN]
        columns[name] = spec
        checks += found
    checks += _table_checks(ds.rules, registry, problems, custom)
    _bounds_agree(ds.rules, ("min_rows", "max_rows"), "integer", problems, ("rules",))
    if "freshness_days" in ds.rules and not ds.rules.get("freshness_column"):
        raise problems.error(("rules", "freshness_days"), "needs freshness_column: the date or "
                             "timestamp column whose newest value must be recent")
    fks = {col: tuple(ref.split(".", 1)) for col, ref in (ds.rules.get("foreign_keys") or {}).items()}
    for col, (target, _tcol) in fks.items():
        if target not in policy.datasets:
            raise problems.error(("rules", "foreign_keys", col), f"no dataset named '{target}'",
                                 _closest(target, list(policy.datasets)))
    fingerprint = {
        "engine": ENGINE_VERSION, "dataset": ds.name, "format": ds.format,
        "columns": ds.columns, "rules": ds.rules, "primary_key": list(ds.primary_key),
        "null_values": ds.raw.get("null_values"), "delimiter": ds.raw.get("delimiter"),
        "formats": used_formats, "custom": custom,
    }
    return RuleSet(dataset=ds.name, columns=columns, checks=checks, table=dict(ds.rules),
                   primary_key=tuple(ds.primary_key), foreign_keys=fks, format=ds.format,
                   delimiter=ds.raw.get("delimiter"), null_values=ds.raw.get("null_values"),
                   fingerprint=fingerprint)


def _closest(word: str, choices: list[str]) -> str | None:
    import difflib

    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return match[0] if match else None


def _column_checks(spec: ColumnSpec, table: Mapping[str, Any], registry: Registry,
                   problems: Problems, team_formats: Mapping[str, Any],
                   used_formats: dict[str, Any], custom: dict[str, str]) -> list[CheckSpec]:
    conf, col = spec.conf, spec.name
    out: list[CheckSpec] = []

    def add(rule: str, message: str, **kw: Any) -> None:
        out.append(CheckSpec(id=f"{col}.{rule}", rule=rule, column=col,
                             severity=_severity(conf, table, rule), message=message, **kw))

    if spec.type:
        add("type", f"is not {TYPE_WORDS[spec.type]}", shown=spec.type)
    if conf.get("required"):
        add("required", "is empty", shown=True)
    if conf.get("unique"):
        add("unique", "repeats the value of an earlier row", shown=True)
    for rule in ("min", "max"):
        if rule in conf:
            param = _scalar(conf[rule], spec.type, problems, ("columns", col, rule))
            word = "below the minimum" if rule == "min" else "above the maximum"
            add(rule, f"is {word} {conf[rule]}", param=param, shown=conf[rule],
                impl=registry.rules[rule])
    _bounds_agree(conf, ("min", "max"), spec.type, problems, ("columns", col))
    _bounds_agree(conf, ("min_length", "max_length"), "integer", problems, ("columns", col))
    for rule in ("min_length", "max_length"):
        if rule in conf:
            word = "shorter" if rule == "min_length" else "longer"
            add(rule, f"is {word} than {conf[rule]} characters", param=conf[rule],
                shown=conf[rule], impl=registry.rules[rule], values="text")
    if "allowed" in conf:
        values = _array(conf["allowed"], spec.type, problems, ("columns", col, "allowed"))
        listed = ", ".join(str(v) for v in conf["allowed"][:8])
        more = ", ..." if len(conf["allowed"]) > 8 else ""
        add("allowed", f"is not one of the allowed values ({listed}{more})", param=values,
            shown=conf["allowed"], impl=registry.rules["allowed"], values="typed" if spec.type else "text")
    if "pattern" in conf:
        add("pattern", f"does not match the pattern {conf['pattern']}", param=conf["pattern"],
            shown=conf["pattern"], impl=registry.rules["pattern"], values="text")
    if "format" in conf:
        fmt = resolve_format(str(conf["format"]), team_formats)
        if fmt is None:
            names = format_names(team_formats)
            raise problems.error(("columns", col, "format"),
                                 f"unknown format '{conf['format']}'; known: {', '.join(names)},"
                                 " or define it under [formats]", _closest(conf["format"], names))
        used_formats[fmt.name] = [fmt.patterns, fmt.parse]
        add("format", f"is not {fmt.description} (format = {fmt.name})", param=fmt,
            shown=conf["format"], values="text")
    for name, param in (conf.get("checks") or {}).items():
        rule = registry.get(name)
        if rule is None or rule.kind != "column" or name in COLUMN_RULES:
            raise problems.error(("columns", col, "checks", name), _unknown_rule(name, "column",
                                 registry), _closest(name, registry.names("column")))
        custom[name] = rule_identity(rule)
        add(name, rule.description or f"fails {name}", param=param, shown=param, impl=rule,
            values=rule.values)
    _severities_named(conf, [c.rule for c in out], problems, ("columns", col))
    return out


def _severities_named(conf: Mapping[str, Any], rules: list[str], problems: Problems,
                      where: tuple) -> None:
    """A severity for a rule the column does not have is a typo that would leave the real
    rule at its default: `severities = { mx = "warning" }` must not pass in silence."""
    for name in conf.get("severities") or {}:
        if name not in rules:
            known = ", ".join(rules) or "none"
            raise problems.error(where + ("severities", name), f"this column has no rule '{name}' "
                                 f"(its rules: {known})", _closest(name, rules))


def _bounds_agree(conf: Mapping[str, Any], keys: tuple[str, str], logical: str | None,
                  problems: Problems, where: tuple) -> None:
    """A lower bound above its upper bound is a policy no data can meet: a typo, not a rule."""
    low, high = keys
    if low not in conf or high not in conf:
        return
    if _py_value(conf[low], logical, problems, where + (low,)) > _py_value(
            conf[high], logical, problems, where + (high,)):
        raise problems.error(where + (low,), f"{conf[low]} is above {high} = {conf[high]}: "
                             "nothing can pass both")


def _unknown_rule(name: str, kind: str, registry: Registry) -> str:
    known = registry.names(kind)
    have = f"rules from plugins: {', '.join(known)}" if known else "no plugin registers any"
    failed = "".join(f"; {p}" for p in registry.problems)  # the plugin that would add it, maybe
    return f"unknown {kind} rule '{name}' ({have}; a plugin adds rules with register_rules{failed})"


def _table_checks(table: Mapping[str, Any], registry: Registry, problems: Problems,
                  custom: dict[str, str]) -> list[CheckSpec]:
    out = []
    for name, param in (table.get("checks") or {}).items():
        rule = registry.get(name)
        if rule is None or rule.kind != "table":
            raise problems.error(("rules", "checks", name), _unknown_rule(name, "table", registry),
                                 _closest(name, registry.names("table")))
        custom[name] = rule_identity(rule)
        out.append(CheckSpec(id=name, rule=name, column=None, severity=_severity({}, table, name),
                             message=rule.description or f"fails {name}", param=param, shown=param,
                             impl=rule))
    return out


def _py_value(value: Any, logical: str | None, problems: Problems, keys: tuple) -> Any:
    import datetime as dt

    try:
        if logical == "integer":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
                raise ValueError
            if not -2**63 <= int(value) < 2**63:
                raise problems.error(keys, f"{value!r} is outside the range of the column's type "
                                     "(a 64-bit integer)")
            return int(value)
        if logical == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError
            return float(value)
        if logical == "date":
            if isinstance(value, dt.datetime):
                return value.date()
            return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        if logical == "timestamp":
            stamp = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(
                str(value).replace("Z", "+00:00"))
            return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)
        if logical == "boolean":
            if not isinstance(value, bool):
                raise ValueError
            return value
        return str(value)
    except (ValueError, TypeError, OverflowError):
        raise problems.error(keys, f"{value!r} is not {TYPE_WORDS.get(logical or 'string')}, the "
                             "column's type") from None


def _arrow_type(logical: str | None) -> Any:
    from .coerce import arrow_type

    return arrow_type(logical or "string")


def _scalar(value: Any, logical: str | None, problems: Problems, keys: tuple) -> Any:
    return av.scalar(_py_value(value, logical, problems, keys), _arrow_type(logical))


def _array(values: list, logical: str | None, problems: Problems, keys: tuple) -> Any:
    items = [_py_value(v, logical, problems, keys + (i,)) for i, v in enumerate(values)]
    return av.array(items, _arrow_type(logical))


def format_mask(text: Any, fmt: NamedFormat) -> Any:
    """True where a text value is not in the named format."""
    from gitgov.core import arrow_kernels as pc

    from .coerce import cast_text, or_masks
    from .rules import regex_mask

    mask = None
    for pattern in fmt.patterns:
        mask = or_masks(mask, pc.fill_null(regex_mask(text, pattern), False))
    if fmt.parse:
        _typed, bad = cast_text(text, fmt.parse)
        mask = or_masks(mask, bad)
    return mask
