"""The access review of pushed commits: the same at pre-push and in the server's pre-receive.

For every commit of every pushed range: may its author write (or delete)
the data of each dataset it changes, is it signed when the dataset requires
it, and may its author make the change it makes to gitgov.toml? Each
violation is an error finding that names the ref, the commit, the file, the
rule and the fix; each change of gitgov.toml is also a ``policy_changed``
fact with its diff, for `gitgov audit`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gitgov.core.errors import ConfigError
from gitgov.core.events import Fact, Finding, error, warning

from .model import AccessModel
from .policy_edit import POLICY_FILE, judge, moved_files, touched, unified_diff
from .signing import how_to_sign, verify

if TYPE_CHECKING:
    from gitgov.core.git import Repo
    from gitgov.core.pushrange import CommitInfo, PushRange


def review(repo: "Repo", model: AccessModel, push: "PushRange",
           authority: AccessModel | None = None) -> list[Finding | Fact]:
    """``model`` judges data changes; ``authority`` (default: the same) judges policy edits."""
    out: list[Finding | Fact] = []
    unsigned: dict[str, str] = {}  # sha -> the dataset that needs the signature
    warned: set[str] = set()
    for sha in push.commits:
        info = push.infos.get(sha)
        if info is None:
            continue
        ref = push.ref_of(sha)
        for change in push.changes.get(sha, []):
            if change.path == POLICY_FILE:
                out += policy_change(repo, authority or model, info, change, ref)
                continue
            ds = model.policy.dataset_for(change.path)
            if ds is None:
                continue
            if not ds.owner and ds.name not in warned:
                warned.add(ds.name)
                out.append(warning("no-owner", f"dataset '{ds.name}' has no owner in gitgov.toml",
                                   change.path, dataset=ds.name))
            decision = model.decide(info.author_email, "delete" if change.deleted else "write", ds.name)
            if not decision.allowed:
                out.append(_denied(info, ref, change.path, decision))
            if model.requires_signature(ds) and sha not in unsigned:
                unsigned[sha] = ds.name
    for sha, dataset in unsigned.items():
        info = push.infos[sha]
        why = verify(repo, sha, info.author_email)
        if why:
            out.append(error("unsigned-commit",
                             f"commit {sha[:12]} ({_subject(info)}) changes dataset '{dataset}', which "
                             f"requires signed commits, but {why}; fix: {how_to_sign()}",
                             None, **_where(info, push.ref_of(sha))))
    return out


def _where(info: "CommitInfo", ref: str, **more: Any) -> dict[str, Any]:
    return {"ref": ref, "commit": info.sha, "author": info.author_email, **more}


def _subject(info: "CommitInfo") -> str:
    return f"\"{info.subject[:60]}\" by {info.author_email}"


def _denied(info: "CommitInfo", ref: str, path: str, decision: Any) -> Finding:
    return error("not-allowed",
                 f"commit {info.sha[:12]} ({_subject(info)}): {decision.rule}; fix: {decision.fix}, "
                 f"or drop the change from the commit (git rebase -i) and push again",
                 path, **_where(info, ref, dataset=decision.dataset, action=decision.action,
                                roles=list(decision.roles)))


def policy_change(repo: "Repo", model: AccessModel, info: "CommitInfo", change: Any,
                  ref: str) -> list[Finding | Fact]:
    """Judge one commit's change of gitgov.toml against the current policy."""
    from gitgov.core.pushrange import read_text

    old_text = read_text(repo, change.old_blob) if set(change.old_blob) != {"0"} else ""
    new_text = "" if change.deleted else read_text(repo, change.new_blob)
    where = _where(info, ref)
    if new_text is None or old_text is None:
        return [error("unreadable", f"commit {info.sha[:12]}: cannot read {POLICY_FILE} "
                      f"(object {change.new_blob[:12]})", POLICY_FILE, **where)]
    new_policy, new_model, problem = _load(new_text, info.sha)
    if problem is not None:
        return [error("policy-invalid", f"commit {info.sha[:12]} ({_subject(info)}): {problem}; fix: "
                      f"correct {POLICY_FILE} in that commit and push again", POLICY_FILE, **where)]
    old_raw, old_policy = _parse_old(old_text, info.sha)
    paths = repo.git("ls-tree", "-r", "--name-only", "-z", info.sha).decode("utf-8", "surrogateescape")
    moved = moved_files([p for p in paths.split("\0") if p], old_policy, new_policy)
    what = touched(old_raw, new_policy.raw if new_policy else {}, moved)
    found = judge(info.author_email, what, model, new_model)
    out: list[Finding | Fact] = [
        error("policy-edit", f"commit {info.sha[:12]} ({_subject(info)}) changes {v.what}: {v.rule}; "
              f"fix: {v.fix}, or drop the change from the commit (git rebase -i) and push again",
              POLICY_FILE, **where) for v in found]
    out.append(Fact(kind="policy_changed", subject=POLICY_FILE, payload={
        "commit": info.sha, "ref": ref, "author": info.author_email, "message": info.subject,
        "datasets": sorted(what.datasets), "sections": what.global_keys,
        "verdict": "block" if found else "pass", "diff": unified_diff(old_text, new_text)}))
    return out


def _load(text: str, sha: str) -> tuple[Any, AccessModel | None, str | None]:
    """(policy, model, None) for a usable gitgov.toml, else (None, None, the problem)."""
    if not text.strip():
        from gitgov.core.config import Policy
        from pathlib import Path

        empty = Policy.empty(Path(POLICY_FILE))
        return empty, AccessModel.of(empty, ""), None
    from gitgov.core.config import load_policy_text

    try:
        policy = load_policy_text(text, f"{sha[:12]}:{POLICY_FILE}")
        return policy, AccessModel.of(policy, text), None
    except ConfigError as exc:
        return None, None, str(exc)


def _parse_old(text: str, sha: str) -> tuple[dict, Any]:
    """The parent's policy; if it never loaded, everything in the new one counts as changed."""
    from gitgov.core.config import load_policy_text

    if not text.strip():
        return {}, None
    try:
        policy = load_policy_text(text, f"{sha[:12]}^:{POLICY_FILE}")
        return policy.raw, policy
    except ConfigError:
        return {}, None
