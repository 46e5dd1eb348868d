"""One run of gitgov against one repository: policy, plugins and context together.

Both the CLI and the Git hooks open a Session; nothing is loaded at import
time, and a Session that is never opened costs nothing.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Collection, Iterable

from .config import Policy, load_policy, shown_path
from .context import Context
from .errors import ConfigError
from .events import Event
from .git import Repo

if TYPE_CHECKING:  # pluggy comes with these: imported when a session opens, not before
    from .bus import Outcome
    from .plugins import Host


def load_repo_policy(repo: Repo) -> Policy:
    """The repository's gitgov.toml; an error names it as the user would type it
    ("gitgov.toml:7: ..."), not by its absolute path."""
    try:
        return load_policy(repo.policy_path, cache_dir=repo.state_dir / "cache")
    except ConfigError as exc:
        shown = shown_path(repo.policy_path)
        if exc.file != str(repo.policy_path) or shown == exc.file:
            raise
        raise ConfigError(shown, exc.line, exc.key, exc.rule, exc.hint) from None


class Session:  # a plain class: a dataclass costs every command ~1 ms to define
    """One command's view of one repository: its policy, its plugins and their context."""

    def __init__(self, repo: Repo, policy: Policy, host: "Host", ctx: Context):
        self.repo, self.policy, self.host, self.ctx = repo, policy, host, ctx

    @classmethod
    def open(cls, start: Path | str = ".", *, extra_plugins: Iterable[tuple[str, object]] = (),
             require_ledger: bool = True, hooks: Collection[str] | None = None,
             repo: Repo | None = None) -> "Session":
        """``hooks``: register only the plugins implementing one of these (all when None);
        ``repo``: the repository at ``start``, when the caller found it already."""
        from .plugins import load_host

        repo = repo or Repo.discover(start)
        policy = load_repo_policy(repo)
        host = load_host(policy, repo.root, extra=extra_plugins, hooks=hooks)
        ledger = repo.ledger_path if (require_ledger or repo.ledger_path.exists()) else None
        return cls(repo=repo, policy=policy, host=host,
                   ctx=Context(policy=policy, repo=repo, ledger_path=ledger))

    def emit(self, events: Iterable[Event], *, record: bool = True) -> "Outcome":
        from .bus import emit

        return emit(events, self.host, self.ctx, record=record)

    def actor(self) -> str:
        return self.repo.identity()

    def write_fastpath_cache(self) -> None:
        """Refresh the pathspecs the pre-commit fast path reads (see hookrun.py)."""
        from .cachefile import write_whole
        from .config import fastpath_pathspecs
        from .hookrun import CACHE, policy_stamp, render_cache

        path = self.repo.root / CACHE
        stamp = policy_stamp(self.repo.policy_path)
        text = render_cache(stamp, self.policy.limits.max_file_size, fastpath_pathspecs(self.policy))
        write_whole(path, text)  # a read-only .gitgov only costs the fast path, never correctness

    def close(self) -> None:
        self.ctx.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
