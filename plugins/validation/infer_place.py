"""Where `gitgov infer` writes in gitgov.toml.

A file belongs to the first dataset, in file order, whose paths match it. A
new dataset therefore goes right before the first existing dataset that
already matches its sample (with the comment lines directly above that
dataset's header, which describe it); else after the last dataset table.
The block is spliced into the text, so every other byte of the file stays as
it was. tomlkit is not used for this: it keeps comments with the table above
them and has no public way to insert a table at a position.

`gitgov infer --force` replaces tables of an existing dataset with tomlkit. The
comment and blank lines that end a replaced or removed table are about what
follows it (a separator, the next table's comment): they are moved to the end
of the table now before what follows, so that the next table keeps them and its
spacing. A dataset whose tables are split by other tables (a column table
appended after [plugins]) gets its new tables where it starts.
"""
from __future__ import annotations

import re
from typing import Any, NamedTuple

from gitgov.core.tomlpos import Scanner


class Header(NamedTuple):
    line: int  # 1-based
    path: tuple  # ("datasets", "orders", "columns", "id")


class _HeaderScanner(Scanner):
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


def dataset_parts(doc: Any, name: str) -> list:
    """The tables of dataset ``name`` as tomlkit holds them, in file order: more than one when
    other tables split it. Read from the document's body, not through tomlkit's merged view,
    whose changes do not reach every part."""
    from tomlkit.items import Table

    return [part for key, fragment in doc.body
            if key is not None and key.key == "datasets" and isinstance(fragment, Table)
            for k, part in fragment.value.body
            if k is not None and k.key == name and isinstance(part, Table)]


def has_header(table: Any, key: str) -> bool:
    """Whether ``table[key]`` is written as [tables], not inline nor with dotted keys."""
    from tomlkit.items import Table

    return any(k is not None and k.key == key and isinstance(v, Table) and not k.is_dotted()
               for k, v in table.value.body)


def detach_tail(table: Any, own: bool = False) -> list:
    """Take the comment and blank lines that end the last table under ``table`` (``table``
    itself when it has none). ``own``: ``table`` stays, so comments before its first blank
    line are its own (a key commented out) and stay."""
    from tomlkit.items import Comment, Null, Whitespace

    last = _last_table(table)
    body = last.value.body
    start = len(body)
    while start and body[start - 1][0] is None and isinstance(body[start - 1][1],
                                                              (Comment, Whitespace, Null)):
        start -= 1
    if own and last is table:
        while start < len(body) and not isinstance(body[start][1], Whitespace):
            start += 1
    tail = [item for _, item in body[start:] if not isinstance(item, Null)]
    del body[start:]  # keyless items at the end: no index in the table's key map moves
    return tail


def reattach_tail(table: Any, tail: list) -> None:
    """Put ``tail`` back at the end of the last table under ``table``, without doubling a
    blank line."""
    from tomlkit.items import Whitespace

    last = _last_table(table)
    if last.value.body and isinstance(last.value.body[-1][1], Whitespace):
        while tail and isinstance(tail[0], Whitespace):
            tail = tail[1:]
    for item in tail:
        last.add(item)


def remove_table(doc: Any, part: Any, key: str) -> None:
    """Delete ``part[key]``, handing what ends it to the table written before it."""
    removed = part[key]
    tail = detach_tail(removed)
    before = None
    for table in _tables(doc):
        if table is removed:
            break
        if not table.is_super_table():  # a super table writes no lines of its own
            before = table
    del part[key]
    if before is not None:
        reattach_tail(before, tail)


def _tables(item: Any) -> list:
    """``item`` (a document or a table) and every table under it, in file order."""
    from tomlkit.items import Table

    out = [item] if isinstance(item, Table) else []
    for key, child in item.body if not isinstance(item, Table) else item.value.body:
        if isinstance(child, Table) and not (key is not None and key.is_dotted()):
            out += _tables(child)
    return out


def _last_table(table: Any) -> Any:
    """The table whose lines come last among ``table`` and its sub-tables."""
    from tomlkit.items import Table

    for key, item in reversed(table.value.body):
        if isinstance(item, Table) and not (key is not None and key.is_dotted()):
            return _last_table(item)  # dotted keys (a.b = 1) are lines of this table
    return table
