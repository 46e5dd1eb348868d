"""Hook install/uninstall and the sh shim, exercised through real git commands."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

import gitgov.core
from gitgov.core import install
from gitgov.core.errors import InputError
from gitgov.core.install import HOOK_TYPES, hooks_dir, install_hooks, install_server_hook, render_shim, uninstall_hooks

ROOT = Path(__file__).resolve().parents[1]
# A stand-in interpreter: logs how the shim called it (and its stdin) so tests
# can see the exact command line. `-c` is the shim's "does gitgov import?" probe.
FAKE_PY = """#!/bin/sh
printf 'py %s\\n' "$*" >>"$GITGOV_TEST_LOG"
case "$1" in -c) exit "${FAKE_PROBE_RC:-0}";; esac
cat >>"$GITGOV_TEST_LOG"
exit "${FAKE_RC:-0}"
"""


@pytest.fixture
def repo(tmp_path) -> Path:
    path = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(path))
    return path


@pytest.fixture
def fake_py(tmp_path, monkeypatch) -> Path:
    """A logging interpreter, and a fast-path file the shim will find."""
    py = tmp_path / "bin-py" / "python"
    py.parent.mkdir()
    py.write_text(FAKE_PY)
    py.chmod(0o755)
    fast = tmp_path / "fast" / "hookrun.py"
    fast.parent.mkdir()
    fast.write_text("# stand-in\n")
    monkeypatch.setattr(install, "fastpath_file", lambda: fast)
    return py


def git(cwd: Path, *args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, check=check, **kw)


def commit(repo: Path, name: str = "a.txt", **kw) -> subprocess.CompletedProcess:
    (repo / name).write_text(name + str(os.urandom(4)))
    git(repo, "add", name)
    return git(repo, "commit", "-q", "-m", f"add {name}", check=False, **kw)


def log(tmp_path: Path) -> list[str]:
    path = tmp_path / "log"
    return path.read_text().splitlines() if path.exists() else []


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "--verify", "-q", "HEAD", check=False).stdout.strip()


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Name -> (bytes, mode) of every file, to compare before and after."""
    return {p.name: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
            for p in sorted(directory.iterdir()) if p.is_file()}


# -- install ---------------------------------------------------------------------

def test_install_writes_executable_shims_with_recorded_paths(repo):
    lines = install_hooks(repo)
    assert len(lines) == len(HOOK_TYPES)
    fast = Path(gitgov.core.__file__).parent / "hookstart.py"
    for name in HOOK_TYPES:
        hook = repo / ".git" / "hooks" / name
        text = hook.read_text()
        assert stat.S_IMODE(hook.stat().st_mode) == 0o755
        assert text.splitlines()[1] == "# gitgov-hook-id: 7c1d0c0e-gitgov-v1"
        assert f"HOOK_TYPE={name}\n" in text
        assert f"PY={install.sys.executable}\n" in text
        assert f"FASTPATH={fast}\n" in text
        assert any(name in line and "installed" in line for line in lines)


def test_install_in_linked_worktree_lands_in_common_dir(repo, tmp_path, fake_py):
    assert commit(repo).returncode == 0
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "side", str(wt))
    install_hooks(wt, python=str(fake_py))
    assert hooks_dir(wt) == repo / ".git" / "hooks"
    assert (repo / ".git" / "hooks" / "pre-commit").is_file()
    assert not (repo / ".git" / "worktrees" / "wt" / "hooks").exists()
    assert commit(wt, "b.txt").returncode == 0
    assert f"py -S {install.fastpath_file()} pre-commit" in log(tmp_path)


def test_second_install_changes_nothing(repo):
    install_hooks(repo)
    hooks = repo / ".git" / "hooks"
    old = 1_000_000_000 * 10**9
    for name in HOOK_TYPES:
        os.utime(hooks / name, ns=(old, old))
    before = snapshot(hooks)
    lines = install_hooks(repo)
    assert snapshot(hooks) == before  # also: no stray temp files
    assert all((hooks / name).stat().st_mtime_ns == old for name in HOOK_TYPES)
    assert all("already installed" in line for line in lines)


def test_install_rewrites_an_outdated_shim_of_ours(repo):
    install_hooks(repo, python="/old/python")
    install_hooks(repo)
    text = (repo / ".git" / "hooks" / "pre-commit").read_text()
    assert "/old/python" not in text
    assert not (repo / ".git" / "hooks" / "pre-commit.legacy").exists()


def test_foreign_hook_is_kept_as_legacy_and_runs_first(repo, tmp_path, fake_py):
    hook = repo / ".git" / "hooks" / "pre-commit"
    original = b'#!/bin/sh\necho "legacy $*" >>"$GITGOV_TEST_LOG"\n'
    hook.write_bytes(original)
    hook.chmod(0o700)
    lines = install_hooks(repo, python=str(fake_py))
    legacy = hook.with_name("pre-commit.legacy")
    assert legacy.read_bytes() == original
    assert stat.S_IMODE(legacy.stat().st_mode) == 0o700
    assert any("pre-commit.legacy" in line for line in lines[:1])
    assert commit(repo).returncode == 0
    assert log(tmp_path) == ["legacy ", f"py -S {install.fastpath_file()} pre-commit"]


def test_failing_legacy_hook_blocks_a_real_commit(repo, tmp_path, fake_py):
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'legacy says no' >&2\nexit 7\n")
    hook.chmod(0o755)
    install_hooks(repo, python=str(fake_py))
    result = commit(repo)
    assert result.returncode != 0
    assert "legacy says no" in result.stderr
    assert head(repo) == ""
    assert log(tmp_path) == []  # gitgov never ran


def test_foreign_hook_with_existing_legacy_is_refused_untouched(repo):
    hooks = repo / ".git" / "hooks"
    (hooks / "pre-push").write_text("#!/bin/sh\nexit 0\n")
    (hooks / "pre-push.legacy").write_text("#!/bin/sh\nexit 1\n")
    before = snapshot(hooks)
    with pytest.raises(InputError, match="pre-push.legacy already exists"):
        install_hooks(repo)
    assert snapshot(hooks) == before  # pre-commit was not installed either


def test_uninstall_restores_the_original_hook_byte_for_byte(repo):
    hooks = repo / ".git" / "hooks"
    (hooks / "pre-commit").write_bytes(b"#!/bin/sh\n# team hook\r\nexit 0\n")
    (hooks / "pre-commit").chmod(0o750)
    before = snapshot(hooks)
    install_hooks(repo)
    assert snapshot(hooks) != before
    lines = uninstall_hooks(repo)
    assert snapshot(hooks) == before
    assert "restored" in lines[0]


def test_uninstall_leaves_foreign_hooks_alone(repo):
    install_hooks(repo)
    foreign = repo / ".git" / "hooks" / "pre-push"
    foreign.write_text("#!/bin/sh\n# replaced by another tool\n")
    lines = uninstall_hooks(repo)
    assert foreign.read_text() == "#!/bin/sh\n# replaced by another tool\n"
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    assert any("pre-push: not a gitgov hook" in line for line in lines)


def test_hooks_path_is_refused_with_advice(repo):
    git(repo, "config", "core.hooksPath", ".husky")
    with pytest.raises(InputError) as err:
        install_hooks(repo)
    message = str(err.value)
    assert "core.hooksPath is set to .husky" in message
    assert "gitgov init --hooks-path" in message and "git config --unset core.hooksPath" in message
    assert "\n" not in message
    assert not (repo / ".husky").exists()
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()


def test_hooks_path_is_used_when_allowed(repo, tmp_path, fake_py):
    git(repo, "config", "core.hooksPath", ".husky")
    install_hooks(repo, python=str(fake_py), allow_hooks_path=True)
    assert (repo / ".husky" / "pre-commit").is_file()
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    assert commit(repo).returncode == 0
    assert any(line.endswith(" pre-commit") for line in log(tmp_path))


def test_outside_git_is_an_input_error(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(InputError, match=f"^not a git repository: {plain} \\(run gitgov inside one; `git init` makes one\\)$"):
        install_hooks(plain)
    with pytest.raises(InputError, match="not a git repository"):
        uninstall_hooks(tmp_path / "missing")


def test_unknown_hook_type_is_an_input_error(repo):
    with pytest.raises(InputError, match="unknown hook type 'pre-comit'"):
        install_hooks(repo, ["pre-comit"])


# -- the shim --------------------------------------------------------------------

@pytest.mark.parametrize("shell", ["sh", "dash", "bash"])
@pytest.mark.parametrize("hook_type", install.ALL_HOOK_TYPES)
def test_shim_parses_in_posix_shells(tmp_path, shell, hook_type):
    if not shutil.which(shell):
        pytest.skip(f"{shell} not installed")
    script = tmp_path / "shim"
    script.write_text(render_shim(hook_type, "/opt/it's here/python", "/x y/hookrun.py"))
    assert subprocess.run([shell, "-n", str(script)]).returncode == 0
    assert "PY='/opt/it'\"'\"'s here/python'\n" in script.read_text()


def minimal_path(tmp_path: Path, *extra: Path) -> str:
    """A PATH holding only git and sh (plus extra dirs): no gitgov, no python."""
    bin_dir = tmp_path / "minbin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("git", "sh"):
        target = bin_dir / tool
        if not target.exists():
            target.symlink_to(shutil.which(tool))
    return os.pathsep.join([str(bin_dir), *map(str, extra)])


def test_shim_says_not_found_in_one_line(repo, tmp_path):
    bogus = tmp_path / "gone" / "bin" / "python"
    install_hooks(repo, python=str(bogus))
    result = commit(repo, env={**os.environ, "PATH": minimal_path(tmp_path)})
    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        f"gitgov: not found (the hook was installed by {bogus}, which no longer has gitgov); "
        "run `pip install gitgov` and `gitgov init`, or `git commit --no-verify` to skip"]
    assert head(repo) == ""


def test_shim_falls_back_to_gitgov_on_path(repo, tmp_path):
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "gitgov").write_text('#!/bin/sh\necho "gitgov $*" >>"$GITGOV_TEST_LOG"\n')
    (tools / "gitgov").chmod(0o755)
    install_hooks(repo, python=str(tmp_path / "gone" / "python"))
    result = commit(repo, env={**os.environ, "PATH": minimal_path(tmp_path, tools)})
    assert result.returncode == 0, result.stderr
    assert log(tmp_path) == ["gitgov hook-impl pre-commit --"]


def test_shim_uses_module_when_fastpath_file_is_gone(repo, tmp_path, fake_py):
    install_hooks(repo, python=str(fake_py))
    install.fastpath_file().unlink()
    assert commit(repo).returncode == 0
    assert log(tmp_path) == ["py -c import gitgov.core.hookrun", "py -m gitgov.core.hookrun pre-commit"]


def test_shim_blocks_when_gitgov_blocks(repo, tmp_path, fake_py):
    install_hooks(repo, python=str(fake_py))
    result = commit(repo, env={**os.environ, "FAKE_RC": "1"})
    assert result.returncode != 0
    assert head(repo) == ""


def test_post_commit_starts_no_interpreter_without_the_marker(repo, tmp_path, fake_py):
    hook = repo / ".git" / "hooks" / "post-commit"
    hook.write_text('#!/bin/sh\necho legacy-post >>"$GITGOV_TEST_LOG"\n')
    hook.chmod(0o755)
    install_hooks(repo, ["post-commit"], python=str(fake_py))
    assert commit(repo).returncode == 0
    assert log(tmp_path) == ["legacy-post"]  # the legacy hook still ran
    marker = repo / ".gitgov" / "state" / "pending-commit"
    marker.parent.mkdir(parents=True)
    marker.touch()
    assert commit(repo, "b.txt").returncode == 0
    assert log(tmp_path)[1:] == ["legacy-post", f"py -S {install.fastpath_file()} post-commit"]


def test_pre_push_feeds_the_same_stdin_to_legacy_and_gitgov(repo, tmp_path, fake_py):
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    hook = repo / ".git" / "hooks" / "pre-push"
    hook.write_text('#!/bin/sh\necho "legacy $*" >>"$GITGOV_TEST_LOG"\ncat >>"$GITGOV_TEST_LOG"\n')
    hook.chmod(0o755)
    install_hooks(repo, python=str(fake_py))
    assert commit(repo).returncode == 0
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    git(repo, "push", "-q", "origin", "main", env={**os.environ, "TMPDIR": str(scratch)})
    sha = head(repo)
    refs = f"refs/heads/main {sha} refs/heads/main {'0' * 40}"
    assert log(tmp_path)[-4:] == [
        f"legacy origin {remote}", refs,
        f"py -S {install.fastpath_file()} pre-push origin {remote}", refs]
    assert list(scratch.iterdir()) == []  # the stdin copy was removed


def test_pre_receive_on_a_bare_server_sees_refs_and_can_refuse(repo, tmp_path, fake_py):
    server = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", str(server))
    lines = install_server_hook(server, python=str(fake_py))
    assert (server / "hooks" / "pre-receive").is_file() and "pre-receive" in lines[0]
    git(repo, "remote", "add", "origin", str(server))
    assert commit(repo).returncode == 0
    refused = git(repo, "push", "-q", "origin", "main", check=False,
                  env={**os.environ, "FAKE_RC": "1"})
    assert refused.returncode != 0
    assert git(server, "rev-parse", "--verify", "-q", "main", check=False).stdout == ""
    assert log(tmp_path) == [f"py -S {install.fastpath_file()} pre-receive",
                             f"{'0' * 40} {head(repo)} refs/heads/main"]
    git(repo, "push", "-q", "origin", "main")
    assert git(server, "rev-parse", "main").stdout.strip() == head(repo)


def test_real_interpreter_commit_without_policy_passes(repo):
    if not (Path(gitgov.core.__file__).parent / "hookrun.py").exists():
        pytest.skip("core/hookrun.py not written yet")
    install_hooks(repo)
    result = commit(repo)
    assert result.returncode == 0, result.stderr
    assert head(repo) != ""


def test_pre_commit_framework_manifest_declares_gitgov_check():
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    assert "- id: gitgov-check\n" in text
    for line in ("entry: gitgov hook-impl pre-commit --", "language: python",
                 "pass_filenames: false", "always_run: true", "stages: [pre-commit]"):
        assert f"  {line}\n" in text
