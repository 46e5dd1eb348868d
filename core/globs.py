"""Path globs -> regular expressions, with the stdlib ``re`` only.

The git hook's fast path caches the regex *source* this module produces as
JSON and must not pay for tomllib, dataclasses or anything else, which is why
this lives apart from config.py.

Semantics (close to .gitignore, but simpler):

- A pattern is matched against the whole posix path relative to the
  repository root, case-sensitively. ``*.csv`` therefore matches top-level
  files only; write ``**/*.csv`` for "anywhere".
- ``*`` matches any run of characters except ``/``; ``?`` one character
  except ``/``; ``[abc]``, ``[a-z]``, ``[!a-z]`` (or ``[^a-z]``) one character
  from (or not from) a set, never ``/``.
- ``**`` must be a whole path segment: ``**/x`` is ``x`` in any directory,
  the top level included; ``a/**/b`` allows zero or more directories between;
  ``a/**`` is everything below ``a``.
- A trailing ``/`` means everything below that directory (``a/`` == ``a/**``).
- ``\\`` escapes one special character (``* ? [ ] \\``).

Rejected as malformed: empty patterns, absolute paths, ``..``/``.``/empty
segments, ``**`` inside a segment (``data/**.csv``), an unclosed ``[`` and a
backslash used as a directory separator.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

_SPECIAL = "*?[]\\"


class GlobError(ValueError):
    """A glob that cannot be compiled; the message says why, without the glob."""


def glob_error(glob: object) -> str | None:
    """The reason ``glob`` is malformed, or None when it is fine."""
    if not isinstance(glob, str):
        return "expected a string"
    try:
        glob_to_regex(glob)
    except GlobError as exc:
        return str(exc)
    return None


def glob_to_regex(glob: str) -> str:
    """Regex source (unanchored) matching what ``glob`` matches."""
    _check_shape(glob)
    if glob.endswith("/"):
        glob += "**"
    segments = glob.split("/")
    out = []
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == "**":
            # ".+" at the end: "a/**" names files below a, not a itself.
            out.append(".+" if last else "(?:.*/)?")
        else:
            out.append(_segment(seg) + ("" if last else "/"))
    return "".join(out)


def compile_patterns(patterns: Iterable[str]) -> re.Pattern[str]:
    """One anchored regex matching a path when any of ``patterns`` does.

    No pattern at all yields a regex that matches nothing. The source is
    self-contained so it survives a JSON round trip, and its DOTALL flag is
    scoped, not global, so that sources can be joined with "|" (the hook does).
    """
    sources = [glob_to_regex(p) for p in patterns]
    body = "|".join(f"(?:{s})" for s in sources) or "(?!)"
    return re.compile(rf"\A(?s:{body})\Z")


def anywhere(glob: str) -> str:
    """Make a file-name glob (no "/") match in any directory, like .gitignore.

    Used for secret names: a key file is dangerous wherever it sits.
    """
    return glob if "/" in glob else "**/" + glob


def compile_name_patterns(patterns: Iterable[str]) -> re.Pattern[str]:
    """compile_patterns() where a pattern without "/" matches at any depth."""
    return compile_patterns(anywhere(p) for p in patterns)


def _check_shape(glob: str) -> None:
    if not glob:
        raise GlobError("empty glob")
    if glob.startswith(("/", "~")) or re.match(r"[A-Za-z]:[\\/]", glob):
        raise GlobError("must be relative to the repository root, without a leading '/'")
    body = glob[:-1] if glob.endswith("/") else glob
    for seg in body.split("/"):
        if seg in ("", ".", ".."):
            what = "an empty segment ('//')" if seg == "" else f"'{seg}' segments"
            raise GlobError(f"must not contain {what}; write the path from the repository root")
        if "**" in seg and seg != "**":
            raise GlobError("'**' must be a whole path segment, as in 'data/**/*.csv'")


def _segment(seg: str) -> str:
    """Translate one path segment (no "/", no bare "**")."""
    out, i = [], 0
    while i < len(seg):
        c = seg[i]
        if c == "[":
            cls, i = _char_class(seg, i)
            out.append(cls)
            continue
        if c == "\\":
            if i + 1 >= len(seg) or seg[i + 1] not in _SPECIAL:
                raise GlobError("'\\' only escapes * ? [ ] \\; separate directories with '/'")
            out.append(re.escape(seg[i + 1]))
            i += 2
            continue
        out.append({"*": "[^/]*", "?": "[^/]"}.get(c) or re.escape(c))
        i += 1
    return "".join(out)


def _char_class(seg: str, start: int) -> tuple[str, int]:
    """Translate ``[...]`` at ``start``; returns (regex, index after "]")."""
    j = start + 1
    negate = j < len(seg) and seg[j] in "!^"
    j += negate
    if j < len(seg) and seg[j] == "]":
        j += 1  # a "]" right after "[" or "[!" is a literal, as in fnmatch
    close = seg.find("]", j)
    if close == -1:
        raise GlobError("unclosed '['")
    body = seg[start + 1 + negate : close]
    # Keep "-" bare so ranges work; escape everything else.
    inner = "".join("-" if ch == "-" else re.escape(ch) for ch in body)
    # "/" is excluded explicitly: a range such as "+-0" would include it.
    regex = f"[^/{inner}]" if negate else f"(?!/)[{inner}]"
    try:
        re.compile(regex)
    except re.error as exc:
        raise GlobError(f"malformed character class [{body}]: {exc.msg}") from None
    return regex, close + 1
