"""The digest of a reattached response (digest.py): which events it carries, how they are
written, and where it stops; `Digest`'s tail accounting. The same streams, with their digests,
are written to src/core/__tests__/digest-cases.json, where jest checks that the browser's core
reaches the same state from a digest and the bytes after it as from every byte; a test here
checks that file is what the Digester writes today (`python -m jupyterlab_fanout.tests.test_digest`
writes it again)."""
from __future__ import annotations

import base64
import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from ..digest import ENDED_TAIL_LIMIT, ENTRIES_LIMIT, TAIL_LIMIT, Digest, Digester
from ..store import SSEReader, parse_sse
from ..store_worker import read

CASES_FILE = Path(__file__).resolve().parents[2] / "src" / "core" / "__tests__" / "digest-cases.json"


def event(payload: Any) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def chunk(content: str = "", reasoning: str | None = None, usage: Any = None,
          finish: str | None = None, model: Any = "m", **more: Any) -> bytes:
    delta: dict[str, Any] = {"content": content}
    if reasoning is not None:
        delta["reasoning_content"] = reasoning
    payload: dict[str, Any] = {"id": "c1", "object": "chat.completion.chunk", "model": model,
                               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        payload["usage"] = usage
    payload.update(more)
    return event(payload)


def usage(completion: Any, prompt: Any = 12, reasoning: Any = None) -> dict[str, Any]:
    u: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                         "total_tokens": (prompt or 0) + (completion or 0)}
    if reasoning is not None:
        u["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return u


def vllm(n: int = 8, thinking: int = 3) -> bytes:
    """A vLLM stream with continuous usage stats: a role chunk, reasoning, answer, finish."""
    parts = [event({"id": "c1", "object": "chat.completion.chunk", "model": "m",
                    "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}],
                    "usage": usage(0)})]
    for i in range(n):
        if i < thinking:
            parts.append(chunk(reasoning=f" step {i}", usage=usage(i + 1)))
        else:
            parts.append(chunk(content=f" word{i} é 漢", usage=usage(i + 1)))
    parts.append(chunk(finish="stop", usage=usage(n)))
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


def digest_of(data: bytes, cut: int = 0) -> tuple[list, int, int, Any]:
    """(entries, events, bytes covered, model), fed whole or in pieces of `cut` bytes."""
    d = Digester()
    pieces = [data] if not cut else [data[i:i + cut] for i in range(0, len(data), cut)]
    entries, events, consumed = [], 0, 0
    for piece in pieces:
        e, n, c = d.feed(piece)
        if n:
            entries.extend(json.loads(b"[" + e + b"]"))
        events += n
        consumed += c
    return entries, events, consumed, d.model


def cases() -> list[tuple[str, bytes]]:
    """Streams for both sides: each one's digest must give the core the state its bytes give."""
    rng = random.Random(15)
    plain = vllm()
    found = [
        ("vllm with reasoning_content and continuous usage", plain),
        ("reasoning tokens in the usage details", b"".join(
            [chunk(reasoning="hm", usage=usage(1, reasoning=1)),
             chunk(content="ok", usage=usage(2, reasoning=1)), b"data: [DONE]\n\n"])),
        ("think tags in the content, no usage at all (the estimator)", b"".join(
            [chunk(content="<thi"), chunk(content="nk>let me see</think>"),
             chunk(content="The answer: 42."), chunk(content="```py\nx = 1\n```", finish="stop"),
             b"data: [DONE]\n\n"])),
        ("usage only in the last, choices empty", b"".join(
            [chunk(content="a"), chunk(content=" b"),
             event({"id": "c1", "choices": [], "usage": usage(2)}), b"data: [DONE]\n\n"])),
        ("usage jumps, prompt changes, prompt absent, reasoning key null", b"".join(
            [chunk(content="x", usage=usage(3)), chunk(content="y", usage=usage(4, prompt=13)),
             chunk(content="z", usage={"completion_tokens": 5}),
             chunk(content="w", usage={"completion_tokens": 6, "prompt_tokens": None}),
             event({"choices": [{"delta": {"reasoning": None, "reasoning_content": "r"}}]}),
             event({"choices": [{"delta": {"reasoning": "", "reasoning_content": "ignored"}}]}),
             b"data: [DONE]\n\n"])),
        ("shapes the core ignores", b"".join(
            [event({"choices": [["not", "a", "choice"]]}), event({"choices": [{"delta": [1]}]}),
             event({"choices": "no"}), chunk(content="kept", usage=[1, 2]),
             chunk(content="also", usage={"completion_tokens": None, "prompt_tokens": 3}),
             event({"model": 7, "choices": [{"delta": {"content": 5}, "finish_reason": ""}]}),
             chunk(content="late model", model="second"), b"data: [DONE]\n\n"])),
        ("surrogates and escapes", b"".join(
            [b'data: {"choices":[{"delta":{"content":"\\ud83d"}}]}\n\n',
             b'data: {"choices":[{"delta":{"content":"\\ude00 \\u0000 \\"q\\" \\\\"}}]}\n\n',
             b'data:{"choices":[{"delta":{"content":"no space after data:"}}]}\n\n',
             b'data:  {"choices":[{"delta":{"content":"two spaces"}}]}\n\n',
             b"data: [DONE]\n\n"])),
        ("an error event ends the digest", chunk(content="a", usage=usage(1)) + event(
            {"error": {"message": "overloaded", "code": 503}}) + b"data: [DONE]\n\n"),
        ("object error", chunk(content="a") + event(
            {"object": "error", "message": "bad", "code": 400})),
        ("-0 in the usage ends the digest", chunk(content="a", usage=usage(1))
         + b'data: {"choices":[{"delta":{"content":"b"}}],"usage":{"completion_tokens":-0}}\n\n'
         + chunk(content="c", usage=usage(3)) + b"data: [DONE]\n\n"),
        ("-0 in an id, a model name or the text is no count: the digest goes on", event(
            {"id": "chatcmpl-0b92cf", "object": "chat.completion.chunk", "model": "Qwen3-0.6B",
             "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}],
             "usage": usage(0)}) + chunk(content="x-0", usage=usage(1), id="chatcmpl-0b92cf")
         + b"data: [DONE]\n\n"),
        ("a float count ends it", chunk(content="a", usage=usage(1.0)) + b"data: [DONE]\n\n"),
        ("a boolean count ends it", chunk(content="a", usage=usage(True)) + b"data: [DONE]\n\n"),
        ("NaN ends it", chunk(content="a") + b'data: {"x": NaN, "choices": []}\n\n'
         + chunk(content="b") + b"data: [DONE]\n\n"),
        ("1e400 ends it", chunk(content="a") + b'data: {"x": 1e400}\n\n' + chunk(content="b")),
        ("invalid JSON mid-stream", chunk(content="a") + b"data: {oops\n\n" + chunk(content="b")
         + b"data: [DONE]\n\n"),
        ("two values in one event", chunk(content="a") + b'data: {"a":1}{"choices":[]}\n\n'
         + chunk(content="b") + b"data: [DONE]\n\n"),
        ("a comment line between events", chunk(content="a") + b": keep-alive\n\n"
         + chunk(content="b") + b"data: [DONE]\n\n"),
        ("CRLF", chunk(content="a") + chunk(content="b").replace(b"\n", b"\r\n")
         + b"data: [DONE]\n\n"),
        ("two data lines", chunk(content="a") + b'data: {"choices":\ndata: []}\n\n'
         + chunk(content="b") + b"data: [DONE]\n\n"),
        ("an event: line", chunk(content="a") + b'event: error\ndata: {"message": "x"}\n\n'),
        ("a BOM first", b"\xef\xbb\xbf" + chunk(content="a") + b"data: [DONE]\n\n"),
        ("a BOM mid-stream", chunk(content="a") + b"\xef\xbb\xbf" + chunk(content="b")),
        ("not UTF-8", chunk(content="a") + b'data: {"choices":[{"delta":{"content":"\xff"}}]}\n\n'
         + chunk(content="b") + b"data: [DONE]\n\n"),
        ("an extra blank line", chunk(content="a") + b"\n" + chunk(content="b")
         + b"data: [DONE]\n\n"),
        ("empty data", chunk(content="a") + b"data: \n\n" + chunk(content="b")),
        ("a digest-only stream cut mid-event", plain[:len(plain) // 2]),
        ("a fake BOM (its bytes as Latin-1 text) starts an event", chunk(content="A")
         + "\u00ef\u00bb\u00bf".encode() + b"data: [DONE]\n\n" + chunk(content="B")
         + chunk(content="C") + b"data: [DONE]\n\n"),
        ("a count JavaScript rounds ends it", chunk(content="a", usage=usage(2 ** 53 - 2))
         + chunk(content="b", usage=usage(2 ** 53 - 1)) + chunk(content="c", usage=usage(2 ** 53))
         + chunk(content="d", usage=usage(2 ** 53 + 1)) + b"data: [DONE]\n\n"),
        ("a count of 401 digits ends it", chunk(content="a", usage=usage(1))
         + chunk(content="b", usage=usage(10 ** 400)) + b"data: [DONE]\n\n"),
        ("keep-alive comments are skipped", b": hello\n\n" + chunk(content="a") + b":\n\n"
         + chunk(content="b") + b": \xff not UTF-8 either\n\n" + b"data: [DONE]\n\n"),
        ("several choices end it", chunk(content="a") + event(
            {"choices": [{"delta": {"content": "b"}}, {"delta": {"content": "c"}}]})
         + b"data: [DONE]\n\n"),
        ("whitespace around the JSON ends it", chunk(content="a")
         + b'data:  {"choices":[{"delta":{"content":"b"}}]} \n\n' + b"data: [DONE]\n\n"),
        ("the abort finish reason", chunk(content="a", finish="abort") + b"data: [DONE]\n\n"),
    ]
    for i in range(6):  # random streams: chunks, some not plain, cut at the end anywhere
        parts = []
        for j in range(rng.randrange(5, 60)):
            roll = rng.random()
            text = "".join(rng.choice(["a", " b", "\n", "é", "漢", "😀", "<think>", "</think>",
                                       "```", "  ", "1234"]) for _ in range(rng.randrange(0, 4)))
            if roll < 0.6:
                parts.append(chunk(content=text, usage=usage(j + 1) if rng.random() < 0.7 else None))
            elif roll < 0.85:
                parts.append(chunk(reasoning=text, usage=usage(j + rng.randrange(1, 3), reasoning=j)))
            elif roll < 0.9:
                parts.append(b": ping\n\n")
            elif roll < 0.95:
                parts.append(b"data: {broken\n\n")
            else:
                parts.append(chunk(content=text, finish=rng.choice(["stop", "length"])))
        data = b"".join(parts) + (b"data: [DONE]\n\n" if rng.random() < 0.7 else b"")
        found.append((f"random {i}", data[:rng.randrange(len(data) // 2, len(data) + 1)]))
    return found


def written_cases() -> list[dict[str, Any]]:
    out = []
    for name, data in cases():
        entries, events, offset, model = digest_of(data)
        out.append({"name": name, "sse": base64.b64encode(data).decode(),
                    "digest": {"model": model, "offset": offset, "events": events,
                               "entries": entries}})
    return out


def test_the_cases_file_is_what_the_digester_writes():
    assert json.loads(CASES_FILE.read_text()) == written_cases(), (
        "run: python -m jupyterlab_fanout.tests.test_digest")


@pytest.mark.parametrize("name,data", cases())
def test_a_stream_cut_anywhere_digests_the_same(name, data):
    whole = digest_of(data)
    for cut in (1, 7, 64, 301):
        assert digest_of(data, cut) == whole, (name, cut)
    entries, events, offset, _ = whole
    assert events == len(entries)
    # what the digest covers ends an event; what follows it starts one (or is empty)
    assert offset == 0 or data[offset - 2:offset] == b"\n\n"


@pytest.mark.parametrize("name,data", cases())
def test_the_store_reads_the_same_with_the_digest_reading_its_plain_events(name, data):
    """The reader process reads each byte once (store_worker.read): plain events through the
    digest, the rest by the SSEReader. The store keeps what the SSEReader alone reads."""
    alone = parse_sse(data)
    for cut in (len(data) or 1, 1, 7, 301):
        reader, digester = SSEReader(), Digester()
        texts, reasonings = [], []
        pieces = [data[i:i + cut] for i in range(0, len(data), cut)] or [b""]
        for i, piece in enumerate(pieces):
            text, reasoning, _ = read(reader, digester, piece, i == len(pieces) - 1)
            texts.append(text)
            reasonings.append(reasoning)
        assert ("".join(texts), "".join(reasonings)) == (alone.text, alone.reasoning), (name, cut)
        assert (reader.usage, reader.finish_reason, reader.error, reader.done, reader.model,
                reader.bytes) == (alone.usage, alone.finish_reason, alone.error, alone.done,
                                  alone.model, alone.bytes), (name, cut)


def test_a_vllm_stream_is_digested_to_its_done_in_a_few_bytes_a_token():
    data = vllm(n=200, thinking=50)
    entries, events, offset, model = digest_of(data)
    assert data[offset:] == b"data: [DONE]\n\n" and model == "m"
    assert events == 202
    assert entries[0] == ["", [0, 12]]  # the role chunk: no text, its usage
    assert entries[1] == ["", 1, " step 0"]  # usage 1: one more token than the last
    assert entries[51] == [" word50 é 漢", 1]
    assert entries[-1] == ["", [200, 12], "", "stop"]  # the same usage again: written whole
    assert len(json.dumps(entries)) * 8 < offset


def test_minus_zero_outside_a_count_does_not_end_the_digest():
    """vLLM's ids are `chatcmpl-` and hex: 1 in 16 starts `-0`, and its role chunk counts 0
    completion tokens. A `-0` that is not a JSON number must not cost such a stream its digest."""
    data = dict(cases())["-0 in an id, a model name or the text is no count: the digest goes on"]
    entries, events, offset, model = digest_of(data)
    assert (data[offset:], events, model) == (b"data: [DONE]\n\n", 2, "Qwen3-0.6B")
    assert entries == [["", [0, 12]], ["x-0", 1]]
    for spaced in (b'"completion_tokens": -0}', b'"completion_tokens":\n-0}'):
        assert digest_of(chunk(content="a", usage=usage(1)) + b'data: {"usage":{'
                         + spaced + b"}\n\n")[1] == 1  # the -0 count still ends it


#: Cases whose digest ends at an event that is not plain: the bytes that event starts with.
ENDS_AT = {
    "an error event ends the digest": b'data: {"error"',
    "object error": b'data: {"object": "error"',
    "-0 in the usage ends the digest": b'data: {"choices":[{"delta":{"content":"b"}}],"usage":{"completion_tokens":-0}}',
    "a float count ends it": b"data: {",
    "a boolean count ends it": b"data: {",
    "NaN ends it": b'data: {"x": NaN',
    "1e400 ends it": b'data: {"x": 1e400}',
    "invalid JSON mid-stream": b"data: {oops",
    "two values in one event": b'data: {"a":1}{',
    "CRLF": b"data: {",
    "two data lines": b'data: {"choices":\ndata',
    "an event: line": b"event: error",
    "a BOM first": b"\xef\xbb\xbfdata",
    "a BOM mid-stream": b"\xef\xbb\xbfdata",
    "not UTF-8": b'data: {"choices":[{"delta":{"content":"\xff',
    "an extra blank line": b"\ndata: {",
    "empty data": b"data: \n\n",
    "the abort finish reason": b"data: [DONE]",
    "several choices end it": b'data: {"choices": [{"delta": {"content": "b"}}, {',
    "a fake BOM (its bytes as Latin-1 text) starts an event": "\u00ef\u00bb\u00bf".encode(),
    "a count JavaScript rounds ends it": b'data: {"id": "c1", "object": "chat.completion.chunk", "model": "m", "choices": [{"index": 0, "delta": {"content": "c"}',
    "a count of 401 digits ends it": b'data: {"id": "c1", "object": "chat.completion.chunk", "model": "m", "choices": [{"index": 0, "delta": {"content": "b"}',
    "whitespace around the JSON ends it": b"data:  {",
}


@pytest.mark.parametrize("name", list(ENDS_AT))
def test_the_first_event_that_is_not_plain_ends_the_digest_for_good(name):
    data = dict(cases())[name]
    entries, events, offset, _ = digest_of(data)
    assert data[offset:].startswith(ENDS_AT[name]), (name, data[offset:offset + 60])
    assert events == data[:offset].count(b"\n\n")  # every event before it is digested
    d = Digester()
    d.feed(data)
    assert d.ended
    assert d.feed(chunk(content="more")) == (b"", 0, 0)


class Reading:
    """A Digest fed as the store feeds it: the writer thread takes the bytes that arrived, the
    reader process digests them (store_worker.read), the answer comes back."""

    def __init__(self) -> None:
        self.pending = bytearray()
        self.digest = Digest(self.pending)
        self.reader, self.digester = SSEReader(), Digester()

    def arrive(self, data: bytes) -> None:
        self.pending += data

    def read(self, final: bool = False) -> None:
        taken = self.digest.take()
        _, _, digested = read(self.reader, self.digester, taken, final)
        self.digest.answered(*digested, final=final)


def test_digest_keeps_the_tail_and_gives_up_past_its_limit():
    r = Reading()
    assert r.digest.snapshot() is None  # nothing digested yet
    data = vllm()
    r.arrive(data[:500])
    taken = r.digest.take()
    assert taken == data[:500] and not r.pending
    r.arrive(data[500:700])  # arrives while the reader reads
    entries, events, consumed = Digester().feed(taken)
    r.digest.answered(*read(r.reader, r.digester, taken, False)[2])
    joined, count, model, offset, tail = r.digest.snapshot()
    assert (count, model, offset) == (events, "m", consumed)
    assert tail == data[consumed:700]  # read and not digested, then not taken yet
    assert json.loads(joined) == json.loads(b"[" + entries + b"]")
    # after a non-plain event the rest is tail, up to ENDED_TAIL_LIMIT
    r.read()
    r.arrive(b"data: {oops\n\n")
    r.read()
    assert r.digester.ended and not r.digest.dead
    assert r.digest.snapshot()[4] == data[r.digest.offset:700] + b"data: {oops\n\n"
    r.arrive(chunk(content="x" * ENDED_TAIL_LIMIT))
    r.read()
    assert r.digest.dead and r.digest.snapshot() is None and r.digest.kept_bytes() == 0


def test_a_reader_far_behind_gives_up_the_digest():
    r = Reading()
    r.arrive(vllm())
    r.read()
    assert r.digest.events > 0
    r.arrive(b"data: " + b"x" * TAIL_LIMIT)  # one event longer than the limit, not complete
    r.read()
    assert r.digest.dead and r.digest.kept_bytes() == 0


def test_a_stream_whose_first_event_is_not_plain_has_no_digest_to_keep():
    r = Reading()
    r.arrive(b"event: message\n" + chunk(content="a"))
    r.read()
    assert r.digest.dead and r.digest.kept_bytes() == 0  # nothing kept for nothing


def test_keep_alive_comments_do_not_end_a_digest():
    r = Reading()
    r.arrive(chunk(content="a") + b": keep-alive\n\n" + b":\n\n" + chunk(content="b")
             + b"data: [DONE]\n\n")
    r.read(final=True)
    assert r.digest.events == 2 and r.digest.whole
    assert r.digest.snapshot()[4] == b"data: [DONE]\n\n"


def test_entries_past_their_limit_give_up_the_digest():
    r = Reading()
    big = chunk(content="y" * 1000)
    r.arrive(big * (ENTRIES_LIMIT // 1000 + 1))
    r.read()
    assert r.digest.dead and r.digest.kept_bytes() == 0


def test_entries_are_about_the_size_of_the_text_whatever_it_holds():
    """Non-ASCII text and DEL are kept as they are (an escape would take 6 bytes); lone
    surrogates, which UTF-8 cannot carry, are escaped; entries are valid UTF-8 JSON."""
    text = "漢字 é \x7f" * 50
    entries, events, _ = Digester().feed(chunk(content=text, usage=usage(1)) + chunk(content=text, usage=usage(2)))
    assert events == 2 and len(entries) < 2 * len(text.encode()) + 40
    assert json.loads(b"[" + entries + b"]")[1][0] == text
    entries, _, _ = Digester().feed(b'data: {"choices":[{"delta":{"content":"\\ud83d!"}}]}\n\n')
    assert entries == b'["\\ud83d!"]' and json.loads(entries)[0] == "\ud83d!"


if __name__ == "__main__":
    CASES_FILE.write_text(json.dumps(written_cases(), indent=1, ensure_ascii=True) + "\n")
    print(f"wrote {CASES_FILE}", file=sys.stderr)
