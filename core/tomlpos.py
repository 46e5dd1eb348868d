"""Line numbers of keys in a TOML text.

tomllib returns plain dicts with no positions, yet a config error has to
name its line. This scanner walks a text that tomllib has *already accepted*,
so it trusts the syntax and only follows the structure: table headers
(``[a.b]``, ``[a."b c"]``, ``[[arrays]]``), dotted keys, inline tables,
arrays (each element gets its index as a path part) and strings (so that
``#`` or ``=`` inside a string never looks like structure).

Paths are tuples such as ``("datasets", "customers", "paths", 1)``. When a
path was never seen (a missing key, an unusual construct), ``line_of`` falls
back to the nearest enclosing table or key that was.
"""
from __future__ import annotations

from bisect import bisect_right

Path = tuple  # tuple[str | int, ...]

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", '"': '"', "\\": "\\"}


def key_lines(text: str) -> dict[Path, int]:
    """Map every key path seen in ``text`` to the 1-based line it starts on."""
    scanner = Scanner(text)
    try:
        scanner.run()
    except (IndexError, ValueError):
        pass  # keep what was found before the scanner lost its footing
    return scanner.found


def line_of(lines: dict[Path, int], path: Path) -> int | None:
    """Line of ``path``, else of its nearest recorded ancestor, else None."""
    for n in range(len(path), 0, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    return None


class Scanner:
    """Walks TOML text once and notes the line of each key and table header (infer_place.py
    extends it to find where a table starts)."""

    def __init__(self, text: str) -> None:
        self.s, self.i = text, 0
        self.starts = [0] + [n + 1 for n, ch in enumerate(text) if ch == "\n"]
        self.found: dict[Path, int] = {}
        self.aot: dict[Path, int] = {}  # next index of each [[array of tables]]

    def line(self) -> int:
        return bisect_right(self.starts, self.i)

    def record(self, path: Path, line: int) -> None:
        # Parents too: [a.b.c] is where "a" and "a.b" first appear if nothing earlier named them.
        for n in range(1, len(path) + 1):
            self.found.setdefault(path[:n], line)

    def peek(self, token: str) -> bool:
        return self.s.startswith(token, self.i)

    def run(self) -> None:
        table: Path = ()
        while True:
            self.skip(newlines=True)
            if self.i >= len(self.s):
                return
            if self.peek("["):
                table = self.header()
            else:
                self.keyval(table)

    def header(self) -> Path:
        double = self.peek("[[")
        line = self.line()
        self.i += 2 if double else 1
        path = self.key()
        self.i += 2 if double else 1
        if double:
            index = self.aot[path] = self.aot.get(path, -1) + 1
            path = path + (index,)
        self.record(path, line)
        return path

    def keyval(self, table: Path) -> None:
        line = self.line()
        path = table + self.key()
        self.record(path, line)
        self.expect("=")
        self.value(path)

    def key(self) -> Path:
        parts = []
        while True:
            self.skip()
            if self.peek('"'):
                parts.append(self.basic_string())
            elif self.peek("'"):
                parts.append(self.literal_string())
            else:
                start = self.i
                while self.s[self.i] in _BARE:
                    self.i += 1
                parts.append(self.s[start : self.i])
            self.skip()
            if not self.peek("."):
                return tuple(parts)
            self.i += 1

    def value(self, path: Path) -> None:
        self.skip()
        if self.peek('"""') or self.peek("'''"):
            self.multiline_string()
        elif self.peek('"'):
            self.basic_string()
        elif self.peek("'"):
            self.literal_string()
        elif self.peek("["):
            self.array(path)
        elif self.peek("{"):
            self.inline_table(path)
        else:  # number, bool, date: runs to a delimiter
            while self.i < len(self.s) and self.s[self.i] not in ",]}#\r\n":
                self.i += 1

    def array(self, path: Path) -> None:
        self.i += 1
        index = 0
        while True:
            self.skip(newlines=True)
            if self.peek("]"):
                self.i += 1
                return
            start = self.i
            self.record(path + (index,), self.line())
            self.value(path + (index,))
            self.skip(newlines=True)
            if self.peek(","):
                self.i += 1
            self.progressed(start)
            index += 1

    def inline_table(self, path: Path) -> None:
        self.i += 1
        while True:
            self.skip(newlines=True)
            if self.peek("}"):
                self.i += 1
                return
            start = self.i
            self.keyval(path)
            self.skip(newlines=True)
            if self.peek(","):
                self.i += 1
            self.progressed(start)

    def basic_string(self) -> str:
        self.i += 1
        out = []
        while not self.peek('"'):
            ch = self.s[self.i]
            if ch == "\\":
                # Good enough for key names; \u escapes are kept verbatim.
                nxt = self.s[self.i + 1]
                out.append(_ESCAPES.get(nxt, "\\" + nxt))
                self.i += 2
            else:
                out.append(ch)
                self.i += 1
        self.i += 1
        return "".join(out)

    def literal_string(self) -> str:
        end = self.s.index("'", self.i + 1)
        text = self.s[self.i + 1 : end]
        self.i = end + 1
        return text

    def multiline_string(self) -> None:
        delim = self.s[self.i : self.i + 3]
        self.i += 3
        while not self.peek(delim):
            self.i += 2 if delim == '"""' and self.peek("\\") else 1
            if self.i >= len(self.s):
                raise ValueError("unterminated string")
        self.i += 3
        # Up to two quotes may sit right before the closing delimiter.
        for _ in range(2):
            if self.peek(delim[0]):
                self.i += 1

    def skip(self, newlines: bool = False) -> None:
        """Skip blanks and comments, and line breaks when ``newlines``."""
        ws = " \t\r\n" if newlines else " \t"
        while self.i < len(self.s):
            ch = self.s[self.i]
            if ch in ws:
                self.i += 1
            elif ch == "#":
                end = self.s.find("\n", self.i)
                self.i = len(self.s) if end == -1 else end
            else:
                return

    def expect(self, token: str) -> None:
        self.skip()
        if not self.peek(token):
            raise ValueError(f"expected {token!r}")
        self.i += len(token)

    def progressed(self, start: int) -> None:
        # A guard, not a parser: if nothing was consumed, stop rather than spin.
        if self.i == start:
            raise ValueError("no progress")
