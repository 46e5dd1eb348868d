"""Errors that reach the user as one line and an exit code, never a traceback.

Exit codes follow the convention of the whole CLI: 1 means "blocked by
policy", 2 means "bad input or usage".
"""
from __future__ import annotations

EXIT_OK = 0
EXIT_BLOCKED = 1
EXIT_INPUT = 2


class GitgovError(Exception):
    """Base class: printed as ``gitgov: <message>``, exits with ``exit_code``."""

    exit_code = EXIT_INPUT


class InputError(GitgovError):
    """Bad input: a malformed file, a wrong key, a usage error."""

    exit_code = EXIT_INPUT


class PolicyBlocked(GitgovError):
    """The policy refused the operation."""

    exit_code = EXIT_BLOCKED


class LedgerError(InputError):
    """The ledger cannot be opened or written (not SQLite, read-only, missing)."""


class LedgerDamaged(LedgerError):
    """The file where the ledger is is not (or no longer) a whole ledger: not SQLite, corrupt,
    emptied, or another application's database. `gitgov verify` counts it as tampering."""


class ConfigError(InputError):
    """A problem in gitgov.toml, located by file, line and dotted key."""

    def __init__(self, file: str, line: int | None, key: str, rule: str, hint: str | None = None):
        self.file, self.line, self.key, self.rule, self.hint = file, line, key, rule, hint
        where = f"{file}:{line}" if line else file
        text = f"{where}: {key}: {rule}" if key else f"{where}: {rule}"
        if hint:
            text += f" (did you mean '{hint}'?)"
        super().__init__(text)
