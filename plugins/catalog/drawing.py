"""The lineage graph as inline SVG: a layered (Sugiyama) layout by grandalf, left to right.

grandalf lays layers out top to bottom; the graph is laid out with each
box's width and height swapped and then turned, so data flows left to
right as people read it: datasets, the runs that read them, what they wrote.
Each connected part is laid out on its own and the parts are stacked.
"""
from __future__ import annotations

import sys
from html import escape
from typing import Any


def _grandalf() -> tuple[Any, Any, Any, Any]:
    """grandalf's classes. Its geometry module imports numpy (0.1 to 0.2 s) for a force
    layout this drawing does not use and falls back to plain Python without it: unless
    numpy is loaded already, it is kept out of this import."""
    blocked = "numpy" not in sys.modules
    if blocked:
        sys.modules["numpy"] = None  # type: ignore[assignment]  # makes `import numpy` fail
    try:
        from grandalf.graphs import Edge, Graph, Vertex
        from grandalf.layouts import SugiyamaLayout
    finally:
        if blocked:
            del sys.modules["numpy"]
    return Edge, Graph, Vertex, SugiyamaLayout


Edge, Graph, Vertex, SugiyamaLayout = _grandalf()

BOX_W, BOX_H = 190, 38
COLUMN_GAP, ROW_GAP, PART_GAP, PAD = 70, 12, 26, 10
COLORS = {"dataset": ("#dbeafe", "#2563eb"), "run": ("#fef3c7", "#d97706"),
          "model": ("#dcfce7", "#059669"), "file": ("#f1f5f9", "#64748b")}


class _Box:
    """What grandalf needs of a vertex's view: its size, and where it put it."""

    def __init__(self) -> None:
        self.w, self.h = BOX_H, BOX_W  # swapped: the layout is turned a quarter afterwards
        self.xy = (0.0, 0.0)


class _Line:
    def __init__(self) -> None:
        self.points: list[tuple[float, float]] = []

    def setpath(self, points: list[tuple[float, float]]) -> None:
        self.points = list(points)


def lineage_svg(summary: dict[str, Any]) -> str:
    """An <svg> of the summarised lineage graph (flows.summary); '' when it has no edges."""
    if not summary["edges"]:
        return ""
    vertices = {n["id"]: Vertex(n) for n in summary["nodes"]}
    edges = [Edge(vertices[e["src"]], vertices[e["dst"]], data=e) for e in summary["edges"]]
    for v in vertices.values():
        v.view = _Box()
    for e in edges:
        e.view = _Line()
    graph = Graph(list(vertices.values()), edges)
    parts, top, width = [], PAD, 0.0
    for part in graph.C:
        layout = SugiyamaLayout(part)
        layout.xspace, layout.yspace = ROW_GAP, COLUMN_GAP
        layout.init_all()
        layout.draw(3)
        placed, height, w = _place(part, top)
        parts.append(placed)
        top += height + PART_GAP
        width = max(width, w)
    body = "".join(_edge(e, shift) for part, shift in parts for e in part.E())
    body += "".join(_node(v, shift) for part, shift in parts for v in part.V())
    total_h = top - PART_GAP + PAD
    return (f'<svg class="lineage-graph" xmlns="http://www.w3.org/2000/svg" role="img" '
            f'width="{width + 2 * PAD:.0f}" height="{total_h:.0f}" '
            f'viewBox="0 0 {width + 2 * PAD:.0f} {total_h:.0f}">'
            f'<title>Lineage: datasets, runs and models</title>{_defs()}{body}</svg>')


def _place(part: Any, top: float) -> tuple[tuple[Any, tuple[float, float]], float, float]:
    """The shift that puts a laid-out part at `top`, and the part's height and width on screen
    (the bends of long edges included: grandalf may route them beyond the boxes)."""
    points = [v.view.xy for v in part.V()] + [p for e in part.E() for p in e.view.points]
    xs = [p[1] for p in points]  # layout y (layers) becomes screen x
    ys = [p[0] for p in points]
    dx = PAD - min(xs) + BOX_W / 2
    dy = top - min(ys) + BOX_H / 2
    height = max(ys) - min(ys) + BOX_H
    width = max(xs) - min(xs) + BOX_W
    return (part, (dx, dy)), height, width


def _at(point: tuple[float, float], shift: tuple[float, float]) -> tuple[float, float]:
    return point[1] + shift[0], point[0] + shift[1]


def _node(v: Any, shift: tuple[float, float]) -> str:
    n = v.data
    x, y = _at(v.view.xy, shift)
    fill, stroke = COLORS.get(n["kind"], COLORS["file"])
    label = n["label"] if len(n["label"]) <= 26 else n["label"][:25] + "…"
    sub = n["kind"] + (f" · {n['runs']} run{'s' if n['runs'] != 1 else ''}" if n["kind"] == "run" else "")
    left, top = x - BOX_W / 2, y - BOX_H / 2
    return (f'<g class="node node-{escape(n["kind"])}"><title>{escape(n["kind"])}: {escape(n["label"])}</title>'
            f'<rect x="{left:.1f}" y="{top:.1f}" width="{BOX_W}" height="{BOX_H}" rx="6" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
            f'<text x="{left + 9:.1f}" y="{top + 16:.1f}" class="node-label">{escape(label)}</text>'
            f'<text x="{left + 9:.1f}" y="{top + 30:.1f}" class="node-kind" fill="{stroke}">{escape(sub)}</text></g>')


def _edge(e: Any, shift: tuple[float, float]) -> str:
    points = [_at(p, shift) for p in e.view.points] or [_at(e.v[0].view.xy, shift), _at(e.v[1].view.xy, shift)]
    (x0, y0), (x1, y1) = points[0], points[-1]
    if x1 < x0:  # an edge grandalf turned round to break a cycle: draw it the right way
        points.reverse()
        (x0, y0), (x1, y1) = points[0], points[-1]
    points[0], points[-1] = (x0 + BOX_W / 2, y0), (x1 - BOX_W / 2 - 4, y1)
    d = f"M{points[0][0]:.1f},{points[0][1]:.1f}"
    for (ax, ay), (bx, by) in zip(points, points[1:]):
        mid = (ax + bx) / 2
        d += f" C{mid:.1f},{ay:.1f} {mid:.1f},{by:.1f} {bx:.1f},{by:.1f}"
    data = e.data
    title = f"{data['relation']}: {data['src'].split(':', 1)[1]} → {data['dst'].split(':', 1)[1]}"
    title += f" ({data['count']}×)" if data["count"] > 1 else ""
    return (f'<path class="edge edge-{escape(data["relation"])}" d="{d}" fill="none" '
            f'marker-end="url(#arrow)"><title>{escape(title)}</title></path>')


def _defs() -> str:
    return ('<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
            'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#64748b"/>'
            '</marker></defs>')
