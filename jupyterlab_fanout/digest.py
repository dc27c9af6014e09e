"""What a reattached response replays first: a *digest* of the events read so far, instead of
every byte (docs/protocol.md, "The digest").

A page reloaded during a 64 × 4,000-token batch used to get each response's forwarded bytes
(about 340 bytes of SSE per token) and parse them all again in its worker: 15–30 MB of SSE,
inflated, decoded and read by `eventsource-parser` and one `JSON.parse` an event. A digest keeps,
per event, only what the browser's core reads from it (src/core/response.ts `applyPayload`): the
answer and reasoning text, the finish reason and the usage counts, about 11 bytes a token. The
browser applies it through the same code as a parsed event, then parses the raw bytes after it
(the *tail*) as before.

Exactness comes first. A digest covers only a prefix of the stream made of *plain events*, read
exactly as the browser would read them:

- the bytes `data:`, an optional space, the event's data, `\\n\\n`: no other field, comment,
  carriage return or empty data, valid UTF-8;
- the data is one JSON object that Python and JavaScript read alike: no `NaN`/`Infinity`, no
  number beyond a float, no `-0`;
- it is not an error (no `error` key, no `"object": "error"`), and the usage counts the core
  reads (`completion_tokens`, `prompt_tokens`, `completion_tokens_details.reasoning_tokens`) are
  absent, null or non-negative integers.

The first event that is not plain (`[DONE]`, an error, anything unusual) ends the digest for
good: it and everything after it are the tail, parsed by the browser from the bytes. A stream
whose first event is not plain has no digest and replays as before.

One entry an event, a JSON array with its trailing defaults left out:
`[content, usage, reasoning, finish_reason]`, where the strings are "" when absent (the core
ignores empty strings) and usage is 0 (none), 1 (the previous event's usage with one more
completion token: vLLM's continuous usage stats) or `[completion, prompt, reasoning]` (null for
absent). The first string `model` of the digested events is sent once, beside the entries.

The `Digester` reads in the store's reader process (store_worker.py), on the bytes the store
reads anyway, about once a second; the `Digest` holds its answers in the server for an attach.
"""
from __future__ import annotations

import asyncio
import json
import json.scanner
import re
import threading
from typing import Any, Callable, Optional

#: Bytes of stream past the digest (its tail) that a digest holds at most while the reader
#: catches up (about a second of stream, more when the machine is busy); beyond, the digest is
#: given up and the response replays every byte.
TAIL_LIMIT = 1 << 20
#: The same once the digest has ended (a non-plain event: the rest of the stream is tail, kept
#: uncompressed): a stream that goes on long after that replays every byte instead.
ENDED_TAIL_LIMIT = 64 << 10
#: Bytes of entries a digest holds at most (about 170,000 tokens of vLLM's stream); beyond,
#: given up. Entries are kept as they are, not compressed.
ENTRIES_LIMIT = 2 << 20
#: A tail longer than this is not compressed on the event loop for an attach: the response's
#: whole replay, compressed as it came, is sent instead (batch.py).
ATTACH_TAIL_LIMIT = 256 << 10

#: Entries keep non-ASCII text as it is (an escape takes 6 bytes), except lone surrogates
#: (`\ud83d` alone, from a JSON escape), which UTF-8 cannot carry: such an entry is escaped.
_ENCODE = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
_ENCODE_ASCII = json.JSONEncoder(ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode
_SURROGATE = re.compile("[\ud800-\udfff]")


class NotPlain(Exception):
    """This event is not one the digest can carry (see the module comment)."""


def _parse_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):  # 1e400: Infinity in JavaScript too, but no JSON
        raise NotPlain(text)
    return value


def _parse_constant(text: str) -> Any:
    raise NotPlain(text)  # NaN, Infinity, -Infinity: not JSON to JavaScript


#: Integers are read by the C scanner (a hook per integer would double the cost); the one integer
#: the two languages read apart, `-0`, matters only as a usage count of 0 (see `_usage`).
#: The C scanner itself (`json.loads` around it costs as much again per event): a value starting
#: at an index, and where it ends.
_SCAN = json.scanner.make_scanner(  # type: ignore[attr-defined]
    json.JSONDecoder(parse_float=_parse_float, parse_constant=_parse_constant))
#: `-0` not inside a longer number: where a JSON value `-0` may be (`_minus_zero`).
_MINUS_ZERO = re.compile(rb"-0(?![0-9.eE])")


def _minus_zero(raw: bytes) -> bool:
    """`raw` (an event's JSON) holds `-0` as a value: after a colon, a comma or a bracket,
    whitespace allowed. A string holding those bytes (`"a: -0"`) counts too, which only costs
    the digest; vLLM's ids (`chatcmpl-0b9…`, 1 in 16) and model names (`Qwen3-0.6B`) do not.
    (The literal is searched first: a pattern starting with the punctuation took 11× as long.)"""
    match = _MINUS_ZERO.search(raw)
    while match is not None:
        at = match.start() - 1
        while at >= 0 and raw[at] in b" \t\n\r":
            at -= 1
        if at >= 0 and raw[at] in b":,[":
            return True
        match = _MINUS_ZERO.search(raw, match.end())
    return False


_STRING = json.encoder.encode_basestring  # type: ignore[attr-defined]


#: The largest integer a JavaScript number holds exactly: beyond, the two languages differ.
MAX_SAFE_INTEGER = 2 ** 53 - 1


def _count(value: Any) -> Optional[int]:
    """A usage count as the core reads it: absent or null is None; an integer from 0 to
    MAX_SAFE_INTEGER is itself; anything else (a string, a float, a boolean, a negative, a
    number JavaScript rounds) is not plain."""
    if value is None:
        return None
    if type(value) is int and 0 <= value <= MAX_SAFE_INTEGER:
        return value
    raise NotPlain("usage count")


def _usage(usage: Any, raw: bytes) -> Optional[tuple[Optional[int], Optional[int], Optional[int]]]:
    """The usage the core reads (token-count.ts `readUsage`), or None when it reads none.
    `raw`: the event's data, where a count of 0 may have been written `-0`."""
    if not isinstance(usage, dict):
        return None  # null, absent, or not an object: the core reads no usage (arrays too)
    completion = _count(usage.get("completion_tokens"))
    prompt = _count(usage.get("prompt_tokens"))
    details = usage.get("completion_tokens_details")
    reasoning = _count(details.get("reasoning_tokens")) if isinstance(details, dict) else None
    if 0 in (completion, prompt, reasoning) and _minus_zero(raw):
        raise NotPlain("-0")  # JavaScript reads -0, Python 0
    if completion is None:
        return None  # `readUsage` is null without a completion count
    return completion, prompt, reasoning


class Digester:
    """Reads one response's stream, from its first byte, into digest entries (see the module
    comment). Fed the stream's bytes in order, cut anywhere."""

    __slots__ = ("_buf", "_usage", "model", "ended")

    def __init__(self) -> None:
        #: Bytes not read yet: an event not complete yet; once ended, what it did not read.
        self._buf = b""
        self._usage: Optional[tuple[Optional[int], Optional[int], Optional[int]]] = None
        #: The first string `model` of the digested events.
        self.model: Optional[str] = None
        #: A non-plain event was met: nothing more is read (the rest is tail).
        self.ended = False

    def feed(self, data: bytes,
             on_event: Optional[Callable[[dict], None]] = None) -> tuple[bytes, int, int]:
        """Read `data`: the entries of the plain events completed (comma-joined JSON), how
        many, and how many bytes of the stream they took (from the end of the previous ones).
        `on_event` gets each digested event's JSON object (the store reads its text from it)."""
        if self.ended:
            return b"", 0, 0
        buf = self._buf + data if self._buf else data
        at = 0
        entries: list[str] = []
        while True:
            end = buf.find(b"\n\n", at)
            if end < 0:
                break
            try:
                entry, payload = self._entry(buf[at:end])
            except NotPlain:
                self.ended = True
                break
            if entry is not None:
                entries.append(entry)
                if on_event is not None:
                    on_event(payload)  # type: ignore[arg-type]
            at = end + 2
        self._buf = buf[at:]
        if len(self._buf) > TAIL_LIMIT:
            self.ended = True  # an event longer than a digest's tail: not one a token makes
        return ",".join(entries).encode("utf-8"), len(entries), at

    def rest(self) -> bytes:
        """The bytes fed and not digested (an event not complete yet; once ended, everything
        from the event that ended it), handed over once: the caller reads them otherwise."""
        rest, self._buf = self._buf, b""
        return rest

    def _entry(self, event: bytes) -> tuple[Optional[str], Optional[dict]]:
        if b"\n" in event or b"\r" in event:
            raise NotPlain("not one line")
        if event.startswith(b":"):
            return None, None  # a comment (a keep-alive): no event, for the browser or the store
        if not event.startswith(b"data:"):
            raise NotPlain("not a data line")
        raw = event[6:] if event[5:6] == b" " else event[5:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise NotPlain("not UTF-8") from e
        if text.startswith("\ufeff"):
            raise NotPlain("BOM")  # the stream's first bytes: the browser drops a BOM there
        try:
            payload, end = _SCAN(text, 0)
        except (StopIteration, ValueError, RecursionError) as e:  # [DONE], anything not JSON
            raise NotPlain("not JSON") from e
        if end != len(text):
            raise NotPlain("more than one JSON value")  # or whitespace around it: not plain either
        if not isinstance(payload, dict) or "error" in payload or payload.get("object") == "error":
            raise NotPlain("not a plain chunk")
        content = reasoning = finish = ""
        choices = payload.get("choices")
        if isinstance(choices, list) and len(choices) > 1:
            raise NotPlain("several choices")  # the core reads the first, the store all
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            choice = choices[0]
            delta = choice.get("delta")
            if isinstance(delta, dict):
                thought = delta.get("reasoning")
                if thought is None:
                    thought = delta.get("reasoning_content")
                if isinstance(thought, str):
                    reasoning = thought
                if isinstance(delta.get("content"), str):
                    content = delta["content"]
            if isinstance(choice.get("finish_reason"), str):
                finish = choice["finish_reason"]
        usage = _usage(payload.get("usage"), raw)
        if self.model is None and isinstance(payload.get("model"), str):
            self.model = payload["model"]
        if usage is None:
            usage_code: Any = 0
        elif (self._usage is not None and self._usage[0] is not None
              and usage == (self._usage[0] + 1, self._usage[1], self._usage[2])):
            usage_code = 1
        else:
            usage_code = list(usage)
            while usage_code and usage_code[-1] is None:
                usage_code.pop()
        if usage is not None:
            self._usage = usage
        if (b"\\ud" in raw or b"\\uD" in raw) and (
                _SURROGATE.search(content) or _SURROGATE.search(reasoning)
                or _SURROGATE.search(finish)):  # only a JSON escape makes one
            encode = _ENCODE_ASCII
        elif usage_code == 1 and not reasoning and not finish:
            return "[" + _STRING(content) + ",1]", payload  # most events: one token of text
        else:
            encode = _ENCODE
        entry: list[Any] = [content, usage_code, reasoning, finish]
        while len(entry) > 1 and entry[-1] in ("", 0):
            entry.pop()
        return encode(entry), payload


class Digest:
    """One response's digest in the server: the reader process's answers (store.py) and the
    bytes read after them, for an attach on the event loop. Thread-safe: the store's writer
    thread takes bytes and adds answers, the event loop reads.

    The tail is the bytes past the digest: what the reader read but did not digest (an event
    not complete yet, or everything from the first non-plain event), what it is reading now, and
    what it has not taken yet (`pending`, the recording's own buffer)."""

    def __init__(self, pending: bytearray) -> None:
        self._lock = threading.Lock()
        self._pending = pending
        self._entries: list[bytes] = []
        self._entry_bytes = 0
        self.events = 0
        #: Bytes of the stream the digest covers.
        self.offset = 0
        self.model: Optional[str] = None
        self._unread = b""  # taken by the reader, not digested
        self._reading = b""  # taken, being read now
        #: Given up (the tail grew past TAIL_LIMIT, or the reader failed): replay every byte.
        self.dead = False
        #: The reader has read the response's last byte: the digest and its tail are the whole
        #: stream (and stay as they are).
        self.final = False
        #: Called once on its event loop when the digest becomes `whole` (`when_whole`).
        self._on_whole: Optional[tuple[asyncio.AbstractEventLoop, Callable[[], None]]] = None

    def when_whole(self, callback: Callable[[], None]) -> None:
        """Call `callback` on the running event loop once the digest is `whole` (at once, from
        here, if it is already): the response then lets go of its compressed bytes (batch.py)."""
        with self._lock:
            if not self.whole:
                self._on_whole = (asyncio.get_running_loop(), callback)
                return
        callback()

    def take(self) -> bytes:
        """The writer thread takes the bytes that arrived, to read them (Recording.take)."""
        with self._lock:
            data = bytes(self._pending)
            del self._pending[: len(data)]
            if not self.dead:
                self._reading = data
            return data

    def answered(self, entries: bytes, events: int, consumed: int, model: Optional[str],
                 ended: bool, final: bool = False) -> None:
        """The reader's answer to the bytes taken last: the Digester's (`ended`: it met an
        event that is not plain); `final`: they were the response's last."""
        with self._lock:
            if self.dead:
                return
            self.final = final
            read = self._unread + self._reading
            self._reading = b""
            if events:
                self._entries.append(entries)
                self._entry_bytes += len(entries)
                self.events += events
            self.offset += consumed
            self._unread = read[consumed:]
            if self.model is None:
                self.model = model
            if ((ended and (not self.events or len(self._unread) > ENDED_TAIL_LIMIT))
                    or len(self._unread) > TAIL_LIMIT or self._entry_bytes > ENTRIES_LIMIT):
                self._give_up()  # nothing to send, or more to keep than it saves
            elif self.whole and self._on_whole is not None:
                (loop, callback), self._on_whole = self._on_whole, None
                try:
                    loop.call_soon_threadsafe(callback)
                except RuntimeError:
                    pass  # the loop is closed: the server stopped, and the batch with it

    def give_up(self) -> None:
        with self._lock:
            self._give_up()

    def _give_up(self) -> None:
        self.dead = True
        self._on_whole = None
        self._entries, self._entry_bytes = [], 0
        self._unread = self._reading = b""

    def kept_bytes(self) -> int:
        return self._entry_bytes + len(self._unread) + len(self._reading)

    @property
    def whole(self) -> bool:
        """The response ended and its digest with its tail holds every byte it forwarded."""
        return self.final and not self.dead and self.events > 0

    def snapshot(self) -> Optional[tuple[bytes, int, Optional[str], int, bytes]]:
        """(entries as one JSON array, their count, the model, the bytes covered, the tail),
        or None when there is no digest to send (given up, or no event digested)."""
        with self._lock:
            if self.dead or not self.events:
                return None
            entries = b"[" + b",".join(self._entries) + b"]"
            if len(self._entries) > 1:
                self._entries = [entries[1:-1]]  # joined once, not at every attach
            tail = self._unread + self._reading + bytes(self._pending)
            return entries, self.events, self.model, self.offset, tail
