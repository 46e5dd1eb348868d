"""Whole-file encryption through the Git filter, and the keys, with real git and the real CLI."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import git, gitgov, write

POLICY = """\
[datasets.vault]
paths = ["data/vault/**"]
encrypt = "file"

[plugins]
timeout = 20
"""
CANARY = "canary-7f3a9c-plaintext"


TEMPLATE_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
                "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.com",
                "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.com"}


@pytest.fixture(scope="module")
def enc_template(tmp_path_factory) -> Path:
    """One initialized repository with a committed encrypted file, copied for each test."""
    base = tmp_path_factory.mktemp("enc")
    path = base / "repo"
    env = {**os.environ, **TEMPLATE_ENV, "HOME": str(base)}
    git(base, "init", "-q", "-b", "main", str(path), env=env)
    write(path, "gitgov.toml", POLICY)
    gitgov(path, "init", check=True, env=env)
    gitgov(path, "crypt", "setup", check=True, env=env)
    write(path, "data/vault/notes.csv", f"id,secret\n1,{CANARY}\n")
    git(path, "add", "gitgov.toml", ".gitignore", ".gitattributes", "data", env=env)
    git(path, "commit", "-q", "-m", "encrypted data", env=env)
    return path


@pytest.fixture
def enc_repo(enc_template, tmp_path) -> Path:
    path = tmp_path / "repo"
    shutil.copytree(enc_template, path, symlinks=True)
    return path


def blob(repo: Path, spec: str) -> bytes:
    return subprocess.run(["git", "cat-file", "blob", spec], cwd=repo, capture_output=True,
                          check=True).stdout


def all_objects(repo: Path) -> bytes:
    return subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=repo,
                          capture_output=True, check=True).stdout


def test_setup_writes_filter_attributes_and_a_private_master_key(enc_repo):
    keys = enc_repo / ".gitgov" / "keys"
    assert stat.S_IMODE(os.stat(keys / "master.key").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(keys).st_mode) == 0o700
    assert "data/vault/** filter=gitgov diff=gitgov" in (enc_repo / ".gitattributes").read_text()
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(enc_repo / ".gitattributes").st_mode) == 0o666 & ~umask  # not private
    config = git(enc_repo, "config", "--local", "--get-regexp", "gitgov").stdout
    assert "filter.gitgov.process" in config and "filter.gitgov.required true" in config
    assert git(enc_repo, "check-ignore", ".gitgov/keys/master.key").returncode == 0
    again = gitgov(enc_repo, "crypt", "setup", check=True)
    assert "nothing changed" in again.stdout


def test_no_plaintext_canary_in_the_object_database(enc_repo):
    assert CANARY.encode() not in all_objects(enc_repo)
    assert blob(enc_repo, "HEAD:data/vault/notes.csv").startswith(b"\x00GITGOV\x00")
    assert CANARY in (enc_repo / "data/vault/notes.csv").read_text()  # the working tree is plain


def test_git_status_shows_no_spurious_change_and_diff_shows_plain_text(enc_repo):
    path = enc_repo / "data/vault/notes.csv"
    os.utime(path, (1, 1))  # stat changed: git must re-clean, and gets the same bytes
    assert git(enc_repo, "status", "--porcelain").stdout == ""
    path.write_text(f"id,secret\n1,{CANARY}\n2,second-row\n")
    diff = git(enc_repo, "diff").stdout
    assert "+2,second-row" in diff and CANARY in diff


def test_many_files_use_one_filter_process(enc_repo):
    for i in range(40):
        write(enc_repo, f"data/vault/part-{i:03d}.csv", f"id\n{i}\n")
    env = {**os.environ, "GIT_TRACE": "1"}
    proc = git(enc_repo, "add", "data/vault", env=env)
    starts = [line for line in proc.stderr.splitlines() if "gitgov.core.crypto.gitfilter" in line
              and "run_command" in line]
    assert len(starts) == 1, proc.stderr[-2000:]
    assert all(blob(enc_repo, f":data/vault/part-{i:03d}.csv").startswith(b"\x00GITGOV")
               for i in (0, 39))


def test_a_clone_without_the_key_stays_encrypted_and_cannot_commit_plaintext(enc_repo, tmp_path):
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(enc_repo), str(clone))
    gitgov(clone, "init", check=True)  # a fresh master key: not the one the data needs
    out = gitgov(clone, "crypt", "setup", check=True)
    path = clone / "data/vault/notes.csv"
    path.unlink()
    proc = git(clone, "checkout", "--", "data/vault/notes.csv")
    assert path.read_bytes().startswith(b"\x00GITGOV\x00")
    assert "wrong key: data/vault/notes.csv is encrypted with key" in proc.stderr
    assert "gitgov keys import" in proc.stderr and "gitgov unlock" in proc.stderr
    assert git(clone, "status", "--porcelain").stdout == ""
    erase = gitgov(clone, "erase", "--subject", "id=1", "--dry-run")  # rows are not read from ciphertext
    assert erase.returncode == 2 and erase.stderr.startswith(
        "gitgov: data/vault/notes.csv: encrypted, and this clone holds no key to read it; import the key")
    wrong = gitgov(clone, "crypt", "decrypt", str(path), str(tmp_path / "plain.csv"))
    assert wrong.returncode == 2 and wrong.stdout == "" and wrong.stderr.count("\n") == 1
    assert wrong.stderr.startswith(f"gitgov: wrong key: {path} is encrypted with key ")
    assert ", you hold no data keys (master " in wrong.stderr and not (tmp_path / "plain.csv").exists()
    path.write_text("id,secret\n1,leaked-plaintext\n")
    refused = git(clone, "add", "data/vault/notes.csv", check=False)
    assert refused.returncode != 0
    assert "refusing to add data/vault/notes.csv in plain text" in refused.stderr
    assert "wrong key: data/vault/notes.csv is encrypted with key" in refused.stderr
    assert b"leaked-plaintext" not in all_objects(clone)
    assert "1 encrypted file(s) in the working tree are ciphertext" in out.stdout
    assert "gitgov keys import" in out.stdout and "gitgov unlock" in out.stdout


def test_export_import_and_unlock_a_clone(enc_repo, tmp_path):
    secret = write(tmp_path, "pass.txt", "correct horse battery staple\n")
    export = tmp_path / "keys.export"
    gitgov(enc_repo, "keys", "export", str(export), "--passphrase-file", str(secret), check=True)
    assert CANARY.encode() not in export.read_bytes()
    assert stat.S_IMODE(os.stat(export).st_mode) == 0o600
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(enc_repo), str(clone))
    gitgov(clone, "init", check=True)
    gitgov(clone, "crypt", "setup", check=True)
    wrong = write(tmp_path, "wrong.txt", "not the passphrase\n")
    bad = gitgov(clone, "keys", "import", str(export), "--passphrase-file", str(wrong))
    assert bad.returncode == 2 and "wrong passphrase" in bad.stderr and bad.stderr.count("\n") == 1
    gitgov(clone, "keys", "import", str(export), "--passphrase-file", str(secret), check=True)
    gitgov(clone, "unlock", check=True)
    assert CANARY in (clone / "data/vault/notes.csv").read_text()
    assert git(clone, "status", "--porcelain").stdout == ""


def test_unlock_changes_nothing_when_a_locked_file_is_damaged_or_edited(enc_repo, tmp_path):
    write(enc_repo, "data/vault/more.csv", "id\n2\n")
    git(enc_repo, "add", "data/vault/more.csv")
    git(enc_repo, "commit", "-q", "-m", "more")
    secret = write(tmp_path, "pass.txt", "correct horse battery staple\n")
    gitgov(enc_repo, "keys", "export", str(tmp_path / "k"), "--passphrase-file", str(secret), check=True)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(enc_repo), str(clone))
    gitgov(clone, "init", check=True)
    gitgov(clone, "keys", "import", str(tmp_path / "k"), "--passphrase-file", str(secret), check=True)
    more, notes = clone / "data/vault/more.csv", clone / "data/vault/notes.csv"
    locked = more.read_bytes()
    more.write_bytes(locked + b"edited by hand")
    out = gitgov(clone, "unlock")
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "data/vault/more.csv: changed by hand while encrypted" in out.stderr
    assert more.read_bytes() == locked + b"edited by hand"  # the edit is not thrown away
    more.write_bytes(locked)
    bad = bytearray(notes.read_bytes())
    bad[-5] ^= 1
    forged = write(tmp_path, "forged.bin", bytes(bad))
    oid = git(clone, "hash-object", "-w", "--no-filters", str(forged)).stdout.strip()
    git(clone, "update-index", "--cacheinfo", f"100644,{oid},data/vault/notes.csv")
    notes.write_bytes(bytes(bad))
    out = gitgov(clone, "unlock")
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "data/vault/notes.csv: chunk 0" in out.stderr and "failed to authenticate" in out.stderr
    assert more.read_bytes() == locked and notes.read_bytes() == bytes(bad)  # nothing deleted


def test_an_export_into_a_missing_folder_is_one_line_and_records_nothing(enc_repo, tmp_path):
    secret = write(tmp_path, "pass.txt", "correct horse battery staple\n")
    target = tmp_path / "no-such-folder" / "keys.export"
    proc = gitgov(enc_repo, "keys", "export", str(target), "--passphrase-file", str(secret))
    assert proc.returncode == 2
    assert proc.stderr == f"gitgov: cannot write {target}: No such file or directory\n"
    assert not target.parent.exists()
    log = gitgov(enc_repo, "log", "--json", check=True).stdout
    assert "keys_exported" not in log


def test_gitgov_key_in_ci(enc_repo, tmp_path):
    token = gitgov(enc_repo, "keys", "export", "--env", check=True).stdout.strip()
    assert token.startswith("gitgov-key-v1:")
    clone = tmp_path / "ci"
    git(tmp_path, "clone", "-q", str(enc_repo), str(clone))
    env = {**os.environ, "GITGOV_KEY": token}
    gitgov(clone, "crypt", "setup", check=True, env=env)
    gitgov(clone, "unlock", check=True, env=env)
    assert CANARY in (clone / "data/vault/notes.csv").read_text()
    assert git(clone, "status", "--porcelain", env=env).stdout == ""


def test_rotation_keeps_old_versions_readable(enc_repo, tmp_path):
    before = json.loads(gitgov(enc_repo, "keys", "list", "--json", check=True).stdout)
    gitgov(enc_repo, "keys", "rotate", check=True)
    after = json.loads(gitgov(enc_repo, "keys", "list", "--json", check=True).stdout)
    assert before["master"] != after["master"] and before["datasets"] == after["datasets"]
    out = gitgov(enc_repo, "keys", "rotate", "--dataset", "vault", check=True)
    assert "still decrypts older versions" in out.stdout
    write(enc_repo, "data/vault/new.csv", "id\n2\n")
    git(enc_repo, "add", "data/vault/new.csv")
    git(enc_repo, "commit", "-q", "-m", "new key")
    ids = [e["id"] for e in json.loads(gitgov(enc_repo, "keys", "list", "--json").stdout)["datasets"]["vault"]]
    new_blob = blob(enc_repo, "HEAD:data/vault/new.csv")
    assert len(ids) == 2 and bytes.fromhex(ids[1]) in new_blob
    (enc_repo / "data/vault/notes.csv").unlink()
    git(enc_repo, "checkout", "--", "data/vault/notes.csv")
    assert CANARY in (enc_repo / "data/vault/notes.csv").read_text()
    kinds = gitgov(enc_repo, "log", "-n", "20").stdout
    assert "master_key_rotated" in kinds and "dataset_key_rotated" in kinds


def test_after_a_dataset_key_rotation_unchanged_files_are_not_changes(enc_repo):
    old_blob = blob(enc_repo, "HEAD:data/vault/notes.csv")
    git(enc_repo, "checkout", "-q", "-b", "side")
    gitgov(enc_repo, "keys", "rotate", "--dataset", "vault", check=True)
    path = enc_repo / "data/vault/notes.csv"
    os.utime(path, (1, 1))  # stat changed: git re-cleans the file, which must give the old bytes
    assert git(enc_repo, "status", "--porcelain").stdout == ""
    write(enc_repo, "data/vault/other.csv", "id\n2\n")
    git(enc_repo, "add", "-A", "data/vault")
    git(enc_repo, "commit", "-q", "-m", "other")
    assert blob(enc_repo, "HEAD:data/vault/notes.csv") == old_blob  # no re-encryption committed
    os.utime(path, (2, 2))
    assert git(enc_repo, "checkout", "-q", "main", check=False).returncode == 0
    path.write_text(f"id,secret\n1,{CANARY}\n2,changed\n")
    git(enc_repo, "add", "data/vault/notes.csv")
    ids = [e["id"] for e in json.loads(gitgov(enc_repo, "keys", "list", "--json").stdout)["datasets"]["vault"]]
    assert bytes.fromhex(ids[-1]) in blob(enc_repo, ":data/vault/notes.csv")  # a change: the new key


def test_a_garbled_master_key_leaves_a_checkout_whole_and_encrypted(enc_repo):
    git(enc_repo, "checkout", "-q", "-b", "side")
    write(enc_repo, "data/vault/notes.csv", f"id,secret\n1,{CANARY}\n2,side\n")
    write(enc_repo, "data/vault/more.csv", "id\n3\n")
    git(enc_repo, "add", "data/vault")
    git(enc_repo, "commit", "-q", "-m", "side")
    git(enc_repo, "checkout", "-q", "main")
    os.utime(enc_repo / "data/vault/notes.csv", (1, 1))  # not racily clean: no clean needed below
    git(enc_repo, "update-index", "-q", "--refresh")
    master = enc_repo / ".gitgov" / "keys" / "master.key"
    good = master.read_bytes()
    master.write_text("not a key\n")
    proc = git(enc_repo, "checkout", "side", check=False)
    assert proc.returncode == 0, proc.stderr
    assert "master.key is not valid base64" in proc.stderr and "gitgov unlock" in proc.stderr
    assert git(enc_repo, "status", "--porcelain").stdout == ""  # whole: nothing missing or changed
    assert (enc_repo / "data/vault/more.csv").read_bytes().startswith(b"\x00GITGOV\x00")
    master.write_bytes(good)
    gitgov(enc_repo, "unlock", check=True)
    assert "2,side" in (enc_repo / "data/vault/notes.csv").read_text()


def test_rotate_with_an_empty_dataset_name_is_refused_and_keeps_the_master_key(enc_repo):
    before = (enc_repo / ".gitgov/keys/master.key").read_bytes()
    proc = gitgov(enc_repo, "keys", "rotate", "--dataset", "")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("gitgov: no dataset named '' in gitgov.toml")
    assert len(proc.stderr.splitlines()) == 1
    assert (enc_repo / ".gitgov/keys/master.key").read_bytes() == before
    assert "master_key_rotated" not in gitgov(enc_repo, "log", "-n", "20").stdout

def test_shred_makes_every_version_unreadable_and_leaves_a_tombstone(enc_repo, tmp_path):
    refused = gitgov(enc_repo, "keys", "shred", "vault")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    shred = gitgov(enc_repo, "keys", "shred", "vault", "--yes", check=True)
    assert "still holds 1 decrypted file(s) of it (data/vault/notes.csv)" in shred.stdout
    path = enc_repo / "data/vault/notes.csv"
    path.unlink()
    proc = git(enc_repo, "checkout", "--", "data/vault/notes.csv")
    assert path.read_bytes().startswith(b"\x00GITGOV\x00")
    assert "was shredded on" in proc.stderr
    old = write(tmp_path, "old.bin", blob(enc_repo, "HEAD:data/vault/notes.csv"))
    out = gitgov(enc_repo, "crypt", "decrypt", str(old), str(tmp_path / "plain.csv"))
    assert out.returncode == 2 and "missing key:" in out.stderr and "shredded" in out.stderr
    assert not (tmp_path / "plain.csv").exists()
    from gitgov.core.ledger import open_ledger
    with open_ledger(enc_repo / ".gitgov" / "ledger.db") as ledger:
        stone = [e for e in ledger.entries(kind="key_shredded")]
    assert len(stone) == 1 and stone[0].payload["dataset"] == "vault"
    assert CANARY not in json.dumps(stone[0].payload) and "wrapped" not in json.dumps(stone[0].payload)


def test_an_empty_file_stays_empty_and_the_tree_stays_clean(enc_repo):
    policy = enc_repo / "gitgov.toml"  # validation would refuse an empty CSV; not the point here
    policy.write_text(policy.read_text().replace("[plugins]\n", '[plugins]\ndisable = ["validation"]\n'))
    write(enc_repo, "data/vault/empty.csv", "")
    git(enc_repo, "add", "gitgov.toml", "data/vault/empty.csv")
    git(enc_repo, "commit", "-q", "-m", "empty")  # pre-commit accepts an empty blob
    assert blob(enc_repo, "HEAD:data/vault/empty.csv") == b""
    assert git(enc_repo, "diff", "--quiet", check=False).returncode == 0
    assert git(enc_repo, "diff", "--stat").stdout == ""
    (enc_repo / "data/vault/empty.csv").unlink()
    git(enc_repo, "checkout", "--", "data/vault/empty.csv")
    assert (enc_repo / "data/vault/empty.csv").read_bytes() == b""


def test_plaintext_staged_without_the_filter_is_blocked(enc_repo):
    write(enc_repo, "data/vault/raw.csv", "id\nplain\n")
    oid = git(enc_repo, "hash-object", "-w", "--no-filters", "data/vault/raw.csv").stdout.strip()
    git(enc_repo, "update-index", "--add", "--cacheinfo", f"100644,{oid},data/vault/raw.csv")
    proc = git(enc_repo, "commit", "-m", "sneak", check=False)
    assert proc.returncode == 1
    assert "encryption/not-encrypted" in proc.stderr and "gitgov crypt setup" in proc.stderr


def test_tampered_object_fails_checkout_naming_the_chunk(enc_repo, tmp_path):
    bad = bytearray(blob(enc_repo, "HEAD:data/vault/notes.csv"))
    bad[-5] ^= 1
    forged = write(tmp_path, "forged.bin", bytes(bad))
    oid = git(enc_repo, "hash-object", "-w", "--no-filters", str(forged)).stdout.strip()
    git(enc_repo, "update-index", "--cacheinfo", f"100644,{oid},data/vault/notes.csv")
    (enc_repo / "data/vault/notes.csv").unlink()
    proc = git(enc_repo, "checkout", "--", "data/vault/notes.csv", check=False)
    assert proc.returncode != 0
    assert "data/vault/notes.csv: chunk 0" in proc.stderr and "failed to authenticate" in proc.stderr
    out = gitgov(enc_repo, "crypt", "decrypt", str(forged), str(tmp_path / "p.csv"))
    assert out.returncode == 2 and out.stdout == "" and out.stderr.count("\n") == 1
    assert not (tmp_path / "p.csv").exists()


def test_truncated_file_and_missing_key_are_one_line_errors(enc_repo, tmp_path):
    big = write(tmp_path, "big.csv", "x" * (3 << 20))
    enc = tmp_path / "big.enc"
    gitgov(enc_repo, "crypt", "encrypt", str(big), str(enc), "--dataset", "vault", check=True)
    cut = write(tmp_path, "cut.enc", enc.read_bytes()[:(1 << 20) + 48])
    out = gitgov(enc_repo, "crypt", "decrypt", str(cut), str(tmp_path / "o.csv"))
    assert out.returncode == 2 and "is truncated: it ends after chunk 0" in out.stderr
    assert out.stderr.count("\n") == 1 and not (tmp_path / "o.csv").exists()
    gitgov(enc_repo, "crypt", "decrypt", str(enc), str(tmp_path / "o.csv"), check=True)
    assert (tmp_path / "o.csv").read_bytes() == big.read_bytes()
    (enc_repo / ".gitgov" / "keys" / "master.key").unlink()
    out = gitgov(enc_repo, "crypt", "decrypt", str(enc), str(tmp_path / "o2.csv"))
    assert out.returncode == 2 and out.stderr.startswith("gitgov: missing key: no master key")


def test_a_mistyped_dataset_mints_no_key_and_an_unwritable_target_is_one_line(enc_repo, tmp_path):
    src = write(tmp_path, "plain.csv", "id\n1\n")
    before = gitgov(enc_repo, "keys", "list", check=True).stdout
    for args in (("crypt", "encrypt", str(src), str(tmp_path / "o.enc"), "--dataset", "vaullt"),
                 ("keys", "rotate", "--dataset", "vaullt")):
        out = gitgov(enc_repo, *args)
        assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
        assert "no dataset named 'vaullt' in gitgov.toml or the key store (datasets: vault" in out.stderr
    assert gitgov(enc_repo, "keys", "list", check=True).stdout == before  # no key was made
    assert not (tmp_path / "o.enc").exists()
    out = gitgov(enc_repo, "crypt", "encrypt", str(src), str(tmp_path / "no" / "o.enc"), "--dataset", "vault")
    assert out.returncode == 2 and out.stderr == f"gitgov: cannot write {tmp_path / 'no' / 'o.enc'}: " \
                                                 "No such file or directory\n"


def test_an_unwritable_target_mints_no_key_for_a_dataset_without_one(enc_repo, tmp_path):
    with open(enc_repo / "gitgov.toml", "a") as f:
        f.write('\n[datasets.archive]\npaths = ["data/archive/**"]\nencrypt = "file"\n')
    src = write(tmp_path, "plain.csv", "id\n1\n")
    before = gitgov(enc_repo, "keys", "list", "--json", check=True).stdout
    out = gitgov(enc_repo, "crypt", "encrypt", str(src), str(tmp_path / "no" / "o.enc"), "--dataset", "archive")
    assert out.returncode == 2 and "cannot write" in out.stderr
    assert gitgov(enc_repo, "keys", "list", "--json", check=True).stdout == before


def test_crypt_decrypt_writes_into_a_pipe_and_through_a_link_without_replacing_them(enc_repo, tmp_path):
    plain = write(tmp_path, "plain.csv", f"id,secret\n1,{CANARY}\n")
    enc = tmp_path / "plain.enc"
    gitgov(enc_repo, "crypt", "encrypt", str(plain), str(enc), "--dataset", "vault", check=True)
    target, link = write(tmp_path, "target.csv", "old\n"), tmp_path / "link.csv"
    link.symlink_to(target)
    gitgov(enc_repo, "crypt", "decrypt", str(enc), str(link), check=True)
    assert link.is_symlink() and target.read_text() == plain.read_text()
    fifo = tmp_path / "pipe"  # as `-o /dev/stdout` is, when the output is piped
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    try:
        out = gitgov(enc_repo, "crypt", "decrypt", str(enc), str(fifo), timeout=10)
        assert out.returncode == 0, out.stderr
        assert reader.communicate(timeout=10)[0] == plain.read_text()
    finally:
        reader.kill()
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_crypt_setup_before_init_says_so_and_makes_no_key(tmp_path):
    root = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(root))
    write(root, "gitgov.toml", '[datasets.vault]\npaths = ["data/vault/**"]\nencrypt = "file"\n')
    proc = gitgov(root, "crypt", "setup")
    assert proc.returncode == 2 and proc.stderr.strip().endswith("run `gitgov init`, which sets up encryption too")
    assert not (root / ".gitgov").exists()  # no master key outside the folder init keeps out of Git


def test_globs_that_mean_something_else_in_gitattributes_still_name_their_files(tmp_path):
    """A leading '#', '!' or '"', a space or a tab: git reads the line as a comment, a
    negation, a quoted name or two fields, and the files would never be encrypted."""
    from gitgov.core.crypto.gitfilter import attribute_pattern

    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", str(repo))
    names = ["#p/f.csv", "!x/f.csv", '"q/f.csv', "a b/f.csv", "t\tab/f.csv"]
    globs = ["#p/**", "!x/*.csv", '"q/*.csv', "a b/*.csv", "t\tab/*.csv"]
    (repo / ".gitattributes").write_text("".join(f"{attribute_pattern(g)} filter=gitgov\n" for g in globs))
    out = git(repo, "check-attr", "-z", "filter", "--", *names).stdout.split("\0")
    assert [(path, value) for path, _attr, value in zip(out[::3], out[1::3], out[2::3])] == \
        [(n, "gitgov") for n in names]
