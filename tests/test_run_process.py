"""The process that `gitgov run` is: what it does for speed must leave every
outcome as before (the collector's state, the exit code, what is written)."""
from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import gitgov


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


def test_a_run_that_hashes_no_file_does_not_load_openssl(initialized):
    proc = run_python(initialized, """
        import sys
        from gitgov.core.cli import main
        code = main(["run", "--", sys.executable, "-c", "pass"])
        print(code, "_hashlib" in sys.modules)
    """)
    assert proc.stdout.split() == ["0", "False"], proc.stderr


def test_the_run_does_not_import_typing_before_the_collector_is_off(initialized):
    proc = run_python(initialized, """
        import sys
        import gitgov.core.cli
        print("typing" in sys.modules)
    """)
    assert proc.stdout.split() == ["False"], proc.stderr
    assert gitgov(initialized, "run", "--", sys.executable, "-c", "pass").returncode == 0
