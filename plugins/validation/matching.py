"""Whole-value regular expressions over a batch, a group of values per match.

RE2 (pc.match_substring_regex) spends more on setting up each match than on
scanning a short value such as an e-mail address or a phone number. So the
values are joined with line breaks into groups of GROUP, and one match per
group asks whether every line of the group matches: one pass over the bytes
instead of a match per value. Only the values of groups that fail are then
matched one by one, to find which of them fail. Clean data is one scan.

Joining is exact when no value holds a line break (checked on the batch's
bytes) and the pattern cannot match one (checked on its text, and
conservatively: negated classes, `.` under the s flag, escapes that can
stand for a line break and control characters keep a pattern out). Then a
group's lines can only be its values. Other patterns, and small batches,
are matched value by value.

Grouping pays only while most groups pass. A column with a steady defect
rate (one bad e-mail in a hundred) fails nearly every group, and would be
scanned twice; so a pattern whose groups mostly failed is matched value by
value for the next REGROUP batches, then grouped again to see if the data
got cleaner. Both ways give the same mask: only the speed differs.
"""
from __future__ import annotations

import re
from typing import Any

from gitgov.core import arrow_values as av

GROUP = 512  # values per joined match
MIN_VALUES = 4 * GROUP  # smaller batches are matched value by value
REGROUP = 8  # batches matched value by value after most groups failed
_ungrouped: dict[str, int] = {}  # pattern -> batches left to match value by value
_UNSAFE = re.compile(r"\[\^|\[:|\(\?[a-zA-Z-]*s")  # negated class, POSIX class, (?s)
_SAFE_ESCAPES = frozenset("dwbBAz")  # \d \w match no line break; the others no character


def line_safe(pattern: str) -> bool:
    """True when `pattern` can never match a text that holds a line break."""
    if _UNSAFE.search(pattern):
        return False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ord(ch) < 0x20 or ch == "\x7f":
            return False
        if ch == "\\":
            nxt = pattern[i + 1:i + 2]
            punctuation = nxt.isascii() and nxt.isprintable() and not nxt.isalnum()
            if not nxt or not (nxt in _SAFE_ESCAPES or punctuation):
                return False
            i += 1
        i += 1
    return True


def mismatches(text: Any, pattern: str) -> Any:
    """True where a value does not match `pattern` as a whole (null where it is null).

    Raises pyarrow.ArrowInvalid when RE2 cannot compile the pattern.
    """
    import pyarrow as pa
    from gitgov.core import arrow_kernels as pc

    whole = f"^(?:{pattern})$"
    if not isinstance(text, pa.Array) or len(text) - text.null_count < MIN_VALUES \
            or not line_safe(pattern) or _skip_grouping(pattern):
        return pc.invert(pc.match_substring_regex(text, whole))
    values = pc.drop_null(text) if text.null_count else text
    if av.holds_byte(values, b"\n"):
        return pc.invert(pc.match_substring_regex(text, whole))
    try:
        mask = _grouped(values, pattern, whole)
    except pa.ArrowInvalid:  # the pattern twice over can be too large where once is not
        return pc.invert(pc.match_substring_regex(text, whole))
    if text.null_count:  # back to the rows of the batch, nulls in place
        return pc.replace_with_mask(pa.nulls(len(text), pa.bool_()), pc.is_valid(text), mask)
    return mask


def _skip_grouping(pattern: str) -> bool:
    left = _ungrouped.get(pattern, 0)
    if left:
        _ungrouped[pattern] = left - 1
    return left > 0


def any_starts(text: Any, pattern: str) -> bool:
    """Whether some value of `text` starts with a match of `pattern` (which must be line-safe).

    Every batch of a numeric-looking column asks this, so the values are joined with line
    breaks and searched in one pass: a match per value costs about three times more.
    """
    from gitgov.core import arrow_kernels as pc

    values = pc.drop_null(text) if text.null_count else text
    if not len(values):
        return False
    if av.holds_byte(values, b"\n"):
        return bool(pc.any(pc.match_substring_regex(values, f"^(?:{pattern})")).as_py())
    joined = _joined(values, [0])
    return bool(pc.any(pc.match_substring_regex(joined, f"(?m)^(?:{pattern})")).as_py())


def _joined(values: Any, starts: list[int]) -> Any:
    """One text per group of values (groups begin at `starts`), its values joined by line breaks."""
    import pyarrow as pa
    from gitgov.core import arrow_kernels as pc

    groups = pa.ListArray.from_arrays(av.array(starts + [len(values)], pa.int32()), values)
    return pc.binary_join(groups, av.scalar("\n", values.type))


def _grouped(values: Any, pattern: str, whole: str) -> Any:
    import pyarrow as pa

    from gitgov.core import arrow_kernels as pc

    n = len(values)
    starts = list(range(0, n, GROUP))
    joined = _joined(values, starts)
    # (?m): ^ and $ inside the pattern match at each value's start and end, as they would alone
    every = f"(?m)\\A(?:{pattern})(?:\\n(?:{pattern}))*\\z"
    good = pc.match_substring_regex(joined, every)
    if good.true_count == len(starts):
        return av.repeat(False, n)
    if 2 * good.true_count < len(starts):  # mostly failing: the next batches match value by value
        _ungrouped[pattern] = REGROUP
    failing = [i for i, ok in enumerate(good.to_pylist()) if not ok]
    parts = [values.slice(starts[i], GROUP) for i in failing]
    bad = pc.invert(pc.match_substring_regex(pa.concat_arrays(parts), whole))
    pieces, used, clean_from = [], 0, 0
    for i, part in zip(failing, parts):
        if starts[i] > clean_from:  # the passing groups before this one, in one piece
            pieces.append(av.repeat(False, starts[i] - clean_from))
        pieces.append(bad.slice(used, len(part)))
        used, clean_from = used + len(part), starts[i] + len(part)
    if clean_from < n:
        pieces.append(av.repeat(False, n - clean_from))
    return pa.concat_arrays(pieces)
