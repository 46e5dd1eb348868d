"""A byte stream that pyarrow reads from: gzip, the first bytes kept for sniffing.

pyarrow pulls blocks through ``read(n)``; this wrapper decompresses gzip on
the way with a bounded output size, remembers the head of the file (for the
header, binary and encoding checks) and counts quote characters, since an
odd number of them means a quoted value that is never closed. A plain file
on disk is handed to pyarrow through BufferReads instead.
"""
from __future__ import annotations

import zlib
from typing import IO

from gitgov.core.textsniff import GZIP_MAGIC

HEAD_BYTES = 1 << 16
CHUNK = 1 << 20


class StreamError(Exception):
    """The bytes themselves are broken (corrupt gzip); kept to report after pyarrow gives up."""


class _ReadOnly:
    """The file protocol pyarrow asks of a stream it only reads, start to end."""

    closed = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def writable(self) -> bool:
        return False


class ByteStream(_ReadOnly):
    """Readable, non-seekable file object over `raw`, decompressing gzip when it sees it."""

    def __init__(self, raw: IO[bytes], *, gzip: bool = False, count: bytes | None = None,
                 final_newline: bool = False, first_read: int | None = None):
        self.raw = raw
        # A small first block: its batch is ready early, while the reader goes on with full
        # blocks (the consumer has nothing else to do until the first batch arrives).
        self.first_read = first_read
        self.count_byte = count
        self.counted = 0
        self.size = 0  # bytes handed out (after decompression)
        self.error: StreamError | None = None
        self.final_newline = final_newline
        self._last = b""
        self._eof = False
        self._z: "zlib._Decompress | None" = None
        self._fed = False
        first = raw.read(HEAD_BYTES)
        if gzip or first.startswith(GZIP_MAGIC):
            self._z = zlib.decompressobj(wbits=47)
            self._tail = first
        else:
            self._tail = b""
        self.head = first if self._z is None else self._inflate(HEAD_BYTES)
        self._buffer = self.head
        if final_newline and self.head and len(self.head) < HEAD_BYTES and not self.head.endswith(b"\n"):
            # the whole file, without a final line break: pyarrow needs one after a lone header
            self._buffer = self.head + b"\n"

    # ---- file protocol used by pyarrow -------------------------------------------

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            return b"".join(iter(lambda: self.read(CHUNK), b""))
        n = self._clamp(n)
        if self._buffer:
            out, self._buffer = self._buffer[:n], self._buffer[n:]
            if len(out) < n and not self._buffer:
                out += self._next(n - len(out))  # a full first block, not just the head
        else:
            out = self._next(n)
        if out:
            self._last = out[-1:]
        else:
            out = self._last_line_end()
        self.size += len(out)
        if self.count_byte is not None:
            self.counted += _count(out, self.count_byte)
        return out

    @property
    def ends_mid_line(self) -> bool:
        """Whether what was read so far ends inside a line (with no line break after it)."""
        return self._last not in (b"", b"\n")

    def _clamp(self, n: int) -> int:
        """The size of this read: the first one is at most `first_read`."""
        if self.first_read is not None:
            n, self.first_read = min(n, self.first_read), None
        return n

    def _last_line_end(self) -> bytes:
        """At the end: a line break if the data did not end with one (pyarrow cannot read
        a header-only file without it), else nothing."""
        if self.final_newline and self.ends_mid_line:
            self._last = b"\n"
            return b"\n"
        return b""

    def close(self) -> None:
        self.closed = True
        self.raw.close()

    def __enter__(self) -> "ByteStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- reading and inflating ------------------------------------------------------

    def _next(self, n: int) -> bytes:
        if self._z is None:
            return self.raw.read(n)
        return self._inflate(n)

    def _inflate(self, n: int) -> bytes:
        """Up to n decompressed bytes; never more, so a zip bomb cannot fill memory."""
        out: list[bytes] = []
        got = 0
        try:
            while got < n:
                z = self._z
                if z.unconsumed_tail:
                    data = z.unconsumed_tail
                elif self._tail:
                    data, self._tail = self._tail, b""
                elif self._eof:
                    break
                else:
                    data = self.raw.read(CHUNK)
                    if not data:
                        self._eof = True
                        if self._fed and not z.eof:
                            raise StreamError("the gzip data ends too early (a truncated file)")
                        break
                self._fed = True
                piece = z.decompress(data, n - got)
                out.append(piece)
                got += len(piece)
                if z.eof:  # concatenated gzip members are one stream, as gzip(1) reads them
                    self._tail = z.unused_data
                    self._z = zlib.decompressobj(wbits=47)
                    self._fed = False
        except zlib.error as exc:
            self.error = StreamError(f"the gzip data is corrupt ({exc})")
            raise self.error from None
        except StreamError as exc:
            self.error = exc
            raise
        return b"".join(out)


class BufferReads(_ReadOnly):
    """pyarrow's side of a ByteStream over a plain file on disk.

    pyarrow asks for ``read_buffer(n)`` when a file object has it: the blocks
    are read into buffers of Arrow's memory pool, which reuses the memory of
    blocks it is done with. A bytes object per block would be new memory each
    time, which the kernel must zero page by page: that costs more than
    parsing the block. Quotes are then counted in a second pass at the end,
    through one small reused buffer.
    """

    def __init__(self, stream: "ByteStream"):
        self.stream, self.raw = stream, stream.raw
        self.raw.seek(0)  # the head, kept for sniffing, is read again with the rest

    @staticmethod
    def usable(stream: "ByteStream") -> bool:
        import os
        import stat

        if stream._z is not None or len(stream.head) < HEAD_BYTES:
            return False  # gzip, or a small file (read at once, maybe given a final line break)
        try:
            return stat.S_ISREG(os.fstat(stream.raw.fileno()).st_mode) and stream.raw.seekable()
        except (AttributeError, OSError, ValueError):
            return False

    def read(self, n: int = -1) -> bytes:
        return bytes(self.read_buffer(n if n is not None and n >= 0 else 1 << 30))

    def read_buffer(self, n: int) -> object:
        import pyarrow as pa

        s = self.stream
        n = s._clamp(n)
        buf = pa.allocate_buffer(n)
        view, got = memoryview(buf), 0
        while got < n:
            k = self.raw.readinto(view[got:])
            if not k:
                break
            got += k
        if got:
            s._last, s.size = bytes(view[got - 1:got]), s.size + got
            return buf if got == n else buf.slice(0, got)
        if s.count_byte is not None and not s._eof:
            s._eof, s.counted = True, self._count_all(s.count_byte)
        end = s._last_line_end()
        s.size += len(end)
        return end

    def _count_all(self, byte: bytes) -> int:
        self.raw.seek(0)
        chunk, total = bytearray(CHUNK), 0
        while True:
            k = self.raw.readinto(chunk)
            if not k:
                return total
            total += _count(chunk, byte, k)

    def close(self) -> None:
        self.stream.close()


def _count(data: bytes | bytearray, byte: bytes, end: int | None = None) -> int:
    """How often `byte` occurs in data[:end]. A few occurrences are found with find (memchr,
    many times faster than count's byte-by-byte loop); only a block full of them is counted."""
    end = len(data) if end is None else end
    n, at = 0, data.find(byte, 0, end)
    while at >= 0:
        n += 1
        if n == 64:
            return n + data.count(byte, at + 1, end)
        at = data.find(byte, at + 1, end)
    return n


def line_of_offset(head: bytes, offset: int) -> int:
    return head.count(b"\n", 0, offset) + 1
