"""`gitgov demo DIR`, run as a user would: the real CLI, real git, in a temporary folder."""
from __future__ import annotations

import os

from conftest import gitgov


def test_demo_in_a_given_folder_writes_nothing_beside_it(tmp_path):
    # A folder of the user's that happens to be called central.git sits next to DIR; the
    # demo's own central repository must not go there (nor anywhere else next to DIR).
    parent = tmp_path / "work"
    mine = parent / "central.git"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("mine\n")
    temp = tmp_path / "tmp"
    temp.mkdir()
    target = parent / "my démo"  # a space and a non-ASCII letter
    proc = gitgov(tmp_path, "demo", str(target), env={**os.environ, "TMPDIR": str(temp)})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    assert sorted(p.name for p in parent.iterdir()) == ["central.git", "my démo"]
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    central = next(temp.glob("gitgov-demo-central-*")) / "central.git"
    assert (central / "hooks" / "pre-receive").is_file()
    assert proc.stdout.rstrip().endswith(f"Its central repository is {central}")
    again = gitgov(tmp_path, "demo", str(target))  # a second run refuses the used folder
    assert again.returncode == 2 and "is not empty" in again.stderr


def test_a_demo_folder_that_cannot_be_made_is_one_line_and_leaves_nothing(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    (tmp_path / "a-file").write_text("")
    proc = gitgov(tmp_path, "demo", str(tmp_path / "a-file" / "demo"),
                  env={**os.environ, "TMPDIR": str(temp)})
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (f"gitgov: cannot make the demo in {tmp_path}/a-file/demo: {tmp_path}/a-file "
                           "is a file, not a folder (see `gitgov demo --help`)\n")
    assert list(temp.iterdir()) == []  # no central repository made for a demo that cannot run
