"""The store's fast SSE reading (store.py `SSEReader`: templates and runs) gives exactly what
reading every event in full gives, on regular and hostile streams, wherever they are cut."""
from __future__ import annotations

import json
import random
from typing import Any

import pytest

from ..store import SSEReader

PIECES = [
    "the", " quick", " caf\u00e9", " \u2603", " \U0001F600", ' "quoted"', "\\", "\n", "\t",
    "<think>", "</think>", "\u2028", "\x00", "\x1f", "\ud800", "\udc00", "\ud83d", "\ude00",
    "", " ", "content", '"content":"', '\\"', "}", "]}", "data: x", "\r\n", "\u00a0",
    "reasoning_content", "\u0080", "\uffff",
]


def reference(data: bytes) -> SSEReader:
    reader = SSEReader(fast=False)
    reader.feed(data, final=True)
    return reader


def outcome(reader: SSEReader) -> tuple[Any, ...]:
    return ("".join(reader.text), "".join(reader.reasoning), reader.usage, reader.finish_reason,
            reader.error, reader.done, reader.model, reader.bytes)


def fast_read(data: bytes, cuts: list[int]) -> SSEReader:
    reader = SSEReader()
    at = 0
    for cut in sorted(cuts):
        reader.feed(data[at:cut])
        at = cut
    reader.feed(data[at:], final=True)
    return reader


def dumps(rng: random.Random, value: Any) -> bytes:
    ascii_only = rng.random() < 0.5
    separators = rng.choice([(",", ":"), (", ", ": ")])
    return json.dumps(value, ensure_ascii=ascii_only, separators=separators).encode(
        "utf-8", "surrogatepass")


def piece(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 3)))


USAGE = {"on": False, "tokens": 0}


def chunk(rng: random.Random, fields: dict[str, Any], finish: Any = None) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": fields, "logprobs": None,
                              "finish_reason": finish}
    value = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
             "model": "m", "choices": [choice]}
    if USAGE["on"]:  # continuous usage stats: every chunk counts the tokens so far
        USAGE["tokens"] += rng.choice([1, 1, 1, 9, 90, 900])
        value["usage"] = {"prompt_tokens": 6, "total_tokens": 6 + USAGE["tokens"],
                          "completion_tokens": USAGE["tokens"]}
    return value


def stream(rng: random.Random) -> bytes:
    """A stream mostly like vLLM's, with every kind of hostile event mixed in."""
    frame = rng.choice([(b"data: ", b"\n\n"), (b"data:", b"\n\n"), (b"data: ", b"\r\n\r\n"),
                        (b"data: ", b"\n"), (b"data:  ", b"\n\n")])
    USAGE.update(on=rng.random() < 0.5, tokens=0)
    out = [frame[0] + dumps(rng, chunk(rng, {"role": "assistant", "content": ""})) + frame[1]]
    for _ in range(rng.randint(0, 120)):
        roll = rng.random()
        field = rng.choice(["content", "content", "reasoning_content", "reasoning"])
        if roll < 0.75:
            payload = dumps(rng, chunk(rng, {field: piece(rng)}))
        elif roll < 0.78:
            payload = dumps(rng, chunk(rng, {"reasoning": piece(rng),
                                             "reasoning_content": piece(rng)}))
        elif roll < 0.80:
            payload = dumps(rng, chunk(rng, {field: rng.choice([None, 3, [], {"a": "b"}])}))
        elif roll < 0.82:
            payload = dumps(rng, chunk(rng, {}, rng.choice(["stop", "length", None, ""])))
        elif roll < 0.84:
            payload = dumps(rng, {"error": rng.choice([{"message": piece(rng)}, "boom", None]),
                                  "content": piece(rng)})
        elif roll < 0.86:
            payload = dumps(rng, {"choices": [], "usage": {"completion_tokens": 3,
                                                           "content": piece(rng)}})
        elif roll < 0.88:  # a duplicate key: the last wins
            good = dumps(rng, chunk(rng, {field: piece(rng)}))
            payload = good[:-1] + b',"choices":[{"delta":{"content":"dup"}}]}'
        elif roll < 0.90:  # a string cut in two, or an escape broken
            payload = dumps(rng, chunk(rng, {field: piece(rng)}))
            payload = payload[:rng.randint(0, len(payload))]
        elif roll < 0.92:  # invalid UTF-8 in the string
            payload = dumps(rng, chunk(rng, {field: "\u00e9"}))
            payload = payload.replace("\u00e9".encode(), rng.choice([b"\xc3", b"\xa9", b"\xff",
                                                                     b"\xed\xa0\x80"]))
        elif roll < 0.94:  # a raw control character or an invalid escape in the string
            payload = dumps(rng, chunk(rng, {field: "ab"})).replace(
                b"ab", rng.choice([b"a\x01b", b"a\\xb", b"a\\u12b", b"a\\", b'a"b']))
        elif roll < 0.95:
            payload = dumps(rng, chunk(rng, {"content": piece(rng)}, "stop"))
        elif roll < 0.955:  # numbers JSON refuses, or a finish reason that is a number
            payload = dumps(rng, chunk(rng, {field: piece(rng)})).replace(
                *rng.choice([(b'tokens":', b'tokens":0'), (b'tokens":', b'tokens":-'),
                             (b'"finish_reason":null', b'"finish_reason":1'),
                             (b'"index":0', b'"index":00'), (b'"created":1', b'"created":1.05'),
                             (b'"logprobs":null', b'"logprobs":nu1ll'),
                             (b'"logprobs":null', b'"logprobs":null5'),
                             (b'"logprobs"', b'"log9probs"')]))
        elif roll < 0.96:
            payload = b"[DONE]"
        elif roll < 0.97:
            payload = dumps(rng, [chunk(rng, {"content": "in a list"})])
        elif roll < 0.98:  # other models, other ids: a new template
            payload = dumps(rng, dict(chunk(rng, {field: piece(rng)}), id=str(rng.random()),
                                      model="other"))
        else:
            out.append(rng.choice([b": comment\n\n", b"event: x\n\n", b"\n", b"data:\n\n",
                                   b"data: not json\n\n", b"retry: 5\n"]))
            continue
        out.append(frame[0] + payload + frame[1])
    if rng.random() < 0.7:
        out.append(frame[0] + dumps(rng, chunk(rng, {"content": "."}, "stop")) + frame[1])
        out.append(b"data: [DONE]" + frame[1])
    return b"".join(out)


@pytest.mark.parametrize("seed", range(40))
def test_the_fast_reading_equals_the_full_one(seed):
    rng = random.Random(seed)
    fast_events = 0
    for _ in range(25):
        data = stream(rng)
        expected = outcome(reference(data))
        for cuts in ([], [rng.randint(0, len(data)) for _ in range(rng.randint(1, 12))],
                     list(range(0, len(data), rng.randint(1, 400)))):
            reader = fast_read(data, cuts)
            assert outcome(reader) == expected, (seed, data, cuts)
            fast_events += reader.fast_events
    assert fast_events > 0


def test_a_regular_stream_is_read_in_runs_from_its_templates():
    events = [{"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": w},
                                                     "finish_reason": None}]}
              for w in ["a", " caf\u00e9", " \\ \n", " \ud83d", "\ude00", "", ' "q"'] * 30]
    data = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    reader = fast_read(data, list(range(0, len(data), 2000)))
    assert outcome(reader) == outcome(reference(data))
    assert reader.full_events <= 2 and reader.fast_events == len(events) - reader.full_events
    # Lone surrogates stay apart (json.loads of each event), never paired across events.
    assert "\ud83d\ude00" in "".join(reader.text)
    assert "".join(reader.text).count("\ud83d") == 30


def test_an_upstream_whose_events_never_repeat_stops_learning():
    events = [{"id": str(i), "choices": [{"delta": {"content": "x", "n": i}}]} for i in range(200)]
    data = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    reader = fast_read(data, [len(data) // 2])
    assert "".join(reader.text) == "x" * 200
    assert reader.fast_events == 0 and reader.full_events == 200 and not reader._learning


def test_an_event_json_cannot_read_is_skipped_whole_even_when_it_fits_a_template():
    def event(content: bytes, finish: bytes) -> bytes:
        return (b'data: {"model":"m","choices":[{"delta":{"reasoning":"r","reasoning_content":'
                b'"r","content":"' + content + b'"},"finish_reason":' + finish + b"}]}\n\n")

    data = (event(b"a", b'"stop"') + event(b"b", b'"stop"') + event(b"c", b'"length"')
            + event(b"\xc3", b'"stop"') + event(b"\\x", b'"stop"') + event(b"\x01", b'"stop"')
            + event(b"d\\n", b'"length"'))
    for cuts in ([], list(range(0, len(data), 7))):
        reader = fast_read(data, cuts)
        assert outcome(reader) == outcome(reference(data))
        assert "".join(reader.text) == "abcd\n" and reader.finish_reason == "length"
        assert reader.fast_events >= 2  # read by `_fill` (three holes: no runs)


def test_runs_tolerate_other_integers_only_where_they_cannot_change_the_reading():
    def event(content: str, finish: str, tokens: int) -> bytes:
        return (b'data: {"model":"m","choices":[{"delta":{"content":"' + content.encode()
                + b'"},"finish_reason":' + finish.encode() + b'}],"usage":{"completion_tokens":'
                + str(tokens).encode() + b"}}\n\n")

    # A finish reason of 0 reads as none, of 1 as "1": never read from a template's run.
    data = b"".join(event(c, f, t) for c, f, t in [
        ("a", "0", 1), ("b", "0", 2), ("c", "0", 30), ("d", "1", 400), ("e", "0", 5)])
    usage = b"".join(event(c, "null", t) for c, t in [("a", 1), ("b", 20), ("c", 300)])
    for stream_ in (data, usage, usage + data):
        for cuts in ([], [len(stream_) // 2], list(range(0, len(stream_), 50))):
            reader = fast_read(stream_, cuts)
            assert outcome(reader) == outcome(reference(stream_))
    reader = fast_read(usage, [])
    assert reader.usage == {"completion_tokens": 300} and reader.fast_events == 2
    assert fast_read(data, []).finish_reason == "1"


def test_an_integer_json_refuses_in_a_run_skips_its_event():
    def event(content: str, tokens: str) -> bytes:
        return (b'data: {"model":"m","choices":[{"delta":{"content":"' + content.encode()
                + b'"},"finish_reason":null}],"usage":{"completion_tokens":' + tokens.encode()
                + b"}}\n\n")

    for bad in ("07", "00", "-", "1.", "+1"):
        data = b"".join(event(c, t) for c, t in [
            ("a", "1"), ("b", "2"), ("c", "3"), ("d", bad), ("e", "50"), ("f", "600")])
        reader = fast_read(data, [])
        assert outcome(reader) == outcome(reference(data)), bad
        assert "".join(reader.text) == "abcef" and reader.usage == {"completion_tokens": 600}
        assert reader.fast_events >= 3
