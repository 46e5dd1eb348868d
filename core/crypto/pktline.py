"""Git's pkt-line framing, as the long-running filter protocol (gitfilter.py) speaks it."""
from __future__ import annotations

from typing import IO, Any, BinaryIO

MAX_PACKET = 65516


class PktReader:
    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.buf = bytearray(MAX_PACKET + 4)

    def packet(self) -> bytes | None:
        """One packet's payload; None for a flush packet; EOFError at the end."""
        head = self.stream.read(4)
        if len(head) < 4:
            raise EOFError
        n = int(head, 16)
        if n == 0:
            return None
        return self.stream.read(n - 4)

    def text_list(self) -> list[str]:
        out = []
        while (pkt := self.packet()) is not None:
            out.append(pkt.decode("utf-8", "surrogateescape").rstrip("\n"))
        return out

    def content_into(self, sink: IO[bytes]) -> None:
        view = memoryview(self.buf)
        while True:
            head = self.stream.read(4)
            if len(head) < 4:
                raise EOFError
            n = int(head, 16)
            if n == 0:
                return
            got = self.stream.readinto(view[:n - 4])
            while got < n - 4:
                got += self.stream.readinto(view[got:n - 4])
            sink.write(view[:n - 4])


class PktWriter:
    """Frames bytes into pkt-lines of the largest size Git accepts."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.pending = bytearray()

    def text(self, *lines: str) -> None:
        for line in lines:
            data = (line + "\n").encode()
            self.stream.write(b"%04x" % (len(data) + 4) + data)
        self.flush_packet()

    def write(self, data: Any) -> None:
        view = memoryview(data).cast("B")
        if self.pending:
            take = MAX_PACKET - len(self.pending)
            self.pending += view[:take]
            view = view[take:]
            if len(self.pending) < MAX_PACKET:
                return
            self._frame(self.pending)
            self.pending = bytearray()
        while len(view) >= MAX_PACKET:
            self._frame(view[:MAX_PACKET])
            view = view[MAX_PACKET:]
        self.pending += view

    def _frame(self, data: Any) -> None:
        self.stream.write(b"%04x" % (len(data) + 4))
        self.stream.write(data)

    def end_content(self) -> None:
        if self.pending:
            self._frame(self.pending)
            self.pending = bytearray()
        self.flush_packet()

    def flush_packet(self) -> None:
        self.stream.write(b"0000")

    def done(self) -> None:
        self.stream.flush()
