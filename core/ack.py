"""Acknowledging a breaking data change in the commit message.

pre-commit runs before Git has the commit message, so a check that finds a
breaking change (a removed column, a changed type) cannot ask for it there.
It leaves a note in .gitgov/state/pending-ack.json instead, naming the path,
the staged blob and the dataset; the commit-msg hook, which Git runs with
the message, refuses the commit unless the message has a line

    Breaking-Change: <dataset> <free text>

(``BREAKING CHANGE:`` and ``BREAKING-CHANGE:`` as in Conventional Commits
work too; ``<dataset>`` may also be the file's path). A note about a blob
that is no longer staged is ignored, so a stale note never blocks a commit.
pre-push reads the message of each pushed commit directly.

Standard library only: the commit-msg hook starts here.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable

PENDING = os.path.join(".gitgov", "state", "pending-ack.json")  # relative to the worktree top
TRAILER = "Breaking-Change"
_LINE = re.compile(r"^\s*(?:breaking[- ]change)\s*:\s*(?P<what>\S.*)$", re.IGNORECASE | re.MULTILINE)


def acknowledged(message: str, dataset: str | None, path: str) -> bool:
    """Whether `message` acknowledges a breaking change of this dataset or path."""
    text = "\n".join(line for line in message.splitlines() if not line.startswith("#"))
    names = {n for n in (dataset, path) if n}
    for match in _LINE.finditer(text):
        first = re.split(r"[\s,;:]+", match.group("what").strip(), maxsplit=1)[0]
        if first in names:
            return True
    return False


def trailer(dataset: str | None, path: str) -> str:
    """The start of the line that acknowledges a breaking change of this dataset or path."""
    return f"{TRAILER}: {dataset or path}"


def how_to(dataset: str | None, path: str) -> str:
    return f"add the line '{trailer(dataset, path)} <what changed and why>' to the commit message"


def request(worktree: Path, items: Iterable[dict[str, Any]]) -> None:
    """Note breaking changes for the commit-msg hook (path, blob, dataset, summary)."""
    path = Path(worktree) / PENDING
    try:
        current = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        current = []
    by_path = {item.get("path"): item for item in current if isinstance(item, dict)}
    for item in items:
        by_path[item["path"]] = dict(item)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(list(by_path.values()), indent=1), encoding="utf-8")
    os.replace(tmp, path)


def _staged_blobs(paths: list[str]) -> dict[str, str]:
    """Blob ids that this commit changes, for the given paths (what the index holds now)."""
    if not paths:
        return {}
    proc = subprocess.run(["git", "diff", "--cached", "--raw", "-z", "--no-renames", "--no-abbrev",
                           "--", *paths], capture_output=True)
    parts = proc.stdout.split(b"\0")
    out = {}
    for i in range(0, len(parts) - 1, 2):
        meta = parts[i].decode().split()
        if len(meta) >= 4:
            out[parts[i + 1].decode("utf-8", "surrogateescape")] = meta[3]
    return out


def commit_msg(message_file: str, stream=sys.stderr) -> int:
    """The commit-msg hook: 1 when a staged breaking change is not acknowledged."""
    pending = Path(PENDING)
    try:
        items = json.loads(pending.read_text(encoding="utf-8"))
        message = Path(message_file).read_text(encoding="utf-8", errors="replace")
    except (OSError, ValueError):
        return 0
    staged = _staged_blobs([i.get("path", "") for i in items if isinstance(i, dict)])
    missing = [i for i in items if isinstance(i, dict) and staged.get(i.get("path")) == i.get("blob")
               and not acknowledged(message, i.get("dataset"), i.get("path", ""))]
    if not missing:
        pending.unlink(missing_ok=True)
        return 0
    print(f"gitgov: commit blocked: {len(missing)} breaking data change"
          f"{'s' if len(missing) != 1 else ''} not acknowledged in the commit message", file=stream)
    for item in missing:
        print(f"  {item['path']}", file=stream)
        print(f"    error   validation/breaking-change: {item.get('summary', 'breaking change')}",
              file=stream)
        print(f"            to accept it, {how_to(item.get('dataset'), item['path'])}", file=stream)
    print("consumers of these datasets may break; commit again with the acknowledgement "
          "(the message is kept in .git/COMMIT_EDITMSG)", file=stream)
    return 1
