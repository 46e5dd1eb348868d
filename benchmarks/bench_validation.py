"""Validation of 1,000,000 rows x 10 columns: gitgov against pandera, and pyarrow's bare read.

    python benchmarks/bench_validation.py [--quick]

The data is generated with a known number of defects in known rows, as CSV
and as Parquet (the same values, as strings, so the same defects exist).
The same rules run three ways, each a whole process as a user starts it:

- `gitgov check --force --json FILE` in a repository whose gitgov.toml holds the rules
  (and the same with the file's remembered Git id deleted first);
- pandera (0.2x) on pandas: read the file, validate lazily, count the failure cases;
- pyarrow reading the file with no checks at all: the floor; and the same read with
  numpy hidden from pyarrow's import, as gitgov imports it.

The tools take turns, round by round, after an untimed warm-up round: a noisy
spell on the machine hits them all alike.

Each run's defect counts must equal what was planted, for gitgov and for
pandera; a mismatch fails the benchmark. A second part checks a 2 GB CSV
(200 MB with --quick) with the same rules and reports its peak memory.

pandera and pandas run from their own virtual environment (made once, in the
cache folder) unless the running interpreter has them, so installing the peer
never changes what gitgov imports.
"""
from __future__ import annotations

import dataclasses
import json
import os
import statistics
import subprocess
import sys
import textwrap
import venv
from pathlib import Path
from typing import Callable, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (Measured, call, fmt_ratio, git, gitgov_command, isolated_env, machine_line,  # noqa: E402
                    md_table, measure, peak_mib, scratch)
from validation_data import COUNTRIES, DUPLICATE_IDS, PLANS  # noqa: E402

ROWS = 1_000_000
QUICK_ROWS = 200_000
BIG_BYTES = 2 * 10**9
QUICK_BIG_BYTES = 200 * 10**6
EMAIL = (r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
         r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+")
E164 = r"\+[1-9][0-9]{1,14}"
POLICY = f"""\
version = 1

[datasets.bench]
paths = ["data/*.csv", "data/*.parquet"]
primary_key = "id"

[datasets.bench.columns.id]
type = "integer"
required = true
unique = true

[datasets.bench.columns.email]
format = "email"

[datasets.bench.columns.age]
type = "integer"
min = 18
max = 120

[datasets.bench.columns.score]
type = "float"
min = 0
max = 100

[datasets.bench.columns.country]
allowed = {json.dumps(COUNTRIES)}

[datasets.bench.columns.signup]
type = "date"

[datasets.bench.columns.active]
type = "boolean"

[datasets.bench.columns.plan]
allowed = {json.dumps(PLANS)}

[datasets.bench.columns.phone]
format = "e164"

[datasets.bench.columns.name]
required = true
max_length = 40

[plugins]
enable = ["validation"]
timeout = 600
"""

PANDERA = textwrap.dedent(r'''
    import json, sys
    import pandas as pd
    import pandera.pandas as pa

    EMAIL, E164, COUNTRIES, PLANS = json.loads(sys.argv[2])

    def num(s):
        return pd.to_numeric(s, errors="coerce")

    def typed(parse):
        return pa.Check(lambda s: s.isna() | parse(s).notna(), name="type")

    def within(lo, hi):
        return pa.Check(lambda s: num(s).isna() | num(s).between(lo, hi), name="range")

    schema = pa.DataFrameSchema({
        "id": pa.Column(str, [pa.Check(lambda s: s.str.fullmatch(r"-?[0-9]+"), name="type")],
                        nullable=False, unique=True, report_duplicates="exclude_first"),
        "email": pa.Column(str, [pa.Check.str_matches(EMAIL + "$", name="format")], nullable=True),
        "age": pa.Column(str, [pa.Check(lambda s: s.str.fullmatch(r"-?[0-9]+"), name="type"),
                               within(18, 120)], nullable=True),
        "score": pa.Column(str, [typed(num), within(0, 100)], nullable=True),
        "country": pa.Column(str, [pa.Check.isin(COUNTRIES, name="allowed")], nullable=True),
        "signup": pa.Column(str, [typed(lambda s: pd.to_datetime(s, format="%Y-%m-%d",
                                                                  errors="coerce"))], nullable=True),
        "active": pa.Column(str, [pa.Check.isin(["true", "false", "True", "False", "1", "0"],
                                                name="type")], nullable=True),
        "plan": pa.Column(str, [pa.Check.isin(PLANS, name="allowed")], nullable=True),
        "phone": pa.Column(str, [pa.Check.str_matches(E164 + "$", name="format")], nullable=True),
        "name": pa.Column(str, [pa.Check.str_length(max_value=40, name="max_length")],
                          nullable=False),
    })
    path = sys.argv[1]
    if path.endswith(".parquet"):
        df = pd.read_parquet(path)
    else:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    counts = {}
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as err:
        for (col, check), n in err.failure_cases.groupby(["column", "check"]).size().items():
            counts[f"{col}.{check}"] = int(n)
    print(json.dumps({"rows": len(df), "counts": counts}))
''')

# pandera's names for the failures that gitgov calls by rule id (built-in checks by their kind)
PANDERA_NAMES = {"age.range": "age.max", "score.range": "score.min", "name.not_nullable":
                 "name.required", "id.field_uniqueness": "id.unique", "active.isin": "active.type",
                 "country.isin": "country.allowed", "plan.isin": "plan.allowed",
                 "email.str_matches": "email.format", "phone.str_matches": "phone.format",
                 "name.str_length": "name.max_length"}


# ---- the peers ----------------------------------------------------------------------------

def pandera_python() -> str:
    """An interpreter with pandera and pandas: this one, or a venv kept in the cache folder."""
    probe = subprocess.run([sys.executable, "-c", "import pandera.pandas, pyarrow"],
                           capture_output=True)
    if probe.returncode == 0:
        return sys.executable
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gitgov-bench"
    env_dir = cache / "pandera-venv"
    python = env_dir / "bin" / "python"
    ok = python.exists() and subprocess.run([str(python), "-c", "import pandera.pandas, pyarrow"],
                                            capture_output=True).returncode == 0
    if not ok:
        print(f"making {env_dir} with pandera and pandas (once)", file=sys.stderr)
        venv.create(env_dir, with_pip=True, clear=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "pandera[pandas]>=0.20",
                        "pandas>=2", "pyarrow>=15"], check=True)
    return str(python)


def _counts_gitgov(out: str) -> tuple[int, dict[str, int]]:
    doc = json.loads(out[out.index("{"):])
    [f] = doc["files"]
    return f["rows"], {r["id"]: r["failed"] for r in f["rules"] if r["failed"]}


def _counts_pandera(out: str) -> tuple[int, dict[str, int]]:
    doc = json.loads(out.strip().splitlines()[-1])
    counts: dict[str, int] = {}
    for key, n in doc["counts"].items():
        key = key.split("(", 1)[0]
        name = PANDERA_NAMES.get(key, key)
        counts[name] = counts.get(name, 0) + n
    if "id.unique" in counts:
        counts["primary_key"] = counts["id.unique"]
    return doc["rows"], counts


def _check(tool: str, got: dict[str, int], expected: dict[str, int]) -> None:
    if got != expected:
        raise AssertionError(f"{tool} found {got}, but the generator planted {expected}")


# ---- the runs -----------------------------------------------------------------------------

BLOB_IDS = ".gitgov/cache/blob-ids.json"  # core/blobid.py


class _Tool(NamedTuple):
    cmd: list[str]
    times: int  # timed runs (after one untimed warm-up)
    parse: Callable[[str], tuple[int, dict[str, int]]] | None = None  # checks the defect counts


def _interleaved(tools: dict[str, _Tool], cwd: Path, env: dict, expected: dict) -> dict[str, list[Measured]]:
    """Every tool once per round, in turn, so that a noisy spell on the machine (or
    numpy's import getting slower) hits them all alike; round 0 is a warm-up."""
    kept: dict[str, list[Measured]] = {name: [] for name in tools}
    for i in range(1 + max(t.times for t in tools.values())):
        for name, tool in tools.items():
            if i > tool.times:
                continue
            m = measure(tool.cmd, cwd, env)
            if tool.parse is not None and m.returncode in (0, 1):
                _check(name, tool.parse(m.output)[1], expected)
                m = dataclasses.replace(m, returncode=0)
            if m.returncode != 0:
                raise RuntimeError(f"{name}, run {i}, exited {m.returncode}:\n{m.output}")
            if i:
                kept[name].append(m)
    return kept


def _median_s(runs: list[Measured]) -> float:
    return statistics.median(m.seconds for m in runs)


def _paired_range(runs: list[Measured], floors: list[Measured]) -> tuple[float, float]:
    """The lowest and highest ratio of a run to the floor's run of the same round."""
    ratios = [a.seconds / b.seconds for a, b in zip(runs, floors)]
    return min(ratios), max(ratios)


def _median_cpu(runs: list[Measured]) -> float:
    return statistics.median(m.cpu_seconds for m in runs)


def run(quick: bool) -> str:
    rows = QUICK_ROWS if quick else ROWS
    times = 3 if quick else 5  # pandera takes ~10 s a run
    fast_times = 3 if quick else 11  # the others take about a second
    with scratch("gitgov-bench-validation-") as tmp:
        home = tmp / "home"
        home.mkdir()
        env = isolated_env(home, GITGOV_DISABLE="")
        repo = tmp / "repo"
        repo.mkdir()
        git(repo, env, "init", "-q", "-b", "main")
        (repo / "gitgov.toml").write_text(POLICY)
        call([sys.executable, "-m", "gitgov.core", "init"], repo, env)
        data = repo / "data"
        data.mkdir()
        expected = json.loads(_in_child("make_data", str(data), rows))
        peer = pandera_python()
        peer_args = json.dumps([EMAIL, E164, COUNTRIES, PLANS])
        (tmp / "pandera_check.py").write_text(PANDERA)
        results = {}
        for kind in ("csv", "parquet"):
            path = str(data / f"bench.{kind}")
            reader = ("import sys, pyarrow.csv as c; print(c.read_csv(sys.argv[1]).num_rows)"
                      if kind == "csv" else
                      "import sys, pyarrow.parquet as p; print(p.read_table(sys.argv[1]).num_rows)")
            results[kind] = _interleaved({
                # first: it forgets the file's id, and hashes and remembers it again for the next
                "first": _Tool(["sh", "-c", f"rm -f {BLOB_IDS} && exec \"$@\"", "sh", *gitgov_command(),
                                "check", "--force", "--json", f"data/bench.{kind}"],
                               fast_times, _counts_gitgov),
                "gitgov": _Tool([*gitgov_command(), "check", "--force", "--json", f"data/bench.{kind}"],
                                fast_times, _counts_gitgov),
                "floor": _Tool([sys.executable, "-c", reader, path], fast_times),
                "bare": _Tool([sys.executable, "-c", "import sys; sys.modules['numpy'] = None; " + reader,
                               path], fast_times),
                "pandera": _Tool([peer, str(tmp / "pandera_check.py"), path, peer_args], times,
                                 _counts_pandera),
            }, repo, env, expected)
        big = _big(tmp, repo, env, quick)
    return _section(rows, results, big, expected, quick)


def _in_child(fn: str, *args: object) -> str:
    """Run a data generator in a child process and return what it prints.

    Linux carries a process's peak RSS over into the children it starts, so the
    data must not be built in this process: every measured child would seem
    at least as big as the generator.
    """
    code = (f"import sys, json; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            f"import validation_data as b; from pathlib import Path; "
            f"print(json.dumps(b.{fn}(Path(sys.argv[1]), *map(int, sys.argv[2:]))))")
    proc = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          text=True, check=True)
    return proc.stdout.strip().splitlines()[-1]


def _big(tmp: Path, repo: Path, env: dict, quick: bool) -> tuple[int, int, Measured]:
    target = QUICK_BIG_BYTES if quick else BIG_BYTES
    path = repo / "data" / "big.csv"
    rows = json.loads(_in_child("make_big", str(path), target, 500_000))
    m = measure([*gitgov_command(), "check", "--force", "--json", "data/big.csv"], repo, env)
    got_rows, counts = _counts_gitgov(m.output)
    if counts or got_rows != rows:
        raise AssertionError(f"big file: {got_rows} rows (expected {rows}), failures {counts}")
    size = path.stat().st_size
    path.unlink()
    return size, rows, m


def _section(rows: int, results: dict, big: tuple, expected: dict, quick: bool) -> str:
    out = ["## validation", "",
           f"{rows:,} rows x 10 columns with {sum(expected.values()) - DUPLICATE_IDS:,} planted "
           f"defects in {len(expected)} rules; whole process each; medians of "
           f"{len(results['csv']['gitgov'])} runs (pandera: {len(results['csv']['pandera'])}, it takes "
           "~10 s), the tools taking turns round by round after a warm-up round; peak RSS.", "",
           machine_line(), ""]
    table_rows = []
    for kind, label in (("csv", "CSV"), ("parquet", "Parquet")):
        r = results[kind]
        g, p, f, b = (_median_s(r[k]) for k in ("gitgov", "pandera", "floor", "bare"))
        for name, key, s in (("gitgov check", "gitgov", g),
                             ("gitgov check, file not seen before (its Git id hashed)", "first",
                              _median_s(r["first"])),
                             ("pandera on pandas", "pandera", p),
                             ("pyarrow read, no checks (floor)", "floor", f),
                             ("the same read, numpy hidden", "bare", b)):
            table_rows.append([label, name, f"{s:.2f}", f"{_median_cpu(r[key]):.2f}",
                               f"{peak_mib(r[key]):,.0f}",
                               fmt_ratio(s / g) if key != "gitgov" else "1.0×"])
    out.append(md_table(["file", "tool", "median s", "CPU s", "peak MiB", "time vs gitgov"],
                        table_rows, right=(2, 3, 4, 5)))
    out += ["", "Goals (CSV and Parquet): gitgov at least 3× faster than pandera, at most 2× the "
            "floor, less peak memory than pandera, exact defect counts.",
            "", "The floor imports pyarrow as any script does, which imports numpy when it is "
            "installed (here it is: pandas needs it). gitgov imports pyarrow without numpy "
            "(core/arrow_import.py); the last row is the read without numpy too, and its "
            "ratio is given below for comparison.", "",
            "gitgov remembers the Git id of a large file by its size, inode, mtime and ctime, as "
            "Git's index does (core/blobid.py): the goal row is a check of a file checked before, "
            "unchanged, as on every commit attempt and re-run. The row \"not seen before\" deletes "
            "that memory first, so the file is hashed as well.", ""]
    goal_rows = []
    for kind in ("csv", "parquet"):
        r = results[kind]
        g, p, f = (_median_s(r[k]) for k in ("gitgov", "pandera", "floor"))
        missed = [name for name, ok in (("3× pandera", p / g >= 3), ("2× the floor", g / f <= 2),
                                         ("memory", peak_mib(r["gitgov"]) < peak_mib(r["pandera"])))
                  if not ok]
        b = _median_s(r["bare"])
        low, high = _paired_range(r["gitgov"], r["floor"])
        goal_rows.append([kind, fmt_ratio(p / g), f"{g / f:.2f}× ({g / b:.2f}× numpy hidden)",
                          f"{low:.2f}–{high:.2f}×",
                          f"{peak_mib(r['gitgov']):,.0f} vs {peak_mib(r['pandera']):,.0f}",
                          "exact (both)", "met" if not missed else "**not met**: " + ", ".join(missed)])
    out.append(md_table(["file", "pandera / gitgov", "gitgov / floor", "gitgov / floor, each round",
                         "peak MiB gitgov vs pandera", "defect counts", "goals"], goal_rows,
                        right=(1, 2, 3)))
    size, big_rows, m = big
    out += ["", f"Large file: a {size / 10**9:.2f} GB CSV ({big_rows:,} rows, same rules) checked "
            f"in {m.seconds:.1f} s with a peak RSS of {m.max_rss_kib / 1024:,.0f} MiB "
            f"(goal: under 1,024 MiB{' at 2 GB' if quick else ''}).", ""]
    return "\n".join(out)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="200,000 rows and a 200 MB big file")
    args = parser.parse_args()
    print(run(args.quick))
