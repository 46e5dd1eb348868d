"""A run's inputs and outputs: what it read and wrote, hashed and kept.

Two sources, so that nothing has to be declared:
- the audit hook (audit_hook.py) lists the files that Python processes open;
- for any command, the files under the governed data folders and the output
  folders (``[runs] outputs``) are compared before and after the run.
Declared ``--input`` paths and ``--output`` files are added to what was observed; a
declared output folder is compared before and after the run like the others.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable, Mapping, NamedTuple

from .errors import InputError
from .globs import compile_patterns
from .store import ObjectStore, hash_file

DEFAULT_OUTPUTS = ("models/**", "outputs/**", "artifacts/**", "results/**", "metrics.json")
_SKIP_DIRS = {".git", ".gitgov", "__pycache__", ".venv", "node_modules"}
_SPECIAL = re.compile(r"[*?\[\]\\]")
FileState = tuple[int, int, int]  # size, mtime_ns, inode


class FileRecord(NamedTuple):  # not a dataclass: defined faster on every `gitgov run`
    """One input or output of a run."""

    path: str
    sha256: str
    size: int
    blob: str | None = None  # git's id of these bytes (inputs): links them to commits
    tracked: bool = False  # in git at the run's commit
    clean: bool = False  # ... with exactly these bytes
    stored: bool = False  # kept in the object store

    def to_dict(self) -> dict:
        return self._asdict()


def runs_settings(policy) -> dict:
    return dict((policy.raw if policy is not None else {}).get("runs", {}))


def watch_patterns(policy) -> list[str]:
    """Globs compared before and after every run: governed data and output folders."""
    outputs = runs_settings(policy).get("outputs", DEFAULT_OUTPUTS)
    return [*(policy.governed_patterns() if policy is not None else ()), *outputs]


def _base(glob: str) -> str:
    """The literal folder a glob starts from ('' for the repository root)."""
    literal = []
    for seg in glob.rstrip("/").split("/"):
        if _SPECIAL.search(seg):
            break
        literal.append(seg)
    return "/".join(literal)


def scan(root: Path, patterns: Iterable[str]) -> dict[str, FileState]:
    """size, mtime and inode of every file matching ``patterns`` (posix paths)."""
    patterns = list(patterns)
    if not patterns:
        return {}
    regex = compile_patterns(patterns)
    bases = sorted({_base(p) for p in patterns})
    # a base inside another base would be walked twice
    bases = [b for b in bases if not any(o != b and (o == "" or b.startswith(o + "/")) for o in bases)]
    found: dict[str, FileState] = {}
    for base in bases:
        _walk(root, base, regex, found)
    return found


def _walk(root: Path, base: str, regex: re.Pattern[str], found: dict[str, FileState]) -> None:
    start = os.path.join(root, base) if base else str(root)
    if os.path.isfile(start):
        _add(start, base, regex, found)
        return
    todo = [(start, base)]
    while todo:  # os.scandir: the names come with their type, so only matching files are stat'ed
        folder, rel_folder = todo.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            rel = f"{rel_folder}/{entry.name}" if rel_folder else entry.name
            try:
                if entry.is_dir():  # a link to a folder is not followed (as os.walk does)
                    if entry.name not in _SKIP_DIRS and not entry.is_symlink():
                        todo.append((entry.path, rel))
                elif regex.match(rel):
                    st = entry.stat()
                    found[rel] = (st.st_size, st.st_mtime_ns, st.st_ino)
            except OSError:
                continue


_ANY = re.compile("")


def scan_declared(root: Path, paths: Iterable[str]) -> dict[str, FileState]:
    """size, mtime and inode of each declared output: a file, or every file under a folder."""
    found: dict[str, FileState] = {}
    for rel in paths:
        _walk(root, "" if rel == "." else rel, _ANY, found)
    return found


def _add(path: str, rel: str, regex: re.Pattern[str], found: dict[str, FileState]) -> None:
    if not regex.match(rel):
        return
    try:
        st = os.stat(path)
    except OSError:
        return
    found[rel] = (st.st_size, st.st_mtime_ns, st.st_ino)


def changed_files(before: Mapping[str, FileState], after: Mapping[str, FileState]) -> list[str]:
    """Files that appeared or changed during the run."""
    return sorted(p for p, state in after.items() if before.get(p) != state)


def relative_paths(root: Path, paths: Iterable[str], what: str, *, must_exist: bool = False,
                   expand: bool = True) -> list[str]:
    """Declared paths as posix paths relative to the root; directories expanded to their
    files unless ``expand`` is false (a run's output folders are expanded when it ends)."""
    out: list[str] = []
    for raw in paths:
        full = Path(raw).expanduser()
        full = (full if full.is_absolute() else Path.cwd() / full).resolve()
        try:
            rel = full.relative_to(root.resolve()).as_posix()
        except ValueError:
            raise InputError(f"{what} {raw}: not inside the repository {root}") from None
        if must_exist and not full.exists():
            raise InputError(f"{what} {raw}: no such file or folder")
        out.append(rel)
    return expand_folders(root.resolve(), out) if expand else list(dict.fromkeys(out))


def expand_folders(root: Path, paths: Iterable[str]) -> list[str]:
    """``paths`` (relative to ``root``) with each folder replaced by the files it holds now."""
    out: list[str] = []
    for rel in paths:
        full = root / rel
        if full.is_dir():
            out += sorted(p.relative_to(root).as_posix() for p in full.rglob("*")
                          if p.is_file() and not (_SKIP_DIRS & set(p.relative_to(full).parts)))
        else:
            out.append(rel)
    return list(dict.fromkeys(out))


def git_listing(repo, commit: str | None, paths: list[str]) -> tuple[set[str], dict[str, str]]:
    """(paths tracked in the index, {path: blob at ``commit``}) for ``paths``."""
    tracked: set[str] = set()
    blobs: dict[str, str] = {}
    for i in range(0, len(paths), 500):  # keep command lines short
        chunk = paths[i:i + 500]
        out = repo.git("ls-files", "-z", "--", *chunk).decode("utf-8", "surrogateescape")
        tracked.update(p for p in out.split("\0") if p)
        if commit:
            out = repo.git("ls-tree", "-r", "-z", commit, "--", *chunk).decode("utf-8", "surrogateescape")
            for line in out.split("\0"):
                meta, _, path = line.partition("\t")
                if path and len(meta.split()) == 3:
                    blobs[path] = meta.split()[2]
    return tracked, blobs


def describe_inputs(repo, store: ObjectStore | None, paths: Iterable[str],
                    commit: str | None) -> dict[str, FileRecord]:
    """Hash inputs; keep those git does not hold (untracked, or changed) in the store."""
    paths = [p for p in paths if (repo.root / p).is_file() and _within(repo.root, p)]
    if not paths:
        return {}
    tracked, blobs = git_listing(repo, commit, paths)
    records = {}
    for rel in paths:
        digest = hash_file(repo.root / rel, blob=True)
        clean = blobs.get(rel) == digest.blob
        if store is not None and not clean:
            store.put(repo.root / rel, known=digest)
        records[rel] = FileRecord(rel, digest.sha256, digest.size, blob=digest.blob, tracked=rel in tracked,
                                  clean=clean, stored=store is not None and not clean)
    return records


def _within(root: Path, rel: str) -> bool:
    """Whether `rel` is in the repository once links are followed: a link to /etc/shadow among
    a run's files must not copy that file into the object store (and on to its remote)."""
    try:
        (root / rel).resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True


def store_outputs(repo, store: ObjectStore | None, paths: Iterable[str]) -> dict[str, FileRecord]:
    """Hash every output and keep it in the store (one read does both)."""
    records = {}
    for rel in paths:
        full = repo.root / rel
        if not full.is_file() or not _within(repo.root, rel):
            continue  # written, then removed (a temporary file); or a link out of the repository
        if store is None:
            digest = hash_file(full)
            records[rel] = FileRecord(rel, digest.sha256, digest.size)
        else:
            stored = store.put(full)
            records[rel] = FileRecord(rel, stored.sha256, stored.size, stored=True)
    return records
