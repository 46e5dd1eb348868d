"""Whether a file's first bytes are text a CSV or JSON reader should see, said the same way by
every command that reads data (a check and a privacy scan of one file must agree)."""
from __future__ import annotations

GZIP_MAGIC = b"\x1f\x8b"  # the first bytes of every gzip file


def sniff_binary(head: bytes) -> str | None:
    """Why `head` is not text a CSV/JSON reader should see, or None."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "the file is UTF-16 text; save it as UTF-8"
    if head.startswith(b"PAR1"):
        return "this is a Parquet file, not text; give it a .parquet name or set `format`"
    nul = head.find(b"\0")
    if nul >= 0:
        line = head.count(b"\n", 0, nul) + 1
        return f"binary data, not text (a NUL byte on line {line})"
    return None
