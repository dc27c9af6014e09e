"""Stream one batch through `{base_url}fanout/batch` and print what each response did, as JSON.

Run by the release test with the fresh virtual environment's Python, so it may use only what the
wheel's dependencies install (tornado comes with jupyter_server). Usage:

    python batch_client.py BASE_URL TOKEN MODEL ID [ID ...]

BASE_URL is http://host:port/base/ (with the trailing slash). One `start` per ID, all sent before
the first answer is read (docs/protocol.md). The output maps each id to its `open` status, the
text frames it got, the number of SSE chunks that carried text, the text, the finish reason and
whether `data: [DONE]` came before `end`.
"""
from __future__ import annotations

import asyncio
import json
import struct
import sys

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect


def parse_records(frame: bytes) -> list[tuple[str, bytes]]:
    """Split one binary frame into (response id, body bytes) records."""
    records, offset = [], 0
    while offset < len(frame):
        (id_len,) = struct.unpack_from(">H", frame, offset)
        offset += 2
        rid = frame[offset : offset + id_len].decode("utf-8")
        offset += id_len
        (count,) = struct.unpack_from(">I", frame, offset)
        offset += 4
        records.append((rid, frame[offset : offset + count]))
        offset += count
    if offset != len(frame):
        raise ValueError(f"a binary frame of {len(frame)} bytes has a record running past its end")
    return records


def summarize(body: bytes) -> dict:
    """What an OpenAI-compatible SSE body says: text chunks, text, finish reason, [DONE]."""
    chunks, text, finish, done = 0, [], None, False
    for line in body.decode("utf-8").splitlines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            done = True
            continue
        event = json.loads(data)
        for choice in event.get("choices") or []:
            delta = choice.get("delta") or {}
            piece = (delta.get("content") or "") + (delta.get("reasoning") or "")
            if piece:
                chunks += 1
                text.append(piece)
            finish = choice.get("finish_reason") or finish
    return {"text_chunks": chunks, "text": "".join(text), "finish_reason": finish, "done": done}


async def run(base_url: str, token: str, model: str, ids: list[str]) -> dict:
    ws_url = "ws" + base_url[len("http"):] + "fanout/batch"
    request = HTTPRequest(ws_url, headers={"Authorization": f"token {token}"}, request_timeout=30)
    socket = await websocket_connect(request)
    for rid in ids:
        socket.write_message(json.dumps({
            "type": "start", "id": rid, "upstream": "",
            "request": {"model": model, "messages": [{"role": "user", "content": f"hello {rid}"}],
                        "max_tokens": 400, "seed": 7},
        }))
    bodies = {rid: bytearray() for rid in ids}
    events: dict[str, list[dict]] = {rid: [] for rid in ids}
    finished: set[str] = set()
    while finished != set(ids):
        message = await asyncio.wait_for(socket.read_message(), timeout=60)
        if message is None:
            raise RuntimeError(f"the server closed the socket; finished only {sorted(finished)}")
        if isinstance(message, bytes):
            for rid, chunk in parse_records(message):
                bodies[rid] += chunk
            continue
        event = json.loads(message)
        rid = event.get("id")
        if rid not in events:
            raise RuntimeError(f"a message for no response of this batch: {event}")
        events[rid].append(event)
        if event["type"] in ("end", "stopped", "error"):
            finished.add(rid)
    socket.close()
    return {
        rid: {"events": [e["type"] for e in events[rid]],
              "status": next((e.get("status") for e in events[rid] if e["type"] == "open"), None),
              "errors": [e for e in events[rid] if e["type"] == "error"],
              **summarize(bytes(bodies[rid]))}
        for rid in ids
    }


if __name__ == "__main__":
    base_url, token, model, *ids = sys.argv[1:]
    print(json.dumps(asyncio.run(run(base_url, token, model, ids))))
