"""Entry point of the installed Git hook shims, built for the hot path.

The shim runs this file as a script with ``python -S``: no site-packages and
nothing imported beyond ``os`` and ``sys`` (both already loaded by the
interpreter) until there is real work. For pre-commit, git itself answers
three questions, in C:

1. is any staged path governed, or named like a secret?  (``git diff --quiet``
   with the cached pathspecs, a superset of the dataset globs)
2. does any staged file hold a private key or a known token?  (``git grep
   --cached -P`` over the staged paths)
3. is any staged blob over the size limit?  (``git cat-file --batch-check``)

If all three say no, and gitgov.toml has no unstaged changes (the cached
pathspecs come from the working tree's version), the hook exits 0. Otherwise
site-packages are enabled and the full flow in :mod:`gitgov.core.hookflow`
decides, with the exact globs and the plugins. The pathspec cache
(.gitgov/cache/fastpath) is keyed by gitgov.toml's size and mtime; the full
flow rewrites it when it is stale.
"""
import os
import sys

CACHE = os.path.join(".gitgov", "cache", "fastpath")
CACHE_MAGIC = "gitgov-fastpath 3"
PENDING = os.path.join(".gitgov", "state", "pending-commit")
POLICY = "gitgov.toml"
# Private keys and well-known tokens, found by content in any staged file by
# git's PCRE grep. This only decides that the full check runs; the secrets
# plugin's own patterns then judge.
SECRET_CONTENT = (r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----"
                  r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{36,}"
                  r"|\bxox[baprs]-[A-Za-z0-9-]{10,}")
GREP_BATCH = 500  # paths per `git grep`, far below any ARG_MAX


def policy_stamp(path=POLICY):
    """gitgov.toml's identity for the cache: size and mtime, or "none"."""
    try:
        st = os.stat(path)
    except OSError:
        return "none"
    return "%d %d" % (st.st_size, st.st_mtime_ns)


def render_cache(stamp, max_file_size, pathspecs):
    """The cache file's text; the full flow writes it (see Session)."""
    return "\n".join([CACHE_MAGIC, stamp, str(int(max_file_size)), *pathspecs]) + "\n"


def _load_cache():
    """(max_file_size, pathspecs), or None when gitgov.toml changed since the cache was built."""
    try:
        with open(CACHE, encoding="utf-8") as f:
            lines = f.read().split("\n")
    except (OSError, ValueError):
        return None
    if len(lines) < 3 or lines[0] != CACHE_MAGIC or lines[1] != policy_stamp():
        return None
    return int(lines[2]), [p for p in lines[3:] if p]


# ---- running git without the subprocess module (12-18 ms of imports) -------------

def _spawn(args, stdin_path=None):
    """Start git with stdout on a pipe and stdin from a file: (pid, out_fd).

    Stdin comes from a file, not a pipe, so that a child blocked on a full
    stdout can never deadlock against us writing its input.
    """
    out_r, out_w = os.pipe()
    actions = [(os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_CLOSE, out_r),
               (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)]
    if stdin_path is not None:
        actions.append((os.POSIX_SPAWN_OPEN, 0, stdin_path, os.O_RDONLY, 0))
    try:
        pid = os.posix_spawnp("git", ["git", *args], os.environ, file_actions=actions)
    finally:
        os.close(out_w)
    return pid, out_r


def _finish(pid, out_r):
    """Read stdout to the end and reap: (exit code, output)."""
    chunks = []
    while True:
        chunk = os.read(out_r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(out_r)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks)


def _git(args, stdin_path=None):
    return _finish(*_spawn(args, stdin_path))


# ---- the three questions ----------------------------------------------------------

def _staged():
    """[(path, blob)] of staged additions and changes, or None if git failed."""
    code, out = _git(["diff", "--cached", "--raw", "-z", "--no-renames", "--no-ext-diff",
                      "--no-abbrev", "--diff-filter=AMT"])
    if code != 0:
        return None
    parts = out.split(b"\0")
    return [(parts[i], parts[i - 1].split()[3]) for i in range(1, len(parts), 2)]


def _grep_secrets(paths):
    """Start a git grep for secret content in these staged paths: (pid, out_fd)."""
    return _spawn(["--literal-pathspecs", "grep", "--cached", "-q", "-P", "-e", SECRET_CONTENT,
                   "--", *[p.decode("utf-8", "surrogateescape") for p in paths]])


def _secret_content(paths, first):
    """`first`: the started grep of paths[:GREP_BATCH]; the other batches run one by one."""
    for start in range(0, len(paths), GREP_BATCH):
        grep = first if start == 0 else _grep_secrets(paths[start:start + GREP_BATCH])
        if _finish(*grep)[0] != 1:  # 0: found; anything else: git could not tell
            return True
    return False


def _too_large(blobs, limit):
    """Sizes come from the index: the working tree may differ from what is committed."""
    ids = os.path.join(".gitgov", "cache", "staged-blobs")
    try:
        with open(ids, "wb") as f:
            f.write(b"\n".join(blobs) + b"\n")
    except OSError:
        return True
    code, out = _git(["cat-file", "--batch-check=%(objectsize)"], ids)
    if code != 0:
        return True
    return any(int(n) > limit for n in out.split() if n.isdigit())


def needs_full_check(limit, pathspecs):
    """True unless git shows nothing governed, secret-like or too large is staged."""
    pid, out_r = _spawn(["diff", "--cached", "--quiet", "--no-ext-diff", "--", *pathspecs])
    staged = _staged()  # runs while the first diff is still working
    code, _ = _finish(pid, out_r)
    if code != 0 or staged is None:
        return True  # 1: a governed or secret-named path is staged; else git failed
    if not staged:
        return False
    paths = [p for p, _ in staged]
    first = _grep_secrets(paths[:GREP_BATCH])  # greps while cat-file reads the sizes
    if _too_large([b for _, b in staged], limit):
        os.kill(first[0], 15)  # SIGTERM: no need to grep a blob over the limit
        _finish(*first)
        return True
    return _secret_content(paths, first)


def _fast_pre_commit():
    """0 when nothing staged needs a check, None when the full flow must run."""
    cache = _load_cache()
    if cache is None:
        return None
    # The cached pathspecs come from the working tree's gitgov.toml; when it differs from
    # the staged one, the full flow judges the commit (hookflow._rules_not_staged). Local
    # plugin files need no such question here: with gitgov.toml as staged, the pathspecs
    # are right, and a commit of governed data takes the full flow anyway.
    policy = _spawn(["--no-optional-locks", "diff", "--quiet", "--no-ext-diff", "--", POLICY])
    full = needs_full_check(*cache)
    if _finish(*policy)[0] != 0 or full:
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
    from gitgov.core import arrow_import
    from gitgov.core.hookflow import run_hook

    arrow_import.short_lived()
    return run_hook(hook, args)


def main(argv):
    if not argv:
        sys.stderr.write("gitgov: hook-impl: name a hook, e.g. gitgov hook-impl pre-commit (see `gitgov hook-impl --help`)\n")
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
