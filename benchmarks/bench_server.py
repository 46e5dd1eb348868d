"""The server's pre-receive check: `git push` of 1,000 commits to a bare repository with
gitgov's hook, against the same push to one without.

    python benchmarks/bench_server.py [--quick]

Both servers start from the same state: a policy with one dataset of 50 governed CSV
files (integer, allowed-values and minimum rules), already pushed. The pushes:

- 1,000 commits that change the 50 governed files once each (and code in the other 950):
  the hook reads, validates and scans 50 new file versions, and checks access for every commit;
- the same 1,000 commits pushed again as a new branch: every file version was accepted
  before, so none is read again (the ledger knows them);
- the worst case: 1,000 commits that each change one of the 50 files (1,000 versions).

The client has no hooks, so the time is git's and the server's. Medians of the runs;
each run pushes to a fresh copy of the server. "added CPU" is the user + system time the
hook adds (the push's and its descendants'): on a shared machine it moves less than wall time.
"""
from __future__ import annotations

import json
import re
import shutil
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from common import (call, fmt_delta, fmt_ms, git, isolated_env, machine_line, md_table, measure,
                    scratch)

FILES = 50
POLICY = """\
[datasets.events]
paths = ["data/events/*.csv"]
classification = "internal"
owner = "bench@example.com"

[datasets.events.columns.id]
type = "integer"
required = true

[datasets.events.columns.kind]
allowed = ["click", "view", "buy"]

[datasets.events.columns.value]
type = "float"
min = 0
"""


def _csv(version: int, rows: int = 20) -> bytes:
    kinds = ("click", "view", "buy")
    lines = ["id,kind,value"] + [f"{i},{kinds[i % 3]},{i + version}.5" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def _changes(commits: int, every_commit_data: bool) -> list[tuple[str, bytes]]:
    """What each commit changes: a governed file (50 of them, or all), else a code file."""
    step = max(1, commits // FILES)
    out = []
    for i in range(1, commits + 1):
        if every_commit_data or (i % step == 0 and i // step <= FILES):
            f = (i - 1) % FILES if every_commit_data else i // step - 1
            out.append((f"data/events/f{f:02d}.csv", _csv(i + 2)))
        else:
            out.append((f"src/module{i % 40:02d}.py", f"VALUE = {i}\n".encode()))
    return out


def _stream(commits: int, every_commit_data: bool) -> bytes:
    """A git fast-import stream: the base commit, `commits` more on main, and the same
    changes again as other commits on `rebased` (new commits, the same file versions)."""
    out = bytearray()

    def blob(data: bytes) -> None:
        out.extend(b"data %d\n" % len(data) + data + b"\n")

    def commit(branch: bytes, n: int, message: bytes, mark: bytes = b"") -> None:
        out.extend(b"commit refs/heads/" + branch + b"\n" + mark +
                   b"committer Bench <bench@example.com> %d +0000\n" % (1_700_000_000 + n))
        blob(message)

    commit(b"main", 0, b"base", b"mark :1\n")
    out.extend(b"M 100644 inline gitgov.toml\n")
    blob(POLICY.encode())
    for f in range(FILES):
        out.extend(f"M 100644 inline data/events/f{f:02d}.csv\n".encode())
        blob(_csv(1))
    changes = _changes(commits, every_commit_data)
    for branch, offset in ((b"main", 0), (b"rebased", commits)):
        for i, (path, data) in enumerate(changes, 1):
            commit(branch, offset + i, b"%s change %d" % (branch, i))
            if branch == b"rebased" and i == 1:
                out.extend(b"from :1\n")
            out.extend(f"M 100644 inline {path}\n".encode())
            blob(data)
    return bytes(out)


def _source(root: Path, env: dict, commits: int, every_commit_data: bool) -> Path:
    src = root / ("src-every" if every_commit_data else "src")
    git(root, env, "init", "-q", "-b", "main", str(src))
    import subprocess

    subprocess.run(["git", "fast-import", "--quiet"], cwd=src, env=env, check=True,
                   input=_stream(commits, every_commit_data))
    return src


def _servers(root: Path, env: dict, src: Path, commits: int) -> dict[str, Path]:
    """Two bare templates holding the base commit: one plain, one with gitgov's server hook."""
    out = {}
    for name in ("plain", "gitgov"):
        bare = root / f"{src.name}-{name}.git"
        git(root, env, "init", "-q", "--bare", "-b", "main", str(bare))
        if name == "gitgov":
            call([sys.executable, "-m", "gitgov.core", "server", "install", str(bare)], root, env)
        git(src, env, "push", "-q", str(bare), f"main~{commits}:refs/heads/main")
        out[name] = bare
    return out


def _push(root: Path, env: dict, src: Path, template: Path, refspecs: tuple[tuple[str, ...], ...], i: int):
    """Copy the server, then time each push of `refspecs` into it in turn; the last one counts."""
    bare = root / f"run-{template.name}-{i}"
    shutil.copytree(template, bare, symlinks=True)
    try:
        for spec in refspecs:
            m = measure(["git", "push", "-q", str(bare), *spec], src, env)
            if m.returncode != 0:
                raise RuntimeError(f"push {spec} to {template.name} failed:\n{m.output}")
        return m, _last_push(bare)
    finally:
        shutil.rmtree(bare, ignore_errors=True)


def _last_push(bare: Path) -> dict:
    import sqlite3

    db_path = bare / "gitgov" / "ledger.db"
    if not db_path.exists():
        return {}
    db = sqlite3.connect(db_path)
    try:
        row = db.execute("SELECT payload FROM journal WHERE kind = 'push_received' ORDER BY seq DESC LIMIT 1").fetchone()
    finally:
        db.close()
    return json.loads(row[0]) if row else {}


def _scenario(root, env, src, servers, refspecs, runs):
    """Median wall ms without and with the hook, the median CPU ms the hook adds, and what
    the server recorded about the push."""
    times: dict[str, list[float]] = defaultdict(list)
    cpu: dict[str, list[float]] = defaultdict(list)
    info = {}
    for i in range(runs):
        for name, template in servers.items():
            m, last = _push(root, env, src, template, refspecs, i)
            times[name].append(m.seconds * 1000)
            cpu[name].append(m.cpu_seconds * 1000)  # git's and the hook's (a waited-for descendant)
            if name == "gitgov":
                info = last
    added_cpu = statistics.median(cpu["gitgov"]) - statistics.median(cpu["plain"])
    return statistics.median(times["plain"]), statistics.median(times["gitgov"]), {**info, "cpu": added_cpu}


def _trace(root: Path, env: dict, src: Path, template: Path) -> dict[str, float]:
    """Milliseconds per plugin in the worst case (GITGOV_TRACE lines the hook prints)."""
    bare = root / "trace.git"
    shutil.copytree(template, bare, symlinks=True)
    m = measure(["git", "push", "-q", str(bare), "main"], src, {**env, "GITGOV_TRACE": "1"})
    shutil.rmtree(bare, ignore_errors=True)
    per: dict[str, float] = defaultdict(float)
    for name, ms in re.findall(r"gitgov trace: (\w+)\.\w+\(.*?\) -> \w+ \[([\d.]+) ms\]", m.output):
        per[name] += float(ms)
    return dict(sorted(per.items(), key=lambda kv: -kv[1]))


def run(quick: bool) -> str:
    commits = 200 if quick else 1000
    runs = 1 if quick else 3
    with scratch() as root:
        env = isolated_env(root / "home")
        (root / "home").mkdir()
        rows = []
        src = _source(root, env, commits, every_commit_data=False)
        servers = _servers(root, env, src, commits)
        plain, hooked, info = _scenario(root, env, src, servers, (("main",),), runs)
        rows.append([f"{commits:,} commits, the {FILES} governed files changed once each",
                     info.get("checked", "?"), fmt_ms(plain), fmt_ms(hooked), fmt_delta(hooked - plain),
                     fmt_delta(info["cpu"])])
        versions = max(int(info.get("checked") or 1), 1)
        again = (("main",), ("rebased:refs/heads/rebased",))
        plain2, hooked2, info2 = _scenario(root, env, src, servers, again, runs)
        rows.append([f"the same changes again, rebased: {commits:,} new commits, every file version "
                     f"accepted before", f"{info2.get('checked', '?')} ({info2.get('skipped', '?')} accepted "
                     "before, not read)", fmt_ms(plain2), fmt_ms(hooked2), fmt_delta(hooked2 - plain2),
                     fmt_delta(info2["cpu"])])
        per_plugin = _trace(root, env, src, servers["gitgov"])
        headline = hooked - plain
        every = _source(root, env, commits, every_commit_data=True)
        worst = _servers(root, env, every, commits)
        plain, hooked, info = _scenario(root, env, every, worst, (("main",),), 1)
        rows.append([f"worst case: each of the {commits:,} commits changes a governed file",
                     info.get("checked", "?"), fmt_ms(plain), fmt_ms(hooked), fmt_delta(hooked - plain),
                     fmt_delta(info["cpu"])])
    table = md_table(["push", "file versions checked", "no hook (ms)", "gitgov pre-receive (ms)", "added (ms)",
                      "added CPU (ms)"], rows, right=(1, 2, 3, 4, 5))
    plugin_ms = sum(per_plugin.values())
    plugins = md_table(["plugin", "total (ms)", "per file version (ms)"],
                       [[name, fmt_ms(ms), f"{ms / versions:.1f}"] for name, ms in per_plugin.items()]
                       + [["(the hook without plugin calls)", fmt_ms(headline - plugin_ms), ""]],
                       right=(1, 2))
    return (f"## server\n\n`git push` to a bare repository with and without gitgov's pre-receive hook "
            f"({machine_line()}; {'quick: ' if quick else ''}median of {runs} run(s), 1 for the worst case; "
            f"each run pushes to a fresh copy of the server).\n\n{table}\n\n"
            f"Where the added time of the first push goes (plugin calls, from GITGOV_TRACE, in a "
            f"separate run):\n\n{plugins}\n")


if __name__ == "__main__":
    print(run("--quick" in sys.argv))
