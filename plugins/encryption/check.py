"""Is the staged blob of an encrypted dataset really ciphertext, under a live key?"""
from __future__ import annotations

from typing import Any

from gitgov.core.crypto import CryptoError, short_id
from gitgov.core.events import DataAdded, Finding, error, info


def check_encrypted(event: DataAdded, ctx: Any) -> list[Finding]:
    from gitgov.core.crypto.fileformat import HEADER, is_encrypted, parse_header
    from gitgov.core.keys import KeyStore

    with ctx.repo.open_blob(event.blob) as raw:  # Git's bytes as they are, not decrypted
        head = raw.read(HEADER.size)
    if not head:  # the Git filter keeps empty files empty: there is no plain text to hide
        return [info("empty", "an empty file stays empty in Git; there is nothing to encrypt")]
    if not is_encrypted(head):
        return [error("not-encrypted",
                      f"dataset '{event.dataset}' has encrypt = \"file\" but the staged bytes are "
                      "plain text; run `gitgov crypt setup` to set up the Git filter for it, then "
                      f"`git add {event.path}` again")]
    try:
        header = parse_header(head, event.path)
    except CryptoError as exc:
        return [error("bad-ciphertext", str(exc))]
    if not KeyStore.for_repo(ctx.repo).has_master():
        return [info("encrypted", f"encrypted with key {short_id(header.key_id)}")]
    try:
        key = KeyStore.for_repo(ctx.repo).key_by_id(header.key_id, "the staged file")
    except CryptoError as exc:
        if "shredded" in str(exc):
            return [error("key-shredded", f"{exc}; do not commit data under a destroyed key")]
        return [info("encrypted", f"encrypted with key {short_id(header.key_id)} (not held here)")]
    return [info("encrypted", f"encrypted with key {short_id(key.id)} of dataset '{key.dataset}'",
                 key_id=key.id)]
