"""`gitgov demo`: the lifecycle on a copy of sample_repo/, step by step.

Each step runs real `git` and `gitgov` commands in the copy and prints them
with their output, so what the reader sees is exactly what a user would see.
The demo checks its own story: a step whose command does not end as the step
expects stops the demo with exit code 1.
"""
from __future__ import annotations

import os
import shutil
import shlex
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import click

from .atomic import unwritable

IDENTITY = {"GIT_AUTHOR_NAME": "Dana Steward", "GIT_AUTHOR_EMAIL": "dana@example.com",
            "GIT_COMMITTER_NAME": "Dana Steward", "GIT_COMMITTER_EMAIL": "dana@example.com"}
FAKE_KEY = ("-----BEGIN OPENSSH PRIVATE KEY-----\n"
            "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
            "-----END OPENSSH PRIVATE KEY-----\n")


def sample_repo() -> Path:
    """sample_repo/ beside core/ in a source tree; gitgov/sample_repo in a wheel."""
    return Path(__file__).resolve().parent.parent / "sample_repo"


class DemoFailed(click.ClickException):
    exit_code = 1


@dataclass
class Demo:
    root: Path
    env: dict[str, str]
    step_no: int = 0
    central: str = "../central.git"  # the bare repository the server steps push to

    def step(self, title: str, why: str = "") -> None:
        self.step_no += 1
        click.secho(f"\n== {self.step_no}. {title}", bold=True)
        if why:
            click.echo(textwrap.fill(why, 88))

    @property
    def beside(self) -> Path:
        """Where the demo may put folders beside its repository: the central repository's folder."""
        central = Path(self.central)
        return (central if central.is_absolute() else self.root / central).resolve().parent

    def run(self, *cmd: str, expect: int | None = 0, cwd: Path | None = None) -> subprocess.CompletedProcess:
        """Run and show a command; fail the demo when its exit code is not `expect`."""
        shown = shlex.join(cmd)  # as it would be typed: copying it into a shell works
        argv = [sys.executable, "-m", "gitgov.core", *cmd[1:]] if cmd[0] == "gitgov" else list(cmd)
        click.secho(f"$ {shown}", fg="cyan")
        # One pipe for both streams, unbuffered: the lines come in the order they were written.
        proc = subprocess.run(argv, cwd=cwd or self.root, env={**self.env, "PYTHONUNBUFFERED": "1"},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out = proc.stdout.rstrip()
        if out:
            click.echo(textwrap.indent(out, "  "))
        if expect is not None and proc.returncode != expect:
            raise DemoFailed(f"demo step {self.step_no}: `{shown}` exited {proc.returncode}, "
                             f"expected {expect}")
        return proc

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def setup(d: Demo) -> None:
    d.step("A new ML repository", "sample_repo/ is copied, made a Git repository, and gitgov is "
           "installed into it: gitgov.toml declares the datasets, .gitgov/ holds the ledger.")
    d.run("git", "init", "-q", "-b", "main")
    d.run("gitgov", "init")
    d.run("git", "add", "gitgov.toml", ".gitignore", "train.py", "models/.gitkeep",
          "data/processed/.gitkeep")
    d.run("git", "commit", "-q", "-m", "Set up the churn project with gitgov")


def blocked_secret(d: Demo) -> None:
    d.step("A commit that is blocked", "Someone stages the raw customer data together with a "
           "deploy key. The pre-commit hook reads the staged bytes and refuses the commit.")
    d.write("config/deploy_key", FAKE_KEY)
    d.run("git", "add", "data/raw/customers.csv", "config/deploy_key")
    d.run("git", "commit", "-m", "Add customers and deploy config", expect=1)


def passing_commit(d: Demo) -> None:
    d.step("The fixed commit passes", "The key is unstaged and ignored; the data is checked, "
           "recorded in the ledger, and the ledger head is anchored on the commit as a git note.")
    d.run("git", "rm", "-q", "--cached", "config/deploy_key")
    with open(d.root / ".gitignore", "a", encoding="utf-8") as f:
        f.write("config/deploy_key\n")
    d.run("git", "add", ".gitignore", "data/raw/customers.csv", "data/raw/transactions.csv")
    d.run("git", "commit", "-m", "Add raw customers and transactions")
    d.run("git", "notes", "--ref=gitgov", "show", "HEAD")


def ledger_log(d: Demo) -> None:
    d.step("The ledger", "Every check, finding and commit is an entry, hash-chained to the one "
           "before it.")
    d.run("gitgov", "log", "-n", "8")


def verify(d: Demo) -> None:
    d.step("Verify", "The chain is recomputed and compared with every head anchored in Git.")
    d.run("gitgov", "verify")


def steps() -> tuple[Callable[[Demo], None], ...]:
    """The whole story in order; each capability keeps its chapter in its own module."""
    from . import demo_privacy, demo_quality, demo_report, demo_runs, demo_server, demo_watch

    return (setup, blocked_secret, passing_commit, *demo_quality.STEPS, *demo_privacy.STEPS,
            *demo_runs.STEPS, *demo_server.STEPS, *demo_watch.STEPS, ledger_log, verify,
            *demo_report.STEPS)


def _prepare(target: Path | None) -> tuple[Path, str]:
    """The demo repository, and the central repository beside it that the demo may create.

    Without DIR both go into a new temporary folder. With DIR, the folder next to it belongs
    to the user (a `central.git` there may be theirs), so the central repository gets a new
    temporary folder of its own.
    """
    if target is None:
        return Path(tempfile.mkdtemp(prefix="gitgov-demo-")) / "churn", "../central.git"
    if target.exists() and any(target.iterdir()):
        raise click.UsageError(f"{target} is not empty; give a new or empty folder")
    why = unwritable(target)
    if why:
        raise click.UsageError(f"cannot make the demo in {target}: {why}")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # what unwritable() cannot foresee (/proc)
        raise click.UsageError(f"cannot make the demo in {target}: {exc.strerror or exc}") from None
    return target, str(Path(tempfile.mkdtemp(prefix="gitgov-demo-central-")) / "central.git")


@click.command("demo")
@click.argument("directory", required=False, type=click.Path(path_type=Path, file_okay=False))
def demo_cmd(directory: Path | None) -> int:
    """Walk through gitgov's lifecycle on a copy of the sample ML project."""
    root, central = _prepare(directory)
    shutil.copytree(sample_repo(), root, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "__init__.py"))
    env = {**os.environ, **IDENTITY}
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    d = Demo(root=root.resolve(), env=env, central=central)
    click.echo(f"gitgov demo in {d.root}")
    for step in steps():
        step(d)
    click.secho(f"\nDone. The demo repository is {d.root}", bold=True)
    if Path(d.central).is_absolute():
        click.echo(f"Its central repository is {d.central}")
    return 0


def register(group: click.Group) -> None:
    group.add_command(demo_cmd)
