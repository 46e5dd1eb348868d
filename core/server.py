"""The server's pre-receive hook: the enforcement that `--no-verify` cannot reach.

Git runs it in the bare repository with one line per pushed ref on stdin
(``<old> <new> <ref>``) before any ref moves; exiting non-zero refuses the
whole push. Every new commit of every ref is checked, not just the tips,
with the policy of the server's policy branch as it is now (the policy a
push carries never judges that push), by the same plugins as on the client:
secrets, validation, privacy, access, whichever the policy enables.

The server keeps its own ledger in <bare repo>/gitgov/ledger.db and records
every push, accepted or refused, then signs the ledger head as a checkpoint
under refs/gitgov/checkpoints.
"""
from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import EXIT_BLOCKED, GitgovError, LedgerError
from .events import Event, Finding, PushReceived, RefUpdate

if TYPE_CHECKING:
    from .config import Policy
    from .git import Repo
    from .pushrange import PushRange
    from .session import Session

POLICY_FILE = "gitgov.toml"
DEFAULT_BRANCH = "main"
CONFIG_KEY = "gitgov.policyBranch"
REWIND_KEY = "gitgov.allowRewind"  # a server admin's one-off: let a history rewrite through
RESERVED_PREFIX = "refs/gitgov/"
PUSHER_VARS = ("GITGOV_PUSHER", "GL_USERNAME", "GITHUB_USER", "REMOTE_USER")


@dataclass
class ServerPolicy:
    policy: "Policy"
    text: str | None
    branch: str
    commit: str | None  # the policy branch tip it came from (None: no policy yet)
    bootstrap: bool = False  # the push itself creates the policy branch
    broken: bool = False  # its gitgov.toml does not load

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256((self.text or "").encode()).hexdigest()[:16]


@dataclass
class Verdict:
    """Everything one push produced, for the report and the ledger."""

    refs: list[RefUpdate]
    pusher: str
    findings: list[tuple[str, str, Finding]] = field(default_factory=list)  # (ref, commit, finding)
    checked: int = 0
    skipped: int = 0
    commits: int = 0
    datasets: list[str] = field(default_factory=list)  # the datasets the push changes

    @property
    def blocked(self) -> bool:
        return any(f.blocks for _, _, f in self.findings)


def error(code: str, message: str, path: str | None = None) -> Finding:
    """A finding of the server itself (reserved refs, unreadable objects, its ledger)."""
    return Finding(severity="error", code=code, message=message, path=path, plugin="server",
                   hook="pre-receive")


def policy_branch(repo: "Repo") -> str:
    from .git import run

    out = run(["config", "--get", CONFIG_KEY], repo.root, check=False).decode().strip()
    return out or DEFAULT_BRANCH


def parse_receive_lines(text: str) -> list[RefUpdate]:
    refs = []
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3:
            raise GitgovError(f"pre-receive input line {n}: expected '<old> <new> <ref>', got {line!r}")
        old, new, ref = parts
        refs.append(RefUpdate(ref=ref, old=old, new=new))
    return refs


def load_server_policy(repo: "Repo", refs: list[RefUpdate]) -> ServerPolicy:
    """The policy at the tip of the policy branch; for the push that creates that
    branch on an empty server, the policy it brings (trust on first use)."""
    from .config import Policy, load_policy_text
    from .git import run
    from .pushrange import read_text

    branch = policy_branch(repo)
    ref = f"refs/heads/{branch}"
    tip = run(["rev-parse", "--verify", "-q", ref], repo.root, check=False).decode().strip() or None
    bootstrap = False
    if tip is None:
        creating = next((r for r in refs if r.ref == ref and not r.is_delete), None)
        tip, bootstrap = (creating.new, True) if creating else (None, False)
    text = read_text(repo, f"{tip}:{POLICY_FILE}") if tip else None
    if text is None:
        return ServerPolicy(Policy.empty(repo.root / POLICY_FILE), None, branch, tip, bootstrap)
    policy = load_policy_text(text, f"{branch}:{POLICY_FILE}")
    return ServerPolicy(policy, text, branch, tip, bootstrap)


def pusher(push: "PushRange | None") -> str:
    for var in PUSHER_VARS:
        if os.environ.get(var):
            return os.environ[var]
    if push is not None and push.commits:
        last = push.infos.get(push.commits[-1])
        if last is not None:
            return last.committer_email
    return "unknown"


# ---- the hook ----------------------------------------------------------------------

def pre_receive(session: "Session", args: list[str], stdin: Any) -> int:
    """Check the push; record it; 1 refuses it (the whole push: Git's pre-receive is atomic)."""
    from .server_report import print_report

    repo = session.repo
    refs = parse_receive_lines(stdin.read())
    if not refs:
        return 0
    server, broken = _server_policy(repo, refs)
    ctx = _context(repo, server)
    try:
        verdict, outcome_entries = _check(repo, server, ctx, refs, session)
        verdict.findings += [("", "", f) for f in broken]
        print_report(verdict, server, sys.stderr)
        _record(repo, ctx, server, verdict, outcome_entries)
    finally:
        ctx.close()
    return EXIT_BLOCKED if verdict.blocked else 0


def _server_policy(repo: "Repo", refs: list[RefUpdate]) -> tuple[ServerPolicy, list[Finding]]:
    """A policy branch whose gitgov.toml does not load refuses every push (fail closed)."""
    from .config import Policy
    from .errors import ConfigError

    try:
        return load_server_policy(repo, refs), []
    except ConfigError as exc:
        empty = ServerPolicy(Policy.empty(repo.root / POLICY_FILE), None, policy_branch(repo), None,
                             broken=True)
        return empty, [error("policy-broken", f"the server's policy does not load ({exc}); nothing can "
                             "be checked, so pushes are refused until a server admin repairs the "
                             "policy branch")]


def _context(repo: "Repo", server: ServerPolicy) -> Any:
    from .config import Policy
    from .ledger import open_ledger
    from .server_events import ServerContext

    path = repo.ledger_path
    if not path.exists():  # `gitgov server install` creates it; a hook copied by hand still records
        path.parent.mkdir(parents=True, exist_ok=True)
        open_ledger(path, create=True).close()
    # While no policy exists yet, the first one is trusted as pushed: nobody can judge its edits.
    authority = Policy.empty(repo.root / POLICY_FILE) if server.bootstrap else None
    return ServerContext(policy=server.policy, repo=repo, ledger_path=path, policy_text=server.text,
                         authority_policy=authority)


def _check(repo: "Repo", server: ServerPolicy, ctx: Any, refs: list[RefUpdate],
           session: "Session | None" = None) -> tuple[Verdict, list]:
    from .pushrange import for_context, peeled_kinds, server_commits
    from .server_events import plan, prefetch

    kinds = peeled_kinds(repo, refs)
    push = for_context(ctx, repo, refs, lambda ref: server_commits(repo, ref, kinds.get(ref.new)))
    verdict = Verdict(refs=refs, pusher=pusher(push), commits=len(push.commits))
    paths = {c.path for cs in push.changes.values() for c in cs}
    verdict.datasets = sorted({ds.name for path in paths
                               if (ds := server.policy.dataset_for(path)) is not None})
    verdict.findings += _ref_rules(repo, refs, server) + _not_commits(refs, kinds)
    verdict.findings += [(ref, "", error("unreadable", why)) for ref, why in push.problems]
    work = plan(repo, server.policy, push, ctx.ledger(), server.fingerprint)
    verdict.findings += [(push.ref_of(sha), sha, f) for sha, f in work.problems]
    verdict.skipped = work.skipped
    verdict.checked = sum(1 for e in work.events if getattr(e, "blob", None))
    ctx.blobs = prefetch(repo, work.events)
    ctx.baselines, ctx.planned = work.baselines, work.events
    event = PushReceived(refs=tuple(refs), actor=verdict.pusher, source="server")
    host = _host(server.policy, session)
    for info in host.load_errors:
        verdict.findings.append(("", "", error("plugin-not-loaded", f"plugin '{info.name}' could not be "
                                               f"loaded on the server: {info.error}")))
    outcome = _emit(host, ctx, server.policy, [event] + work.events)
    for ev in outcome.events:
        for f in outcome.findings_for(ev):
            sha = getattr(ev, "commit", None) or f.details.get("commit") or ""
            ref = f.details.get("ref") or (push.ref_of(sha) if sha else "")
            verdict.findings.append((ref, sha, f))
    return verdict, [outcome, work, push, event]


def _host(policy: "Policy", session: "Session | None") -> Any:
    """The hook's session already loaded every plugin (the bare repository has no gitgov.toml);
    a policy that enables or disables none of them needs no second load. Local plugin files
    of the policy are never loaded on the server: there is no worktree to load them from."""
    from .plugins import load_host

    mine, theirs = policy.plugins, session.policy.plugins if session is not None else None
    if theirs is not None and (mine.enable, mine.disable) == (theirs.enable, theirs.disable) \
            and not theirs.local:
        return session.host
    return load_host(policy, None)


def _emit(host: Any, ctx: Any, policy: "Policy", events: list[Event]) -> Any:
    """Encrypted datasets are checked for ciphertext only when the server holds no key."""
    from .bus import emit

    locked = [e for e in events if (ds := ctx.dataset(getattr(e, "dataset", None))) is not None
              and ds.encrypt == "file" and getattr(e, "blob", None)]
    if not locked:
        return emit(events, host, ctx, record=False)
    from .keys import KeyStore
    from .plugins import load_host

    if KeyStore.for_repo(ctx.repo).has_master():
        return emit(events, host, ctx, record=False)

    rest = [e for e in events if not any(e is x for x in locked)]
    outcome = emit(rest, host, ctx, record=False)
    plain = policy._replace(plugins=policy.plugins._replace(
        disable=policy.plugins.disable + ("validation", "privacy")))
    more = emit(locked, load_host(plain, None), ctx, record=False)
    outcome.events += more.events
    outcome.findings += more.findings
    outcome.facts += more.facts
    outcome.by_event.update(more.by_event)
    return outcome


def _ref_rules(repo: "Repo", refs: list[RefUpdate], server: ServerPolicy) -> list[tuple[str, str, Finding]]:
    out = []
    if server.commit is None and not server.broken:  # no such branch, and this push brings none
        out.append(("", "", error("policy-branch-missing", f"this server enforces gitgov.toml of "
                                  f"branch '{server.branch}', which it does not have; push that "
                                  "branch first, or correct the setting (`git config "
                                  f"{CONFIG_KEY} BRANCH` in the server's repository)")))
    for ref in refs:
        if ref.ref.startswith(RESERVED_PREFIX):
            out.append((ref.ref, "", error("reserved-ref", f"{ref.ref} is written by the server only "
                                           "(signed ledger checkpoints); push other refs")))
        elif ref.is_delete and ref.ref == f"refs/heads/{server.branch}":
            out.append((ref.ref, "", error("policy-branch", f"{ref.ref} holds the policy this server "
                                           "enforces and cannot be deleted; push a new commit to it instead")))
        elif ref.ref == f"refs/heads/{server.branch}" and _rewinds(repo, ref) \
                and not _rewind_allowed(repo):
            # A rewind brings no new commit to judge, yet puts back an older policy and older
            # data: a change nobody's commit would answer for. A revert commit is judged; a
            # history rewrite (erasure) needs the server admin's say, once.
            out.append((ref.ref, "", error("policy-branch-rewind", f"{ref.ref} holds the policy this "
                                           "server enforces and only moves forward: this push would "
                                           f"move it from {ref.old[:12]} to {ref.new[:12]}, which does "
                                           "not contain it; to undo changes, push a commit that "
                                           "reverts them (git revert); to rewrite history (an "
                                           "erasure), a server admin runs `git config "
                                           f"{REWIND_KEY} true` in the server's repository for that "
                                           "push, then unsets it")))
    return out


def _rewind_allowed(repo: "Repo") -> bool:
    from .git import run

    return run(["config", "--bool", "--get", REWIND_KEY], repo.root, check=False).strip() == b"true"


def _rewinds(repo: "Repo", ref: RefUpdate) -> bool:
    """True for a forced update: the old tip is not part of the new one's history."""
    return not (ref.is_create or ref.is_delete) and not repo.is_ancestor(ref.old, ref.new)


def _not_commits(refs: list[RefUpdate], kinds: dict[str, str]) -> list[tuple[str, str, Finding]]:
    """A ref (a tag, usually) that points to a tree or a blob publishes files outside any
    commit, where no check can see them."""
    return [(r.ref, "", error("not-a-commit", f"{r.ref} points to a {kinds[r.new]}, not to a commit; "
                              "the server checks the files of commits only, so it refuses what it "
                              "cannot check; tag a commit instead"))
            for r in refs if not r.is_delete and kinds.get(r.new) in ("tree", "blob")]


def _record(repo: "Repo", ctx: Any, server: ServerPolicy, verdict: Verdict, extra: list) -> None:
    """Append everything in one transaction, then sign the head; an unrecordable push is refused."""
    from .server_record import entries_for

    try:
        ctx.ledger().append(entries_for(server, verdict, *extra))
    except LedgerError as exc:
        verdict.findings.append(("", "", error("ledger", f"the push cannot be recorded, so it is "
                                               f"refused; push again ({exc})")))
        print(f"gitgov: push refused: it cannot be recorded in the server ledger: {exc}; "
              "push again", file=sys.stderr)
        return
    try:
        from . import checkpoints

        checkpoints.write(repo, ctx.ledger())
    except (GitgovError, OSError) as exc:  # the ledger has the push; the next push signs it
        print(f"gitgov: warning: could not write a signed checkpoint: {exc}", file=sys.stderr)
