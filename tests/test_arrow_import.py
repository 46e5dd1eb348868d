"""pyarrow without numpy: only gitgov's own plugins loaded, a short-lived process.

numpy may or may not be installed where the tests run, so a stand-in numpy
package on PYTHONPATH tells whether anything tried to import it: it writes a
line to a file, then fails as an absent numpy would (pyarrow works without).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import git, gitgov

POLICY = """\
[datasets.people]
paths = ["data/*.csv"]

[datasets.people.columns.age]
type = "integer"
max = 120

[plugins]
enable = ["validation"{extra}]
{local}
"""
LOCAL_PLUGIN = '''\
from gitgov.core.hookspecs import hookimpl

@hookimpl
def data_added(event, ctx):
    return []
'''


def _stand_in_numpy(tmp_path: Path) -> tuple[dict, Path]:
    site = tmp_path / "site"
    (site / "numpy").mkdir(parents=True)
    tried = tmp_path / "numpy-imports"
    (site / "numpy" / "__init__.py").write_text(
        f"with open({str(tried)!r}, 'a') as fh:\n"
        "    import sys; fh.write(' '.join(sorted(m for m in sys.modules if m.startswith('pyarrow')))"
        " + '\\n')\n"
        "raise ImportError('numpy is a stand-in here')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return env, tried


def _repo(repo: Path, extra: str = "", local: str = "") -> Path:
    (repo / "gitgov.toml").write_text(POLICY.format(extra=extra, local=local))
    (repo / "data").mkdir()
    (repo / "data" / "people.csv").write_text("age\n31\n150\nabc\n")
    return repo


def _failed(proc: subprocess.CompletedProcess) -> dict[str, int]:
    [f] = json.loads(proc.stdout)["files"]
    return {r["id"]: r["failed"] for r in f["rules"] if r["failed"]}


def test_check_with_only_built_in_plugins_never_imports_numpy(repo, tmp_path):
    env, tried = _stand_in_numpy(tmp_path)
    proc = gitgov(_repo(repo), "check", "--json", "data/people.csv", env=env)
    assert proc.returncode == 1, proc.stderr
    assert _failed(proc) == {"age.type": 1, "age.max": 1}
    assert not tried.exists(), tried.read_text()


def test_a_plugin_from_elsewhere_gets_pyarrow_as_usual(repo, tmp_path):
    """A local plugin may hand Arrow data to numpy: pyarrow then imports it as it always does."""
    env, tried = _stand_in_numpy(tmp_path)
    (repo / "mine.py").write_text(LOCAL_PLUGIN)
    _repo(repo, extra=', "mine"', local='local = ["mine.py"]')
    proc = gitgov(repo, "check", "--json", "data/people.csv", env=env)
    assert proc.returncode == 1, proc.stderr
    assert _failed(proc) == {"age.type": 1, "age.max": 1}
    assert tried.exists() and "pyarrow" in tried.read_text().split()


def test_the_pre_commit_hook_reads_data_without_numpy(repo, tmp_path):
    env, tried = _stand_in_numpy(tmp_path)
    _repo(repo)
    gitgov(repo, "init", check=True, env=env)
    git(repo, "add", "gitgov.toml", "data/people.csv")
    proc = git(repo, "commit", "-q", "-m", "people", check=False, env=env)
    assert proc.returncode == 1 and "age" in proc.stderr + proc.stdout
    assert not tried.exists(), tried.read_text()


def test_numpy_stays_importable_after_pyarrow(tmp_path):
    env, tried = _stand_in_numpy(tmp_path)
    code = ("from gitgov.core import arrow_import as a\n"
            "a.short_lived(); a.plugins_loaded(['built-in', 'unknown'])\n"
            "import pyarrow\n"
            "assert not tried.exists()\n"
            "try:\n    import numpy\nexcept ImportError as exc:\n    print(exc)\n")
    proc = subprocess.run([sys.executable, "-c", f"import pathlib; tried = pathlib.Path({str(tried)!r})\n"
                           + code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "numpy is a stand-in here"  # the real import ran, after pyarrow
    assert "pyarrow" in tried.read_text().split()


def test_the_watcher_and_other_plugins_keep_numpy(tmp_path):
    """Nothing is hidden in a long-lived process, or once a plugin from elsewhere loaded."""
    code = ("import sys\nfrom gitgov.core import arrow_import as a\n"
            "finders = lambda: [type(f).__name__ for f in sys.meta_path]\n"
            "a.short_lived(); a.plugins_loaded(['built-in']); print('_PyarrowFinder' in finders())\n"
            "a.plugins_loaded(['built-in', 'installed']); print('_PyarrowFinder' in finders())\n"
            "a.plugins_loaded(['built-in']); a.keep_numpy(); print('_PyarrowFinder' in finders())\n"
            "a.plugins_loaded(['built-in']); print('_PyarrowFinder' in finders())\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "False", "False", "False"]
