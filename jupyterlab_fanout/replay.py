"""What a response keeps for a later `attach`: every byte it forwarded, as one running zlib
stream (docs/protocol.md, "Server-owned batches").

A vLLM stream with `continuous_usage_stats` is about 300–340 bytes of SSE per token, most of it
the same JSON keys again and again; deflate at level 1 shrinks it 15–30 times for well under a
microsecond per chunk (measured: 0.3–0.5 µs per 300-byte chunk fed 64 KiB at a time, against
25–35 µs of proxy CPU per token). The compressor is fed on the forwarding path, so an `attach`
costs no re-compression of what came before: the compressed bytes so far, plus a copy of the
compressor fed the last chunks (under 64 KiB) and finished with `Z_FINISH`, are one complete
zlib stream (RFC 1950) of every byte forwarded so far, while the
compressor itself goes on. A response that ended finishes its stream once and lets go of the
compressor (56 KiB of zlib state): an ended batch keeps only its compressed bytes.

Nothing here parses the bytes (no JSON on the event loop): the browser inflates the record
(`DecompressionStream('deflate')`) and parses it like any other record.
"""
from __future__ import annotations

import zlib

#: The one encoding of a replay record (the `replay.encoding` of an `attached` response).
ENCODING = "deflate"
#: zlib's fastest level: the ratio of level 6 is only about 10 % better, at twice the CPU.
LEVEL = 1
#: An 8 KiB window and small hash tables: the repetition in SSE is within one or two events
#: (300 bytes apart), so the ratio is that of zlib's defaults (28.8 against 27.7 measured on
#: vLLM-like events) with 56 KiB of state per running response instead of 320 KiB. Any zlib
#: reader inflates it (the header says the window).
WBITS = 13
MEM_LEVEL = 5
#: What a running compressor holds besides its output (zlib's zconf.h): the window and hash
#: tables, (1 << (wbits + 2)) + (1 << (memLevel + 9)), and the pending buffer,
#: 4 << (memLevel + 6). Counted by `kept_bytes`.
COMPRESSOR_BYTES = (1 << (WBITS + 2)) + (1 << (MEM_LEVEL + 9)) + (4 << (MEM_LEVEL + 6))
#: Bytes of chunks gathered before one compress call (at 100 tokens/s of vLLM's SSE, one call
#: every two seconds or so); an `attach` compresses what is gathered on a copy.
PENDING_BYTES = 64 * 1024


def compress(data: bytes) -> bytes:
    """`data` as one replay record: a zlib stream with the same settings as `ReplayBuffer`'s
    (a digest's tail, batch.py)."""
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, WBITS, MEM_LEVEL)
    return compressor.compress(data) + compressor.flush(zlib.Z_FINISH)


class ReplayBuffer:
    """Every byte one response forwarded, kept compressed (see the module comment).

    Chunks wait uncompressed until `PENDING_BYTES` of them have come, then go through the
    compressor in one call: a call per chunk costs about twice as much per byte (the call
    itself, and the compressor's tables coming back into the CPU's cache for 300 bytes)."""

    __slots__ = ("_compressor", "_out", "_out_bytes", "_pending", "_pending_bytes", "raw_bytes")

    def __init__(self) -> None:
        self._compressor: zlib._Compress | None = zlib.compressobj(
            LEVEL, zlib.DEFLATED, WBITS, MEM_LEVEL)
        #: The compressed bytes so far (the compressor's output, as it came).
        self._out: list[bytes] = []
        self._out_bytes = 0
        #: Chunks not compressed yet (at most about PENDING_BYTES).
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        #: How many bytes were forwarded (the replay's size once inflated).
        self.raw_bytes = 0

    def add(self, chunk: bytes) -> None:
        """Keep one forwarded chunk (the hot path: no copy; a compress call now and then)."""
        if self._compressor is None:
            raise RuntimeError("a replay buffer got bytes after it was sealed")
        self._pending.append(chunk)
        self._pending_bytes += len(chunk)
        self.raw_bytes += len(chunk)
        if self._pending_bytes >= PENDING_BYTES:
            self._compress()

    def _compress(self) -> None:
        assert self._compressor is not None
        out = self._compressor.compress(b"".join(self._pending))
        self._pending = []
        self._pending_bytes = 0
        if out:
            self._out.append(out)
            self._out_bytes += len(out)

    def seal(self) -> None:
        """The response ended: finish the stream and let go of the compressor."""
        if self._compressor is None:
            return
        self._compress()
        compressor, self._compressor = self._compressor, None
        tail = compressor.flush(zlib.Z_FINISH)
        self._out = [b"".join([*self._out, tail])]
        self._out_bytes = len(self._out[0])

    @property
    def sealed(self) -> bool:
        return self._compressor is None

    def snapshot(self) -> bytes:
        """One complete zlib stream of every byte kept so far (the compressor goes on)."""
        compressor = self._compressor
        if compressor is None:
            return self._out[0]
        copy = compressor.copy()
        tail = copy.compress(b"".join(self._pending)) + copy.flush(zlib.Z_FINISH)
        return b"".join([*self._out, tail])

    def kept_bytes(self) -> int:
        """About how much memory this buffer holds: its compressed bytes, and while the
        response runs, the compressor's state and the chunks not compressed yet."""
        if self._compressor is None:
            return self._out_bytes
        return self._out_bytes + COMPRESSOR_BYTES + self._pending_bytes

    def decoded(self) -> bytes:
        """Every byte kept, inflated (tests and tools; never on a hot path)."""
        return zlib.decompress(self.snapshot())
