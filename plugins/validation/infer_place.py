"""Where `gitgov infer` puts a new dataset's table in gitgov.toml, as text.

A file belongs to the first dataset, in file order, whose paths match it. A
new dataset therefore goes right before the first existing dataset that
already matches its sample (with the comment lines directly above that
dataset's header, which describe it); else after the last dataset table.
The block is spliced into the text, so every other byte of the file stays as
it was. tomlkit is not used for this: it keeps comments with the table above
them and has no public way to insert a table at a position.
"""
from __future__ import annotations

import re
from typing import NamedTuple

from gitgov.core.tomlpos import _Scanner


class Header(NamedTuple):
    line: int  # 1-based
    path: tuple  # ("datasets", "orders", "columns", "id")


class _HeaderScanner(_Scanner):
    """tomlpos's scanner, noting each [table] header: it knows strings and arrays, so a line
    that only looks like a header, inside a multi-line string or array, is not one."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.headers: list[Header] = []

    def header(self) -> tuple:
        line = self.line()
        path = super().header()
        self.headers.append(Header(line, path))
        return path


def _scan(text: str) -> tuple[list[Header], dict[tuple, int]]:
    scanner = _HeaderScanner(text)
    try:
        scanner.run()
    except (IndexError, ValueError):
        pass  # text tomllib accepted; keep what was found, as key_lines does
    return scanner.headers, scanner.found


def before_dataset(text: str, name: str) -> int | None:
    """The line (1-based) where a table put right before dataset ``name`` starts, or None
    when ``name`` is first defined otherwise than by a [datasets.NAME...] header (an inline
    table or dotted keys under [datasets]), where no table can go before it."""
    headers, found = _scan(text)
    first = found.get(("datasets", name))
    header = next((h for h in headers if h.path[:2] == ("datasets", name)), None)
    if header is None or header.line != first:
        return None
    return _above_comments(text.split("\n"), header.line)


def after_datasets(text: str) -> int | None:
    """The line (1-based) where a table put after the last dataset table starts (before the
    comments above the next table), or None for the end of the file."""
    headers, _ = _scan(text)
    last = max((n for n, h in enumerate(headers) if h.path[0] == "datasets"), default=None)
    following = headers[last + 1:] if last is not None else []
    if not following:
        return None
    return _above_comments(text.split("\n"), following[0].line)


def _above_comments(lines: list[str], line: int) -> int:
    """``line``, or the first of the comment lines right above it (no blank line between),
    which describe what the header opens."""
    while line > 1:
        above = lines[line - 2].strip()
        if not above.startswith("#") or '"""' in above or "'''" in above:
            break
        line -= 1
    return line


def splice(text: str, line: int | None, block: str) -> str:
    """``text`` with ``block`` (TOML ending in one newline) inserted as the lines starting at
    ``line`` (None: at the end), with one blank line on each side where text is next to it."""
    newline = "\r\n" if "\r\n" in text else "\n"
    block = block.replace("\n", newline)
    if line is None:
        head, tail = text, ""
    else:
        starts = [0] + [m.end() for m in re.finditer("\n", text)]
        cut = starts[line - 1]
        head, tail = text[:cut], text[cut:]
    if head and not head.endswith("\n"):
        head += newline
    if head and not re.search(r"\n[ \t]*\r?\n\Z|\A[ \t]*\r?\n\Z", head):
        head += newline  # the line before is not blank
    return head + block + (newline + tail if tail else "")
