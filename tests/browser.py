"""Headless Chromium for the report tests: a screenshot, and the layout of a page as drawn.

Chromium is Debian's `chromium` package (.ci/run installs it). Each call
gets a fresh profile and none of Chromium's background network traffic.
"""
from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]

# Measures what Chromium drew: the size of each chart, its lines and points,
# the boxes and edges of the graph, the rows of the tables, the banner's colour.
MEASURE = """<script>
const box = e => { const r = e.getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height)]; };
const drawn = (root, sel) => [...root.querySelectorAll(sel)].filter(e => { const b = e.getBBox(); return b.width + b.height > 0; }).length;
const rows = cls => [...document.querySelectorAll('table.' + cls)].map(t => t.rows.length);
document.body.dataset.measured = JSON.stringify({
  height: document.documentElement.scrollHeight,
  charts: [...document.querySelectorAll('svg.chart')].map(s => ({cls: s.getAttribute('class'), box: box(s),
    lines: drawn(s, 'path.line.reactive'), dots: drawn(s, 'circle.dot')})),
  nodes: [...document.querySelectorAll('svg.lineage-graph g.node rect')].map(box),
  edges: [...document.querySelectorAll('svg.lineage-graph path.edge')].map(p => Math.round(p.getTotalLength())),
  tables: {catalog: rows('catalog-table'), runs: rows('runs-table'), schema: rows('schema'), versions: rows('versions')},
  visible: [...document.querySelectorAll('section')].map(s => [s.id, box(s)[1]]),
  banner: getComputedStyle(document.getElementById('verify-banner')).backgroundColor,
});
</script>"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("the report tests need Chromium: apt-get install chromium (.ci/run installs it)")
    return found


def _run(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def measure(page: Path, work: Path) -> dict:
    """Layout figures of `page` as Chromium lays it out (a copy, with the measuring script)."""
    html = page.read_text(encoding="utf-8")
    head_end = html.index(">", html.index('<meta http-equiv="Content-Security-Policy"')) + 1
    html = html[:html.index('<meta http-equiv="Content-Security-Policy"')] + html[head_end:]
    copy = work / "measured.html"
    copy.write_text(html.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    dom = _run(["--virtual-time-budget=5000", "--window-size=1400,1000", "--dump-dom", copy.as_uri()],
               work / "profile-measure").stdout
    attr = dom[dom.index('data-measured="') + len('data-measured="'):]
    return json.loads(attr[:attr.index('"')].replace("&quot;", '"').replace("&amp;", "&"))


def screenshot(page: Path, png: Path, height: int, work: Path) -> None:
    _run([f"--window-size=1400,{height}", f"--screenshot={png}", page.as_uri()], work / "profile-shot")


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG"
    return struct.unpack(">II", data[16:24])


def read_png(path: Path) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB bytes) of an 8-bit RGB or RGBA PNG, as Chromium writes them."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + size]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + size
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, header
    channels = 3 if color == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), width * channels, [], bytearray(width * channels)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        _unfilter(kind, line, prev, channels)
        rows.append(bytes(line) if channels == 3 else bytes(b for i, b in enumerate(line) if i % 4 != 3))
        prev = line
    return width, height, rows


def _unfilter(kind: int, line: bytearray, prev: bytearray, bpp: int) -> None:
    for i in range(len(line)):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + a) & 255
        elif kind == 2:
            line[i] = (line[i] + b) & 255
        elif kind == 3:
            line[i] = (line[i] + (a + b) // 2) & 255
        elif kind == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255


def count_color(rows: list[bytes], rgb: tuple[int, int, int], top: int = 0, bottom: int | None = None) -> int:
    """Pixels of exactly this colour between two rows."""
    needle = bytes(rgb)
    total = 0
    for line in rows[top:bottom]:
        total += sum(1 for i in range(0, len(line), 3) if line[i:i + 3] == needle)
    return total
