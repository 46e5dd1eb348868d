"""`gitgov keys ...`, `gitgov unlock` and `gitgov crypt ...`."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from gitgov.core.commands.options import echo_json, json_option, table
from gitgov.core.crypto import short_id
from gitgov.core.errors import InputError


def _store():
    from gitgov.core.git import Repo
    from gitgov.core.keys import KeyStore

    repo = Repo.discover(".")
    return repo, KeyStore.for_repo(repo)


def _known_dataset(repo, store, dataset: str) -> None:
    """A dataset of gitgov.toml, or one that already has keys: a typo must not mint a new key."""
    from gitgov.core.config import load_policy

    declared = list(load_policy(repo.policy_path).datasets)
    if dataset in declared or dataset in store.datasets():
        return
    raise InputError(f"no dataset named '{dataset}' in gitgov.toml or the key store "
                     f"(datasets: {', '.join(declared) or 'none'})")


def _passphrase(path: str) -> bytes:
    try:
        text = Path(path).read_bytes().splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the passphrase file: {exc.strerror}") from None
    if not text or len(text[0]) < 8:
        raise InputError(f"{path}: the passphrase (its first line) must have 8 characters or more")
    return text[0]


passphrase_option = click.option("--passphrase-file", required=True, type=click.Path(dir_okay=False),
                                 help="A file whose first line is the passphrase.")


@click.group("keys")
def keys_group() -> None:
    """The repository master key and the datasets' data keys."""


@keys_group.command("list")
@json_option
def keys_list(as_json: bool) -> int:
    """Key ids (never keys): the master key, each dataset's data keys, shredded keys."""
    repo, store = _store()
    ring = store.ring()
    source = "GITGOV_KEY" if store.env_token else str(store.master_path.relative_to(repo.root))
    if as_json:
        echo_json({"master": store.master_id, "source": source, "datasets": ring["datasets"] and {
            ds: [{k: e[k] for k in ("id", "created")} for e in es] for ds, es in ring["datasets"].items()},
            "shredded": ring.get("shredded", [])})
        return 0
    click.echo(f"master key {short_id(store.master_id)} ({source})")
    rows = [[ds, short_id(e["id"]), e["created"][:19], "active" if i == len(es) - 1 else "older versions"]
            for ds, es in ring["datasets"].items() for i, e in enumerate(es)]
    rows += [[s["dataset"], short_id(i), s["time"][:19], "shredded"] for s in ring.get("shredded", [])
             for i in s["ids"]]
    if rows:
        click.echo(table(rows, ["dataset", "key", "created", "state"]))
    return 0


@keys_group.command("export")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--passphrase-file", type=click.Path(dir_okay=False),
              help="A file whose first line is the passphrase.")
@click.option("--env", "as_env", is_flag=True, help="Print a GITGOV_KEY token for CI instead.")
def keys_export(file: str | None, passphrase_file: str | None, as_env: bool) -> int:
    """Write the keys to FILE, encrypted with a passphrase (scrypt), to share or back up."""
    from gitgov.core.crypto.audit import record

    repo, store = _store()
    if as_env:
        click.echo(store.env_line())
        click.echo("gitgov: store this line as the secret GITGOV_KEY; it is the key itself", err=True)
        record(repo, "keys_exported", store.master_id, {"master_id": store.master_id, "to": "env"})
        return 0
    if not file or not passphrase_file:
        raise click.UsageError("give FILE and --passphrase-file, or --env")
    from gitgov.core.atomic import replacing

    text = store.export(_passphrase(passphrase_file))
    with replacing(file) as tmp:  # private (0600), and never half an export
        Path(tmp).write_text(text, encoding="utf-8")
    record(repo, "keys_exported", store.master_id, {"master_id": store.master_id, "to": "file"})
    click.echo(f"gitgov: exported master key {short_id(store.master_id)} and "
               f"{sum(len(es) for es in store.datasets().values())} data key(s) to {file}")
    return 0


@keys_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@passphrase_option
@click.option("--force", is_flag=True, help="Replace the keys here, dropping those the file lacks.")
def keys_import(file: str, passphrase_file: str, force: bool) -> int:
    """Install keys exported by `gitgov keys export`, then run `gitgov unlock`."""
    from gitgov.core.crypto.audit import record

    repo, store = _store()
    try:
        text = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{file}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    master = store.import_(text, _passphrase(passphrase_file), file, force=force)
    record(repo, "keys_imported", master, {"master_id": master, "force": force})
    click.echo(f"gitgov: imported master key {short_id(master)}; run `gitgov unlock` to decrypt "
               "encrypted files in the working tree")
    return 0


@keys_group.command("rotate")
@click.option("--dataset", help="Give this dataset a new data key instead.")
def keys_rotate(dataset: str | None) -> int:
    """Re-wrap every data key under a new master key, or renew one dataset's data key."""
    from gitgov.core.crypto.audit import record

    repo, store = _store()
    if dataset is not None:  # --dataset "" is a dataset name that is wrong, not a master rotation
        _known_dataset(repo, store, dataset)
        old, new = store.rotate_dataset(dataset)
        record(repo, "dataset_key_rotated", dataset, {"dataset": dataset, "old": old, "new": new})
        click.echo(f"gitgov: dataset '{dataset}' now encrypts new versions with key {short_id(new)}"
                   + (f"; key {short_id(old)} still decrypts older versions" if old else ""))
        return 0
    old, new = store.rotate_master()
    record(repo, "master_key_rotated", new, {"old": old, "new": new})
    click.echo(f"gitgov: master key {short_id(old)} -> {short_id(new)}; data keys re-wrapped. "
               "Copies exported before this still open with the old master key: export again "
               "and share the new file")
    return 0


@keys_group.command("shred")
@click.argument("dataset")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def keys_shred(dataset: str, yes: bool) -> int:
    """Destroy a dataset's data keys: every version encrypted with them becomes unreadable."""
    from gitgov.core.crypto.audit import record

    repo, store = _store()
    if not yes:
        if not sys.stdin.isatty():
            raise InputError("shredding cannot be undone; pass --yes to confirm")
        click.confirm(f"Destroy every data key of dataset '{dataset}'? This cannot be undone",
                      abort=True)
    ids = store.shred(dataset)
    record(repo, "key_shredded", dataset, {"dataset": dataset, "key_ids": ids})
    click.echo(f"gitgov: shredded {len(ids)} data key(s) of dataset '{dataset}' "
               f"({', '.join(short_id(i) for i in ids)}); every copy encrypted with them is now "
               "unreadable here. Key exports made before this still hold them: delete those")
    plain = _plain_copies(repo, dataset)
    if plain:
        click.echo(f"gitgov: the working tree still holds {len(plain)} decrypted file(s) of it "
                   f"({', '.join(plain[:3])}{', ...' if len(plain) > 3 else ''}); delete them too")
    return 0


def _plain_copies(repo, dataset: str) -> list[str]:
    """Decrypted working-tree files of a dataset encrypted as whole files."""
    from gitgov.core.config import load_policy
    from gitgov.core.crypto.gitfilter import encrypted_paths, locked_paths

    policy = load_policy(repo.policy_path)
    locked = set(locked_paths(repo))
    return [p for p in encrypted_paths(repo) if p not in locked and (repo.root / p).is_file()
            and (ds := policy.dataset_for(p)) is not None and ds.name == dataset]


# ---- unlock ----------------------------------------------------------------------------------

@click.command("unlock")
def unlock_cmd() -> int:
    """Decrypt the encrypted files of the working tree after `gitgov keys import`."""
    from gitgov.core.config import load_policy
    from gitgov.core.crypto.gitfilter import configure_repo, locked_paths

    repo, store = _store()
    configure_repo(repo, load_policy(repo.policy_path))  # the filter must be there to decrypt
    locked = locked_paths(repo)
    staged = repo.staged_blobs()
    for rel in locked:  # every file is checked before any changes: the checkout cannot stop half-way
        _check_unlockable(repo, store, rel, staged.get(rel))
    if not locked:
        click.echo("gitgov: nothing to unlock; encrypted files are already plain text here")
        return 0
    for rel in locked:
        (repo.root / rel).unlink()
    repo.git("checkout", "--", *locked)
    click.echo(f"gitgov: decrypted {len(locked)} file(s)")
    return 0


def _check_unlockable(repo, store, rel: str, blob: str | None) -> None:
    """The file is the staged ciphertext, untouched, and every chunk of it authenticates.

    Unlock deletes each file and checks it out again: a file edited by hand would be lost,
    and a damaged one would stop `git checkout` with the files after it deleted.
    """
    from gitgov.core.crypto.fileformat import read_header, verify_stream

    with open(repo.root / rel, "rb") as f:
        if blob is None or not _same_bytes(f, repo.open_blob(blob)):
            raise InputError(f"{rel}: changed by hand while encrypted (it is not the staged "
                             f"ciphertext); nothing was unlocked; `git checkout -- {rel}` restores it")
        f.seek(0)
        header = read_header(f, rel)
        verify_stream(f, store.key_by_id(header.key_id, rel), header, rel)


def _same_bytes(f, stream) -> bool:
    with stream:
        while True:
            a, b = f.read(1 << 20), stream.read(1 << 20)
            if a != b:
                return False
            if not a:
                return True


# ---- crypt -------------------------------------------------------------------------------------

@click.group("crypt")
def crypt_group() -> None:
    """Encrypt and decrypt whole files in gitgov's format, outside Git."""


@crypt_group.command("setup")
def crypt_setup() -> int:
    """Create the master key and set up the Git filter for datasets with encrypt = "file".

    `gitgov init` does this too; run it after adding encrypt = "file" to a dataset.
    """
    from gitgov.core.config import load_policy
    from gitgov.core.crypto.gitfilter import setup_encryption

    repo, _store_ = _store()
    from gitgov.core.keys import ENV_VAR

    # Without init, nothing keeps .gitgov/ (a new master key) out of Git; in CI the key
    # comes from GITGOV_KEY and nothing is written.
    if not repo.ledger_path.exists() and not os.environ.get(ENV_VAR):
        raise InputError(f"no ledger at {repo.ledger_path}; run `gitgov init`, which sets up encryption too")
    done = setup_encryption(repo, load_policy(repo.policy_path))
    for line in done:
        click.echo(f"gitgov: {line}")
    if not done:
        click.echo("gitgov: encryption is set up; nothing changed")
    return 0


@crypt_group.command("encrypt")
@click.argument("src", type=click.Path(dir_okay=False, exists=True))
@click.argument("dst", type=click.Path(dir_okay=False))
@click.option("--dataset", required=True, help="Whose data key encrypts it.")
def crypt_encrypt(src: str, dst: str, dataset: str) -> int:
    """Encrypt SRC to DST with the dataset's data key (deterministic, chunked, authenticated)."""
    from gitgov.core.crypto.fileformat import encrypt_stream

    repo, store = _store()
    _known_dataset(repo, store, dataset)
    with open(src, "rb", buffering=0) as fin:  # the key is minted once dst can be written
        _atomic(dst, lambda fout: encrypt_stream(fin, fout.write, store.active_key(dataset, create=True)))
    return 0


@crypt_group.command("decrypt")
@click.argument("src", type=click.Path(dir_okay=False, exists=True))
@click.argument("dst", type=click.Path(dir_okay=False))
def crypt_decrypt(src: str, dst: str) -> int:
    """Decrypt SRC to DST; DST appears only if every chunk authenticates."""
    from gitgov.core.crypto.fileformat import decrypt_stream, read_header

    _repo, store = _store()
    with open(src, "rb", buffering=0) as fin:
        header = read_header(fin, src)
        key = store.key_by_id(header.key_id, src)
        _atomic(dst, lambda fout: decrypt_stream(fin, fout.write, key, header, src))
    return 0


def _atomic(dst: str, fill) -> None:
    from gitgov.core.atomic import replacing

    with replacing(dst) as tmp, open(tmp, "wb", buffering=1 << 20) as fout:
        fill(fout)
