"""The data-quality part of `gitgov demo`: steps that core/demo.py runs after its own.

A new nightly CRM export with problems is blocked at commit with the report;
`gitgov check --quarantine` splits it into the rows that pass and those that
fail; the clean rows are committed; `gitgov quality` shows the history; a
tightened rule is checked against the committed data.
Each step is a function of the Demo (core/demo.py), run after the step that
committed data/raw/customers.csv.
"""
from __future__ import annotations

import csv
import io
import shutil
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .demo import Demo

CUSTOMERS = "data/raw/customers.csv"
# New customers of the next export; four rows break a rule each.
NEW_ROWS = (
    ("C00301", "ines.lovelace301@example.com", "2024-07-02", "ES", "34", "basic", "12.90", "0"),
    ("C00302", "omar.ritchie302@example", "2024-07-03", "FR", "41", "free", "0.00", "0"),
    ("C00303", "lena.knuth303@example.com", "2024-07-03", "DE", "212", "pro", "54.10", "0"),
    ("C00304", "tariq.hopper304@example.com", "2024-07-04", "NL", "29", "platinum", "99.00", "0"),
    ("C00017", "mia.kernighan305@example.com", "2024-07-05", "SE", "52", "basic", "18.20", "0"),
    ("C00306", "noor.lamport306@example.com", "2024-07-05", "IT", "47", "enterprise", "210.00", "0"),
)


def dirty_export(existing: str) -> str:
    """The committed customers plus the new rows, as the CRM would export them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(NEW_ROWS)
    return existing.rstrip("\n") + "\n" + out.getvalue()


def dirty_export_blocked(d: "Demo") -> None:
    d.step("A dirty export is blocked", "The nightly CRM export brings six new customers. Four "
           "of them break the rules of the customers dataset in gitgov.toml. pre-commit checks the "
           "staged bytes and reports each failing rule with its row numbers and values.")
    path = d.root / CUSTOMERS
    path.write_text(dirty_export(path.read_text(encoding="utf-8")), encoding="utf-8")
    d.run("git", "add", CUSTOMERS)
    d.run("git", "commit", "-m", "Nightly CRM export", expect=1)


def quarantine_split(d: "Demo") -> None:
    d.step("Quarantine the failing rows", "`gitgov check --quarantine` writes the rows that pass "
           "and the rows that fail into two files, at the export's place under quarantine/, in "
           "the source format, with the broken rules on each failing row. The export itself is "
           "not changed.")
    d.run("gitgov", "check", CUSTOMERS, "--quarantine", "quarantine", expect=1)
    d.run("cat", "quarantine/data/raw/customers.failed.csv")


def clean_commit(d: "Demo") -> None:
    d.step("The clean rows are committed", "The passing rows replace the export; the commit "
           "passes, and the version's profile and metrics are recorded in the ledger.")
    shutil.copyfile(d.root / "quarantine" / "data/raw/customers.passed.csv", d.root / CUSTOMERS)
    d.run("git", "add", CUSTOMERS)
    d.run("git", "commit", "-q", "-m", "Nightly CRM export (clean rows; 4 rows in quarantine)")


def quality_history(d: "Demo") -> None:
    d.step("Quality over time", "Every checked version of the dataset, the blocked one too, "
           "with its metrics side by side.")
    d.run("gitgov", "quality", "customers")


def tightened_rule(d: "Demo") -> None:
    d.step("Tightening a rule checks the committed data", "A steward drops the US from the "
           "countries customers may be in. The commit changes only gitgov.toml, yet pre-commit "
           "checks the committed customers under the new rule: they fail it, so the rule cannot "
           "land while the data breaks it. The steward puts the rule back.")
    policy = d.root / "gitgov.toml"
    text = policy.read_text(encoding="utf-8")
    narrowed = text.replace('"PL", "SE", "US"]', '"PL", "SE"]', 1)
    if narrowed == text:
        from .demo import DemoFailed

        raise DemoFailed(f"demo step {d.step_no}: sample_repo/gitgov.toml no longer allows US customers")
    policy.write_text(narrowed, encoding="utf-8")
    d.run("git", "commit", "-m", "Customers outside the US only", "gitgov.toml", expect=1)
    policy.write_text(text, encoding="utf-8")


STEPS: tuple[Callable[["Demo"], None], ...] = (dirty_export_blocked, quarantine_split,
                                               clean_commit, quality_history, tightened_rule)
