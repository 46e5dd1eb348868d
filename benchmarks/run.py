"""Run every benchmark and collect the results in benchmarks/RESULTS.md.

    python benchmarks/run.py [--only NAME ...] [--quick]

A benchmark is a module benchmarks/bench_NAME.py with `run(quick: bool) -> str`
returning a markdown section. A module with any other interface is run as a
script (with --quick when its --help offers it) and what it prints is its section. With --only, the
sections of the benchmarks that did not run are kept from the previous file.

Each benchmark runs in a fresh interpreter: Linux starts a child's peak RSS
at its parent's, so a benchmark run after a big one in the same process
would report every tool it measures as at least that big.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import re
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
MARK = re.compile(r"<!-- bench:(\w+) -->\n(.*?)<!-- /bench:\1 -->\n", re.S)


def discover() -> dict[str, Path]:
    return {p.stem.removeprefix("bench_"): p for p in sorted(HERE.glob("bench_*.py"))}


def run_one(name: str, path: Path, quick: bool) -> str:
    """The markdown section of one benchmark; a failure becomes a section that says so."""
    try:
        module = importlib.import_module(path.stem)
        text = _run_module(path, quick) if _takes_quick(module) else _run_script(path, quick)
    except Exception:
        tail = traceback.format_exc(limit=-3)
        print(f"benchmark {name} failed:\n{tail}", file=sys.stderr)
        return f"## {name}\n\n**Failed:**\n\n```\n{tail.strip()}\n```\n"
    text = text.strip() + "\n"
    return text if text.startswith("#") else f"## {name}\n\n{text}"


def _takes_quick(module) -> bool:
    fn = getattr(module, "run", None)
    if not callable(fn):
        return False
    params = list(inspect.signature(fn).parameters)
    return params == ["quick"]


def _run_module(path: Path, quick: bool) -> str:
    """`run(quick)` of a benchmark module, called in a child interpreter (progress on stderr)."""
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import {path.stem} as b; "
            f"sys.stdout.write(b.run({quick!r}))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=HERE.parent, stdout=subprocess.PIPE,
                          text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{path.name} exited {proc.returncode} (its error is printed above)")
    return proc.stdout


def _run_script(path: Path, quick: bool) -> str:
    """Run a benchmark script; --quick only if its --help offers it (else full size)."""
    cmd = [sys.executable, str(path)]
    if quick:
        helptext = subprocess.run([*cmd, "--help"], capture_output=True, text=True).stdout
        cmd += ["--quick"] if "--quick" in helptext else []
    proc = subprocess.run(cmd, cwd=HERE.parent, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stderr[-4000:]}")
    return proc.stdout


def previous_sections() -> dict[str, str]:
    if not RESULTS.exists():
        return {}
    return {m.group(1): m.group(2) for m in MARK.finditer(RESULTS.read_text(encoding="utf-8"))}


def render(sections: dict[str, str], order: list[str], quick: bool, ran: list[str]) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    head = [
        "# Benchmark results",
        "",
        f"Written by `python benchmarks/run.py{' --quick' if quick else ''}` on {stamp} "
        f"(ran: {', '.join(ran)}). Medians; see benchmarks/README.md for what each measures.",
        "", "",
    ]
    body = [f"<!-- bench:{n} -->\n{sections[n]}<!-- /bench:{n} -->\n"
            for n in order if n in sections]
    return "\n".join(head) + "\n".join(body)


def main(argv: list[str] | None = None) -> int:
    found = discover()
    parser = argparse.ArgumentParser(description="Run gitgov's benchmarks.")
    parser.add_argument("--only", nargs="+", action="extend", metavar="NAME", default=[],
                        help=f"run only these ({', '.join(found)})")
    parser.add_argument("--quick", action="store_true", help="smaller data and fewer repetitions")
    args = parser.parse_args(argv)
    unknown = [n for n in args.only if n.removeprefix("bench_") not in found]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(found)}")
    names = [n.removeprefix("bench_") for n in args.only] or list(found)
    sys.path.insert(0, str(HERE))  # the bench modules import common.py
    sections = previous_sections() if args.only else {}
    failed = False
    for name in names:
        start = time.perf_counter()
        print(f"running {name}{' (quick)' if args.quick else ''} ...", file=sys.stderr, flush=True)
        sections[name] = run_one(name, found[name], args.quick)
        failed |= "**Failed:**" in sections[name]
        print(f"{name}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    text = render(sections, list(found), args.quick, names)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
