"""gitgov's encrypted file format: deterministic, chunked, authenticated.

Layout::

    header   magic "\\0GITGOV\\0" | version (1) | algorithm (1) | chunk shift (1) | 0 | key id (8)
    chunk 0  nonce (12) | ciphertext | tag (16)
    chunk 1  ...
    last     a chunk shorter than the chunk size (empty when the plain text fills the chunks)

Algorithm 1 is AES-256-GCM whose nonce is synthetic: HMAC-SHA256, under a key
of its own, of the chunk's plain text and its associated data. The same plain
text under the same key therefore encrypts to the same bytes, so `git status`
sees no change when nothing changed, and two different chunks never share a
nonce. Each chunk's associated data is the header, the chunk index, a
last-chunk flag and the previous chunk's nonce: a reordered, dropped, spliced
or truncated chunk fails to authenticate, and so does a changed header.

Every chunk is authenticated before a byte of it is handed on; memory stays
at a few chunk-sized, page-aligned buffers whatever the file size.
"""
from __future__ import annotations

import hmac
import io
import itertools
import mmap
import struct
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Callable, Iterator

from . import NotEncrypted, Tampered, Truncated, short_id

if TYPE_CHECKING:
    from ..keys import DataKey

MAGIC = b"\x00GITGOV\x00"  # NUL bytes: Git, grep and editors treat the file as binary
VERSION = 1
ALG_AES256GCM_HMAC_NONCE = 1
ALGORITHMS = {ALG_AES256GCM_HMAC_NONCE: "AES-256-GCM, HMAC-SHA256 synthetic nonces"}
HEADER = struct.Struct(">8sBBBB8s")
CHUNK_SHIFT = 20  # 1 MiB: the per-chunk Python overhead is lost in the AES work
NONCE, TAG = 12, 16
_POSITION = struct.Struct(">QB")

Write = Callable[[memoryview | bytes], object]


@dataclass(frozen=True)
class Header:
    version: int
    algorithm: int
    chunk_size: int
    key_id: str
    raw: bytes


def is_encrypted(head: bytes) -> bool:
    """Whether bytes start like a gitgov-encrypted file (the magic)."""
    return head[:len(MAGIC)] == MAGIC


def parse_header(raw: bytes, what: str = "the file") -> Header:
    if len(raw) < HEADER.size or not is_encrypted(raw):
        if is_encrypted(raw):
            raise Truncated(f"{what} is truncated: it ends inside the {HEADER.size}-byte header")
        raise NotEncrypted(f"{what} is not a gitgov-encrypted file (no gitgov header)")
    magic, version, alg, shift, _zero, kid = HEADER.unpack_from(raw)
    if version != VERSION:
        raise NotEncrypted(f"{what} uses encryption format version {version}; this gitgov reads "
                           f"version {VERSION}: upgrade gitgov")
    if alg not in ALGORITHMS or not 12 <= shift <= 30:
        raise Tampered(f"{what} has a damaged header (algorithm {alg}, chunk shift {shift})")
    return Header(version, alg, 1 << shift, kid.hex(), bytes(raw[:HEADER.size]))


def make_header(key: "DataKey", shift: int = CHUNK_SHIFT) -> bytes:
    return HEADER.pack(MAGIC, VERSION, ALG_AES256GCM_HMAC_NONCE, shift, 0, key.id_bytes)


def encrypted_size(plain: int, shift: int = CHUNK_SHIFT) -> int:
    chunks = plain // (1 << shift) + 1
    return HEADER.size + plain + chunks * (NONCE + TAG)


def _fill(src: IO[bytes], view: memoryview) -> int:
    """readinto until the buffer is full or the stream ends (pipes return short reads)."""
    got = 0
    while got < len(view):
        n = src.readinto(view[got:])
        if not n:
            break
        got += n
    return got


def _free(*buffers: Any) -> None:
    """Unmap now rather than at garbage collection; a view still held elsewhere defers it."""
    for b in buffers:
        try:
            b.release() if isinstance(b, memoryview) else b.close()
        except BufferError:
            pass


def _aligned(size: int) -> mmap.mmap:
    return mmap.mmap(-1, size)  # page-aligned: reads and AES run at full speed


def encrypt_stream(src: IO[bytes], write: Write, key: "DataKey", shift: int = CHUNK_SHIFT) -> int:
    """Encrypt ``src`` to ``write`` deterministically; returns the plain-text size."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(key.subkey("file-aead"))
    size = 1 << shift
    header = make_header(key, shift)
    write(header)
    outbuf = _aligned(size + TAG)
    outview = memoryview(outbuf)
    chunks = _nonced_chunks(src, header, key.subkey("file-nonce"), size)
    total = 0
    try:
        for view, n, nonce, ad in chunks:
            aead.encrypt_into(nonce, view[:n], ad, outview[:n + TAG])
            write(nonce)
            write(outview[:n + TAG])
            total += n
        return total
    finally:
        chunks.close()
        _free(outview, outbuf)


def _nonce(nonce_key: bytes, ad: bytes, data: memoryview) -> bytes:
    mac = hmac.new(nonce_key, ad, "sha256")
    mac.update(data)
    return mac.digest()[:NONCE]


def _nonced_chunks(src: IO[bytes], header: bytes, nonce_key: bytes,
                   size: int) -> Iterator[tuple[memoryview, int, bytes, bytes]]:
    """(buffer, length, nonce, associated data) of each chunk.

    A file of one chunk is done inline. Beyond that a helper thread reads and
    hashes ahead while the caller encrypts: hashlib and file reads release the
    GIL, so HMAC and AES run on two cores at once; three buffers bound memory.
    """
    first = _aligned(size)
    view = memoryview(first)
    n = _fill(src, view)
    ad = header + _POSITION.pack(0, n < size) + bytes(NONCE)
    nonce = _nonce(nonce_key, ad, view[:n])
    yield view, n, nonce, ad
    if n < size:
        return
    import queue
    import threading

    ready: queue.Queue = queue.Queue(maxsize=2)
    free: queue.Queue = queue.Queue()
    for buf in (first, _aligned(size), _aligned(size)):
        free.put(buf)
    free.get()  # the first buffer was just used; it is returned below

    def produce(prev: bytes) -> None:
        index = 1
        try:
            while (buf := free.get()) is not None:
                v = memoryview(buf)
                got = _fill(src, v)
                last = got < size
                chunk_ad = header + _POSITION.pack(index, last) + prev
                prev = _nonce(nonce_key, chunk_ad, v[:got])
                ready.put((buf, v, got, prev, chunk_ad))
                if last:
                    return
                index += 1
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            ready.put(exc)

    worker = threading.Thread(target=produce, args=(nonce,), daemon=True, name="gitgov-nonce")
    free.put(first)
    worker.start()
    try:
        while True:
            item = ready.get()
            if isinstance(item, BaseException):
                raise item
            buf, v, got, chunk_nonce, chunk_ad = item
            yield v, got, chunk_nonce, chunk_ad
            free.put(buf)
            if got < size:
                return
    finally:
        free.put(None)
        while worker.is_alive():  # let a producer blocked on a full queue finish
            try:
                ready.get(timeout=0.05)
            except queue.Empty:
                pass


def read_header(src: IO[bytes], what: str) -> Header:
    raw = bytearray(HEADER.size)
    n = _fill(src, memoryview(raw))
    return parse_header(bytes(raw[:n]), what)


def iter_plain(src: IO[bytes], key: "DataKey", header: Header, what: str = "the file") -> Iterator[memoryview]:
    """Each chunk's plain text, authenticated before it is yielded (valid until the next one)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if key.id != header.key_id:
        raise Tampered(f"{what}: key {short_id(key.id)} given for a file of key {short_id(header.key_id)}")
    aead = AESGCM(key.subkey("file-aead"))
    size = header.chunk_size
    inbuf, outbuf = _aligned(size + NONCE + TAG), _aligned(size)
    inview, outview = memoryview(inbuf), memoryview(outbuf)
    prev, index = bytes(NONCE), 0
    try:
        while True:
            n = _fill(src, inview)
            if n < NONCE + TAG:
                raise Truncated(f"{what} is truncated: it ends after chunk {index - 1} without its "
                                "last chunk" if n == 0 and index else
                                f"{what} is truncated inside chunk {index}")
            last = n < size + NONCE + TAG
            nonce = bytes(inview[:NONCE])
            ad = header.raw + _POSITION.pack(index, last) + prev
            try:
                aead.decrypt_into(nonce, inview[NONCE:n], ad, outview[:n - NONCE - TAG])
            except InvalidTag:
                cause = "the file is truncated or was altered there" if last else "it was altered"
                raise Tampered(f"{what}: chunk {index} (bytes {index * size}-"
                               f"{index * size + n - NONCE - TAG}) failed to authenticate: {cause}") from None
            if last and src.read(1):
                raise Tampered(f"{what}: data follows the last chunk ({index}); it was altered")
            yield outview[:n - NONCE - TAG]
            if last:
                return
            prev, index = nonce, index + 1
    finally:
        _free(inview, outview, inbuf, outbuf)


def decrypt_stream(src: IO[bytes], write: Write, key: "DataKey", header: Header,
                   what: str = "the file") -> int:
    """Decrypt after ``read_header``; each chunk is authenticated before it is written."""
    total = 0
    for plain in iter_plain(src, key, header, what):
        write(plain)
        total += len(plain)
    return total


class PlainReader(io.RawIOBase):
    """A readable stream of a ciphertext's plain text, chunk by authenticated chunk."""

    def __init__(self, src: IO[bytes], chunks: Iterator[memoryview]):
        self._src, self._chunks = src, chunks
        self._buf, self._pos = b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while self._pos >= len(self._buf):
            nxt = next(self._chunks, None)
            if nxt is None:
                return 0
            self._buf, self._pos = bytes(nxt), 0
        n = min(len(b), len(self._buf) - self._pos)
        b[:n] = self._buf[self._pos:self._pos + n]
        self._pos += n
        return n

    def close(self) -> None:
        if not self.closed:
            close = getattr(self._chunks, "close", None)
            if close:
                close()
            self._src.close()
        super().close()


def open_plain(src: IO[bytes], find_key: Callable[[str], "DataKey"], what: str) -> IO[bytes]:
    """``src`` as plain text: decrypted when it is gitgov ciphertext, else as it is."""
    head = bytearray(HEADER.size)
    n = _fill(src, memoryview(head))
    if not is_encrypted(bytes(head[:n])):
        return io.BufferedReader(PlainReader(src, itertools.chain([memoryview(bytes(head[:n]))], _rest(src))))
    header = parse_header(bytes(head[:n]), what)
    key = find_key(header.key_id)
    return io.BufferedReader(PlainReader(src, iter_plain(src, key, header, what)), 1 << 20)


def _rest(src: IO[bytes]) -> Iterator[memoryview]:
    while block := src.read(1 << 20):
        yield memoryview(block)


def same_plain(src: IO[bytes], key: "DataKey", header: Header, plain: IO[bytes],
                what: str = "the file") -> bool:
    """Whether ciphertext ``src`` (after ``read_header``) decrypts to exactly ``plain``'s bytes."""
    chunks = iter_plain(src, key, header, what)
    try:
        return all(plain.read(len(chunk)) == chunk for chunk in chunks) and not plain.read(1)
    finally:
        chunks.close()


def verify_stream(src: IO[bytes], key: "DataKey", header: Header, what: str = "the file") -> int:
    """Authenticate every chunk without keeping any plain text."""
    return decrypt_stream(src, lambda _b: None, key, header, what)
