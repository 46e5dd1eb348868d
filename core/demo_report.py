"""The demo's last story: the catalog, one dataset in full, and the governance report.

These steps run at the end of `gitgov demo`, once data is committed, runs
recorded and the privacy and retention stories told; the report is written
into the demo repository and its path printed.
"""
from __future__ import annotations

from typing import Callable

import click

from .demo import Demo, DemoFailed

REPORT = "governance-report.html"


def catalog(d: Demo) -> None:
    d.step("The data catalog", "Every dataset with its owner, stewards and consumers, its current "
           "version (commit, blob, rows, bytes), the latest quality check and the retention status.")
    d.run("gitgov", "catalog")
    d.run("gitgov", "catalog", "show", "customers")


def report(d: Demo) -> None:
    d.step("The governance report", "One HTML file that loads nothing from the network: the "
           "catalog, quality over time, the lineage graph, runs side by side, compliance (open "
           "findings, unprotected personal data, overdue retention, datasets without an owner, "
           "failed reproductions) and an audit summary. Attach it to an e-mail or keep it as a CI "
           "artifact.")
    proc = d.run("gitgov", "report", "-o", REPORT, expect=None)
    if proc.returncode == 2 and "gitgov[report]" in proc.stdout:  # the demo merges both streams
        return  # without the extra the command said how to get it; the demo goes on
    if proc.returncode != 0:
        raise DemoFailed(f"demo step {d.step_no}: `gitgov report` exited {proc.returncode}, expected 0")
    click.secho(f"  open {d.root / REPORT}", fg="green")


STEPS: tuple[Callable[[Demo], None], ...] = (catalog, report)
