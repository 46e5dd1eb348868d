"""Signed commits: Git's own SSH or GPG signatures, checked with `git verify-commit`.

An author address can be typed by anyone, so a dataset may require that its
changes come in signed commits. A signature counts when `git verify-commit`
accepts it (the key is in ``gpg.ssh.allowedSignersFile`` or the GPG keyring
of the repository that checks) and the signer is the commit's author.
"""
from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitgov.core.git import Repo


def verify(repo: "Repo", sha: str, author_email: str) -> str | None:
    """None when the commit is signed by its author; else why not, in words."""
    proc = subprocess.run(["git", "verify-commit", "--raw", sha], cwd=repo.root, capture_output=True)
    said = (proc.stderr or proc.stdout).decode("utf-8", "replace").strip()
    if proc.returncode != 0:
        if not said or "no signature" in said.lower():
            return "the commit is not signed"
        return "its signature does not verify here (" + _last_line(said) + ")"
    signer = subprocess.run(["git", "log", "-1", "--format=%GS", sha], cwd=repo.root,
                            capture_output=True).stdout.decode("utf-8", "replace").strip().lower()
    if author_email.lower() not in signer:
        return f"it is signed by {signer or 'an unknown key'}, not by its author {author_email}"
    return None


def how_to_sign() -> str:
    return ("sign it: `git commit --amend -S` (or `git rebase --exec 'git commit --amend --no-edit -S'` "
            "for several), with `git config gpg.format ssh` and `user.signingKey` set")


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:160] if lines else "no detail"
