"""The batch store's reader process (store.py `ParseWorker`): it reads the SSE bytes of the
running attempts for the store's writer thread, so that reading them takes neither the proxy
process's CPU nor its GIL. One request, one answer, in order, over stdin and stdout: a 4-byte
little-endian length, then a pickle (between a process and its own child only).

A request is a list of `(key, bytes, final)` (a key names one attempt's readers); the answer,
in the same order, a list of `(key, text, reasoning, summary, digested)`: the text and reasoning
those bytes added; when `final`, the reader's summary `(usage, finish_reason, error, done,
model, bytes)` (the readers are dropped then); and what they added to the attempt's digest,
`(entries, events, consumed, model, ended)` (digest.py). Each byte is read once (`read`). The process
ends when stdin closes (the server exited, even killed)."""
from __future__ import annotations

import pickle
import signal
import struct
import sys
from typing import BinaryIO, Optional

from .digest import Digester
from .store import SSEReader


def read(reader: SSEReader, digester: Digester, data: bytes,
         final: bool) -> tuple[str, str, tuple[bytes, int, int, Optional[str], bool]]:
    """Read one attempt's next bytes once: the plain events by its Digester, which hands each
    one's JSON object to the SSEReader's own reading of events (the store's text, usage and
    finish reason), and the rest of the stream, from the event the digest ended at, by the
    SSEReader. Returns the text and reasoning they added, and the digest's answer
    `(entries, events, consumed, model, ended)`."""
    text_from, reasoning_from = len(reader.text), len(reader.reasoning)
    entries, events, consumed = b"", 0, 0
    if not digester.ended:
        entries, events, consumed = digester.feed(data, reader.read_event)
        reader.bytes += consumed
        # What the digest did not read: once it ended, all from there; at the end of the
        # stream, a last event cut off.
        data = digester.rest() if digester.ended or final else b""
    if data or final:
        reader.feed(data, final)
    return ("".join(reader.text[text_from:]), "".join(reader.reasoning[reasoning_from:]),
            (entries, events, consumed, digester.model, digester.ended))


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    readers: dict[int, tuple[SSEReader, Digester]] = {}
    while True:
        head = inp.read(4)
        if len(head) < 4:
            return
        (size,) = struct.unpack("<I", head)
        body = inp.read(size)
        if len(body) < size:
            return
        answers = []
        for key, data, final in pickle.loads(body):
            pair = readers.get(key)
            if pair is None:
                pair = readers[key] = (SSEReader(), Digester())
            reader, digester = pair
            text, reasoning, digested = read(reader, digester, data, final)
            summary = None
            if final:
                del readers[key]
                summary = (reader.usage, reader.finish_reason, reader.error, reader.done,
                           reader.model, reader.bytes)
            answers.append((key, text, reasoning, summary, digested))
        blob = pickle.dumps(answers, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(struct.pack("<I", len(blob)) + blob)
        out.flush()


def main() -> None:
    # Ctrl-C reaches the whole process group: the server, shutting down, still needs us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
