"""Refuses to let key material and secrets into Git.

gitgov's own keys (.gitgov/keys), private keys (by name or by a PEM block in
the content), credential files, and files over ``[limits] max_file_size``.
Each finding says why the file is refused and what to do instead. A path can
be exempted with ``[plugins.secrets] allow = ["glob", ...]``.
"""
from __future__ import annotations

import functools
import re

from gitgov.core.events import DataAdded, Finding, error
from gitgov.core.hookspecs import hookimpl
from gitgov.core.report import human_size

__version__ = "1.0"
SCAN_BYTES = 1 << 20  # keys and tokens sit near the top of the small files that hold them
PEM_KEY = re.compile(rb"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----")
TOKENS = (
    ("aws-access-key", re.compile(rb"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), "an AWS access key id"),
    ("github-token", re.compile(rb"\bgh[pousr]_[A-Za-z0-9]{36,}\b"), "a GitHub token"),
    ("slack-token", re.compile(rb"\bxox[baprs]-[A-Za-z0-9-]{10,}\b"), "a Slack token"),
)


@functools.lru_cache(maxsize=8)
def _compiled(globs: tuple[str, ...]) -> re.Pattern[str]:
    from gitgov.core.globs import compile_name_patterns

    return compile_name_patterns(globs)  # once per run, not once per pushed file


def _allow_matcher(ctx):
    """The [plugins.secrets] allow globs, with the same semantics as [limits] secret_names
    (a glob without "/" matches in any directory); a Finding when the setting is malformed."""
    from gitgov.core.globs import GlobError

    globs = ctx.settings("secrets").get("allow", [])
    if not isinstance(globs, list) or not all(isinstance(g, str) for g in globs):
        return error("bad-setting", "[plugins.secrets] allow must be a list of globs, "
                     f"e.g. allow = [\"tests/fixtures/*.pem\"] (in {ctx.policy.path.name})")
    try:
        return _compiled(tuple(globs))
    except GlobError as exc:
        return error("bad-setting", f"[plugins.secrets] allow: {exc} (in {ctx.policy.path.name})")


@hookimpl
def data_added(event: DataAdded, ctx) -> list[Finding]:
    if event.stage == "observed":
        return []  # on disk, key files are expected; only Git must never hold them
    allow = _allow_matcher(ctx)
    if isinstance(allow, Finding):
        return [allow]
    if allow.match(event.path):
        return []
    found = _by_name(event.path, ctx) + _by_size(event, ctx)
    if not any(f.code == "key-material" for f in found):
        found += _by_content(event, ctx)
    return found


def _by_name(path: str, ctx) -> list[Finding]:
    from gitgov.core.config import secret_name_matcher

    if path == ".gitgov" or path.startswith(".gitgov/"):
        return [error("key-material", "gitgov's own state (keys, ledger) must never be committed; "
                      "`git rm --cached` it (gitgov init lists .gitgov/ in .gitignore)")]
    if secret_name_matcher(ctx.policy).search(path):
        return [error("secret-file", "this file name is used for keys or credentials; keep it out "
                      "of Git (add it to .gitignore), or exempt it with [plugins.secrets] allow "
                      "in gitgov.toml if it holds no secret")]
    return []


def _by_size(event: DataAdded, ctx) -> list[Finding]:
    limit = ctx.policy.limits.max_file_size
    if event.size is None or event.size <= limit:
        return []
    return [error("too-large", f"file is {human_size(event.size)}, over the {human_size(limit)} limit of "
                  "[limits] max_file_size in gitgov.toml; keep large data in the object store "
                  "or raise the limit", size=event.size, limit=limit)]


def _by_content(event: DataAdded, ctx) -> list[Finding]:
    head = ctx.read_data(event, SCAN_BYTES)
    m = PEM_KEY.search(head)
    if m:
        line = head.count(b"\n", 0, m.start()) + 1
        return [error("private-key", f"line {line}: a PEM private key ({m.group(0).decode()}); "
                      "private keys must never enter Git history, where they cannot be removed; "
                      "rotate it if it was ever pushed", line=line)]
    for code, pattern, what in TOKENS:
        m = pattern.search(head)
        if m:
            line = head.count(b"\n", 0, m.start()) + 1
            return [error(code, f"line {line}: looks like {what}; use an environment variable or "
                          "a secrets manager instead", line=line)]
    return []
