"""The `gitgov` command line: one click group; plugins add commands to it.

click is imported only when a command needs it: `gitgov run` reads its few
options itself (runs.fast_request), so a recorded run starts faster.

Every error reaches the user as one line and an exit code (0 ok, 1 blocked by
policy, 2 bad input or usage). GITGOV_DEBUG=1 shows the traceback instead.
"""
from __future__ import annotations

import os
import sys

from .errors import EXIT_INPUT, GitgovError

TYPE_CHECKING = False  # typing itself is imported by `gitgov run` only once the collector is off
if TYPE_CHECKING:
    from typing import Any, Sequence

    import click

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
REGISTER_FAILED: list[str] = []  # plugins whose register_commands failed in this process


# Built-in commands by name -> the module whose register() adds them. Modules are
# imported only when one of their commands runs (or for --help), so `gitgov run`
# does not pay for the import of every other command.
BUILTIN_COMMANDS: dict[str, str] = {
    "init": "commands.setup_cmds", "uninstall": "commands.setup_cmds",
    "hook-impl": "commands.setup_cmds", "plugins": "commands.setup_cmds",
    "log": "commands.ledger_cmds", "verify": "commands.ledger_cmds", "ledger": "commands.ledger_cmds",
    "watch": "commands.watch_cmds", "erase": "commands.erase_cmd",
    "run": "commands.run_cmds", "runs": "commands.run_cmds", "reproduce": "commands.run_cmds",
    "lineage": "commands.lineage_cmds", "attest": "commands.lineage_cmds",
    "gc": "commands.lineage_cmds", "models": "commands.lineage_cmds", "store": "commands.lineage_cmds",
    "server": "commands.server_cmds", "audit": "commands.audit_cmd",
    "demo": "demo",
    "catalog": "commands.catalog_cmds", "report": "commands.catalog_cmds",
}


def __getattr__(name: str):
    """`cli` and `LazyGroup` are click objects, made on first use (see cli_group.py)."""
    if name in ("cli", "LazyGroup"):
        from . import cli_group

        return getattr(cli_group, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _register_plugin_commands(group: "click.Group") -> None:
    """Let plugins add commands; a broken gitgov.toml or plugin must not break --help."""
    import click

    from .bus import DEFAULT_TIMEOUT, collect
    from .plugins import load_host

    policy, root = _policy_here()
    host = load_host(policy, root)
    timeout = policy.plugins.timeout if policy is not None else DEFAULT_TIMEOUT
    _, failures = collect(host, "register_commands", timeout, cli=group)
    for f in failures:
        REGISTER_FAILED.append(f.plugin)
        click.echo(f"gitgov: warning: {f.message}", err=True)


def _policy_here() -> tuple[Any, Any]:
    """(policy, repository root) of the working folder; (None, None) outside a repository
    or with a broken gitgov.toml (the command that needs it reports that)."""
    try:
        from .git import Repo
        from .session import load_repo_policy

        repo = Repo.discover(".")
        return load_repo_policy(repo), repo.root
    except GitgovError:
        return None, None


def build(argv: Sequence[str] | None = None) -> "click.Group":
    from .cli_group import cli

    # Loading every plugin costs tens of ms; a built-in command does not need
    # the commands that plugins add (`gitgov run` would pay this on every run).
    first = next((a for a in argv or () if not a.startswith("-")), None)
    version_only = first is None and "--version" in (argv or ()) and "--help" not in (argv or ())
    if not version_only and (first is None or first not in BUILTIN_COMMANDS):
        _register_plugin_commands(cli)
    return cli


def _debug() -> bool:
    return os.environ.get("GITGOV_DEBUG", "") not in ("", "0")


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry: run the CLI and map every failure to a message and a code."""
    args = list(argv) if argv is not None else sys.argv[1:]
    # `gitgov run` passes its arguments on to a command of its own: no --json of gitgov's
    ours = args[:args.index("--")] if "--" in args else args
    if "--json" not in ours or args[:1] == ["run"]:
        return _main(argv)
    from .plugin_prints import json_mode

    json_mode(True)
    try:
        return _main(argv)
    finally:
        json_mode(False)


def _main(argv: Sequence[str] | None) -> int:
    try:
        code = _run_fast(argv)
        if code is None:
            code = _click_main(argv)
    except GitgovError as exc:
        if _debug():
            raise
        _error(f"gitgov: {exc}")
        code = exc.exit_code
    except KeyboardInterrupt:
        _error("gitgov: interrupted")
        code = 130
    except BrokenPipeError:
        code = 0
    except Exception as exc:  # noqa: BLE001 - a bug must still not show a traceback
        if _debug():
            raise
        given = _not_utf8(exc)
        if given is not None:
            _error(f"gitgov: '{given}' is not UTF-8 text: names, references and values must be")
        else:
            _error(f"gitgov: internal error: {type(exc).__name__}: {exc} "
                   "(set GITGOV_DEBUG=1 for the traceback)")
        code = EXIT_INPUT
    sys.stdout.flush()
    return code


def _not_utf8(exc: Exception) -> str | None:
    """The text, as given, when `exc` is text from the command line (or a file name) that was
    not UTF-8 meeting something that keeps UTF-8 only (SQLite, JSON); else None."""
    if not isinstance(exc, UnicodeEncodeError) or exc.encoding.replace("-", "").lower() != "utf8":
        return None
    text = exc.object if isinstance(exc.object, str) else ""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return None
    try:
        raw = text.encode("utf-8", "surrogateescape")  # the bytes given (\xff), not Python's \udcff
    except UnicodeEncodeError:  # other lone surrogates: shown as Python writes them
        raw = text.encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace")[:80]


def _click_main(argv: Sequence[str] | None) -> int:
    import click

    try:
        group = build(list(argv) if argv is not None else sys.argv[1:])
        result = group.main(args=list(argv) if argv is not None else None, prog_name="gitgov",
                            standalone_mode=False)
        return result if isinstance(result, int) else 0
    except click.exceptions.Abort:
        click.echo("gitgov: aborted", err=True)
        return 130
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:  # one line, as every other error, and where to look
        where = exc.ctx.command_path if exc.ctx is not None else "gitgov"
        click.echo(f"gitgov: {exc.format_message().rstrip('.')} (see `{where} --help`)", err=True)
        return EXIT_INPUT
    except click.ClickException as exc:
        exc.show()
        return EXIT_INPUT


def _run_fast(argv: Sequence[str] | None) -> int | None:
    """`gitgov run` with its usual options, without click; None: let click parse it."""
    args = list(argv) if argv is not None else sys.argv[1:]
    if args[:1] != ["run"]:
        return None
    import gc

    collecting = gc.isenabled()
    # A run's start-up, imports included, makes ~100k objects that all live to its
    # end: the cyclic collector would only rescan them (~3 ms of a run's start).
    gc.disable()
    try:
        from .run_request import fast_request
        from .runs import start

        request = fast_request(args[1:])
        return None if request is None else start(request)
    finally:
        if collecting:
            gc.enable()


def _error(text: str) -> None:
    click = sys.modules.get("click")  # click.echo when click is loaded, as before
    if click is not None:
        click.echo(text, err=True)
    else:
        print(text, file=sys.stderr, flush=True)


def console() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["hook-impl"]:
        # The pre-commit framework calls this on every commit: skip click and the
        # plugin host, and take the same fast path as the installed shims.
        from .hookrun import main as hook_main

        hook, rest = argv[1:2], argv[2:]
        sys.exit(hook_main(hook + (rest[1:] if rest[:1] == ["--"] else rest)))
    from . import arrow_import

    arrow_import.short_lived()
    code = main()
    import gc

    gc.freeze()  # the process ends now: its shutdown need not search all it imported for cycles
    sys.exit(code)
