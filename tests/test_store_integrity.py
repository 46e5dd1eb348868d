"""An object is never silently wrong: `[store] link = "hardlink"` with real runs.

A hard link makes the stored object and the workspace file one inode. Its write
bits are taken away, which stops other users but not root; so everything the
store hands out (a restore for `gitgov reproduce`, a `gitgov store push`) is
hashed first. These tests hold whoever runs them: as root the second write goes
through and must be caught, as anyone else it is refused.
"""
from __future__ import annotations

import hashlib
import os
import sys

import pytest

import run_project
from conftest import gitgov, write

PY = sys.executable
WRITER = "import os, sys\nos.makedirs('models', exist_ok=True)\nopen('models/m.bin', 'w').write(sys.argv[1])\n"


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return run_project.build(tmp_path_factory.mktemp("integrity"))


@pytest.fixture
def proj(template, tmp_path):
    proj = run_project.copy(template, tmp_path / "proj")
    with open(proj / "gitgov.toml", "a") as f:
        f.write(f'\n[store]\nlink = "hardlink"\nremote = "{tmp_path / "team-store"}"\n')
    (tmp_path / "team-store").mkdir()
    return proj


def objects(proj) -> dict[str, bytes]:
    root = proj / ".gitgov" / "objects"
    return {p.parent.name + p.name: p.read_bytes() for p in root.glob("??/*") if len(p.name) == 62}


def test_a_second_run_writing_the_same_output_never_leaves_a_wrong_object(proj):
    write(proj, "w.py", WRITER)
    assert gitgov(proj, "run", "--", PY, "w.py", "one").returncode == 0
    one = hashlib.sha256(b"one").hexdigest()
    assert objects(proj)[one] == b"one"
    second = gitgov(proj, "run", "--", PY, "w.py", "two")
    wrong = [d for d, data in objects(proj).items() if hashlib.sha256(data).hexdigest() != d]
    if os.geteuid() != 0:  # the read-only inode refused the write: the object is intact
        assert second.returncode != 0 and "Permission denied" in second.stderr
        assert wrong == []
        assert gitgov(proj, "store", "push").returncode == 0
        return
    assert second.returncode == 0 and wrong == [one]  # root ignores the read-only bit
    pushed = gitgov(proj, "store", "push")
    assert pushed.returncode == 2, pushed.stdout + pushed.stderr
    assert f"object {one[:12]} is corrupt" in pushed.stderr and "a hard link to models/m.bin" in pushed.stderr
    assert "removed from the store" in pushed.stderr
    assert one not in objects(proj) and not (proj.parent / "team-store" / one[:2] / one[2:]).exists()
    assert gitgov(proj, "store", "push").returncode == 0  # the rest went up


def test_an_untracked_input_edited_after_the_run_is_caught_on_reproduce(proj):
    write(proj, "in.txt", "v1\n")
    code = "import os; os.makedirs('outputs', exist_ok=True); open('outputs/n.txt', 'w').write(open('in.txt').read())"
    assert gitgov(proj, "run", "--name", "copyin", "--", PY, "-c", code).returncode == 0
    v1 = hashlib.sha256(b"v1\n").hexdigest()
    assert objects(proj)[v1] == b"v1\n"
    os.chmod(proj / "in.txt", 0o644)  # a user forcing the write; root needs not even this
    with open(proj / "in.txt", "w") as f:
        f.write("v2\n")
    out = gitgov(proj, "reproduce", "copyin")
    assert out.returncode == 2, out.stdout + out.stderr  # cannot be tried, not "did NOT reproduce"
    assert "did NOT reproduce" not in out.stdout and "Traceback" not in out.stderr
    assert f"object {v1[:12]} is corrupt" in out.stderr and "input in.txt" in out.stderr and "a hard link to in.txt" in out.stderr, out.stderr
    assert v1 not in objects(proj)
    again = gitgov(proj, "reproduce", "copyin")
    assert again.returncode == 2 and "is no longer in the object store, removed as corrupt on " in again.stderr
    assert gitgov(proj, "gc").returncode == 0
    assert gitgov(proj, "verify").returncode == 0


def test_a_re_run_that_writes_into_its_input_cannot_touch_the_store(proj):
    write(proj, "in.txt", "v1\n")
    code = ("import os; data = open('in.txt').read(); "
            "os.environ.get('GITGOV_REPRODUCING') and open('in.txt', 'a').write('appended by the re-run\\n')")
    assert gitgov(proj, "run", "--name", "appender", "--", PY, "-c", code).returncode == 0
    v1 = hashlib.sha256(b"v1\n").hexdigest()
    out = gitgov(proj, "reproduce", "appender")
    if os.geteuid() == 0:  # root is given a copy: what it writes stays in the throwaway worktree
        assert out.returncode == 0, out.stdout + out.stderr
    else:  # anyone else is given the read-only object itself, and the write is refused
        assert out.returncode == 1 and "Permission denied" in out.stderr
    assert objects(proj)[v1] == b"v1\n"
    assert gitgov(proj, "reproduce", "appender").returncode == out.returncode
