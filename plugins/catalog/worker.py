"""The report's passes over the whole journal, in a second process.

`gitgov verify` hashes every entry of the journal, and the audit summary
counts them by kind, actor and day; on a long ledger that is as much work as
everything else the report does. The report starts this process first and
gathers and draws the rest meanwhile, so on two cores the two overlap.
Prints one JSON object: {"verify": {...} | null, "activity": [[kind, actor,
day, count], ...]} or {"error": "..."}.

    python -m gitgov.plugins.catalog.worker ROOT [--no-verify]
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ACTIVITY = "SELECT kind, actor, substr(time, 1, 10), COUNT(*) FROM journal GROUP BY 1, 2, 3"
# Both passes read every page of the journal: mapped into memory, the pages are not
# copied through read() twice over (a tenth of a second of system time per 100 MB).
# Only in the second process: a read error through a mapping kills the process, and
# the report then does the passes itself (answer()), without one.
MMAP_BYTES = 1 << 30


def start(root: Path, verify: bool) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "gitgov.plugins.catalog.worker", str(root)]
    return subprocess.Popen(cmd + ([] if verify else ["--no-verify"]), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)


def collect(proc: subprocess.Popen) -> dict[str, Any]:
    """The worker's answer; a worker that failed becomes an error the report shows."""
    out, err = proc.communicate()
    try:
        answer = json.loads(out)
    except ValueError:
        last = (err.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        return {"error": f"the ledger could not be read to check it: {last}"}
    return answer if isinstance(answer, dict) else {"error": "unexpected answer from the check"}


def answer(proc: subprocess.Popen, root: Path, verify: bool) -> dict[str, Any]:
    """collect(), and if the second process could not do it, the same here (to say why)."""
    found = collect(proc)
    return run(root, verify) if "error" in found else found


def run(root: Path, verify: bool, mapped: bool = False) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    from gitgov.core.commands.ledger_cmds import anchors
    from gitgov.core.errors import GitgovError
    from gitgov.core.git import Repo
    from gitgov.core.ledger import open_ledger

    try:
        repo = Repo.discover(root)
        # SQLite counts and sorts without holding the GIL: the counts are made on a
        # second connection while this thread hashes the chain.
        with ThreadPoolExecutor(1) as pool:
            counted = pool.submit(_activity, repo.ledger_path, mapped)
            result: dict[str, Any] = {"verify": None}
            if verify:
                with open_ledger(repo.ledger_path) as ledger:
                    if mapped:
                        ledger.db.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
                    known = anchors(repo)
                    report = ledger.verify(known)
                result["verify"] = {"ok": report.ok, "entries": report.count, "anchors": len(known),
                                    "first_bad_seq": report.first_bad_seq, "reason": report.reason}
            result["activity"] = counted.result()
            return result
    except GitgovError as exc:
        return {"error": str(exc)}


def _activity(path: Path, mapped: bool) -> list[tuple]:
    from gitgov.core.ledger import open_ledger

    with open_ledger(path) as ledger:
        if mapped:
            ledger.db.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        return ledger.db.execute(ACTIVITY).fetchall()


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path(".")
    print(json.dumps(run(root, "--no-verify" not in argv, mapped=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
