"""gitgov infer, as a user runs it: where the new dataset lands in gitgov.toml, what
--force replaces and keeps, and the command it suggests next."""
from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from conftest import git, gitgov, write

ORDERS = "order_id,amount\n1,9.5\n2,12\n3,4.25\n"


@pytest.fixture
def fresh(tmp_path) -> Path:
    """A repository after a plain `gitgov init`: the template's catch-all [datasets.data]."""
    path = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(path))
    gitgov(path, "init", check=True)
    return path


def test_infer_suggests_a_command_the_shell_can_run(fresh):
    write(fresh, "data/sales/orders.csv", ORDERS)
    proc = gitgov(fresh, "infer", "data/sales/orders.csv", "--dataset", "sales orders")
    assert proc.returncode == 0, proc.stderr
    assert '[datasets."sales orders"]' in proc.stdout
    suggested = proc.stdout.split("`")[-2]
    assert shlex.split(suggested) == ["gitgov", "check", "--dataset", "sales orders"]
    assert "(dataset sales orders," in gitgov(fresh, "check", "--dataset", "sales orders").stdout
