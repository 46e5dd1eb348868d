"""The demo's privacy story: personal data blocked, declared, protected, revealed, shredded.

Each function is one demo step (see core/demo.py); they run in this order,
after the repository is set up, and need the `contacts` dataset that
sample_repo/gitgov.toml declares.
"""
from __future__ import annotations

import random
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .demo import Demo

CONTACTS = "data/raw/contacts.csv"
DOMAIN = "mail.example.net"  # only the contacts file uses it, so grep finds nothing else
DECLARATIONS = """
[datasets.contacts.columns.email]
pii = "email"
protect = "encrypt"          # AES-GCM per value; `gitgov reveal` decrypts for key holders

[datasets.contacts.columns.phone]
pii = "phone"
protect = "mask"             # +44 ** **** **67: enough to recognise, not to call
"""


def contacts_csv(rows: int = 200, seed: int = 11) -> str:
    rnd = random.Random(seed)
    first = ("ada", "grace", "alan", "edsger", "barbara", "donald", "frances", "ken")
    lines = ["customer_id,email,phone,preferred_channel"]
    for i in range(1, rows + 1):
        name = f"{rnd.choice(first)}.{i}"
        lines.append(f"C{i:05d},{name}@{DOMAIN},+44 20 7946 {rnd.randint(1000, 9999)},"
                     f"{rnd.choice(['email', 'phone', 'none'])}")
    return "\n".join(lines) + "\n"


def pii_blocked(d: "Demo") -> None:
    d.step("Personal data is stopped at the door",
           "A support export with customers' email addresses and phone numbers is staged. The "
           "privacy plugin samples every column of the staged bytes, recognises both kinds, and "
           "blocks the commit because gitgov.toml does not say how they are protected.")
    if not (d.root / ".gitgov" / "keys" / "master.key").exists():
        d.run("gitgov", "crypt", "setup")  # the repository master key
    d.write(CONTACTS, contacts_csv())
    d.run("gitgov", "scan", CONTACTS, expect=1)
    d.run("git", "add", CONTACTS)
    d.run("git", "commit", "-m", "Add customer contacts", expect=1)


def pii_protected(d: "Demo") -> None:
    d.step("Declared and protected, the commit passes",
           "The steward declares both columns in gitgov.toml: emails are encrypted value by value "
           "with the dataset's own data key, phone numbers are masked. `gitgov protect` applies "
           "that; each encrypted value names its key and is bound to its row and column.")
    with open(d.root / "gitgov.toml", "a", encoding="utf-8") as f:
        f.write(DECLARATIONS)
    d.run("gitgov", "protect", CONTACTS, "--in-place")
    d.run("head", "-3", CONTACTS)
    d.run("git", "add", "gitgov.toml", CONTACTS)
    d.run("git", "commit", "-m", "Add customer contacts, protected")


def no_plain_emails(d: "Demo") -> None:
    d.step("Git holds no plain email address",
           "`git add` had already written the blocked bytes as a loose object before the hook ran; "
           "nothing refers to it, so `git prune` removes it (it is never pushed either). Then not "
           "one object in the database contains an address of the contacts file. A key holder can "
           "still read them, and the ledger records who did.")
    d.run("git", "prune", "--expire=now")
    d.run("sh", "-c", f"git cat-file --batch-all-objects --batch | grep -c '@{DOMAIN}'", expect=1)
    d.run("gitgov", "reveal", CONTACTS, "--limit", "3")
    d.run("gitgov", "log", "-n", "1")


def key_shredded(d: "Demo") -> None:
    d.step("Crypto-shredding",
           "The contacts must be erased. Rewriting Git history everywhere is not possible, so the "
           "dataset's data key is destroyed instead: every copy of every version, in every clone "
           "and backup, becomes unreadable. The ledger keeps a tombstone with key ids only.")
    d.run("gitgov", "keys", "shred", "contacts", "--yes")
    d.run("gitgov", "reveal", CONTACTS, "--rev", "HEAD", "--limit", "3", expect=2)
    d.run("gitgov", "log", "-n", "1")


STEPS: tuple[Callable[["Demo"], None], ...] = (pii_blocked, pii_protected, no_plain_emails, key_shredded)
