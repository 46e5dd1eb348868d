"""The report's charts, as inline SVG drawn by pygal (no script: they render anywhere)."""
from __future__ import annotations

from collections import Counter
from typing import Any

import pygal
from pygal.style import Style

STYLE = Style(
    background="transparent", plot_background="transparent", foreground="#334155",
    foreground_strong="#0f172a", foreground_subtle="#cbd5e1", opacity="0.9", opacity_hover="1",
    colors=("#2563eb", "#dc2626", "#d97706", "#059669", "#7c3aed", "#0891b2"),
    font_family="system-ui, -apple-system, 'Segoe UI', sans-serif",
    label_font_size=11, major_label_font_size=11, legend_font_size=12, title_font_size=13,
)
PASSED, BLOCKED = "#059669", "#dc2626"
# js=[]: pygal would otherwise add a <script> from its website for tooltips.
BASE = dict(style=STYLE, js=[], disable_xml_declaration=True, explicit_size=True, show_dots=True,
            dots_size=2.5, legend_at_bottom=True, legend_at_bottom_columns=3, truncate_legend=-1,
            truncate_label=-1, margin_right=28,
            show_minor_x_labels=False, x_label_rotation=0, margin=8, spacing=8)


def _render(chart: Any, klass: str) -> str:
    svg = chart.render(is_unicode=True)
    # A class the page (and its tests) can find the charts by; pygal sets the id.
    return svg.replace("<svg ", f'<svg class="chart {klass}" role="img" ', 1)


def _labels(chart: Any, labels: list[str], every: int = 8) -> None:
    chart.x_labels = labels
    step = max(1, len(labels) // every)
    chart.x_labels_major = labels[::step]


def quality(name: str, series: list[dict[str, Any]], files: int = 4) -> str:
    """Rows of each checked version, one line per file (the files with most versions);
    a version that a check blocked is a red point, labelled with its errors."""
    paths = [p for p, _ in Counter(s["path"] for s in series).most_common(files)]
    chart = pygal.XY(width=560, height=260, title=f"{name}: rows per version",
                     value_formatter=_count, x_value_formatter=lambda x: f"#{x:.0f}",
                     print_labels=True, show_legend=len(paths) > 1, include_x_axis=True,
                     **{**BASE, "dots_size": 3.5, "legend_at_bottom_columns": 2,
                        "show_minor_x_labels": True})
    versions = [s["version"] for s in series]
    step = max(1, len(versions) // 8)
    chart.x_labels = versions[::step]
    for path in paths:
        chart.add(path, [{**_point(s), "value": (s["version"], s["rows"])}
                         for s in series if s["path"] == path])
    return _render(chart, "quality-chart")


def _point(s: dict[str, Any]) -> dict[str, Any]:
    blocked = s["verdict"] == "block"
    point: dict[str, Any] = {"value": s["rows"], "color": BLOCKED if blocked else PASSED}
    if blocked:
        point["label"] = f"{s['errors'] or 0} error{'s' if s['errors'] != 1 else ''}"
    elif s["warnings"]:
        point["label"] = f"{s['warnings']} warning{'s' if s['warnings'] != 1 else ''}"
    return point


def _count(value: Any) -> str:
    return f"{value:,.0f}" if isinstance(value, (int, float)) else ""


def daily_checks(days: list[dict[str, Any]], last: int = 60) -> str:
    days = days[-last:]
    chart = pygal.StackedBar(width=1040, height=240, title="Checked versions per day, all datasets",
                             **{**BASE, "legend_at_bottom_columns": 2})
    chart.style = Style(**{**STYLE.__dict__, "colors": (PASSED, BLOCKED)})
    _labels(chart, [d["day"][5:] for d in days], every=12)
    chart.add("passed", [d["pass"] for d in days])
    chart.add("blocked", [d["block"] for d in days])
    return _render(chart, "overview-chart")


def activity(by_day: dict[str, dict[str, int]], last: int = 60) -> str:
    days = sorted(by_day)[-last:]
    groups = sorted({g for d in days for g in by_day[d]})
    chart = pygal.StackedBar(width=1040, height=240, title="Ledger entries per day", **BASE)
    _labels(chart, [d[5:] for d in days], every=12)
    for g in groups:
        chart.add(g, [by_day[d].get(g, 0) for d in days])
    return _render(chart, "activity-chart")


def run_metric(group: dict[str, Any], metric: str) -> str:
    runs = [r for r in group["runs"] if isinstance(r["metrics"].get(metric), (int, float))]
    chart = pygal.Line(width=340, height=200, title=f"{group['name']}: {metric}, run by run",
                       show_legend=False, **{**BASE, "margin_right": 24})
    _labels(chart, [r["run_id"][:6] for r in runs], every=4)
    chart.add(metric, [r["metrics"][metric] for r in runs])
    return _render(chart, "run-chart")
