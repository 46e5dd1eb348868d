"""The key store: one master key per repository and one data key per dataset.

Layout of ``.gitgov/keys/`` (mode 0700, files 0600, ignored by Git):

- ``master.key``: the repository master key (32 random bytes, base64).
- ``datakeys.json``: every dataset's data keys, each wrapped (AES-GCM) by the
  master key, newest last, plus tombstones of shredded keys.

Envelope encryption: data keys encrypt the data, the master key only wraps
data keys. Rotating the master key re-wraps a few hundred bytes, never the
data; shredding a dataset's data keys makes every historic ciphertext of it
unreadable, because no copy of those keys is left in the store.

A key id is a hash of the key (never the key): the first 16 hex digits of
SHA-256 over a label and the key. In CI, ``GITGOV_KEY`` carries the whole
store as the one-line token that ``gitgov keys export --env`` prints.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator

from .crypto import CryptoError, MissingKey, Shredded, WrongKey, short_id
from .keys_format import b64, open_sealed, seal, unb64
from .events import utcnow

KEY_BYTES = 32
ENV_VAR = "GITGOV_KEY"
ENV_PREFIX = "gitgov-key-v1:"
UNLOCK_HINT = ("import the key with `gitgov keys import FILE --passphrase-file P` "
               "(or set GITGOV_KEY in CI)")


def key_id(key: bytes) -> str:
    """A public name for a key: a hash of it, never the key itself."""
    return hashlib.sha256(b"gitgov key id\x00" + key).hexdigest()[:16]


@dataclass(frozen=True)
class DataKey:
    """One dataset's data key; subkeys are derived per purpose so none is used twice."""

    dataset: str
    id: str
    secret: bytes = field(repr=False)

    def subkey(self, label: str, size: int = 32) -> bytes:
        out = b""
        counter = 1
        while len(out) < size:  # HKDF-Expand with HMAC-SHA256 (RFC 5869), PRK = the data key
            out += hmac.digest(self.secret, out[-32:] + label.encode() + bytes([counter]), "sha256")
            counter += 1
        return out[:size]

    @cached_property
    def id_bytes(self) -> bytes:
        return bytes.fromhex(self.id)


class KeyStore:
    """The keys of one repository: ``.gitgov/keys`` or the ``GITGOV_KEY`` token."""

    def __init__(self, directory: Path, env_token: str | None = None):
        self.dir = Path(directory)
        self.env_token = env_token or None
        self._cache: tuple[bytes, dict] | None = None

    @classmethod
    def for_repo(cls, repo: Any) -> "KeyStore":
        return cls(repo.state_dir / "keys", os.environ.get(ENV_VAR))

    @property
    def master_path(self) -> Path:
        return self.dir / "master.key"

    @property
    def ring_path(self) -> Path:
        return self.dir / "datakeys.json"

    # ---- loading -----------------------------------------------------------

    def has_master(self) -> bool:
        return bool(self.env_token) or self.master_path.exists()

    def _load(self) -> tuple[bytes, dict]:
        if self._cache is None:
            self._cache = self._from_env() if self.env_token else self._from_files()
        return self._cache

    def _from_env(self) -> tuple[bytes, dict]:
        token = self.env_token.strip()
        if not token.startswith(ENV_PREFIX):
            raise CryptoError(f"{ENV_VAR} is not a gitgov key token; set it to the line that "
                              "`gitgov keys export --env` prints")
        try:
            bundle = json.loads(base64.urlsafe_b64decode(token[len(ENV_PREFIX):] + "=="))
            master, ring = unb64(bundle["master"], ENV_VAR), bundle["ring"]
            if _misshapen(ring):  # the shape is checked here, not at first use
                raise ValueError
        except (ValueError, KeyError, TypeError, AttributeError):
            raise CryptoError(f"{ENV_VAR} is damaged: it does not decode; export it again") from None
        return master, ring

    def _from_files(self) -> tuple[bytes, dict]:
        self._finish_rotation()
        if not self.master_path.exists():
            raise MissingKey(f"missing key: no master key in {self.master_path}; {UNLOCK_HINT}")
        # latin-1 reads any bytes: one that is not base64 is named as such by unb64
        master = unb64(self.master_path.read_text(encoding="latin-1").strip(), str(self.master_path))
        if len(master) != KEY_BYTES:
            raise CryptoError(f"{self.master_path}: not a 32-byte key")
        ring = _empty_ring(key_id(master))
        if self.ring_path.exists():
            try:
                ring = json.loads(self.ring_path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise CryptoError(f"{self.ring_path}: not valid JSON ({exc})") from None
            why = _misshapen(ring)
            if why:
                raise CryptoError(f"{self.ring_path}: {why}: the key store was altered; restore it "
                                  "from a `gitgov keys export`")
        if ring.get("master") != key_id(master):
            raise WrongKey(f"wrong key: the data keys in {self.ring_path} are wrapped by master key "
                           f"{short_id(ring.get('master', '?'))}, you hold "
                           f"{short_id(key_id(master))}; {UNLOCK_HINT}")
        return master, ring

    def _finish_rotation(self) -> None:
        """A rotation that stopped between its two renames is completed here."""
        pending = self.dir / "master.key.new"
        if pending.exists() and self.ring_path.exists():
            new = unb64(pending.read_text(encoding="latin-1").strip(), str(pending))
            if json.loads(self.ring_path.read_text(encoding="utf-8")).get("master") == key_id(new):
                os.replace(pending, self.master_path)

    @property
    def master_id(self) -> str:
        return key_id(self._load()[0])

    def ring(self) -> dict:
        return self._load()[1]

    # ---- data keys ----------------------------------------------------------

    def active_key(self, dataset: str, *, create: bool = False) -> DataKey:
        """The key new versions of ``dataset`` are encrypted with (created on first use)."""
        entries = self.ring()["datasets"].get(dataset, [])
        if entries:
            return self._unwrap(dataset, entries[-1])
        if not create:
            raise MissingKey(f"missing key: dataset '{dataset}' has no data key in this repository; "
                             f"{UNLOCK_HINT}")
        with self._writing() as ring:
            entries = ring["datasets"].setdefault(dataset, [])
            if not entries:
                entries.append(self._wrap(dataset, secrets.token_bytes(KEY_BYTES)))
            return self._unwrap(dataset, entries[-1])

    def key_by_id(self, kid: str, what: str = "this data") -> DataKey:
        """The data key named by a ciphertext, or a one-line reason why it is not here."""
        master, ring = self._load()
        for dataset, entries in ring["datasets"].items():
            for entry in entries:
                if entry["id"] == kid:
                    return self._unwrap(dataset, entry)
        for stone in ring.get("shredded", []):
            if kid in stone["ids"]:
                raise Shredded(f"missing key: {what} is encrypted with key {short_id(kid)} of "
                                 f"dataset '{stone['dataset']}', which was shredded on "
                                 f"{stone['time'][:10]}; it can no longer be read")
        held = ", ".join(short_id(e["id"]) for es in ring["datasets"].values() for e in es)
        raise WrongKey(f"wrong key: {what} is encrypted with key {short_id(kid)}, you hold "
                       f"{held or 'no data keys'} (master {short_id(key_id(master))}); {UNLOCK_HINT}")

    def datasets(self) -> dict[str, list[dict]]:
        return self.ring()["datasets"]

    def _wrap(self, dataset: str, secret: bytes) -> dict:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        kid, nonce = key_id(secret), secrets.token_bytes(12)
        wrapped = AESGCM(self._load()[0]).encrypt(nonce, secret, _wrap_ad(dataset, kid))
        return {"id": kid, "wrapped": b64(nonce + wrapped), "created": utcnow()}

    def _unwrap(self, dataset: str, entry: dict) -> DataKey:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        where = ENV_VAR if self.env_token else str(self.ring_path)
        blob = unb64(entry["wrapped"], f"{where}: data key {short_id(entry['id'])} of dataset '{dataset}'")
        try:
            secret = AESGCM(self._load()[0]).decrypt(blob[:12], blob[12:], _wrap_ad(dataset, entry["id"]))
        except (InvalidTag, ValueError):  # ValueError: too short to hold a nonce and a tag
            raise CryptoError(f"data key {short_id(entry['id'])} of dataset '{dataset}' does not "
                              "unwrap with the master key: the key store was altered") from None
        return DataKey(dataset=dataset, id=entry["id"], secret=secret)

    # ---- changes --------------------------------------------------------------

    def create_master(self) -> bool:
        """Create the master key if there is none; True when one was created."""
        if self.master_path.exists():
            return False
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        master = secrets.token_bytes(KEY_BYTES)
        _write_secret(self.ring_path, json.dumps(_empty_ring(key_id(master)), indent=1))
        _write_secret(self.master_path, b64(master) + "\n")
        self._cache = None
        return True

    def rotate_master(self) -> tuple[str, str]:
        """Re-wrap every data key under a new master key; return (old id, new id)."""
        self._require_files("rotate the master key")
        with self._locked():
            old_master, ring = self._from_files()
            keys = {ds: [self._unwrap(ds, e) for e in es] for ds, es in ring["datasets"].items()}
            new_master = secrets.token_bytes(KEY_BYTES)
            pending = self.dir / "master.key.new"
            _write_secret(pending, b64(new_master) + "\n")
            self._cache = (new_master, ring)
            new_ring = {**ring, "master": key_id(new_master), "datasets": {
                ds: [{**e, **self._wrap(ds, k.secret), "created": e["created"]}
                     for e, k in zip(ring["datasets"][ds], ks)] for ds, ks in keys.items()}}
            _write_secret(self.ring_path, json.dumps(new_ring, indent=1))
            os.replace(pending, self.master_path)
            self._cache = None
        return key_id(old_master), key_id(new_master)

    def rotate_dataset(self, dataset: str) -> tuple[str | None, str]:
        """Give ``dataset`` a new data key for its new versions; old keys still decrypt."""
        with self._writing() as ring:
            entries = ring["datasets"].setdefault(dataset, [])
            old = entries[-1]["id"] if entries else None
            entries.append(self._wrap(dataset, secrets.token_bytes(KEY_BYTES)))
            return old, entries[-1]["id"]

    def shred(self, dataset: str) -> list[str]:
        """Destroy every data key of ``dataset``; leave a tombstone of their ids."""
        with self._writing() as ring:
            entries = ring["datasets"].pop(dataset, None)
            if not entries:
                raise CryptoError(f"dataset '{dataset}' has no data key to shred")
            ids = [e["id"] for e in entries]
            ring.setdefault("shredded", []).append({"dataset": dataset, "ids": ids, "time": utcnow()})
        return ids

    def _require_files(self, action: str) -> None:
        if self.env_token:
            raise CryptoError(f"cannot {action}: the keys come from {ENV_VAR}; do it in a "
                              "clone that holds .gitgov/keys, then export again")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        import fcntl

        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # the Git filter and a command may write at once
            yield

    @contextlib.contextmanager
    def _writing(self) -> Iterator[dict]:
        """Re-read the store under the lock, let the caller change it, write it atomically."""
        self._require_files("change keys")
        with self._locked():
            self._cache = None
            master, ring = self._from_files()
            yield ring
            _write_secret(self.ring_path, json.dumps(ring, indent=1))
            self._cache = (master, ring)

    # ---- export / import ------------------------------------------------------------

    def bundle(self) -> dict:
        master, ring = self._load()
        return {"master": b64(master), "ring": ring}

    def env_line(self) -> str:
        raw = json.dumps(self.bundle(), separators=(",", ":")).encode()
        return ENV_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def export(self, passphrase: bytes) -> str:
        """The store, encrypted with a key that scrypt derives from ``passphrase``."""
        return seal(self.bundle(), self.master_id, passphrase)

    def import_(self, text: str, passphrase: bytes, source: str, *, force: bool = False) -> str:
        """Install an exported store and return its master id.

        Data keys this repository holds and the export lacks are kept (re-wrapped
        by the imported master key) unless ``force``; a key shredded on either
        side stays shredded.
        """
        self._require_files("import keys")
        bundle = open_sealed(text, passphrase, source)
        master = unb64(bundle["master"], source)
        if len(master) != KEY_BYTES:
            raise CryptoError(f"{source}: the master key in it is not 32 bytes")
        with self._locked():
            current = None if force else self._current_or_none()
            ring = bundle["ring"] if current is None else _merge(current, master, bundle["ring"])
            self.dir.mkdir(parents=True, exist_ok=True)
            os.chmod(self.dir, 0o700)
            _write_secret(self.ring_path, json.dumps(ring, indent=1))
            _write_secret(self.master_path, b64(master) + "\n")
            self._cache = None
        return key_id(master)

    def _current_or_none(self) -> tuple[bytes, dict] | None:
        try:
            return self._from_files()
        except CryptoError:
            return None


def _misshapen(ring: object) -> str | None:
    """What is wrong with the shape of a key ring (datakeys.json), or None."""
    if not isinstance(ring, dict):
        return "not a JSON object"
    if not isinstance(ring.get("master"), str):
        return "no master key id"
    datasets = ring.get("datasets")
    if not isinstance(datasets, dict):
        return "'datasets' is not an object"
    for name, entries in datasets.items():
        if not isinstance(entries, list) or not all(
                isinstance(e, dict) and isinstance(e.get("id"), str) and isinstance(e.get("wrapped"), str)
                for e in entries):
            return f"the keys of dataset '{name}' are not a list of {{id, wrapped}} entries"
    stones = ring.get("shredded", [])
    if not isinstance(stones, list) or not all(
            isinstance(s, dict) and isinstance(s.get("ids"), list) and isinstance(s.get("dataset"), str)
            and isinstance(s.get("time"), str) for s in stones):
        return "'shredded' is not a list of {dataset, ids, time} entries"
    return None


def _empty_ring(master_id: str) -> dict:
    return {"version": 1, "master": master_id, "datasets": {}, "shredded": []}


def _wrap_ad(dataset: str, kid: str) -> bytes:
    return f"gitgov-wrap-v1\x00{dataset}\x00{kid}".encode()


def _write_secret(path: Path, text: str) -> None:
    """Write a 0600 file atomically: readers see the old or the new file, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _merge(current: tuple[bytes, dict], master: bytes, incoming: dict) -> dict:
    """The imported ring plus the local data keys it lacks, minus every shredded key."""
    local, target = KeyStore(Path(".")), KeyStore(Path("."))
    local._cache, target._cache = current, (master, incoming)
    stones = _union_stones(incoming, current[1])
    dead = {i for stone in stones for i in stone["ids"]}
    known = {e["id"] for es in incoming["datasets"].values() for e in es}
    datasets = {ds: [e for e in es if e["id"] not in dead] for ds, es in incoming["datasets"].items()}
    for ds, entries in current[1]["datasets"].items():
        for entry in entries:
            if entry["id"] not in known and entry["id"] not in dead:
                secret = local._unwrap(ds, entry).secret
                datasets.setdefault(ds, []).append({**target._wrap(ds, secret),
                                                    "created": entry["created"]})
    return {**incoming, "datasets": {ds: es for ds, es in datasets.items() if es},
            "shredded": stones}


def _union_stones(a: dict, b: dict) -> list[dict]:
    seen, out = set(), []
    for stone in a.get("shredded", []) + b.get("shredded", []):
        key = (stone["dataset"], tuple(stone["ids"]))
        if key not in seen:
            seen.add(key)
            out.append(stone)
    return out
