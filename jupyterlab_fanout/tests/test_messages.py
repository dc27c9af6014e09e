"""Attack suite, the messages: handling one message can fail only that message.

Malformed, hostile or flooding messages each get a specific `error`; nothing else is touched
(other responses of the same batch keep streaming), no stream slot, id or memory is kept, and
no token reaches the server log. A browser that stops reading is closed, with its streams.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest
import tornado.websocket

from jupyterlab_fanout.batch import MAX_REFUSED_IDS, UserStreams
from jupyterlab_fanout.config import Fanout
from jupyterlab_fanout.registry import BatchRegistry
from jupyterlab_fanout.subscriber import Subscriber

from .proxy_fixtures import *  # noqa: F403 - fixtures
from .proxy_fixtures import open_batch, wait_record
from .raw_ws import CLOSE, RawWebSocket

SLOW = {"tokens_per_second": 40, "ttft_ms": 0, "reasoning_tokens": 0, "answer_tokens": 60}


def nested(depth: int) -> str:
    """A JSON array nested `depth` levels deep (written by hand: json.dumps would recurse)."""
    return "[" * depth + "]" * depth


def start_text(rid_json: str, request_json: str, upstream: str = "sim") -> str:
    return (f'{{"type": "start", "id": {rid_json}, "upstream": "{upstream}", '
            f'"request": {request_json}}}')


def slots(jp_serverapp) -> int:
    return jp_serverapp.web_app.settings["fanout_state"].user_streams.count("server-user")


@pytest.mark.parametrize("fanout_overrides", [{"max_streams_per_user": 4}], indirect=True)
async def test_an_unencodable_id_or_deep_nesting_fails_only_its_message(
    jp_ws_fetch, jp_serverapp, simulator, no_unhandled_errors
):
    simulator.configure(**SLOW)
    client = await open_batch(jp_ws_fetch)
    await client.start("long")  # streams through everything below
    await client.wait_bytes("long")
    hello = '{"messages": [{"role": "user", "content": "x"}], "max_tokens": 5}'
    # ~900 levels: json.loads reads it (the id can be named), json.dumps would not write it
    deep = f'{{"messages": [{{"role": "user", "content": "x"}}], "stop": {nested(900)}}}'
    deep_content = ('{"messages": [{"role": "user", "content": ' + nested(850) + '}]}')
    bad = [
        start_text('"\\ud800"', hello),  # a lone surrogate: not encodable as UTF-8
        start_text('"ok\\udfff"', hello),
        start_text('"deep"', deep),  # about a thousand levels: past the recursion limit
        start_text('"deep-content"', deep_content),
        start_text('"very-deep"', nested(200_000)),  # json.loads itself gives up
        start_text('"thousand"', nested(1000)),
        nested(200_000),
        f'{{"type": "stop", "id": {nested(5000)}}}',
    ]
    for text in bad * 2:  # twice: more bad messages than stream slots
        await client.ws.write_message(text)
    for i in range(3):  # with "long", the four slots are all still there
        await client.start(f"after{i}", max_tokens=5)
    await client.wait_terminal("long", "after0", "after1", "after2", timeout=15)
    assert not client.closed.is_set(), "the socket must stay open"
    assert client.terminal("long")["type"] == "end"
    for i in range(3):
        assert client.terminal(f"after{i}")["type"] == "end", client.terminal(f"after{i}")
    errors = [m for m in client.json_messages() if m["type"] == "error"]
    by_id: dict = {}
    for e in errors:
        by_id.setdefault(e["id"], []).append(e)
    unicode_errors = [e for e in by_id[None] if "lone surrogate" in e["message"]]
    assert len(unicode_errors) == 4, errors
    for rid in ("deep", "deep-content"):  # readable id: the error names it ...
        [error] = by_id[rid]
        assert error["code"] == "bad_request"
        assert "nested more than 64 levels" in error["message"]
        # ... and the id stays used (the second time: a malformed start, id null)
        assert any(e["message"] == f"id {rid!r} was already used" for e in by_id[None])
    deep_unread = [e for e in by_id[None] if "nested more than" in e["message"]]
    assert len(deep_unread) == 8, errors  # json.loads gave up: the id could not be read
    assert all(e["code"] == "bad_request" and e["status"] == 400 for e in errors), errors
    await client.close()
    await asyncio.sleep(0.1)
    assert slots(jp_serverapp) == 0


async def test_malformed_frames_each_get_their_error_and_nothing_else_is_touched(
    jp_ws_fetch, simulator, no_unhandled_errors
):
    simulator.configure(**SLOW)
    client = await open_batch(jp_ws_fetch)
    await client.start("long")
    await client.wait_bytes("long")
    ws = client.ws
    cases = [  # (what is sent, the error expected: id, code, words of its message)
        ((b"\x00\x01binary", True), (None, "bad_request", "binary messages")),
        ((b'{"type": "stop", "id": "\xff\xfe"}', False), (None, "bad_request", "not valid UTF-8")),
        ((b"\xc3\x28", False), (None, "bad_request", "not valid UTF-8")),
        (("not json", False), (None, "bad_request", "not valid JSON")),
        (("[1, 2]", False), (None, "bad_request", "JSON object")),
        ((json.dumps({"type": "launch", "id": "z"}), False), (None, "bad_request", "'type'")),
        ((json.dumps({"type": "start", "id": "x" * 257}), False), (None, "bad_request", "1 to 256")),
        ((json.dumps({"type": "start", "id": "h" * 500_000}), False), (None, "bad_request", "1 to 256")),
        ((json.dumps({"type": "start", "id": 7}), False), (None, "bad_request", "1 to 256")),
        ((json.dumps({"type": "start", "id": "long", "request": {}}), False),
         (None, "bad_request", "already used")),
        ((json.dumps({"type": "stop", "id": "never"}), False), (None, "bad_request", "names no response")),
        ((json.dumps({"type": "start", "id": "no-req"}), False), ("no-req", "bad_request", "'request'")),
        ((json.dumps({"type": "start", "id": "far", "upstream": "nope",
                      "request": {"messages": [{"role": "user", "content": "x"}]}}), False),
         ("far", "unknown_upstream", "no upstream named")),
    ]
    for (payload, binary), _ in cases:
        await ws.write_message(payload, binary=binary)
    await client.wait(lambda: len([m for m in client.json_messages() if m["type"] == "error"])
                      >= len(cases))
    errors = [m for m in client.json_messages() if m["type"] == "error"]
    assert len(errors) == len(cases), errors
    for error, (_, (rid, code, words)) in zip(errors, cases):  # in order, one per message
        assert (error["id"], error["code"]) == (rid, code), (error, words)
        assert words in error["message"], (error, words)
        assert "h" * 300 not in error["message"]  # a huge id is not echoed
    await client.wait_terminal("long")
    assert client.terminal("long")["type"] == "end"  # the batch's response streamed on
    assert not client.closed.is_set()
    assert len(simulator.requests()) == 1
    await client.close()


# ---------------------------------------------------------------- no token in the log


async def test_uncaught_exceptions_are_logged_without_the_token(
    jp_serverapp, jp_http_port, jp_base_url, http_server_client, jp_fetch, caplog, monkeypatch
):
    """A bug that escapes a handler is logged by Tornado with the request's URI: the token
    in its query (how JupyterLab authenticates WebSockets) must not be in that log."""
    token = jp_serverapp.identity_provider.token
    caplog.set_level(logging.INFO)

    def broken(self, text):
        raise RuntimeError("a bug in the proxy")

    monkeypatch.setattr(Subscriber, "handle_message", broken)
    url = f"ws://127.0.0.1:{jp_http_port}{jp_base_url}fanout/batch?token={token}"
    ws = await tornado.websocket.websocket_connect(url)
    await ws.write_message("{}")
    assert await asyncio.wait_for(ws.read_message(), 5) is None  # Tornado aborts the socket

    async def failing_describe(self):
        raise RuntimeError("another bug")

    monkeypatch.setattr(type(jp_serverapp.web_app.settings["fanout_state"]), "describe",
                        failing_describe)
    with pytest.raises(Exception):
        await jp_fetch("fanout", "upstreams", params={"token": token, "other": "kept"})
    logged = caplog.text
    assert "a bug in the proxy" in logged and "another bug" in logged  # both were logged
    assert token not in logged
    assert "token=[secret]" in logged and "other=kept" in logged
    caplog.clear()  # the errors above were wanted


# ---------------------------------------------------------------- a frozen browser


FLOOD_STREAMS = {"tokens_per_second": 2000, "ttft_ms": 0, "reasoning_tokens": 0,
                 "answer_tokens": 30000, "max_model_len": 100_000}


@pytest.mark.parametrize("fanout_overrides", [{"send_timeout": 1.0, "detached_timeout": 0}],
                         indirect=True)
async def test_a_browser_that_stops_reading_is_closed_with_its_streams(
    jp_serverapp, jp_http_port, jp_base_url, http_server_client, simulator, caplog,
    no_unhandled_errors,
):
    """A client that never reads (small receive buffer): once the server's writes stall for
    `send_timeout`, the socket is closed and (detached_timeout = 0: it was the batch's only
    socket) every upstream stream with it (each would otherwise generate for 15 s, until
    Jupyter's ping timeout). With a detached_timeout the batch runs on detached instead
    (test_attach.py)."""
    simulator.configure(**FLOOD_STREAMS)
    token = jp_serverapp.identity_provider.token
    ws = await RawWebSocket.connect(
        jp_http_port, f"{jp_base_url}fanout/batch?token={token}", rcvbuf=4096
    )
    started = time.time()
    n = 6
    for i in range(n):
        await ws.send(json.dumps({"type": "start", "id": f"f{i}", "upstream": "sim", "request": {
            "messages": [{"role": "user", "content": f"frozen {i}"}], "max_tokens": 30000}}))
    record = await wait_record(
        simulator, lambda r: len(r) == n and all(e.get("disconnected") for e in r), timeout=12
    )
    closed_after = max(e["disconnected_at"] for e in record) - started
    # The buffers between the server and the client fill in a few seconds; then the writes
    # stall and the socket is closed 1 to 1.25 s later.
    assert closed_after < 8, closed_after
    assert all(e["outcome"] != "completed" for e in record)
    assert "send_timeout" in caplog.text
    assert not jp_serverapp.web_app.settings["fanout_state"].user_streams.count("server-user")
    # A client that reads again finds, after what was written, the close and its reason.
    while True:
        opcode, payload = await asyncio.wait_for(ws.read_frame(), 5)
        if opcode == CLOSE:
            break
    assert payload[:2] == (1008).to_bytes(2, "big")
    assert payload[2:].decode() == "the browser read nothing for 1 s"
    ws.close()


@pytest.mark.parametrize("fanout_overrides", [{"send_timeout": 0.3}], indirect=True)
async def test_a_reading_browser_is_not_closed(jp_ws_fetch, simulator, no_unhandled_errors):
    """The send timeout does not touch a socket whose browser reads, however long it runs."""
    simulator.configure(tokens_per_second=200, ttft_ms=0, reasoning_tokens=0, answer_tokens=300)
    client = await open_batch(jp_ws_fetch)
    await client.start("a")
    await client.wait_terminal("a", timeout=15)
    assert client.terminal("a")["type"] == "end"
    await client.close()


# ---------------------------------------------------------------- bounded state per socket


async def test_refused_start_ids_are_remembered_up_to_a_bound():
    sent: list = []

    async def send(message):
        sent.append(message)

    fanout = Fanout(max_responses_per_batch=0)
    log = logging.getLogger("test")
    registry = BatchRegistry(fanout=fanout, lookup=lambda _name: object(),
                             user_streams=UserStreams(), log=log)
    socket = Subscriber(registry=registry, fanout=fanout, user="u", send=send, log=log)
    for i in range(3 * MAX_REFUSED_IDS):
        socket.handle_message(json.dumps({"type": "start", "id": f"{i:0256d}", "request": {}}))
    assert len(socket.batch.used_ids) == MAX_REFUSED_IDS
    # the most recent refused ids are still "already used"
    socket.handle_message(json.dumps({"type": "start", "id": f"{3 * MAX_REFUSED_IDS - 1:0256d}"}))
    await asyncio.sleep(0.05)
    last = json.loads(sent[-1])
    assert last["id"] is None and "already used" in last["message"]
    socket.close()
    await registry.close()

