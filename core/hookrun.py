"""Entry point of the installed Git hook shims, built for the hot path.

The shim runs this file as a script with ``python -S``: no site-packages, and
only the standard library until there is real work. For pre-commit, one
``git diff --cached --raw`` and a cached, precompiled matcher decide whether
anything staged is governed data or looks like a secret. Most commits stop
there, at the cost of an interpreter start. Otherwise site-packages are
enabled and the full flow in :mod:`gitgov.core.hookflow` takes over.

The matcher cache (.gitgov/cache/fastpath.json) is keyed by gitgov.toml's
size and mtime; the full flow rewrites it whenever it is stale.
"""
import json
import os
import re
import subprocess
import sys

CACHE = os.path.join(".gitgov", "cache", "fastpath.json")
PENDING = os.path.join(".gitgov", "state", "pending-commit")
POLICY = "gitgov.toml"
# Private keys are found by content in any staged file; git greps the diff in C.
KEY_CONTENT = "-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----"


def _policy_stamp():
    try:
        st = os.stat(POLICY)
    except FileNotFoundError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _load_cache():
    """The compiled matchers, or None when gitgov.toml changed since they were built."""
    try:
        with open(CACHE, encoding="utf-8") as f:
            cache = json.load(f)
    except (OSError, ValueError):
        return None
    if cache.get("stamp") != _policy_stamp() or cache.get("version") != 1:
        return None
    return cache


def _git(*args):
    return subprocess.Popen(("git",) + args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def _needs_full_check(cache):
    """True if a staged path is governed, secret-looking, too big, or holds a private key."""
    raw = _git("diff", "--cached", "--raw", "-z", "--no-renames", "--no-ext-diff")
    keys = _git("diff", "--cached", "--name-only", "-z", "--no-ext-diff", "-G", KEY_CONTENT)
    out, _ = raw.communicate()
    found, _ = keys.communicate()
    if raw.returncode != 0 or keys.returncode != 0 or found.strip(b"\0"):
        return True
    governed = re.compile("|".join("(?:%s)" % r for _, r in cache["governed"]) or "(?!)")
    secret = re.compile(cache["secret_name_regex"] or "(?!)")
    limit = cache["max_file_size"]
    parts = out.split(b"\0")
    for i in range(1, len(parts), 2):
        path = parts[i].decode("utf-8", "surrogateescape")
        if governed.fullmatch(path) or secret.search(path):
            return True
        try:
            if os.stat(path).st_size > limit:
                return True
        except OSError:
            pass  # deleted or unreadable in the worktree; the index decides
    return False


def _fast_pre_commit():
    """0 when nothing staged needs a check, None when the full flow must run."""
    cache = _load_cache()
    if cache is None or _needs_full_check(cache):
        return None
    try:
        os.unlink(PENDING)  # left by a commit that failed after pre-commit
    except OSError:
        pass
    return 0


def _full(hook, args):
    if sys.flags.no_site:
        import site
        site.main()
    from gitgov.core.hookflow import run_hook
    return run_hook(hook, args)


def main(argv):
    if not argv:
        sys.stderr.write("usage: hookrun.py HOOK [ARGS...]\n")
        return 2
    hook, args = argv[0], argv[1:]
    if hook == "pre-commit" and not os.environ.get("GITGOV_NO_FASTPATH"):
        code = _fast_pre_commit()
        if code is not None:
            return code
    return _full(hook, args)


if __name__ == "__main__":
    # Run as a script, this file's folder (core/) heads sys.path; it must not
    # shadow top-level packages such as GitPython's `git`.
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    sys.exit(main(sys.argv[1:]))
