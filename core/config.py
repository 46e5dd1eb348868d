"""gitgov.toml -> Policy.

Loading is parse (tomllib) -> validate against core/schema.py (config_problems.py)
-> build frozen records (NamedTuples). Every problem becomes a ConfigError naming
the file, the line, the dotted key and the rule, so a bad policy never shows a
traceback.

tomllib is imported inside the loader, not at module level, so that the glob
helpers re-exported here stay cheap for the git hook; a Session's loader reads
a table parsed before from the same text instead (policy_cache.py).
"""
from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, NamedTuple

from . import schema
from .config_problems import Problem, dotted, problems
from .errors import ConfigError
from .globs import compile_name_patterns, compile_patterns

__all__ = [
    "DatasetPolicy", "LimitsPolicy", "PluginsPolicy", "Policy",
    "compile_patterns", "governed_matcher", "fastpath_pathspecs", "load_policy", "load_policy_text",
    "secret_name_matcher",
]

governed_matcher = compile_patterns  # an earlier name, kept for plugins that import it


# ---- the policy ----------------------------------------------------------

# The policy's records are NamedTuples, not dataclasses: every command loads a
# policy, and a frozen dataclass costs ~2 ms per class to define at start-up.
# load_policy fills every field; the read-only empty defaults cannot be shared
# and then changed by accident.
EMPTY: Mapping[str, Any] = MappingProxyType({})
_DATASET_REGEX: dict[tuple[str, ...], re.Pattern[str]] = {}


class DatasetPolicy(NamedTuple):
    name: str
    paths: tuple[str, ...]
    description: str = ""
    classification: str = schema.DEFAULT_CLASSIFICATION
    owner: str | None = None
    stewards: tuple[str, ...] = ()
    custodians: tuple[str, ...] = ()
    consumers: tuple[str, ...] = ()
    format: str | None = None  # None: infer from the file extension
    encrypt: str | None = None  # "file", or None for "store as is"
    retention: str | None = None  # "30d"/"18m"/"7y"; falls back to [retention] default
    retention_column: str | None = None
    hold: bool = False
    primary_key: tuple[str, ...] = ()
    columns: Mapping[str, dict] = EMPTY
    rules: Mapping[str, Any] = EMPTY
    raw: Mapping[str, Any] = EMPTY

    def matches(self, path: str) -> bool:
        """Whether the posix path (relative to the repo root) is in this dataset."""
        regex = _DATASET_REGEX.get(self.paths)
        if regex is None:  # compiled once per set of globs: dataset_for runs per staged file
            regex = _DATASET_REGEX[self.paths] = compile_patterns(self.paths)
        return regex.match(path) is not None

    @property
    def retention_days(self) -> int | None:
        return schema.parse_duration_days(self.retention) if self.retention else None


class PluginsPolicy(NamedTuple):
    enable: tuple[str, ...] | None = None  # None: every installed plugin
    disable: tuple[str, ...] = ()
    local: tuple[str, ...] = ()  # plugin files, relative to the repo root
    timeout: float = schema.DEFAULT_PLUGIN_TIMEOUT
    settings: Mapping[str, dict] = EMPTY  # [plugins.NAME] tables

    def allows(self, name: str) -> bool:
        """Enabled and not disabled (disable wins when a name is in both)."""
        return name not in self.disable and (self.enable is None or name in self.enable)


class LimitsPolicy(NamedTuple):
    max_file_size: int = schema.DEFAULT_MAX_FILE_SIZE
    secret_names: tuple[str, ...] = ()  # extra globs, on top of schema.SECRET_NAMES

    def secret_globs(self) -> tuple[str, ...]:
        return schema.SECRET_NAMES + self.secret_names


class Policy(NamedTuple):
    path: Path
    datasets: Mapping[str, DatasetPolicy] = EMPTY
    plugins: PluginsPolicy = PluginsPolicy()
    limits: LimitsPolicy = LimitsPolicy()
    roles: Mapping[str, tuple[str, ...]] = EMPTY  # role -> members
    watch: Mapping[str, Any] = EMPTY
    retention: Mapping[str, Any] = EMPTY
    raw: Mapping[str, Any] = EMPTY

    @classmethod
    def empty(cls, path: Path) -> Policy:
        """The policy of a repository without gitgov.toml: nothing governed."""
        return cls(path=Path(path), datasets={}, roles={}, watch={}, retention={}, raw={})

    def dataset_for(self, path: str) -> DatasetPolicy | None:
        """The first dataset, in file order, whose globs match ``path``."""
        for dataset in self.datasets.values():
            if dataset.matches(path):
                return dataset
        return None

    def governed_patterns(self) -> list[str]:
        return [glob for ds in self.datasets.values() for glob in ds.paths]


def secret_name_matcher(policy: Policy) -> re.Pattern[str]:
    """Matches paths whose name marks a secret (built-in list + [limits] secret_names)."""
    return compile_name_patterns(policy.limits.secret_globs())


def fastpath_pathspecs(policy: Policy) -> list[str]:
    """Git pathspecs that match at least every governed or secret-named path.

    The hook's fast path hands these to `git diff --cached --quiet`. In git's
    default pathspec matching `*` crosses "/", so a glob is a superset of
    itself once "**/" may match nothing; a false match only costs the full
    check, which then applies the exact globs.
    """
    specs = [_widen(g) for g in policy.governed_patterns()]
    for glob in policy.limits.secret_globs():
        specs += [_widen(glob)] if "/" in glob.rstrip("/") else [glob, "*/" + glob]
    specs += [".gitgov/", "gitgov.toml"]  # a policy change re-checks the data whose rules it changes
    return list(dict.fromkeys(specs))


def _widen(glob: str) -> str:
    return glob.replace("**/", "*").replace("/**", "/*")


# ---- loading -------------------------------------------------------------

def load_policy(path: Path, cache_dir: Path | None = None) -> Policy:
    """Load and validate gitgov.toml; a missing file is the empty policy.
    ``cache_dir``: where the parsed table may be kept (see policy_cache.py)."""
    path = Path(path)
    if not path.exists():
        return Policy.empty(path)
    text = _read(path)
    if cache_dir is None:
        raw = _parse(text, path)
    else:
        from .policy_cache import parsed_table

        raw = parsed_table(text, cache_dir, lambda: _parse(text, path))
    problem = next(problems(raw, schema.ROOT, ()), None)
    if problem:
        raise _invalid(problem, text, path)
    return _build(raw, path)


def shown_path(path: Path) -> str:
    """gitgov.toml as the user would type it ("gitgov.toml", "../gitgov.toml" is not):
    relative to the working folder when below it, else absolute."""
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


def load_policy_text(text: str, name: str | Path) -> Policy:
    """A policy from TOML text that is not a file on disk, e.g. the output of
    `git show main:gitgov.toml` in a bare repository; errors name ``name``."""
    path = Path(name)
    text = _without_bom(text)
    raw = _parse(text, path)
    problem = next(problems(raw, schema.ROOT, ()), None)
    if problem:
        raise _invalid(problem, text, path)
    return _build(raw, path)


def _invalid(problem: "Problem", text: str, path: Path) -> ConfigError:
    """The error for a value the schema refuses, with the line that holds its key."""
    from .tomlpos import key_lines, line_of  # finding lines is needed only for an error

    line = line_of(key_lines(text), problem.path)
    return ConfigError(str(path), line, dotted(problem.path), problem.rule, problem.hint)


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), None, "", f"cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(str(path), line, "", "not valid UTF-8 text") from None
    return _without_bom(text)


def _without_bom(text: str) -> str:
    """A BOM that Windows editors add is tolerated (as "utf-8-sig" would, without its codec's import)."""
    return text[1:] if text.startswith("\ufeff") else text


def _parse(text: str, path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(str(exc), text, path) from None
    except RecursionError:  # tomllib reads nested arrays and tables recursively
        raise ConfigError(str(path), None, "", "arrays or tables nested too deeply to read") from None


def _syntax_error(message: str, text: str, path: Path) -> ConfigError:
    """tomllib puts the position in the message: "... (at line 3, column 9)"."""
    reason, _, where = message.partition(" (at ")
    match = re.match(r"line (\d+), column (\d+)\)", where)
    if match:
        line, col = int(match.group(1)), int(match.group(2))
    elif where.startswith("end of document"):
        lines = text.split("\n")
        line, col = len(lines), len(lines[-1]) + 1
    else:
        return ConfigError(str(path), None, "", f"TOML syntax error: {message}")
    reason = reason[:1].lower() + reason[1:]
    return ConfigError(str(path), line, "", f"TOML syntax error at column {col}: {reason}")


# ---- building ------------------------------------------------------------

def _build(raw: dict[str, Any], path: Path) -> Policy:
    retention = raw.get("retention", {})
    datasets = {
        name: _dataset(name, table, retention.get("default"))
        for name, table in raw.get("datasets", {}).items()
    }
    return Policy(
        path=path,
        datasets=datasets,
        plugins=_plugins(raw.get("plugins", {})),
        limits=_limits(raw.get("limits", {})),
        roles=_roles(raw.get("roles", {})),
        watch=dict(raw.get("watch", {})),
        retention=dict(retention),
        raw=raw,
    )


def _dataset(name: str, t: dict[str, Any], default_retention: str | None) -> DatasetPolicy:
    key = t.get("primary_key", ())
    return DatasetPolicy(
        name=name,
        paths=tuple(t["paths"]),
        description=t.get("description", ""),
        classification=t.get("classification", schema.DEFAULT_CLASSIFICATION),
        owner=t.get("owner"),
        stewards=tuple(t.get("stewards", ())),
        custodians=tuple(t.get("custodians", ())),
        consumers=tuple(t.get("consumers", ())),
        format=t.get("format"),
        encrypt=t.get("encrypt") or None,
        retention=t.get("retention", default_retention),
        retention_column=t.get("retention_column"),
        hold=t.get("hold", False),
        primary_key=(key,) if isinstance(key, str) else tuple(key),
        columns=dict(t.get("columns", {})),
        rules=dict(t.get("rules", {})),
        raw=t,
    )


def _plugins(t: dict[str, Any]) -> PluginsPolicy:
    enable = t.get("enable")
    return PluginsPolicy(
        enable=None if enable is None else tuple(enable),
        disable=tuple(t.get("disable", ())),
        local=tuple(t.get("local", ())),
        timeout=float(t.get("timeout", schema.DEFAULT_PLUGIN_TIMEOUT)),
        settings={k: v for k, v in t.items() if k not in schema.PLUGINS.keys},
    )


def _limits(t: dict[str, Any]) -> LimitsPolicy:
    size = t.get("max_file_size", schema.DEFAULT_MAX_FILE_SIZE)
    return LimitsPolicy(max_file_size=schema.parse_size(size), secret_names=tuple(t.get("secret_names", ())))


def _roles(t: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    # A role is a list of members, or a table with `members` and a description.
    return {name: tuple(v if isinstance(v, list) else v.get("members", ())) for name, v in t.items()}


JUDGING_TABLES = ("datasets", "plugins", "formats", "limits")  # what a file's checks read


def policy_digest(policy: Policy, root: Path | None, off: Iterable[str] = ()) -> str:
    """What the checks of a file depend on, as one hash: the tables they read (not comments,
    layout, roles or retention, which judge commits and dates, not bytes), the bytes of the
    local plugin files, and the plugins turned off for the run (``off``: GITGOV_DISABLE). A
    pass under one digest vouches for nothing under another: pre-push judges it again."""
    import hashlib
    import json

    judging = {k: v for k, v in policy.raw.items() if k in JUDGING_TABLES}
    h = hashlib.sha256(json.dumps(judging, sort_keys=True, default=str).encode("utf-8"))
    for rel in policy.plugins.local:
        h.update(b"\0" + rel.encode("utf-8", "surrogateescape") + b"\0")
        try:
            h.update((Path(root or ".") / rel).read_bytes())
        except OSError:
            h.update(b"missing")
    h.update(("\0off:" + ",".join(sorted(off))).encode("utf-8", "surrogateescape"))
    return h.hexdigest()
