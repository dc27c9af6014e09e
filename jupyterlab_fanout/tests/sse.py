"""The tests' one reader of server-sent events (an upstream's streamed chat completion)."""
from __future__ import annotations

import json
from typing import Any


def sse_events(raw: bytes, *, strict: bool = False) -> list[Any]:
    """Parse an SSE body into its `data:` payloads (JSON objects, or the string '[DONE]').

    `strict`: also check vLLM's own framing, byte for byte: every event is one `data: ` line
    followed by a blank line, and the body ends with one (the simulator's wire format).
    """
    if strict:
        assert raw.endswith(b"\n\n") or not raw, raw[-200:]
        for block in raw.split(b"\n\n")[:-1]:
            assert block.startswith(b"data: "), block
    events: list[Any] = []
    text = raw.decode("utf-8")
    for block in text.replace("\r\n", "\n").split("\n\n"):
        data = [line[5:].lstrip() for line in block.split("\n") if line.startswith("data:")]
        if not data:
            continue
        payload = "\n".join(data)
        events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


def sse_text(raw: bytes) -> tuple[str, str]:
    """(reasoning, content) text reassembled from an SSE body."""
    reasoning, content = [], []
    for event in sse_events(raw):
        if not isinstance(event, dict):
            continue
        for choice in event.get("choices") or []:
            delta = choice.get("delta") or {}
            r = delta.get("reasoning")
            if r is None:
                r = delta.get("reasoning_content")
            if r:
                reasoning.append(r)
            if delta.get("content"):
                content.append(delta["content"])
    return "".join(reasoning), "".join(content)


def count_events(raw: bytes) -> int:
    """How many events a piece of an SSE body holds (its `data:` lines), complete or not."""
    return raw.count(b"data:")
