"""`gitgov attest`: a signed in-toto statement with SLSA provenance for a run.

The statement (in-toto Statement v1) names the run's outputs and their
SHA-256 digests as subjects; its SLSA v1 provenance predicate lists the
commit, the inputs and the packages as resolved dependencies and the command,
params and seed as external parameters. It is wrapped in a DSSE envelope
signed with the repository's Ed25519 key (.gitgov/keys/, created on first
use) and written as one JSON line (the .intoto.jsonl bundle format).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .errors import InputError

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "urn:gitgov:run:v1"
BUILDER_ID = f"pkg:pypi/gitgov@{__version__}"
KEY_NAME = "attestation-ed25519"


def statement(run, repo) -> dict[str, Any]:
    if not run.outputs:
        raise InputError(f"run {run.short} recorded no outputs: there is nothing to attest")
    subjects = [{"name": path, "digest": {"sha256": rec["sha256"]}} for path, rec in sorted(run.outputs.items())]
    python = run.snapshot.get("python") or {}
    deps: list[dict[str, Any]] = []
    if run.commit:
        deps.append({"uri": f"git+{Path(repo.root).resolve().as_uri()}", "digest": {"gitCommit": run.commit},
                     "annotations": {"branch": run.branch} if run.branch else {}})
    if run.dirty and run.diff_sha256:
        deps.append({"name": "uncommitted-diff", "digest": {"sha256": run.diff_sha256},
                     "mediaType": "text/x-diff"})
    for path, rec in sorted(run.inputs.items()):
        digest = {"sha256": rec["sha256"], **({"gitBlob": rec["blob"]} if rec.get("blob") else {})}
        deps.append({"name": path, "digest": digest})
    for name, version in sorted((python.get("packages") or {}).items()):
        deps.append({"uri": f"pkg:pypi/{name}@{version}", "name": name})
    metrics = json.dumps(run.metrics, sort_keys=True).encode()
    predicate = {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {"command": run.command, "params": run.params, "seed": run.seed,
                                   "name": run.name or None, "cwd": run.cwd},
            "internalParameters": {"env": run.snapshot.get("env") or {}, "python": python.get("version"),
                                   "platform": (run.snapshot.get("platform") or {}).get("platform")},
            "resolvedDependencies": deps,
        },
        "runDetails": {
            "builder": {"id": BUILDER_ID, "version": {"gitgov": __version__}},
            "metadata": {"invocationId": run.run_id, "startedOn": run.started, "finishedOn": run.finished},
            "byproducts": [{"name": "metrics.json", "mediaType": "application/json",
                            "content": base64.b64encode(metrics).decode()}],
        },
    }
    return {"_type": STATEMENT_TYPE, "subject": subjects, "predicateType": PREDICATE_TYPE, "predicate": predicate}


def default_file(run) -> Path:
    """RUN.intoto.jsonl in the current folder: the run's name made safe as a file
    name (``exp/a b`` gives ``exp_a_b``), or its short id for a run without one."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", run.name or "").strip("._") or run.short
    return Path(f"{name}.intoto.jsonl")


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)


def key_paths(state_dir: Path) -> tuple[Path, Path]:
    keys = state_dir / "keys"
    return keys / f"{KEY_NAME}.pem", keys / f"{KEY_NAME}.pub.pem"


def signing_key(state_dir: Path):
    """The repository's Ed25519 key, created (mode 600) on first use."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private, public = key_paths(state_dir)
    if private.is_file():
        return load_private(private)
    key = Ed25519PrivateKey.generate()
    private.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return key


def load_private(path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, OSError) as exc:
        raise InputError(f"{path}: not a usable private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{path}: not an Ed25519 key")
    return key


def load_public(path: Path):
    """An Ed25519 public key from a public or private PEM file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the key ({exc.strerror})") from None
    try:
        key = (load_private(path).public_key() if b"PRIVATE KEY" in data
               else serialization.load_pem_public_key(data))
    except ValueError as exc:
        raise InputError(f"{path}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"{path}: not an Ed25519 key")
    return key


def key_id(public_key) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def sign(stmt: dict[str, Any], key) -> dict[str, Any]:
    body = json.dumps(stmt, sort_keys=True, separators=(",", ":")).encode()
    sig = key.sign(pae(PAYLOAD_TYPE, body))
    return {"payloadType": PAYLOAD_TYPE, "payload": base64.b64encode(body).decode(),
            "signatures": [{"keyid": key_id(key.public_key()), "sig": base64.b64encode(sig).decode()}]}


@dataclass
class Verification:
    ok: bool
    reasons: list[str] = field(default_factory=list)
    statement: dict[str, Any] = field(default_factory=dict)
    checked_files: int = 0


def read_envelopes(path: Path) -> list[dict[str, Any]]:
    """Envelopes of an .intoto.jsonl bundle (one per line) or of a single JSON file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it ({exc})") from None
    try:
        items = [(1, json.loads(text))]
    except json.JSONDecodeError as whole:
        items = []
        for n, line in [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]:
            try:
                items.append((n, json.loads(line)))
            except json.JSONDecodeError as exc:
                # a first line that is no document means one document over many lines
                bad = whole if not items else exc
                where = f"{bad.lineno}:{bad.colno}" if not items else f"{n}:{exc.colno}"
                raise InputError(f"{path}:{where}: not a DSSE envelope (not valid JSON: {bad.msg})") from None
    if not items:  # nothing to check must not pass as "every envelope verified"
        raise InputError(f"{path}: not a DSSE envelope (the file is empty)")
    for n, env in items:
        if not isinstance(env, dict) or not {"payload", "payloadType", "signatures"} <= set(env):
            raise InputError(f"{path}:{n}: not a DSSE envelope (needs payloadType, payload and signatures)")
    return [env for _n, env in items]


def verify(envelope: dict[str, Any], public_key, root: Path | None = None) -> Verification:
    """Check the signature, the statement's shape and, for files present under
    ``root``, that their bytes still match the attested digests."""
    from cryptography.exceptions import InvalidSignature

    from .store import hash_file

    try:
        body = base64.b64decode(envelope["payload"], validate=True)
        sigs = [base64.b64decode(s["sig"], validate=True) for s in envelope["signatures"]]
    except (ValueError, KeyError, TypeError):
        return Verification(False, ["the envelope's payload or signature is not valid base64"])
    if envelope.get("payloadType") != PAYLOAD_TYPE:
        return Verification(False, [f"payloadType is {envelope.get('payloadType')!r}, not {PAYLOAD_TYPE}"])
    valid = False
    for sig in sigs:
        try:
            public_key.verify(sig, pae(PAYLOAD_TYPE, body))
            valid = True
        except InvalidSignature:
            continue
    if not valid:
        return Verification(False, ["no signature is valid for this key (the statement was changed "
                                    "or signed with another key)"])
    stmt = json.loads(body)
    result = Verification(True, statement=stmt)
    if stmt.get("_type") != STATEMENT_TYPE or stmt.get("predicateType") != PREDICATE_TYPE:
        result.ok = False
        result.reasons.append("not an in-toto v1 statement with SLSA v1 provenance")
    for subject in stmt.get("subject") or []:
        path = (root / subject.get("name", "")) if root is not None else None
        if path is not None and path.is_file():
            result.checked_files += 1
            if hash_file(path).sha256 != (subject.get("digest") or {}).get("sha256"):
                result.ok = False
                result.reasons.append(f"{subject['name']}: the file's bytes no longer match the attested digest")
    return result
