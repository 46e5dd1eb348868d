"""What each Git hook does once the fast path decided there is work.

Each hook turns Git's arguments and stdin into events, hands them to the bus
and turns the outcome into an exit code: 0 to let Git go on, 1 to block.
"""
from __future__ import annotations

import json
import os
import sys

from .errors import EXIT_BLOCKED, EXIT_INPUT, GitgovError
from .events import (Change, CommitCreated, DataAdded, DataRemoved, Event, Finding, PushRequested,
                     RefUpdate)
from .git import RawChange, Repo
from .hookrun import POLICY, SECRET_CONTENT
from .report import print_verdict
from .session import Session
from .server import pre_receive

NOTES_REF = "gitgov"
BYPASS_COMMIT = ("fix the errors above and commit again; `git commit --no-verify` skips this "
                 "check, but pre-push and the server check again")
# Every commit of the range is checked: a commit on top leaves the bad one in what is pushed.
BYPASS_PUSH = ("fix the commits that hold these files (`git commit --amend` for the last one, "
               "`git rebase -i` for earlier ones) and push again; a new commit on top does not "
               "remove a file from the history the push would publish")


def run_hook(hook: str, args: list[str], stdin=None) -> int:
    """Entry for every hook; errors become one line and exit 2, never a traceback."""
    handler = HANDLERS.get(hook)
    if hook in ("-h", "--help"):  # the pre-commit framework's entry is `gitgov hook-impl HOOK`
        print(f"usage: gitgov hook-impl HOOK [ARGS...]: what Git's hooks run; HOOK is one of "
              f"{', '.join(HANDLERS)}")
        return 0
    if handler is None:
        print(f"gitgov: unknown hook '{hook}' (expected one of {', '.join(HANDLERS)})", file=sys.stderr)
        return EXIT_INPUT
    try:
        with Session.open(".") as session:
            if hook != "post-commit":  # its pre-commit, in the same `git commit`, said it already
                _report_load_errors(session)
                _report_disabled(hook)
            return handler(session, args, stdin if stdin is not None else sys.stdin)
    except GitgovError as exc:
        print(f"gitgov: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("gitgov: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug must block with one line, not a traceback in git's output
        if os.environ.get("GITGOV_DEBUG", "") not in ("", "0"):
            raise
        print(f"gitgov: internal error in the {hook} hook: {type(exc).__name__}: {exc} "
              "(set GITGOV_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_INPUT


def _report_load_errors(session: Session, *, unknown: bool = False) -> None:
    """One line per plugin that did not load; names in [plugins] enable that match no plugin
    (``unknown``) only where pre-commit and pre-push have not judged them already."""
    for info in session.host.load_errors:
        if (info.origin == "unknown") == unknown:
            print(info.skipped_warning, file=sys.stderr)


def _report_disabled(hook: str) -> None:
    """GITGOV_DISABLE skips part of the check, as --no-verify skips all of it: say so."""
    from .plugins import env_disabled

    off = sorted(env_disabled())
    if off and hook in ("pre-commit", "pre-push"):
        print(f"gitgov: warning: GITGOV_DISABLE turns off {', '.join(off)} for this "
              f"{hook.split('-')[1]}: what {'it checks' if len(off) == 1 else 'they check'} is not "
              "checked here", file=sys.stderr)


def _missing_plugins(session: Session, governed: bool) -> list[Finding]:
    """Names in [plugins] enable that no installed plugin has (a typo, or a plugin not
    installed here), and plugins that failed to load. What they check would go unchecked,
    so governed data waits (the server refuses such a push too); other changes go on with
    a warning."""
    if not governed:
        _report_load_errors(session, unknown=True)
        return []
    return [Finding(severity="error", code="plugin-missing", path=POLICY, plugin="gitgov",
                    message=f"plugin '{i.name}' is {i.error}; what it checks would go unchecked: "
                            "correct the name, or install the plugin")
            if i.origin == "unknown" else
            Finding(severity="error", code="plugin-not-loaded", path=POLICY, plugin="gitgov",
                    message=f"plugin '{i.name}' ({i.origin}) could not be loaded: {i.error}; what "
                            "it checks would go unchecked: fix it, or disable it in gitgov.toml")
            for i in session.host.load_errors]


# ---- classifying changes ------------------------------------------------------

def _suspicious(session: Session, changes: list[RawChange], key_paths: set[str],
                sizes: dict[str, int]) -> set[str]:
    """Paths outside any dataset that the secrets check must see anyway."""
    from .config import secret_name_matcher

    secret = secret_name_matcher(session.policy)
    limit = session.policy.limits.max_file_size
    return {c.path for c in changes if not c.deleted and (
        c.path in key_paths or secret.search(c.path) or sizes.get(c.new_blob, 0) > limit)}


def _events_for(session: Session, changes: list[RawChange], key_paths: set[str], *,
                stage: str, actor: str, commit: str | None = None) -> list[Event]:
    events: list[Event] = []
    sizes = session.repo.blob_sizes([c.new_blob for c in changes if not c.deleted])
    extra = _suspicious(session, changes, key_paths, sizes)
    for c in changes:
        ds = session.policy.dataset_for(c.path)
        if ds is None and c.path not in extra:
            continue
        name = ds.name if ds else None
        if c.deleted:
            if ds is not None:
                events.append(DataRemoved(path=c.path, dataset=name, stage=stage, commit=commit,
                                          actor=actor, source="hook"))
            continue
        events.append(DataAdded(path=c.path, dataset=name, blob=c.new_blob, stage=stage,
                                size=sizes.get(c.new_blob), commit=commit, actor=actor,
                                source="hook"))
    return events


def _key_paths(session: Session, changes: list[RawChange]) -> set[str]:
    """Staged paths outside every dataset that hold a private key or a token.

    Files in datasets reach the secrets plugin anyway; git greps the rest.
    """
    paths = [c.path for c in changes
             if not c.deleted and session.policy.dataset_for(c.path) is None]
    return session.repo.grep_staged(SECRET_CONTENT, paths) if paths else set()


def _pushed_key_paths(session: Session, changes: list[RawChange]) -> set[str]:
    """The same question for blobs a push carries, read once each from the object store."""
    import re

    blobs = {c.new_blob: c.path for c in changes
             if not c.deleted and session.policy.dataset_for(c.path) is None}
    hits = session.repo.blobs_matching(re.compile(SECRET_CONTENT.encode()), list(blobs))
    return {blobs[b] for b in hits}


# ---- pre-commit / post-commit -------------------------------------------------

def pre_commit(session: Session, args: list[str], stdin) -> int:
    session.write_fastpath_cache()
    repo = session.repo
    staged = repo.staged_changes()
    marker = repo.local_dir / "state" / "pending-commit"
    unstaged = _rules_not_staged(session, staged)
    if unstaged:
        marker.unlink(missing_ok=True)
        print_verdict(unstaged, "commit")
        return EXIT_BLOCKED
    actor = session.actor()
    events = _events_for(session, staged, _key_paths(session, staged), stage="staged", actor=actor)
    events += _policy_staged(staged, actor)
    missing = _missing_plugins(session, bool(events))
    if missing:
        marker.unlink(missing_ok=True)
        print_verdict(missing, "commit")
        return EXIT_BLOCKED
    if not events:
        marker.unlink(missing_ok=True)
        return 0
    session.ctx.planned = events
    outcome = session.emit(events)
    print_verdict(outcome.findings, "commit", bypass=BYPASS_COMMIT)
    if outcome.blocked:
        marker.unlink(missing_ok=True)
        return _blocked_code(outcome)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps([e.subject for e in events]), encoding="utf-8")
    return 0


def _rules_not_staged(session: Session, staged: list[RawChange]) -> list[Finding]:
    """The findings that block a commit of governed data while gitgov.toml or a local plugin
    file has unstaged changes, or a local plugin file is not tracked at all.

    The hooks run the working tree's rules, and the commit takes the staged ones: loosened in
    the working tree only, they would let through data that breaks the rules committed beside
    it. As pre-commit does for its own config, such a commit waits until the two agree.
    Commits of files that neither version of gitgov.toml governs go on."""
    rule_files = _rule_files(session)
    changed = session.repo.not_staged(rule_files)
    untracked = _untracked_plugins(session, rule_files)
    policy = next((c.old_blob for c in changed if c.path == POLICY), None)
    if not (changed or untracked) or not _governed(session, staged, rule_files, policy):
        return []
    staged_rules = [c.path for c in staged if c.path in rule_files]
    what = (f"stages another version of {', '.join(staged_rules)}" if staged_rules
            else "holds governed data")
    out = []
    if changed:
        names = [c.path for c in changed]
        shown = " ".join(names)
        out.append(_not_staged(names, f"{_agree(names, 'has', 'have')} changes that are not "
                               f"staged, and this commit {what}: the data would be checked "
                               f"against rules the commit does not contain; stage them (`git add "
                               f"{shown}`) or set them aside (`git stash push {shown}`), then "
                               "commit again"))
    if untracked:
        shown, it = " ".join(untracked), _agree(untracked, "it", "them")
        out.append(_not_staged(untracked, f"{_agree(untracked, 'is', 'are')} listed in [plugins] "
                               f"local in {POLICY} but not tracked by git, and this commit {what}: "
                               f"every other clone would check the data without {it}; add {it} "
                               f"(`git add {shown}`), then commit again"))
    return out


def _not_staged(names: list[str], rest: str) -> Finding:
    return Finding(severity="error", code="rules-not-staged", path=names[0], plugin="gitgov",
                   message=f"{', '.join(names)} {rest}")


def _agree(names: list[str], one: str, many: str) -> str:
    return one if len(names) == 1 else many


def _untracked_plugins(session: Session, rule_files: list[str]) -> list[str]:
    """Local plugin files on disk that git does not track, once gitgov.toml is tracked (before
    its first commit there are no committed rules to keep whole)."""
    if len(rule_files) == 1:  # no local plugins: no process to start
        return []
    untracked = session.repo.untracked(rule_files)
    return [] if POLICY in untracked else untracked


def _rule_files(session: Session) -> list[str]:
    """gitgov.toml and the local plugin files, as git names them ("./x.py" is "x.py")."""
    import posixpath

    return [POLICY, *(posixpath.normpath(p) for p in session.policy.plugins.local)]


def _governed(session: Session, staged: list[RawChange], rule_files: list[str],
              index_policy: str | None) -> bool:
    """Whether a staged change is a rule file itself or in a dataset of either version of
    gitgov.toml (``index_policy``: the staged one's blob, when it differs)."""
    from .config import load_policy_text

    if any(c.path in rule_files or session.policy.dataset_for(c.path) for c in staged):
        return True
    if index_policy is None:
        return False
    try:
        text = session.repo.read_blob(index_policy).decode("utf-8")
        staged_policy = load_policy_text(text, f"{POLICY} (staged)")
    except (GitgovError, UnicodeDecodeError):
        return bool(staged)  # its datasets cannot be told: any staged file may be one
    return any(staged_policy.dataset_for(c.path) for c in staged)


def _policy_staged(staged: list[RawChange], actor: str) -> list[Event]:
    """gitgov.toml staged: the rules of data that is not staged may change with it."""
    for c in staged:
        if c.path == POLICY and not c.deleted:
            from .events_policy import PolicyStaged  # its class costs a hook ~1 ms to define

            previous = c.old_blob if c.old_blob.strip("0") else None  # all zeros: a new file
            return [PolicyStaged(path=c.path, blob=c.new_blob, previous=previous, actor=actor,
                                 source="hook")]
    return []


def post_commit(session: Session, args: list[str], stdin) -> int:
    """Record the commit and anchor the ledger head on it as a git note."""
    repo = session.repo
    marker = repo.local_dir / "state" / "pending-commit"
    marker.unlink(missing_ok=True)
    info = repo.commit_info("HEAD")
    changes = tuple(
        Change(path=c.path, status=c.status, dataset=ds.name, blob=None if c.deleted else c.new_blob)
        for c in repo.commit_changes(info["sha"])
        if (ds := session.policy.dataset_for(c.path)) is not None)
    if not changes:
        return 0
    event = CommitCreated(sha=info["sha"], parents=info["parents"], author=info["author"],
                          message=info["message"], changes=changes, actor=info["author"],
                          source="hook")
    outcome = session.emit([event])
    print_verdict(outcome.findings, "the commit", blocking=False)  # it exists already
    anchor(session, info["sha"])
    return 0


def anchor(session: Session, sha: str) -> None:
    """Write the ledger head as a note on `sha`, so history vouches for the chain."""
    head = session.ctx.ledger().head()
    if head is not None:
        session.repo.add_note(NOTES_REF, sha, json.dumps({"seq": head[0], "id": head[1]}))


# ---- pre-push ------------------------------------------------------------------

def parse_push_lines(text: str) -> list[RefUpdate]:
    refs = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4:
            local_ref, new, ref, old = parts
            refs.append(RefUpdate(ref=ref, old=old, new=new, local_ref=local_ref))
    return refs


def pushed_commits(repo: Repo, ref: RefUpdate, remote: str) -> list[str]:
    """Commits a push would add to the remote: the whole range, not just the tip."""
    if ref.is_delete:
        return []
    if not ref.is_create:
        try:
            return repo.rev_list(f"{ref.old}..{ref.new}")
        except GitgovError:
            pass  # the remote's old tip is unknown here (someone else pushed)
    return repo.rev_list(ref.new, "--not", f"--remotes={remote}") if remote else repo.rev_list(ref.new)


def _pushed(session: Session, refs: list[RefUpdate], remote: str, actor: str) -> list[Event]:
    """DataAdded for each blob the push publishes that no passing check vouches for, and
    DataRemoved for each governed file a pushed commit deletes (files that refer to it by
    a foreign key must hold without it, even when the commit skipped pre-commit)."""
    repo = session.repo
    shas = list(dict.fromkeys(sha for ref in refs for sha in pushed_commits(repo, ref, remote)))
    by_commit = repo.changes_by_commit(shas)
    keys = _pushed_key_paths(session, [c for cs in by_commit.values() for c in cs])
    seen: set[str] = set()
    ledger = session.ctx.ledger()
    events: list[Event] = []
    for sha in shas:
        changes = [c for c in by_commit.get(sha, []) if c.deleted or c.new_blob not in seen]
        for event in _events_for(session, changes, keys, stage="pushed", actor=actor, commit=sha):
            if isinstance(event, DataRemoved):
                events.append(event)
                continue
            seen.add(event.blob)
            if event.dataset is None or not ledger.has_passing_check(
                    event.blob, path=event.path, policy=session.ctx.policy_digest()):
                events.append(event)
    return events


def pre_push(session: Session, args: list[str], stdin) -> int:
    remote, url = (args + ["", ""])[:2]
    refs = parse_push_lines(stdin.read())
    actor = session.actor()
    events: list[Event] = [PushRequested(remote=remote, url=url, refs=tuple(refs), actor=actor,
                                         source="hook")]
    events += _pushed(session, refs, remote, actor)
    missing = _missing_plugins(session, len(events) > 1)
    if missing:
        print_verdict(missing, "push")
        return EXIT_BLOCKED
    session.ctx.planned = events
    outcome = session.emit(events)
    print_verdict(_with_commits(outcome), "push", bypass=BYPASS_PUSH)
    return _blocked_code(outcome) if outcome.blocked else 0


def _blocked_code(outcome) -> int:
    """1, blocked by policy; 2 when gitgov.toml itself is wrong (a rule that does not
    compile: `plugin/config`), as `gitgov check` and every command exit on it."""
    return EXIT_INPUT if any(f.code == "config" and f.blocks for f in outcome.findings) \
        else EXIT_BLOCKED


def _with_commits(outcome) -> list[Finding]:
    """The findings, each file named with the commit that holds it: the verdict says to fix
    those commits, and a push may carry many."""
    import dataclasses

    out, seen = [], set()
    for event in outcome.events:
        sha = getattr(event, "commit", None)
        for f in outcome.findings_for(event):
            seen.add(id(f))
            named = sha and f.path
            out.append(dataclasses.replace(f, path=f"{f.path} (commit {sha[:12]})") if named else f)
    return out + [f for f in outcome.findings if id(f) not in seen]  # about no event (the push)


def commit_msg(session: Session, args: list[str], stdin) -> int:
    """Refuse a commit whose message does not acknowledge a breaking data change (core/ack.py)."""
    from .ack import commit_msg as check

    return check(args[0]) if args else 0


HANDLERS = {"pre-commit": pre_commit, "commit-msg": commit_msg, "post-commit": post_commit,
            "pre-push": pre_push, "pre-receive": pre_receive}
