"""Transparent whole-file encryption through a Git filter, as git-crypt does.

The working tree holds plain text; the object database holds gitgov's
encrypted format (fileformat.py). One long-running filter process serves a
whole `git add` or `git checkout` (``filter.gitgov.process``, Git's pkt-line
protocol), so a thousand files cost one interpreter start, not a thousand.

- clean (worktree -> Git): plain text of a dataset with ``encrypt = "file"`` is
  encrypted with the dataset's data key; bytes that are already encrypted pass
  through. Without the key the filter refuses, and since the filter is
  ``required`` Git refuses too: plain text of an encrypted path never enters Git.
- smudge (Git -> worktree): decrypted when the key is here; otherwise the
  ciphertext is written as is and Git goes on, with one line saying how to unlock.
- textconv (``diff.gitgov.textconv``): `git diff` and `git log -p` show plain
  text. textconv caching stays off: Git would store the plain text in notes.

Run as ``python -m gitgov.core.crypto.gitfilter process|textconv FILE``.
"""
from __future__ import annotations

import io
import shlex
import sys
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO

from . import CryptoError
from .fileformat import (HEADER, MAGIC, decrypt_stream, encrypt_stream, read_header, same_plain,
                         verify_stream)
from .pktline import PktReader, PktWriter

if TYPE_CHECKING:
    from ..config import Policy
    from ..git import Repo
    from ..keys import DataKey, KeyStore

DRIVER = "gitgov"
SPOOL_BYTES = 64 << 20  # larger contents spill to a temporary file: memory stays flat
BLOCK_BEGIN = "# gitgov: encrypted datasets (written by `gitgov init`; edit gitgov.toml instead)"
BLOCK_END = "# gitgov: end of encrypted datasets"


# ---- the filter -----------------------------------------------------------------

class Filter:
    """What the clean and smudge commands do for one repository."""

    def __init__(self, repo: "Repo", policy: "Policy", keys: "KeyStore", err: IO[str]):
        self.repo, self.policy, self.keys, self.err = repo, policy, keys, err
        self.warned = False
        self.staged: dict[str, str] | None = None

    def encrypted_path(self, path: str) -> str | None:
        ds = self.policy.dataset_for(path)
        return ds.name if ds is not None and ds.encrypt == "file" else None

    def clean(self, path: str, src: IO[bytes], out: PktWriter) -> None:
        dataset = self.encrypted_path(path)
        head = src.read(len(MAGIC))
        src.seek(0)
        if dataset is None or head == MAGIC or not head:
            # Not ours to encrypt, encrypted already (a locked checkout), or empty: an empty
            # file has nothing to hide, and Git takes an empty file whose blob is not empty
            # for a modified one forever (`git diff --quiet` fails, `--stat` lists it).
            _copy(src, out)
            return
        try:
            if not self.keys.datasets().get(dataset):
                self._refuse_foreign_key(dataset, path)
            key = self.keys.active_key(dataset, create=True)
        except CryptoError as exc:
            raise CryptoError(f"refusing to add {path} in plain text: dataset '{dataset}' is "
                              f"encrypted and {_lower(exc)}") from None
        if len(self.keys.datasets()[dataset]) > 1 and self._copy_unchanged(path, key, src, out):
            return
        encrypt_stream(src, out.write, key)

    def _copy_unchanged(self, path: str, key: "DataKey", src: IO[bytes], out: PktWriter) -> bool:
        """Hand back the staged ciphertext when it holds exactly these bytes under an older key.

        After `gitgov keys rotate --dataset`, re-encrypting an unchanged file (touched, or
        written in the same second as the index) gave new bytes: Git then saw a change
        nobody made, refused to switch branches and committed re-encryptions.
        """
        blob = self._index().get(path)
        if blob is None:
            return False
        with self.repo.open_blob(blob) as raw:
            try:
                header = read_header(raw, path)
                same = header.key_id != key.id and same_plain(  # the active key needs no help
                    raw, self.keys.key_by_id(header.key_id, path), header, src, path)
            except CryptoError:
                same = False  # not ciphertext, shredded, not held or damaged: encrypt afresh
        src.seek(0)
        if not same:
            return False
        with self.repo.open_blob(blob) as raw:
            _copy(raw, out)
        return True

    def _index(self) -> dict[str, str]:
        """Path -> staged blob, read once per filter process (one Git command)."""
        if self.staged is None:
            self.staged = self.repo.staged_blobs()
        return self.staged

    def _refuse_foreign_key(self, dataset: str, path: str) -> None:
        """A dataset already encrypted under keys this clone lacks gets no second key."""
        from .fileformat import parse_header

        mine = [(blob, where) for where, blob in self._index().items()]
        same = [e for e in mine if e[1] == path]
        others = [e for e in mine if e[1] != path and self.encrypted_path(e[1]) == dataset]
        for blob, where in (same + others)[:4]:
            with self.repo.open_blob(blob) as raw:
                head = raw.read(HEADER.size)
            if head.startswith(MAGIC):
                self.keys.key_by_id(parse_header(head, where).key_id, where)  # WrongKey if not held

    def smudge(self, path: str, src: IO[bytes], out: PktWriter) -> None:
        if src.read(len(MAGIC)) != MAGIC:
            src.seek(0)
            _copy(src, out)
            return
        src.seek(0)
        header = read_header(src, path)
        try:
            key = self.keys.key_by_id(header.key_id, path)
        except CryptoError as exc:  # no key, or a damaged key store: as a clone without keys,
            self._locked(path, exc)  # not a checkout that stops half-way with files missing
            src.seek(0)
            _copy(src, out)
            return
        decrypt_stream(src, out.write, key, header, path)

    def _locked(self, path: str, exc: Exception) -> None:
        if not self.warned:
            self.warned = True
            print(f"gitgov: {exc}", file=self.err)
            print("gitgov: encrypted files stay encrypted in this checkout; after importing "
                  "the key run `gitgov unlock`", file=self.err)
        print(f"gitgov: {path} is left encrypted", file=self.err)


def _lower(exc: Exception) -> str:
    text = str(exc)
    return text[:1].lower() + text[1:]


def _copy(src: IO[bytes], out: PktWriter) -> None:
    while block := src.read(1 << 20):
        out.write(block)


def serve(stdin: BinaryIO, stdout: BinaryIO, make_filter, err: IO[str] = sys.stderr) -> int:
    """Git's long-running filter protocol, version 2, with clean and smudge."""
    rd, wr = PktReader(stdin), PktWriter(stdout)
    hello = rd.text_list()
    if not hello or hello[0] != "git-filter-client" or "version=2" not in hello:
        print("gitgov: the filter was not started by Git (bad handshake)", file=err)
        return 2
    wr.text("git-filter-server", "version=2")
    wr.done()
    offered = rd.text_list()
    wr.text(*[c for c in ("capability=clean", "capability=smudge") if c in offered])
    wr.done()
    filt = None
    while True:
        try:
            meta = dict(line.split("=", 1) for line in rd.text_list())
        except EOFError:
            return 0
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
        rd.content_into(spool)
        spool.seek(0)
        filt = filt or make_filter()
        _answer(filt, meta, spool, wr, err)
        spool.close()


def _answer(filt: Filter | Exception, meta: dict, spool: IO[bytes], wr: PktWriter, err: IO[str]) -> None:
    command, path = meta.get("command"), meta.get("pathname", "?")
    started = False
    try:
        if isinstance(filt, Exception):
            raise filt
        wr.text("status=success")
        started = True
        (filt.clean if command == "clean" else filt.smudge)(path, spool, wr)
        wr.end_content()
        wr.flush_packet()  # an empty list: the status stays "success"
    except Exception as exc:  # noqa: BLE001 - any failure must reach Git as "error", not a hang
        print(f"gitgov: {exc if isinstance(exc, CryptoError) else repr(exc)}", file=err)
        if started:
            wr.end_content()
        wr.text("status=error")
    wr.done()


def _make_filter(err: IO[str]):
    def make() -> Filter | Exception:
        try:
            from ..config import load_policy
            from ..git import Repo
            from ..keys import KeyStore

            repo = Repo.discover(".")
            return Filter(repo, load_policy(repo.policy_path), KeyStore.for_repo(repo), err)
        except Exception as exc:  # noqa: BLE001 - reported per file, as Git expects
            return exc
    return make


# ---- textconv ------------------------------------------------------------------------

def textconv(path: str, out: BinaryIO, err: IO[str]) -> int:
    """Plain text of an encrypted blob for `git diff`; a note instead when it is locked."""
    from ..git import Repo
    from ..keys import KeyStore

    with open(path, "rb") as src:
        if src.read(len(MAGIC)) != MAGIC:
            src.seek(0)
            out.write(src.read())
            return 0
        src.seek(0)
        header = read_header(src, "this version")
        try:
            key = KeyStore.for_repo(Repo.discover(".")).key_by_id(header.key_id, "this version")
        except CryptoError as exc:  # no key, or a damaged key store: `git log -p` goes on
            out.write(f"[gitgov: encrypted; {exc}]\n".encode())
            return 0
        verify_stream(src, key, header, "this version")  # nothing is shown unless all of it is authentic
        src.seek(HEADER.size)
        decrypt_stream(src, out.write, key, header, "this version")
    return 0


# ---- setting a repository up ----------------------------------------------------------

def attribute_pattern(glob: str) -> str:
    """A gitgov glob as a .gitattributes pattern (which differ on paths without '/')."""
    if glob.endswith("/"):
        glob += "**"
    pattern = glob if "/" in glob else "/" + glob
    # Whitespace ends a pattern there, and a leading '#', '!' or '"' would make the line a
    # comment, a negation or a quoted name: each is written so that it stands for itself.
    pattern = pattern.replace(" ", "[[:space:]]").replace("\t", "[[:space:]]")
    if pattern[:1] in ("#", "!"):
        return "\\" + pattern
    return '["]' + pattern[1:] if pattern[:1] == '"' else pattern


def attributes_block(policy: "Policy") -> list[str]:
    lines = [f"{attribute_pattern(g)} filter={DRIVER} diff={DRIVER}"
             for ds in policy.datasets.values() if ds.encrypt == "file" for g in ds.paths]
    return [BLOCK_BEGIN, *lines, BLOCK_END] if lines else []


def _write_attributes(root: Path, block: list[str]) -> bool:
    path = root / ".gitattributes"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    lines = old.splitlines()
    if BLOCK_BEGIN in lines and BLOCK_END in lines:
        start, end = lines.index(BLOCK_BEGIN), lines.index(BLOCK_END)
        lines[start:end + 1] = block
    elif block:
        lines += ([""] if lines and lines[-1] else []) + block
    new = "\n".join(lines) + "\n" if lines else ""
    if new == old:
        return False
    from ..atomic import rewrite

    rewrite(path, new.encode("utf-8"))
    return True


def _command(python: str, *args: str) -> str:
    return " ".join(shlex.quote(a) for a in (python, "-m", "gitgov.core.crypto.gitfilter", *args))


def configure_repo(repo: "Repo", policy: "Policy", python: str | None = None) -> list[str]:
    """Git config and .gitattributes for datasets with encrypt = "file"; what changed."""
    block = attributes_block(policy)
    attributes = repo.root / ".gitattributes"
    if not block and not (attributes.exists() and BLOCK_BEGIN in attributes.read_text("utf-8")):
        return []
    python = str(Path(python or sys.executable).absolute())
    wanted = {f"filter.{DRIVER}.process": _command(python, "process"),
              f"filter.{DRIVER}.required": "true",
              f"diff.{DRIVER}.textconv": _command(python, "textconv")}
    done = []
    changed = False
    for key, value in wanted.items():
        current = repo.git("config", "--local", "--get", key, check=False).decode().strip()
        if current != value:
            repo.git("config", "--local", key, value)
            changed = True
    if changed:
        done.append(f"configured the Git filter '{DRIVER}' (encrypts datasets with encrypt = \"file\")")
    if _write_attributes(repo.root, block):
        done.append(f".gitattributes: {len(block) - 2} encrypted path pattern(s)" if block
                    else ".gitattributes: removed the encrypted paths block")
    return done


def setup_encryption(repo: "Repo", policy: "Policy") -> list[str]:
    """What `gitgov init` does for encryption: the master key, the filter, .gitattributes."""
    from ..keys import KeyStore

    done = []
    if not repo.bare and KeyStore.for_repo(repo).create_master():
        done.append("created the master key .gitgov/keys/master.key (back it up: "
                    "`gitgov keys export`)")
    if not repo.bare:
        done += configure_repo(repo, policy)
        locked = locked_paths(repo)
        if locked:
            done.append(f"{len(locked)} encrypted file(s) in the working tree are ciphertext; with "
                        "the key (`gitgov keys import FILE --passphrase-file P`, or GITGOV_KEY) "
                        "run `gitgov unlock`")
    return done


def encrypted_paths(repo: "Repo") -> list[str]:
    """Tracked paths whose attributes send them through the gitgov filter."""
    files = repo.git("ls-files", "-z")
    if not files:
        return []
    out = repo.git("check-attr", "-z", "--stdin", "filter", input=files).split(b"\0")
    return [out[i].decode("utf-8", "surrogateescape") for i in range(0, len(out) - 2, 3)
            if out[i + 2] == DRIVER.encode()]


def locked_paths(repo: "Repo") -> list[str]:
    """Encrypted paths whose working-tree file is still ciphertext."""
    locked = []
    for rel in encrypted_paths(repo):
        try:
            with open(repo.root / rel, "rb") as f:
                if f.read(len(MAGIC)) == MAGIC:
                    locked.append(rel)
        except OSError:
            continue  # deleted or unreadable: nothing to unlock
    return locked


def main(argv: list[str]) -> int:
    err = sys.stderr
    if argv[:1] == ["process"]:
        stdin = sys.stdin.buffer
        stdout = io.BufferedWriter(io.FileIO(sys.stdout.fileno(), "wb", closefd=False), 1 << 20)
        return serve(stdin, stdout, _make_filter(err), err)
    if len(argv) == 2 and argv[0] == "textconv":
        try:
            return textconv(argv[1], sys.stdout.buffer, err)
        except CryptoError as exc:
            print(f"gitgov: {exc}", file=err)
            return 2
    print("usage: python -m gitgov.core.crypto.gitfilter process | textconv FILE", file=err)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
