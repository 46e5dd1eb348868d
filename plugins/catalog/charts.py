"""The report's charts as inline SVG: lines of points and stacked bars, no script.

They are drawn here rather than by a charting library: the page has about
twenty small charts, and a general-purpose library spent more time setting
each one up than the rest of the report took to gather its data. Every
point and bar carries a <title>, which browsers show as a tooltip.
"""
from __future__ import annotations

import math
from collections import Counter
from html import escape
from typing import Any

FONT = "system-ui, -apple-system, 'Segoe UI', sans-serif"
COLORS = ("#2563eb", "#dc2626", "#d97706", "#059669", "#7c3aed", "#0891b2")
PASSED, BLOCKED = "#059669", "#dc2626"
INK, TEXT, GUIDE = "#0f172a", "#334155", "#e2e8f0"
LEFT, RIGHT, TOP, BOTTOM, LEGEND_ROW, INSET = 58, 24, 30, 22, 18, 10


class _Frame:
    """The plot area: a title above, values on the left, labels below, then the legend rows."""

    def __init__(self, width: int, height: int, legend_rows: int, ticks: list[float]) -> None:
        self.width, self.height = width, height
        self.left, self.right = LEFT, width - RIGHT
        self.top, self.bottom = TOP, height - BOTTOM - legend_rows * LEGEND_ROW
        self.ticks = ticks

    def y(self, value: float) -> float:
        lo, hi = self.ticks[0], self.ticks[-1]
        return self.bottom - (value - lo) / (hi - lo) * (self.bottom - self.top)

    def axis(self) -> str:
        step = self.ticks[1] - self.ticks[0]
        return "".join(f'<line x1="{self.left}" x2="{self.right}" y1="{self.y(t):.1f}" y2="{self.y(t):.1f}" '
                       f'stroke="{GUIDE}"/><text x="{self.left - 6}" y="{self.y(t) + 4:.1f}" '
                       f'text-anchor="end">{_number(t, step)}</text>' for t in self.ticks)


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round values from below `lo` to above `hi`, about `count` steps of 1, 2 or 5 times a power of ten."""
    if hi <= lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad if lo else lo, hi + pad
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.floor(lo / step + 1e-6) * step  # the tolerance absorbs float noise (0.91 / 0.005)
    n = max(1, math.ceil((hi - first) / step - 1e-6))
    return [first + i * step for i in range(n + 1)]


def _number(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{value:,.{decimals}f}"


def _svg(klass: str, width: int, height: int, title: str, body: str) -> str:
    return (f'<svg class="chart {klass}" role="img" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="11">'
            f'<title>{escape(title)}</title><g fill="{TEXT}"><text x="{width / 2:.0f}" y="18" '
            f'text-anchor="middle" font-size="13" fill="{INK}">{escape(title)}</text>{body}</g></svg>')


def _legend(frame: _Frame, names: list[str], colors: list[str], columns: int) -> str:
    if not names:
        return ""
    column = (frame.right - frame.left) / columns
    out = []
    for i, (name, color) in enumerate(zip(names, colors)):
        x = frame.left + (i % columns) * column
        y = frame.bottom + BOTTOM + 4 + (i // columns) * LEGEND_ROW
        out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="10" height="10" rx="2" fill="{color}"/>'
                   f'<text x="{x + 15:.1f}" y="{y + 9:.1f}" font-size="12">{escape(name)}</text>')
    return "".join(out)


def _lines(klass: str, width: int, height: int, title: str, series: list[tuple[str, list[dict[str, Any]]]],
           x_labels: list[tuple[float, str]], *, zero: bool, legend: bool, columns: int = 2) -> str:
    """Each series a line through its points ({x, y, color, tip, label}), dots on top."""
    ys = [p["y"] for _, points in series for p in points]
    xs = [p["x"] for _, points in series for p in points] + [x for x, _ in x_labels]
    names = [name for name, _ in series] if legend else []
    frame = _Frame(width, height, math.ceil(len(names) / columns),
                   _ticks(min(ys + [0] * zero, default=0), max(ys, default=1)))
    lo, hi = min(xs, default=0), max(xs, default=1)
    span = (hi - lo) or 1

    def x_of(x: float) -> float:
        inner = frame.right - frame.left - 2 * INSET
        return frame.left + INSET + (x - lo) / span * inner if hi > lo else (frame.left + frame.right) / 2

    body = [frame.axis()]
    body += [f'<text x="{x_of(x):.1f}" y="{frame.bottom + 15:.1f}" text-anchor="middle">{escape(text)}</text>'
             for x, text in x_labels]
    for i, (_, points) in enumerate(series):
        color = COLORS[i % len(COLORS)]
        at = [(x_of(p["x"]), frame.y(p["y"])) for p in points]
        line = " L".join(f"{x:.1f},{y:.1f}" for x, y in at)
        body.append(f'<path class="line reactive" d="M{line}" fill="none" stroke="{color}" stroke-width="2"/>')
        for (x, y), p in zip(at, points):
            body.append(f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{p.get("color", color)}">'
                        f'<title>{escape(p["tip"])}</title></circle>')
            if p.get("label"):
                body.append(f'<text x="{x:.1f}" y="{y - 8:.1f}" text-anchor="middle" '
                            f'fill="{p.get("color", color)}">{escape(p["label"])}</text>')
    body.append(_legend(frame, names, list(COLORS), columns))
    return _svg(klass, width, height, title, "".join(body))


def _bars(klass: str, width: int, height: int, title: str, labels: list[str],
          groups: list[tuple[str, str, list[int]]], every: int, columns: int) -> str:
    """One stacked bar per label: each group ({name, color, values}) on top of the previous ones."""
    totals = [sum(values[i] for _, _, values in groups) for i in range(len(labels))]
    frame = _Frame(width, height, math.ceil(len(groups) / columns), _ticks(0, max(totals, default=1)))
    band = (frame.right - frame.left) / max(1, len(labels))
    step = max(1, len(labels) // every)
    body = [frame.axis()]
    body += [f'<text x="{frame.left + (i + 0.5) * band:.1f}" y="{frame.bottom + 15:.1f}" '
             f'text-anchor="middle">{escape(label)}</text>' for i, label in enumerate(labels) if i % step == 0]
    base = [0] * len(labels)
    for name, color, values in groups:
        for i, value in enumerate(values):
            if value:
                top, bottom = frame.y(base[i] + value), frame.y(base[i])
                body.append(f'<rect class="bar" x="{frame.left + (i + 0.1) * band:.1f}" y="{top:.1f}" '
                            f'width="{band * 0.8:.1f}" height="{bottom - top:.1f}" fill="{color}">'
                            f'<title>{escape(labels[i])}: {value:,} {escape(name)}</title></rect>')
                base[i] += value
    body.append(_legend(frame, [g[0] for g in groups], [g[1] for g in groups], columns))
    return _svg(klass, width, height, title, "".join(body))


def quality(name: str, series: list[dict[str, Any]], files: int = 4) -> str:
    """Rows of each checked version, one line per file (the files with most versions);
    a version that a check blocked is a red point, labelled with its errors."""
    paths = [p for p, _ in Counter(s["path"] for s in series).most_common(files)]
    lines = [(path, [_point(s) for s in series if s["path"] == path and s["rows"] is not None])
             for path in paths]
    versions = [s["version"] for s in series]
    step = max(1, len(versions) // 8)
    labels = [(v, f"#{v}") for v in versions[::step]]
    return _lines("quality-chart", 560, 260, f"{name}: rows per version", lines, labels,
                  zero=True, legend=len(paths) > 1)


def _point(s: dict[str, Any]) -> dict[str, Any]:
    blocked = s["verdict"] == "block"
    point: dict[str, Any] = {"x": s["version"], "y": s["rows"], "color": BLOCKED if blocked else PASSED,
                             "tip": f"#{s['version']}: {s['rows']:,} rows, {s['verdict'] or 'unchecked'}"}
    if blocked:
        point["label"] = f"{s['errors'] or 0} error{'s' if s['errors'] != 1 else ''}"
    elif s["warnings"]:
        point["label"] = f"{s['warnings']} warning{'s' if s['warnings'] != 1 else ''}"
    return point


def daily_checks(days: list[dict[str, Any]], last: int = 60) -> str:
    days = days[-last:]
    groups = [("passed", PASSED, [d["pass"] for d in days]), ("blocked", BLOCKED, [d["block"] for d in days])]
    return _bars("overview-chart", 1040, 240, "Checked versions per day, all datasets",
                 [d["day"][5:] for d in days], groups, every=12, columns=2)


def activity(by_day: dict[str, dict[str, int]], last: int = 60) -> str:
    days = sorted(by_day)[-last:]
    names = sorted({g for d in days for g in by_day[d]})
    groups = [(g, COLORS[i % len(COLORS)], [by_day[d].get(g, 0) for d in days]) for i, g in enumerate(names)]
    return _bars("activity-chart", 1040, 240, "Ledger entries per day", [d[5:] for d in days], groups,
                 every=12, columns=3)


def run_metric(group: dict[str, Any], metric: str) -> str:
    runs = [r for r in group["runs"] if isinstance(r["metrics"].get(metric), (int, float))]
    points = [{"x": i, "y": r["metrics"][metric], "tip": f"{r['run_id'][:6]}: {metric} {r['metrics'][metric]:.4g}"}
              for i, r in enumerate(runs)]
    step = max(1, len(runs) // 4)
    labels = [(i, r["run_id"][:6]) for i, r in enumerate(runs)][::step]
    return _lines("run-chart", 340, 200, f"{group['name']}: {metric}, run by run", [(metric, points)], labels,
                  zero=False, legend=False)
