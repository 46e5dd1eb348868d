"""`gitgov report`: one self-contained HTML page, its content, and its bad inputs."""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import browser
import catalog_project
from conftest import gitgov


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return catalog_project.build(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def report_file(project, tmp_path_factory):
    out = tmp_path_factory.mktemp("page") / "report.html"
    proc = gitgov(project, "report", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"gitgov: wrote {out} (")
    assert "2 dataset(s), 2 run(s)" in proc.stdout
    return out


@pytest.fixture(scope="module")
def page(report_file):
    return report_file.read_text(encoding="utf-8")


def test_the_page_loads_nothing_from_outside(page):
    assert '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';' in page
    assert "<script" not in page and "<link" not in page and "@import" not in page
    refs = re.findall(r'(?:src|href|xlink:href)="([^"]*)"', page) + re.findall(r"url\(([^)]*)\)", page)
    assert refs and all(r.startswith(("#", "data:")) for r in refs), refs


def test_the_page_has_every_section(page):
    for section in ("compliance", "catalog", "quality", "lineage", "datasets", "runs", "audit"):
        assert f'<section id="{section}">' in page
    assert page.count('class="chart quality-chart"') == 1  # customers: the one dataset with versions
    assert page.count('class="chart run-chart"') == 2  # train: accuracy and loss over its two runs
    assert '<svg class="lineage-graph"' in page
    for node in ("dataset: customers", "run: train", "file: models/model.json"):
        assert f"<title>{node}</title>" in page


def test_compliance_lists_each_kind_of_problem(page):
    compliance = page[page.index('<section id="compliance">'):page.index('<section id="catalog">')]
    assert 'id="unprotected-pii"' in compliance and "email (declared pii) with no protect" in compliance
    assert "<code>contacts</code>: set <code>owner" in compliance  # without an owner
    assert "2020-01-31" in compliance and "OVERDUE" in compliance  # retention
    assert "differs" in compliance and "models/model.json differs" in compliance  # reproduction
    assert 'id="verify-banner">Ledger verified: ' in page and 'class="banner banner-bad"' not in page


def test_runs_are_comparable_side_by_side(page):
    runs = page[page.index('<section id="runs">'):page.index('<section id="audit">')]
    table = runs[runs.index('<table class="runs-table">'):]
    header = table[:table.index("</tr>")]
    assert ">lr</th>" in header and ">accuracy</th>" in header and ">loss</th>" in header
    assert '<td class="varies">0.3</td>' in table and '<td class="varies">0.1</td>' in table


def test_a_ledger_that_fails_verify_gets_a_red_banner(project, tmp_path):
    copy = tampered(project, tmp_path)
    proc = gitgov(copy, "report", "-o", "r.html")
    assert proc.returncode == 0, proc.stderr
    assert "gitgov: warning: the ledger FAILED verification at entry 3: " in proc.stderr
    html = (copy / "r.html").read_text(encoding="utf-8")
    assert '<p class="banner banner-bad" id="verify-banner" role="alert">The ledger FAILED verification ' \
           'at entry 3: seq 3: content does not match its id' in html


def tampered(project, tmp_path):
    """A copy of the project whose ledger has one entry edited by hand."""
    copy = shutil.copytree(project, tmp_path / "copy", symlinks=True)
    db = sqlite3.connect(copy / ".gitgov" / "ledger.db")
    db.execute("DROP TRIGGER journal_no_update")  # what someone editing the file by hand would do
    db.execute("UPDATE journal SET actor = 'Mallory <m@example.com>' WHERE seq = 3")
    db.commit()
    db.close()
    return copy


def test_an_empty_ledger_gets_a_page_that_says_what_to_do_first(initialized):
    proc = gitgov(initialized, "report")
    assert proc.returncode == 0, proc.stderr
    html = (initialized / "report.html").read_text(encoding="utf-8")
    assert '<section id="start">' in html and "<h2>Getting started</h2>" in html
    steps = re.findall(r"<li class=\"(done)?\">", html)
    assert steps == ["done", "", "", ""]  # datasets are declared; nothing committed or run yet
    assert "No runs yet" in html and "No lineage yet" in html


def test_without_the_extra_it_says_how_to_get_it(initialized):
    code = ("import sys; sys.modules['grandalf'] = None\n"
            "from gitgov.core.cli import main; sys.exit(main(['report']))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=initialized, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("gitgov: gitgov report needs the report extra (grandalf is missing): "
                                   "pip install 'gitgov[report]'")
    assert not (initialized / "report.html").exists()


def test_an_output_folder_that_does_not_exist_is_a_clear_error(initialized):
    proc = gitgov(initialized, "report", "-o", "no/such/dir/r.html")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "gitgov: cannot write no/such/dir/r.html: no/such/dir is not a directory"


def test_a_link_or_a_pipe_as_output_is_written_through_not_replaced(initialized):
    import threading

    (initialized / "real.html").write_text("old\n")
    (initialized / "link.html").symlink_to("real.html")
    assert gitgov(initialized, "report", "-o", "link.html").returncode == 0
    assert (initialized / "link.html").is_symlink()
    assert (initialized / "real.html").read_text().startswith("<!doctype html>")
    fifo = initialized / "out.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    proc = gitgov(initialized, "report", "-o", "out.fifo", timeout=60)
    reader.join(60)
    assert proc.returncode == 0, proc.stderr
    assert got and got[0].startswith(b"<!doctype html>") and got[0].rstrip().endswith(b"</html>")
    assert fifo.is_fifo()


# ---- as a person sees it: the page drawn by headless Chromium ---------------------------

def test_chromium_draws_the_charts_the_graph_and_the_tables(report_file, tmp_path):
    m = browser.measure(report_file, tmp_path)
    quality = [c for c in m["charts"] if "quality-chart" in c["cls"]]
    assert len(quality) == 1 and quality[0]["box"] == [560, 260]
    assert quality[0]["lines"] == 1 and quality[0]["dots"] == 3  # three versions of customers.csv
    runs = [c for c in m["charts"] if "run-chart" in c["cls"]]
    assert len(runs) == 2 and all(c["lines"] == 1 and c["dots"] == 2 for c in runs)
    assert len(m["nodes"]) == 3 and all(w == 190 and h == 38 for w, h in m["nodes"])
    assert len(m["edges"]) == 2 and all(length > 40 for length in m["edges"])
    assert m["tables"] == {"catalog": [3], "runs": [3], "schema": [5, 2], "versions": [4]}
    assert all(height > 60 for _, height in m["visible"]), m["visible"]
    assert m["banner"] == "rgb(236, 253, 245)"  # the green of a verified ledger

    shot = tmp_path / "report.png"
    browser.screenshot(report_file, shot, min(m["height"], 12000), tmp_path)
    assert browser.png_size(shot) == (1400, min(m["height"], 12000))
    assert shot.stat().st_size > 100_000  # text, charts and boxes; a blank page is a few kB
    keep = os.environ.get("GITGOV_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / "report.png")
    print(f"screenshot of the report: {shot}")


def test_chromium_shows_the_red_banner_of_a_tampered_ledger(project, tmp_path):
    copy = tampered(project, tmp_path)
    assert gitgov(copy, "report", "-o", "r.html").returncode == 0
    top = tmp_path / "top.png"
    browser.screenshot(copy / "r.html", top, 160, tmp_path)  # the header and the banner
    width, height, rows = browser.read_png(top)
    assert (width, height) == (1400, 160)
    red = browser.count_color(rows, (0xb9, 0x1c, 0x1c))
    assert red > 1400 * 20, red  # a full-width band at least 20 pixels high
    assert browser.measure(copy / "r.html", tmp_path)["banner"] == "rgb(185, 28, 28)"
