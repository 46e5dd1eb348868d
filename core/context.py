"""What a plugin may reach while handling an event: the policy, the repository,
the data's bytes and the ledger. One Context serves one command or hook run."""
from __future__ import annotations

from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .events import Event

if TYPE_CHECKING:
    from .config import DatasetPolicy, Policy
    from .git import Repo
    from .ledger import Ledger


class Context:  # a plain class: a dataclass costs every command ~1 ms to define
    """Handed to every hook with the event; plugins may keep per-run state in it."""

    def __init__(self, policy: "Policy", repo: "Repo | None" = None, ledger_path: Path | None = None):
        self.policy = policy
        self.repo = repo
        self.ledger_path = ledger_path
        self.pending: list[Event] = []  # events plugins emit while handling one, dispatched next
        self.planned: list[Event] = []  # this run's events, when its caller lists them up front
        self._ledger: "Ledger | None" = None
        self._in_worktree: dict[tuple[str, str], bool] = {}
        self._policy_digest: str | None = None

    @property
    def root(self) -> Path:
        return self.repo.root if self.repo else Path.cwd()

    def policy_digest(self) -> str:
        """The policy's hash (config.policy_digest), computed once per run."""
        if self._policy_digest is None:
            from .config import policy_digest
            from .plugins import env_disabled

            self._policy_digest = policy_digest(self.policy, self.repo.root if self.repo else None,
                                                env_disabled())
        return self._policy_digest

    def dataset(self, name: str | None) -> "DatasetPolicy | None":
        return self.policy.datasets.get(name) if name else None

    def settings(self, plugin: str) -> dict[str, Any]:
        """The free-form ``[plugins.<name>]`` table of gitgov.toml."""
        return dict(self.policy.plugins.settings.get(plugin, {}))

    def open_data(self, event: Event) -> IO[bytes]:
        """The event's bytes: the blob in Git when there is one, else the file on disk."""
        blob = getattr(event, "blob", None)
        if blob and self.repo is not None:
            ds = self.dataset(getattr(event, "dataset", None))
            if ds is not None and ds.encrypt == "file":  # Git holds ciphertext; plugins read plain text
                from .crypto.fileformat import open_plain
                from .keys import KeyStore

                keys = KeyStore.for_repo(self.repo)
                return open_plain(self.repo.open_blob(blob),
                                  lambda kid: keys.key_by_id(kid, getattr(event, "path", blob)),
                                  getattr(event, "path", blob))
            local = self.worktree_file(event)
            return open(local, "rb") if local is not None else self.repo.open_blob(blob)
        return open(self.root / getattr(event, "path"), "rb")

    def worktree_file(self, event: Event) -> Path | None:
        """The event's file in the working tree when it holds exactly the event's blob.

        Git keeps blobs compressed: reading a staged 100 MB file back costs git about
        0.4 s of CPU each time a plugin reads it, hashing the file on disk a sixth of
        that, once.
        """
        blob, path = getattr(event, "blob", None), getattr(event, "path", None)
        if not blob or not path or self.repo is None or self.repo.bare:
            return None
        if (path, blob) not in self._in_worktree:
            from .blobid import blob_ids, cache_file

            found = blob_ids(self.root, [path], cache_file(self.repo)).get(path)
            self._in_worktree[(path, blob)] = found == blob
        return self.root / path if self._in_worktree[(path, blob)] else None

    def read_data(self, event: Event, limit: int | None = None) -> bytes:
        with self.open_data(event) as stream:
            return stream.read(-1 if limit is None else limit)

    def ledger(self) -> "Ledger":
        """The repository's ledger, opened on first use (read it; the bus writes it)."""
        if self._ledger is None:
            from .ledger import open_ledger
            if self.ledger_path is None:
                raise RuntimeError("this context has no ledger")
            self._ledger = open_ledger(self.ledger_path)
        return self._ledger

    def emit(self, event: Event) -> None:
        """Queue a follow-up event (e.g. DataDisposed); the bus handles it in the same run."""
        self.pending.append(event)

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
