"""The report's parts on their own: the SVG charts, the template environment and its cache of
compiled code, the version counts of every dataset at once, the graph's import."""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile

import jinja2
import pytest

import catalog_project
from gitgov.plugins.catalog import charts, html, versions
from gitgov.plugins.catalog.sources import open_sources


def _series(rows, verdicts=None, path="data/a.csv"):
    verdicts = verdicts or ["pass"] * len(rows)
    return [{"version": i + 1, "time": "2026-01-01", "rows": r, "path": path, "errors": 2 if v == "block" else 0,
             "warnings": 0, "verdict": v} for i, (r, v) in enumerate(zip(rows, verdicts))]


def test_a_quality_chart_has_a_line_a_dot_per_version_and_marks_blocked_ones():
    svg = charts.quality("sales <eu>", _series([10, 12, 9], ["pass", "block", "pass"]))
    assert svg.startswith('<svg class="chart quality-chart" role="img"') and 'width="560" height="260"' in svg
    assert svg.count('class="line reactive"') == 1 and svg.count('class="dot"') == 3
    assert svg.count(f'fill="{charts.BLOCKED}"><title>#2: 12 rows, block</title>') == 1
    assert ">2 errors</text>" in svg  # the blocked version is labelled with its errors
    assert "sales &lt;eu&gt;: rows per version" in svg and "<eu>" not in svg
    assert "<script" not in svg


def test_a_quality_chart_draws_one_line_per_file_with_a_legend():
    series = _series([5, 6], path="a.csv") + _series([7, 8, 9], path="b.csv")
    svg = charts.quality("two", series)
    assert svg.count('class="line reactive"') == 2 and svg.count('class="dot"') == 5
    assert ">a.csv</text>" in svg and ">b.csv</text>" in svg


def test_value_axes_are_round_and_cover_the_values():
    assert charts._ticks(0, 1530) == [0, 500, 1000, 1500, 2000]
    assert charts._ticks(0.703, 0.9) == pytest.approx([0.7, 0.75, 0.8, 0.85, 0.9])
    assert charts._ticks(0, 0) == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])  # nothing yet: 0 to 1
    one = charts._ticks(0.5, 0.5)  # a single value sits inside the axis, not on an edge of nothing
    assert one[0] < 0.5 < one[-1]
    svg = charts.run_metric({"name": "train", "runs": [
        {"run_id": "abcdef123", "metrics": {"acc": 0.91}}, {"run_id": "0123456789", "metrics": {"acc": 0.93}}]},
        "acc")
    assert svg.count('class="dot"') == 2 and ">0.91</text>" not in svg  # values are tooltips, not labels
    assert re.findall(r'text-anchor="end">([^<]+)<', svg) == ["0.910", "0.915", "0.920", "0.925", "0.930"]


def test_stacked_bars_stack_each_group_and_skip_empty_ones():
    days = [{"day": "2026-03-01", "pass": 3, "block": 0}, {"day": "2026-03-02", "pass": 2, "block": 1}]
    svg = charts.daily_checks(days)
    assert svg.count('class="bar"') == 3  # the empty blocked bar of the first day is not drawn
    assert "<title>03-02: 1 blocked</title>" in svg
    by_day = {"2026-03-01": {"runs": 4}, "2026-03-02": {"runs": 1, "quality": 2}}
    activity = charts.activity(by_day)
    assert activity.count('class="bar"') == 3 and ">quality</text>" in activity and ">runs</text>" in activity


def test_template_lookups_keep_jinja_precedence():
    env = html._env()
    page = env.from_string("{{ d.name }} {{ d['items'] }} {{ d.items() | list | length }} {{ o.real }}")
    assert page.render(d={"name": "x", "items": 7}, o=3) == "x 7 2 3"  # a dict's methods first, as in Jinja
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ d.missing }}").render(d={})


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """The bytecode cache's folder in this test's own temporary directory."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_the_compiled_template_is_kept_and_a_damaged_copy_is_ignored(private_tmp):
    first = html._env().get_template("report.html.j2")
    [cached] = list(private_tmp.glob("_jinja2-cache-*/gitgov-report-*.cache"))
    bucket = jinja2.bccache.Bucket(html._env(), "k", "sum")
    html._env().bytecode_cache.load_bytecode(bucket)  # another key: nothing loaded, no error
    assert bucket.code is None
    second = html._env().get_template("report.html.j2")
    assert second.blocks.keys() == first.blocks.keys()
    cached.write_bytes(cached.read_bytes()[:40])  # cut short, as by a full disk
    third = html._env().get_template("report.html.j2")
    assert third.blocks.keys() == first.blocks.keys()
    assert cached.stat().st_size > 40  # compiled again and written again


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return catalog_project.build(tmp_path_factory.mktemp("parts"))


def test_version_counts_of_every_dataset_at_once_match_one_by_one(project):
    with open_sources(project) as src:
        names = list(src.policy.datasets) + ["not-a-dataset"]
        single = {n: versions.count(src, n) for n in names}
        everything = versions.count_all(src)
        assert single["customers"] == 3 and single["not-a-dataset"] == 0
        assert {n: versions.count(src, n) for n in names} == single  # now answered from the one pass
        assert everything["customers"] == 3


def test_the_graph_layout_loads_without_numpy_and_leaves_numpy_as_it_was():
    code = ("import importlib.util, sys\n"
            "installed = importlib.util.find_spec('numpy') is not None\n"
            "import gitgov.plugins.catalog.drawing as d\n"
            "assert 'numpy' not in sys.modules, 'numpy was imported'\n"
            "try:\n    import numpy\n    importable = True\n"
            "except ImportError:\n    importable = False\n"
            "print(d.SugiyamaLayout.__name__, importable == installed)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["SugiyamaLayout", "True"]
