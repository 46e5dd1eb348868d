"""The process that `gitgov run` is: what it does for speed must leave every
outcome as before (the collector's state, the exit code, what is written)."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import gitgov
from gitgov.core import audit_hook


def run_python(cwd, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)


def test_the_collector_is_off_for_the_whole_run_and_on_again_after(initialized):
    proc = run_python(initialized, """
        import gc, sys
        from gitgov.core.cli import main
        collections = []
        gc.callbacks.append(lambda phase, info: phase == "start" and collections.append(info))
        code = main(["run", "--", sys.executable, "-c", "pass"])
        print(code, len(collections), gc.isenabled())
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0", "0", "True"]  # imports included: nothing to collect


NOT_ON_THE_RUN_PATH = ("_hashlib", "tomllib", "queue", "gitgov.core.tomlpos",
                       "gitgov.core.ledger_verify", "encodings.utf_8_sig", "mmap")


def test_a_run_without_files_imports_nothing_it_does_not_use(initialized):
    """OpenSSL (nothing to hash), tomllib (the policy's table was kept by the first run),
    the chain checker, ..."""
    code = f"""
        import sys
        from gitgov.core.cli import main
        code = main(["run", "--", sys.executable, "-c", "pass"])
        print(code, *sorted(m for m in {NOT_ON_THE_RUN_PATH!r} if m in sys.modules))
    """
    run_python(initialized, code)  # the first run parses gitgov.toml
    proc = run_python(initialized, code)
    assert proc.stdout.split() == ["0"], proc.stderr


def test_the_run_does_not_import_typing_before_the_collector_is_off(initialized):
    proc = run_python(initialized, """
        import sys
        import gitgov.core.cli
        print("typing" in sys.modules)
    """)
    assert proc.stdout.split() == ["False"], proc.stderr
    assert gitgov(initialized, "run", "--", sys.executable, "-c", "pass").returncode == 0


def test_the_audit_hook_adds_no_module_to_the_commands_python(initialized, tmp_path):
    """Every Python process of a run loads the hook: it must not bring modules with it
    (importlib and warnings cost each process ~0.6 ms). The lists are written outside
    the repository, where the hook records nothing."""
    script = "import sys; open(sys.argv[1], 'w').write(' '.join(sorted(sys.modules)))"
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "plain.txt")], cwd=initialized, check=True)
    run = gitgov(initialized, "run", "--", sys.executable, "-c", script, str(tmp_path / "run.txt"))
    assert run.returncode == 0, run.stderr
    before = set((tmp_path / "plain.txt").read_text().split())
    after = set((tmp_path / "run.txt").read_text().split())
    assert after - before <= {"sitecustomize"}
    # Without site (which may load importlib itself, as an editable install's finder does):
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_bytes(Path(audit_hook.__file__).read_bytes())
    loaded = subprocess.run([sys.executable, "-S", "-c", f"import sys; sys.path.insert(0, {str(hook)!r}); "
                             "import sitecustomize; print('importlib' in sys.modules, 'warnings' in sys.modules)"],
                            capture_output=True, text=True, check=True).stdout.split()
    assert loaded == ["False", "False"]
