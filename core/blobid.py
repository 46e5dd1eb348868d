"""The id Git gives a file's bytes, computed without Git."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path


def blob_id(path: Path | str) -> str | None:
    """sha1 of "blob <size>\\0" + the bytes, read in chunks; None when the file cannot be read.

    Not `git hash-object`: it maps the whole file into memory, which would make
    checking a large file look (and, on a small machine, be) as big as the file.
    """
    try:
        with open(path, "rb") as fh:
            digest = hashlib.sha1(b"blob %d\0" % os.fstat(fh.fileno()).st_size)
            buf = bytearray(1 << 20)
            view = memoryview(buf)
            while n := fh.readinto(buf):
                digest.update(view[:n])  # hashlib releases the GIL for large chunks
    except OSError:
        return None
    return digest.hexdigest()
