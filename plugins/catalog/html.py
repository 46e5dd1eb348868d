"""The report page: gather()'s data through a Jinja2 template, with inline SVG and CSS.

The page is one file with no script and no reference to anything outside
it; its Content-Security-Policy forbids loading anything, so a mail client,
a CI artifact viewer or a browser offline shows exactly what was written.
"""
from __future__ import annotations

import re
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from . import charts, drawing
from .gather import MAX_CHARTS
from .text import number, short, size, when

RUN_CHART_GROUPS, RUN_CHART_METRICS = 4, 2
_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)


def _svg(text: str) -> Markup:
    """Inline SVG without pygal's inert config script and credits comment."""
    return Markup(_COMMENT.sub("", _SCRIPT.sub("", text)))


def _env() -> jinja2.Environment:
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters.update(size=size, short=short, when=when, number=number, pct=_pct, who=_who,
                       slug=lambda v: re.sub(r"[^A-Za-z0-9]+", "-", str(v)).strip("-"))
    return env


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value:.1%}"


def _who(actor: str | None) -> str:
    return (actor or "-").split(" <")[0]


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def figures(data: dict[str, Any]) -> dict[str, Any]:
    """Every chart and the graph but the audit's, drawn once."""
    details = {d["name"]: d for d in data["details"]}
    quality = {name: _svg(charts.quality(name, details[name]["series"]))
               for name in data["charted"]}
    run_charts = []
    for group in data["runs"][:RUN_CHART_GROUPS]:
        for metric in group["metric_names"][:RUN_CHART_METRICS]:
            if sum(1 for r in group["runs"] if metric in r["metrics"]) >= 2:
                run_charts.append(_svg(charts.run_metric(group, metric)))
    return {
        "quality": quality,
        # One day is one bar: the per-dataset charts say more until there is a history.
        "daily": _svg(charts.daily_checks(data["daily_checks"])) if len(data["daily_checks"]) > 1 else None,
        "runs": run_charts,
        "lineage": Markup(drawing.lineage_svg(data["lineage"])),
    }


def render(data: dict[str, Any], figs: dict[str, Any] | None = None) -> str:
    """The page; `figs` from figures(data) when drawn already (while the audit pass ran)."""
    figs = dict(figs if figs is not None else figures(data))
    by_day = data["audit"]["by_day"]
    figs["activity"] = _svg(charts.activity(by_day)) if len(by_day) > 1 else None
    template = _env().from_string(_asset("report.html.j2"))
    return template.render(d=data, fig=figs, css=Markup(_asset("report.css")), max_charts=MAX_CHARTS)
