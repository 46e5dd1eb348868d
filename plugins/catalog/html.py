"""The report page: gather()'s data through a Jinja2 template, with inline SVG and CSS.

The page is one file with no script and no reference to anything outside
it; its Content-Security-Policy forbids loading anything, so a mail client,
a CI artifact viewer or a browser offline shows exactly what was written.
"""
from __future__ import annotations

import hashlib
import pickle
import re
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from gitgov.core.report import human_size

from . import charts, drawing
from .gather import MAX_CHARTS
from .text import number, short, when

RUN_CHART_GROUPS, RUN_CHART_METRICS = 4, 2


def _svg(text: str) -> Markup:
    """Inline SVG drawn by charts.py (which escapes every text it puts in)."""
    return Markup(text)


_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(jinja2.Environment):
    """Jinja2 with a quicker `d.key` for the plain dicts gather() makes.

    Jinja looks an attribute up first and the key after: for a dict that costs
    a caught AttributeError per lookup, tens of thousands on a long ledger. The
    answer is the same: a dict's own attributes (items, get...) still come first.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


class _Compiled(jinja2.FileSystemBytecodeCache):
    """The compiled template, kept between runs in the user's own temporary folder:
    compiling it costs about as much as rendering the page. A cache that cannot be
    read or written only makes the report slower."""

    def load_bytecode(self, bucket: Any) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError):
            bucket.reset()

    def dump_bytecode(self, bucket: Any) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


_OPTIONS: dict[str, Any] = {"autoescape": True, "trim_blocks": True, "lstrip_blocks": True}


def _compiled() -> jinja2.BytecodeCache | None:
    # The file name holds what the compiled code depends on besides the template's text
    # (which Jinja checks itself): other options or another Jinja compile it afresh.
    key = hashlib.sha256(repr((jinja2.__version__, sorted(_OPTIONS.items()))).encode()).hexdigest()[:16]
    try:
        return _Compiled(pattern=f"gitgov-report-{key}-%s.cache")
    except (OSError, RuntimeError):  # no private temporary folder to be had
        return None


def _env() -> jinja2.Environment:
    env = _Environment(**_OPTIONS, undefined=jinja2.StrictUndefined, loader=jinja2.FunctionLoader(_asset),
                       bytecode_cache=_compiled())
    env.filters.update(size=human_size, short=short, when=when, number=number, pct=_pct, who=_who,
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
    template = _env().get_template("report.html.j2")
    return template.render(d=data, fig=figs, css=Markup(_asset("report.css")), max_charts=MAX_CHARTS)
