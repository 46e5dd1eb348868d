"""The Git facts gitgov needs, read through the `git` command.

The git binary is faster than GitPython for every call on the hook path
(GitPython alone costs ~190 ms to import), and its plumbing output with -z is
stable and unambiguous to parse.
"""
from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING, Iterator, Mapping, NamedTuple, Sequence

from .errors import InputError

if TYPE_CHECKING:
    import re

ZERO = "0" * 40
NOT_A_REPO_HINT = "run gitgov inside one; `git init` makes one"
DISCOVER_ARGS = ("rev-parse", "--is-bare-repository", "--absolute-git-dir", "--git-common-dir",
                 "--show-toplevel")
# Commit, branch and changed files in one call (a run's snapshot). --no-optional-locks:
# status need not refresh the index, so it writes nothing and cannot make a git
# command the user runs meanwhile fail on index.lock.
STATUS_ARGS = ("--no-optional-locks", "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=no")


class GitError(InputError):
    """A git command failed; the message carries git's own words."""


def run(args: Sequence[str], cwd: Path | str | None = None, *, input: bytes | None = None,
        check: bool = True, env: dict | None = None) -> bytes:
    """Run git and return stdout; raise GitError with git's stderr on failure."""
    code, out, err = _call(args, cwd, input=input, env=env)
    if check and code != 0:
        msg = err.decode(errors="replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed: {msg[-1] if msg else 'exit ' + str(code)}")
    return out


# git commands started ahead of need (see prefetch): (args, cwd) -> the running process
_started: dict[tuple[tuple[str, ...], str], subprocess.Popen] = {}


def prefetch(args: Sequence[str], cwd: Path | str) -> None:
    """Start ``git args`` in ``cwd`` now, in the background: the next run of exactly
    these args in this folder takes its result instead of starting git again.

    `gitgov run` starts the few git queries it will need before it imports the
    rest of gitgov, so that they run on another core meanwhile. Only read-only
    queries belong here: the result may be taken a little later.
    """
    key = (tuple(args), os.fspath(cwd))
    if key not in _started:
        _started[key] = subprocess.Popen(["git", *args], cwd=cwd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def discard_prefetched() -> None:
    """Reap the prefetched commands that nothing asked for."""
    while _started:
        _, proc = _started.popitem()
        proc.communicate()


def _call(args: Sequence[str], cwd: Path | str | None, *, input: bytes | None = None,
          env: dict | None = None) -> tuple[int, bytes, bytes]:
    proc = _started.pop((tuple(args), os.fspath(cwd)), None) if (_started and cwd is not None
                                                                  and input is None and env is None) else None
    if proc is not None:
        out, err = proc.communicate()
        return proc.returncode, out, err
    done = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, env=env)
    return done.returncode, done.stdout, done.stderr


def text(args: Sequence[str], cwd: Path | str | None = None, **kw) -> str:
    return run(args, cwd, **kw).decode().strip()


class RawChange(NamedTuple):  # NamedTuples: defined ten times faster than dataclasses at start-up
    """One line of `git diff --raw`: what changed and which blob it is now."""

    status: str  # A, M, D, T
    path: str
    old_blob: str
    new_blob: str
    new_mode: str

    @property
    def deleted(self) -> bool:
        return self.status == "D"


def parse_raw(out: bytes) -> list[RawChange]:
    """Parse `--raw -z --no-renames` output: ':om nm ob nb S\\0path\\0' records."""
    parts = out.split(b"\0")
    changes, i = [], 0
    while i + 1 < len(parts) and parts[i].startswith(b":"):
        meta = parts[i][1:].decode().split()
        path = parts[i + 1].decode("utf-8", "surrogateescape")
        changes.append(RawChange(status=meta[4][0], path=path, old_blob=meta[2],
                                 new_blob=meta[3], new_mode=meta[1]))
        i += 2
    return changes


class Repo(NamedTuple):
    """A working tree (or a bare repository) and where gitgov keeps its state."""

    root: Path
    git_dir: Path
    common_dir: Path
    bare: bool = False

    @classmethod
    def discover(cls, start: Path | str = ".") -> "Repo":
        start = Path(start).resolve()
        # One git process for all four: --show-toplevel, last, fails only where there
        # is no work tree (a bare repository, inside .git), after the others printed.
        code, out, err = _call(DISCOVER_ARGS, start)
        lines = out.decode().splitlines()
        if len(lines) < 3:
            raise InputError(f"not a git repository: {start} ({NOT_A_REPO_HINT})")
        bare, git_dir, common = lines[0] == "true", Path(lines[1]), Path(lines[2])
        common = common if common.is_absolute() else (start / common).resolve()
        if bare:
            return cls(root=git_dir, git_dir=git_dir, common_dir=common, bare=True)
        if code != 0 or len(lines) < 4:
            msg = err.decode(errors="replace").strip().splitlines()
            if msg and "must be run in a work tree" in msg[-1]:  # e.g. inside .git
                raise InputError(f"{start} is inside the repository's git folder; run gitgov from "
                                 "its work tree")
            raise GitError(f"git rev-parse failed: {msg[-1] if msg else 'exit ' + str(code)}")
        return cls(root=Path(lines[3]), git_dir=git_dir, common_dir=common)

    @property
    def state_dir(self) -> Path:
        """Where the ledger, objects and keys live: one place for all linked worktrees.

        That is `.gitgov/` in the main worktree (the notes that anchor the
        ledger are shared by every worktree, so the ledger must be too), or
        `gitgov/` inside a bare repository.
        """
        if self.bare:
            return self.git_dir / "gitgov"
        main = self.common_dir.parent if self.common_dir.name == ".git" else self.root
        return main / ".gitgov"

    @property
    def local_dir(self) -> Path:
        """This worktree's own `.gitgov/`: the hook's matcher cache and pending marker."""
        return self.root / ".gitgov"

    @property
    def policy_path(self) -> Path:
        return self.root / "gitgov.toml"

    @property
    def ledger_path(self) -> Path:
        return self.state_dir / "ledger.db"

    def git(self, *args: str, **kw) -> bytes:
        return run(args, self.root, **kw)

    # ---- index and history ---------------------------------------------

    def staged_blobs(self) -> dict[str, str]:
        """Path -> blob id of every file in the index (one `git ls-files -s`)."""
        listing = self.git("ls-files", "-s", "-z").split(b"\0")
        return {p.decode("utf-8", "surrogateescape"): m.split()[1].decode()
                for m, _, p in (e.partition(b"\t") for e in listing if e)}

    def staged_changes(self) -> list[RawChange]:
        # --no-abbrev: porcelain diff shortens blob ids, and a short id is not a key
        # the ledger, `cat-file --batch-check` or a later push can match on.
        return parse_raw(self.git("diff", "--cached", "--raw", "-z", "--no-renames", "--no-ext-diff",
                                  "--no-abbrev"))

    def not_staged(self, paths: Sequence[str]) -> list[RawChange]:
        """Those of ``paths`` whose working tree differs from the index (the version a commit
        takes: old_blob is the staged one); untracked files are not listed."""
        # --no-optional-locks: `git commit` holds the index lock while its hooks run
        out = self.git("--no-optional-locks", "--literal-pathspecs", "diff", "--raw", "-z",
                       "--no-renames", "--no-ext-diff", "--no-abbrev", "--", *paths)
        return parse_raw(out)

    def untracked(self, paths: Sequence[str]) -> list[str]:
        """Those of ``paths`` that exist in the working tree but not in the index, ignored or not
        (either way a commit leaves them out)."""
        out = self.git("--no-optional-locks", "--literal-pathspecs", "ls-files", "-z", "--others",
                       "--", *paths)
        return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]

    def commit_changes(self, sha: str) -> list[RawChange]:
        """What a commit changed relative to its first parent (all files for a root commit)."""
        return next(iter(self.changes_by_commit([sha]).values()), [])

    def changes_by_commit(self, shas: Sequence[str], *options: str,
                          first_parents: Mapping[str, str | None] | None = None
                          ) -> dict[str, list[RawChange]]:
        """commit_changes() for many commits with one diff-tree process (a push may
        carry thousands); `options` narrow the diff, e.g. ("-G", regex). Commits
        with no matching change are absent from the result. `first_parents`
        ({commit: first parent or None}), when the caller has them for every
        commit, saves the process that would look them up."""
        if not shas:
            return {}
        # "<commit> <first parent>" per line: a merge is compared with its first
        # parent only (`-m --first-parent` would diff against every parent).
        if first_parents is not None and all(sha in first_parents for sha in shas):
            pairs = "".join(f"{sha} {first_parents[sha] or ''}".rstrip() + "\n" for sha in shas)
        else:
            parents = self.git("rev-list", "--no-walk=unsorted", "--parents", "--stdin",
                               input="".join(f"{sha}\n" for sha in shas).encode())
            pairs = "".join(" ".join(line.split()[:2]) + "\n"
                            for line in parents.decode().splitlines())
        out = self.git("diff-tree", "--stdin", "-r", "--raw", "-z", "--no-renames", "--no-abbrev",
                       "--root", *options, input=pairs.encode())
        result: dict[str, list[RawChange]] = {}
        parts, i, current = out.split(b"\0"), 0, None
        while i < len(parts):
            token = parts[i]
            if token.startswith(b":") and current is not None and i + 1 < len(parts):
                result[current] += parse_raw(token + b"\0" + parts[i + 1])
                i += 2
                continue
            if token.strip():  # a commit header; a path always follows a ":" record instead
                current = token.decode().split()[0]
                result.setdefault(current, [])
            i += 1
        return result

    def grep_staged(self, pattern: str, paths: Sequence[str], batch: int = 500) -> set[str]:
        """Which staged paths hold a match for a PCRE `pattern` (git greps the index in C)."""
        found: set[str] = set()
        for start in range(0, len(paths), batch):
            out = self.git("--literal-pathspecs", "grep", "--cached", "-l", "-z", "-P", "-e",
                           pattern, "--", *paths[start:start + batch], check=False)
            found.update(p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p)
        return found

    def blobs_matching(self, pattern: "re.Pattern[bytes]", blobs: Sequence[str],
                       head: int = 1 << 20) -> set[str]:
        """Which blobs hold a match in their first `head` bytes: one `cat-file --batch`."""
        if not blobs:
            return set()
        proc = subprocess.Popen(["git", "cat-file", "--batch"], cwd=self.root,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        feeder = threading.Thread(target=_feed, args=(proc.stdin, blobs), daemon=True)
        feeder.start()
        found = set()
        for blob in blobs:
            header = proc.stdout.readline().split()
            if len(header) < 3:  # "<id> missing": nothing to scan
                continue
            size = int(header[2])
            data = proc.stdout.read(size + 1)[:size]
            if pattern.search(data[:head]):
                found.add(blob)
        proc.wait()
        return found

    def commit_info(self, sha: str = "HEAD") -> dict:
        fmt = "%H%x00%P%x00%an <%ae>%x00%ae%x00%B"
        out = self.git("log", "-1", f"--format={fmt}", sha).decode("utf-8", "replace")
        full, parents, author, email, message = out.split("\0", 4)
        return {"sha": full, "parents": tuple(parents.split()), "author": author,
                "email": email, "message": message.strip()}

    def rev_list(self, *args: str) -> list[str]:
        return self.git("rev-list", *args).decode().split()

    def is_ancestor(self, old: str, new: str) -> bool:
        """True when commit ``old`` is in the history of ``new`` (False also when unknown)."""
        return _call(["merge-base", "--is-ancestor", old, new], self.root)[0] == 0

    def blob_sizes(self, blobs: Sequence[str]) -> dict[str, int]:
        """Sizes of many objects with one `cat-file --batch-check` process."""
        if not blobs:
            return {}
        out = self.git("cat-file", "--batch-check=%(objectname) %(objectsize)",
                       input="\n".join(blobs).encode() + b"\n")
        sizes = {}
        for line in out.decode().splitlines():
            name, _, size = line.partition(" ")
            if size.isdigit():
                sizes[name] = int(size)
        return sizes

    def open_blob(self, blob: str) -> IO[bytes]:
        """A stream of a blob's bytes, so large data is never held whole in memory."""
        proc = subprocess.Popen(["git", "cat-file", "blob", blob], cwd=self.root,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return _ProcessStream(proc)

    def read_blob(self, blob: str) -> bytes:
        return self.git("cat-file", "blob", blob)

    def identity(self) -> str:
        """The committer identity git would use now, as `Name <email>`."""
        for var in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
            code, out, _ = _call(("var", var), self.root)
            if code == 0:
                return out.decode().rsplit(">", 1)[0] + ">"
        return os.environ.get("USER", "unknown")

    # ---- notes -----------------------------------------------------------

    def add_note(self, ref: str, sha: str, message: str) -> None:
        self.git("notes", f"--ref={ref}", "add", "-f", "-m", message, sha)

    def notes(self, ref: str) -> Iterator[tuple[str, str]]:
        """(commit, note text) for every note under refs/notes/<ref>."""
        proc = subprocess.run(["git", "notes", f"--ref={ref}", "list"], cwd=self.root,
                              capture_output=True)
        pairs = [line.split() for line in proc.stdout.decode().splitlines() if line.strip()]
        if not pairs:
            return
        out = self.git("cat-file", "--batch", input="".join(f"{n}\n" for n, _ in pairs).encode())
        pos = 0
        for _note, commit in pairs:
            header_end = out.index(b"\n", pos)
            size = int(out[pos:header_end].split()[2])
            body = out[header_end + 1: header_end + 1 + size]
            pos = header_end + 1 + size + 1
            yield commit, body.decode("utf-8", "replace")


class _ProcessStream:
    """A readable file over a child's stdout that reaps the child on close."""

    def __init__(self, proc: subprocess.Popen):
        self._proc = proc
        self.raw = proc.stdout

    def read(self, n: int = -1) -> bytes:
        return self.raw.read(n)

    def readinto(self, buf) -> int:
        return self.raw.readinto(buf)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.raw.close()
        self._proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _feed(stdin: IO[bytes], blobs: Sequence[str]) -> None:
    """Write blob ids on a thread, so a large answer can never block our writes."""
    try:
        stdin.write("".join(f"{b}\n" for b in blobs).encode())
    finally:
        stdin.close()
