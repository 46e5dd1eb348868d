"""Signed checkpoints of a ledger, kept in Git under refs/gitgov/checkpoints.

After each push the server signs its ledger head (sequence number, entry id,
time) with its Ed25519 key, as a DSSE envelope, and commits it on top of the
previous checkpoint. Each checkpoint names the one before it inside the
signed payload, so the chain cannot be reordered or re-parented without the
key, and anyone who fetched the ref holds a copy that a later rewrite of the
server's ledger or of the ref itself cannot match.

`gitgov verify` checks every checkpoint's signature, that each one extends
the one before (same ledger, sequence never going back, one id per
sequence), that the ledger still holds each checkpointed entry unchanged,
and that the chain still contains the tip it verified last time.
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import GitgovError

if TYPE_CHECKING:
    from .git import Repo
    from .ledger import Ledger

REF = "refs/gitgov/checkpoints"
PAYLOAD_TYPE = "application/vnd.gitgov.checkpoint+json"
TYPE = "https://gitgov.dev/checkpoint/v1"
ENVELOPE_FILE = "checkpoint.json"
KEY_FILE = "signer.pub.pem"
STATE_FILE = "checkpoints-verified.json"
QUARANTINE_VARS = ("GIT_QUARANTINE_PATH", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES")
IDENTITY = {"GIT_AUTHOR_NAME": "gitgov", "GIT_AUTHOR_EMAIL": "gitgov@localhost",
            "GIT_COMMITTER_NAME": "gitgov", "GIT_COMMITTER_EMAIL": "gitgov@localhost"}


def _env() -> dict[str, str]:
    """Outside pre-receive's quarantine: Git refuses ref updates inside it, and
    objects written there vanish with a rejected push; a checkpoint must not."""
    env = {k: v for k, v in os.environ.items() if k not in QUARANTINE_VARS}
    env.update(IDENTITY)
    return env


def _git(repo: "Repo", *args: str, input: bytes | None = None, check: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=repo.root, input=input, capture_output=True, env=_env())
    if check and proc.returncode != 0:
        raise GitgovError(f"git {args[0]} failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout.decode("utf-8", "replace").strip() if proc.returncode == 0 else ""


def _pae(body: bytes) -> bytes:
    from .attest import pae

    return pae(PAYLOAD_TYPE, body)


def sign(payload: dict[str, Any], key: Any) -> dict[str, Any]:
    from .attest import key_id

    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return {"payloadType": PAYLOAD_TYPE, "payload": base64.b64encode(body).decode(),
            "signatures": [{"keyid": key_id(key.public_key()),
                            "sig": base64.b64encode(key.sign(_pae(body))).decode()}]}


# ---- writing ---------------------------------------------------------------------

def write(repo: "Repo", ledger: "Ledger", reason: str = "push", attempts: int = 20) -> dict | None:
    """Checkpoint the ledger head; the payload written, or None when nothing is new."""
    from cryptography.hazmat.primitives import serialization

    from .attest import signing_key
    from .events import utcnow

    key = signing_key(repo.state_dir)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    genesis = next(ledger.entries(limit=1, newest_first=False), None)
    for _ in range(attempts):
        old = _git(repo, "rev-parse", "--verify", "-q", REF, check=False)
        previous = read_payload(repo, old) if old else None
        head = ledger.head()  # read after the ref: a later checkpoint always sees a later head
        if head is None or (previous and previous.get("seq") == head[0]):
            return None
        payload = {"_type": TYPE, "ledger": genesis.id if genesis else "", "seq": head[0],
                   "id": head[1], "time": utcnow(), "reason": reason,
                   "previous": {"seq": previous["seq"], "id": previous["id"]} if previous else None}
        commit = _commit(repo, sign(payload, key), pem, old, head[0])
        done = subprocess.run(["git", "update-ref", REF, commit, old or "0" * 40], cwd=repo.root,
                              capture_output=True, env=_env())
        if done.returncode == 0:
            return payload
    raise GitgovError(f"could not update {REF}: other pushes kept moving it")


def _commit(repo: "Repo", envelope: dict, pem: bytes, parent: str, seq: int) -> str:
    env_blob = _git(repo, "hash-object", "-w", "--stdin",
                    input=json.dumps(envelope, indent=1, sort_keys=True).encode() + b"\n")
    key_blob = _git(repo, "hash-object", "-w", "--stdin", input=pem)
    tree = _git(repo, "mktree", input=(f"100644 blob {env_blob}\t{ENVELOPE_FILE}\n"
                                       f"100644 blob {key_blob}\t{KEY_FILE}\n").encode())
    args = ["commit-tree", tree, "-m", f"gitgov checkpoint: ledger seq {seq}"]
    if parent:
        args += ["-p", parent]
    return _git(repo, *args)


def read_payload(repo: "Repo", commit: str) -> dict | None:
    text = _git(repo, "cat-file", "blob", f"{commit}:{ENVELOPE_FILE}", check=False)
    try:
        return json.loads(base64.b64decode(json.loads(text)["payload"]))
    except (ValueError, KeyError, TypeError):
        return None


# ---- verifying -------------------------------------------------------------------

@dataclass
class Report:
    ok: bool = True
    count: int = 0
    reason: str = ""
    anchors: dict[int, str] = field(default_factory=dict)  # for this repository's own ledger
    foreign: bool = False  # the checkpoints are of another ledger (a clone of the server's repo)
    key_id: str = ""

    def fail(self, reason: str) -> "Report":
        self.ok, self.reason = False, reason
        return self


def verify(repo: "Repo", ledger: "Ledger | None", trusted_key: Path | None = None,
           remember: bool = True) -> Report:
    """Check the whole chain under refs/gitgov/checkpoints (an empty Report if there is none)."""
    report = Report()
    tip = _git(repo, "rev-parse", "--verify", "-q", REF, check=False)
    if not tip:
        return report
    commits = _git(repo, "rev-list", "--reverse", "--parents", tip).splitlines()
    trusted = _trusted(repo, trusted_key)
    genesis = next(ledger.entries(limit=1, newest_first=False), None) if ledger else None
    previous: dict | None = None
    for n, line in enumerate(commits, 1):
        sha, *parents = line.split()
        if len(parents) > 1:
            return report.fail(f"checkpoint {sha[:12]} is a merge: the chain forked")
        envelope, pem = _read_files(repo, sha)
        payload, key_id, why = _check_signature(envelope, pem, trusted or None)
        if why:
            return report.fail(f"checkpoint {n} ({sha[:12]}): {why}")
        trusted = trusted or key_id  # trust on first use: every later one needs the same key
        report.key_id = key_id
        why = _extends(previous, payload)
        if why:
            return report.fail(f"checkpoint {n} (ledger seq {payload.get('seq')}): {why}")
        previous = payload
        report.count += 1
        if genesis is not None and payload.get("ledger") == genesis.id:
            report.anchors[int(payload["seq"])] = str(payload["id"])
        else:
            report.foreign = True
    return _against_last_time(repo, tip, report, remember)


def _trusted(repo: "Repo", given: Path | None) -> str:
    """The key id checkpoints must carry: the given key, the repository's own, else none yet."""
    from .attest import key_id, key_paths, load_public

    path = given or key_paths(repo.state_dir)[1]
    if given is None and not path.is_file():
        return ""
    return key_id(load_public(path))


def _read_files(repo: "Repo", sha: str) -> tuple[dict | None, bytes]:
    text = _git(repo, "cat-file", "blob", f"{sha}:{ENVELOPE_FILE}", check=False)
    pem = _git(repo, "cat-file", "blob", f"{sha}:{KEY_FILE}", check=False).encode()
    try:
        return json.loads(text), pem
    except ValueError:
        return None, pem


def _check_signature(envelope: dict | None, pem: bytes, trusted: str | None) -> tuple[dict, str, str]:
    """(payload, key id, '') when the envelope verifies, else ({}, '', why)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization

    from .attest import key_id

    if not envelope or envelope.get("payloadType") != PAYLOAD_TYPE:
        return {}, "", f"{ENVELOPE_FILE} is missing or not a checkpoint envelope"
    try:
        public = serialization.load_pem_public_key(pem)
        body = base64.b64decode(envelope["payload"], validate=True)
        sig = base64.b64decode(envelope["signatures"][0]["sig"], validate=True)
        kid = key_id(public)
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return {}, "", "the envelope or its key cannot be read"
    if trusted and kid != trusted:
        return {}, "", f"signed by key {kid[:16]}, not by the trusted key {trusted[:16]}"
    try:
        public.verify(sig, _pae(body))
    except InvalidSignature:
        return {}, "", "the signature does not match the payload (the checkpoint was changed)"
    return json.loads(body), kid, ""


def _extends(previous: dict | None, payload: dict) -> str:
    """Why ``payload`` does not extend ``previous``, or ''."""
    if not isinstance(payload.get("seq"), int) or not isinstance(payload.get("id"), str):
        return "the payload has no ledger seq and id"
    if previous is None:
        return "" if payload.get("previous") is None else "the first checkpoint names a predecessor"
    link = payload.get("previous") or {}
    if (link.get("seq"), link.get("id")) != (previous["seq"], previous["id"]):
        return "it does not name the checkpoint before it (the chain was re-assembled)"
    if payload.get("ledger") != previous.get("ledger"):
        return "it is a checkpoint of another ledger"
    if payload["seq"] < previous["seq"]:
        return f"the ledger went back from seq {previous['seq']} to {payload['seq']} (history rewritten)"
    if payload["seq"] == previous["seq"] and payload["id"] != previous["id"]:
        return f"two checkpoints give seq {payload['seq']} different ids (the ledger forked)"
    return ""


def _against_last_time(repo: "Repo", tip: str, report: Report, remember: bool) -> Report:
    """The chain must still contain the tip verified last time: no rewrite since."""
    state = repo.state_dir / "state" / STATE_FILE
    try:
        last = json.loads(state.read_text(encoding="utf-8")).get("commit")
    except (OSError, ValueError, AttributeError):
        last = None
    if last and last != tip:
        known = subprocess.run(["git", "merge-base", "--is-ancestor", last, tip], cwd=repo.root,
                               capture_output=True, env=_env()).returncode == 0
        if not known:
            return report.fail(f"{REF} no longer contains checkpoint {last[:12]} that was verified "
                               "before: the checkpoint chain was rewritten")
    if remember and report.ok:
        try:
            state.parent.mkdir(parents=True, exist_ok=True)
            state.write_text(json.dumps({"commit": tip, "count": report.count}), encoding="utf-8")
        except OSError:
            pass  # verifying must work on a read-only copy too
    return report
