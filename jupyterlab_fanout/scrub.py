"""Keeping an upstream's API key away from the browser and the logs.

`scrub_text` removes the key from a message (an upstream's error, a model id, a log line)
before it is cut to any length limit, so that no prefix of the key survives a cut.
`StreamScrubber` removes it from the raw bytes of a relayed 2xx stream, which the proxy
forwards in whatever pieces the upstream's reads return: a key split across two reads is
found too, because the tail of a read that could be the start of the key (at most
len(key) - 1 bytes) is held back until the next read (or the end of the stream).
"""
from __future__ import annotations

from typing import Optional

#: What a key is replaced with.
REPLACEMENT = "***"
#: Shortest key scrubbed from relayed streams. Shorter "keys" are placeholders such as
#: vLLM's `EMPTY` or `dummy`, not secrets; replacing them in model output would corrupt
#: ordinary text. Error messages and model ids are scrubbed of keys of any length.
MIN_STREAM_KEY = 8


def key_forms(key: str) -> tuple[str, ...]:
    """The key as it may appear in text: itself and, if it has a '/', JSON's `\\/` form."""
    forms = [key]
    if "/" in key:
        forms.append(key.replace("/", "\\/"))
    return tuple(forms)


def scrub_text(text: str, key: Optional[str]) -> str:
    """`text` with every occurrence of `key` (in any form of `key_forms`) replaced."""
    if key:
        for form in key_forms(key):
            if form in text:
                text = text.replace(form, REPLACEMENT)
    return text


class StreamScrubber:
    """Removes a key from a byte stream cut anywhere (one per relayed stream).

    `feed(chunk)` returns the bytes that may leave now; it holds back the longest tail that
    is a proper prefix of the key (none when the chunk ends with a byte the key does not
    contain, such as the newline that ends every SSE event: the usual case costs one
    substring search and one set lookup). `end()` returns what is held at the end.
    """

    __slots__ = ("_forms", "_bytes", "_tail")

    def __init__(self, key: str):
        self._forms = tuple(f.encode("utf-8") for f in key_forms(key))
        self._bytes = frozenset(b for form in self._forms for b in form)
        self._tail = b""

    def feed(self, chunk: bytes) -> bytes:
        if self._tail:
            chunk = self._tail + chunk
            self._tail = b""
        for form in self._forms:
            if form in chunk:
                chunk = chunk.replace(form, b"***")
        if chunk and chunk[-1] in self._bytes:
            keep = self._partial(chunk)
            if keep:
                self._tail = chunk[-keep:]
                chunk = chunk[:-keep]
        return chunk

    def _partial(self, chunk: bytes) -> int:
        """Length of the longest tail of `chunk` that is a proper prefix of a key form."""
        best = 0
        for form in self._forms:
            first = form[0]
            i = chunk.find(first, max(0, len(chunk) - len(form) + 1))
            while i != -1:
                if form.startswith(chunk[i:]):
                    best = max(best, len(chunk) - i)
                    break
                i = chunk.find(first, i + 1)
        return best

    def end(self) -> bytes:
        """The bytes held back (the stream ended): they were not the key."""
        tail, self._tail = self._tail, b""
        return tail


def stream_scrubber(key: Optional[str]) -> Optional[StreamScrubber]:
    """A scrubber for one stream of an upstream with this key (None: nothing to scrub)."""
    if key and len(key) >= MIN_STREAM_KEY:
        return StreamScrubber(key)
    return None
