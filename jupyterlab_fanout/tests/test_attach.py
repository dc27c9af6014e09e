"""Server-owned batches (docs/protocol.md, section 1): `attach` and its replay, `started`,
detached batches and `c.Fanout.detached_timeout`, the registry's grace period, limits and
shutdown. Real sockets, the real simulator process, a real SQLite store."""
from __future__ import annotations

import asyncio
import gc
import json
import logging
import sqlite3
import time
import weakref
from typing import Any

import pytest

from .proxy_fixtures import *  # noqa: F403 - fixtures
from .proxy_fixtures import BatchClient, entry_for, open_batch, split_records, wait_record
from .raw_ws import CLOSE, RawWebSocket
from .sse import sse_events, sse_text
from ..batch import UserStreams
from ..config import Fanout, UpstreamSpec
from ..registry import BatchRegistry
from ..store import split_wire_id
from ..subscriber import Subscriber
from ..upstream import Upstream

#: Streams of about 4 s: long enough to close, reopen and attach in the middle.
LONG = {"tokens_per_second": 100, "ttft_ms": 0, "reasoning_tokens": 20, "answer_tokens": 380}
#: Streams of about 1 s.
MEDIUM = {"tokens_per_second": 100, "ttft_ms": 0, "reasoning_tokens": 10, "answer_tokens": 90}


def store_in_tmp(request: pytest.FixtureRequest, **more: Any) -> dict[str, Any]:
    path = request.getfixturevalue("tmp_path") / "store" / "batches.sqlite3"
    return {"store_path": str(path), **more}


def settings(**more: Any) -> Any:
    """`fanout_overrides` (indirect) with a store in the test's tmp_path and `more`."""
    return pytest.mark.parametrize(
        "fanout_overrides", [lambda request: store_in_tmp(request, **more)], indirect=True)


def state_of(jp_serverapp: Any) -> Any:
    return jp_serverapp.web_app.settings["fanout_state"]


async def new_batch(jp_ws_fetch: Any, batch_id: str, *rids: str, **request: Any) -> BatchClient:
    client = await open_batch(jp_ws_fetch)
    await client.send({"type": "batch", "id": batch_id, "prompt": "a prompt", "options": {}})
    request.setdefault("max_tokens", 400)  # LONG streams to their end
    for rid in rids:
        await client.start(rid, **request)
    return client


async def attach(jp_ws_fetch: Any, batch_id: str) -> BatchClient:
    client = await open_batch(jp_ws_fetch)
    await client.send({"type": "attach", "batch": batch_id})
    return client


def attached_of(client: BatchClient) -> dict:
    [attached] = [m for m in client.json_messages() if m["type"] == "attached"]
    return attached


def assert_replay_shape(client: BatchClient) -> dict:
    """`attached` first, then per listed response in order: its `open` (unless it failed
    before opening: then its `error` alone), at most one record of its bytes, its terminal
    when it had ended. Returns the `attached` message."""
    kinds = []
    for _, m in client.messages:
        kinds.append(("bytes", m[0]) if isinstance(m, tuple) else (m["type"], m.get("id")))
    assert kinds[0] == ("attached", None), kinds[:5]
    attached = client.messages[0][1]
    at = 1
    for listed in attached["responses"]:
        rid = listed["id"]
        if kinds[at] == ("error", rid) and listed["state"] == "ended":
            at += 1
            continue
        assert kinds[at] == ("open", rid), (rid, kinds[at:at + 4])
        at += 1
        if at < len(kinds) and kinds[at] == ("bytes", rid):
            at += 1
        if listed["state"] == "ended":
            assert kinds[at][1] == rid and kinds[at][0] in ("end", "stopped", "error"), kinds[at]
            at += 1
    # Nothing after the replay repeats a response's open.
    assert all(k[0] != "open" for k in kinds[at:] if k[1] in
               {r["id"] for r in attached["responses"]}), kinds[at:]
    return attached


async def stored(jp_fetch: Any, batch_id: str, jp_serverapp: Any) -> dict:
    await state_of(jp_serverapp).store.sync()
    response = await jp_fetch("fanout", "batches", batch_id)
    return json.loads(response.body)


def attempt_of(batch: dict, wire: str) -> dict:
    """The stored attempt of a wire id `<response>.<attempt>`."""
    rid, number = split_wire_id(wire)
    for response in batch["responses"]:
        if response["id"] == rid:
            [attempt] = [a for a in response["attempts"] if a["attempt"] == number]
            return attempt
    raise AssertionError(f"{wire} not stored: {batch}")


# ------------------------------------------------------------------------------ replay


@settings()
async def test_attach_replays_exactly_what_the_upstream_sent(
    jp_ws_fetch, jp_serverapp, simulator, no_unhandled_errors
):
    """A second socket attaching mid-stream gets `attached`, every byte so far in one record
    per response, then the rest live: its bytes equal the first socket's, byte for byte, and
    the text equals the simulator's record."""
    simulator.configure(**LONG)
    first = await new_batch(jp_ws_fetch, "b-replay", "1.1", "2.1", "3.1", foo="not forwarded")
    await first.wait(lambda: all(len(first.body.get(r, b"")) > 2000 for r in ("1.1", "2.1")))
    responses = state_of(jp_serverapp).batches.get("b-replay").responses
    # the store's reader has digested more than 20 events of 1.1 and 2.1 (about once a second)
    await first.wait(lambda: all(responses[r].digest.events > 20 for r in ("1.1", "2.1")))
    second = await attach(jp_ws_fetch, "b-replay")
    await second.wait_terminal("1.1", "2.1", "3.1")
    await first.wait_terminal("1.1", "2.1", "3.1")
    attached = assert_replay_shape(second)
    assert attached["batch"] == "b-replay"
    assert [r["id"] for r in attached["responses"]] == ["1.1", "2.1", "3.1"]
    for listed in attached["responses"]:
        assert listed["state"] == "running" and listed["upstream"] == "sim"
        assert listed["elapsed_ms"] > 0 and listed["first_byte_ms"] is not None
        assert listed["first_byte_ms"] <= listed["elapsed_ms"]
        assert "foo" not in listed["request"] and listed["request"]["max_tokens"] == 400
    record = await wait_record(simulator, lambda r: len(r) == 3 and all(
        e["outcome"] == "completed" for e in r))
    for rid in ("1.1", "2.1", "3.1"):
        assert second.terminal(rid) == {"type": "end", "id": rid}
        second.assert_replayed(rid, bytes(first.body[rid]))
        assert sse_events(bytes(second.body[rid]), strict=True)[-1] == "[DONE]"
        assert second.text(rid) == (entry_for(record, rid)["reasoning"],
                                    entry_for(record, rid)["content"])
    # what came before the attach is a digest (about 1 s of it still bytes); the rest live
    for rid in ("1.1", "2.1"):
        digest = second.digests[rid]
        assert digest["model"] == "fanout-sim" and digest["events"] > 20
        assert digest["offset"] > 2000 and len(json.dumps(digest["entries"])) * 8 < digest["offset"]
    replayed = [m for _, m in second.messages if isinstance(m, tuple) and m[0] == "1.1"]
    assert len(replayed) > 1
    await first.close()
    await second.close()


@settings()
async def test_detach_then_reattach_mid_stream_loses_and_repeats_nothing(
    jp_ws_fetch, jp_serverapp, simulator, no_unhandled_errors
):
    """The only socket closes mid-stream (a reload): the streams go on, detached; a new
    socket attaches and gets everything, live to the end, equal to the simulator's text."""
    simulator.configure(**LONG)
    first = await new_batch(jp_ws_fetch, "b-reload", "1.1", "2.1")
    await first.wait(lambda: all(len(first.body.get(r, b"")) > 1000 for r in ("1.1", "2.1")))
    await first.close()
    await asyncio.sleep(0.5)
    batch = state_of(jp_serverapp).batches.get("b-reload")
    assert batch is not None and batch.detached
    assert not any(e["disconnected"] for e in simulator.requests())  # they run on
    second = await attach(jp_ws_fetch, "b-reload")
    await second.wait_terminal("1.1", "2.1", timeout=15)
    assert_replay_shape(second)
    record = await wait_record(simulator, lambda r: len(r) == 2 and all(
        e["outcome"] == "completed" for e in r))
    for rid in ("1.1", "2.1"):
        raw = bytes(second.body[rid])
        offset = second.digests[rid]["offset"] if rid in second.digests else 0
        first_got = bytes(first.body[rid])
        # what the first socket got (digested up to `offset`), then more
        assert offset <= len(first_got) and raw.startswith(first_got[offset:])
        assert sse_events(raw, strict=True)[-1] == "[DONE]"
        assert second.text(rid) == (entry_for(record, rid)["reasoning"],
                                    entry_for(record, rid)["content"])
        assert second.terminal(rid)["type"] == "end"
    await second.close()


@settings()
async def test_a_batch_that_ended_while_detached_replays_complete(
    jp_ws_fetch, jp_fetch, jp_serverapp, simulator, no_unhandled_errors
):
    """Nothing waits without a subscriber: the streams end while detached, at full speed;
    an attach within the grace period gets them whole, with their `end`."""
    simulator.configure(**MEDIUM)
    first = await new_batch(jp_ws_fetch, "b-ended", "1.1", "2.1")
    await first.wait_bytes("1.1")
    await first.close()
    record = await wait_record(simulator, lambda r: len(r) == 2 and all(
        e["outcome"] == "completed" for e in r))
    await asyncio.sleep(0.1)
    assert not state_of(jp_serverapp).batches.get("b-ended").running
    second = await attach(jp_ws_fetch, "b-ended")
    await second.wait_terminal("1.1", "2.1")
    attached = assert_replay_shape(second)
    assert [r["state"] for r in attached["responses"]] == ["ended", "ended"]
    for rid in ("1.1", "2.1"):
        assert second.text(rid)[1] == entry_for(record, rid)["content"]
        assert attempt_of(await stored(jp_fetch, "b-ended", jp_serverapp), rid)["status"] == (
            "complete")
    await second.close()


@settings()
async def test_an_ended_response_keeps_its_digest_not_its_bytes(
    jp_ws_fetch, jp_serverapp, simulator, no_unhandled_errors
):
    """Once a response ended and the store's reader has read its last byte, its digest and
    tail hold the whole stream: its compressed bytes are let go (about half the memory), and
    an attach still replays it exactly."""
    simulator.configure(**MEDIUM)
    first = await new_batch(jp_ws_fetch, "b-whole", "1.1", "2.1")
    # The replays are taken while the responses run (1 s each): once both ended, the store's
    # writer thread may release them before the test looks.
    await first.wait_bytes("1.1")
    await first.wait_bytes("2.1")
    batch = state_of(jp_serverapp).batches.get("b-whole")
    responses = list(batch.responses.values())
    replays = [r.replay for r in responses]
    assert all(replay is not None and not replay.sealed for replay in replays)
    await first.wait_terminal("1.1", "2.1")
    assert all(replay.sealed for replay in replays)
    await state_of(jp_serverapp).store.sync()  # the last read of each is answered
    # The store's writer thread hands the release to the event loop: a turn or two later.
    for _ in range(500):  # up to 5 s on a loaded machine
        if all(r.replay is None for r in responses):
            break
        await asyncio.sleep(0.01)
    assert all(r.digest.whole and r.replay is None for r in responses)
    released = sum(replay.kept_bytes() for replay in replays)
    assert released > 1000  # the compressed bytes the batch no longer holds
    assert batch.kept_bytes() == sum(r.digest.kept_bytes() for r in responses)
    second = await attach(jp_ws_fetch, "b-whole")
    await second.wait_terminal("1.1", "2.1")
    assert_replay_shape(second)
    record = await wait_record(simulator, lambda r: len(r) == 2)
    for rid in ("1.1", "2.1"):
        second.assert_replayed(rid, bytes(first.body[rid]))
        assert bytes(second.body[rid]) == b"data: [DONE]\n\n"  # the tail: all else digested
        assert second.text(rid) == (entry_for(record, rid)["reasoning"],
                                    entry_for(record, rid)["content"])
        assert second.terminal(rid) == {"type": "end", "id": rid}
    await first.close()
    await second.close()


async def test_replay_of_a_response_that_failed_before_opening(
    jp_ws_fetch, simulator, no_unhandled_errors
):
    """A response whose upstream could not be reached replays its `error` alone, in its
    place among the others; refused starts are not listed."""
    simulator.configure(**MEDIUM)
    first = await new_batch(jp_ws_fetch, "b-failed", "1.1")
    await first.start("2.1", upstream="refused")
    await first.start("3.1", upstream="nowhere")  # refused before any request
    await first.wait_terminal("1.1", "2.1", "3.1")
    second = await attach(jp_ws_fetch, "b-failed")
    await second.wait_terminal("1.1", "2.1")
    attached = assert_replay_shape(second)
    assert [(r["id"], r["state"], r["first_byte_ms"] is None) for r in attached["responses"]] == [
        ("1.1", "ended", False), ("2.1", "ended", True)]
    assert second.json_messages("2.1") == first.json_messages("2.1")
    assert second.json_messages("2.1")[0]["code"] == "upstream_unreachable"
    second.assert_replayed("1.1", bytes(first.body["1.1"]))
    assert "2.1" not in second.body
    assert not second.json_messages("3.1")
    await first.close()
    await second.close()


async def test_attach_to_an_unknown_batch(jp_ws_fetch, simulator, no_unhandled_errors):
    client = await attach(jp_ws_fetch, "b-never")
    await client.wait(lambda: client.json_messages())
    assert client.json_messages() == [{
        "type": "error", "id": None, "code": "unknown_batch", "status": 404, "batch": "b-never",
        "message": "batch 'b-never' is not running on the server (it ended, or the server"
                   " restarted)",
    }]
    # the socket stays usable: it may start a batch of its own
    await client.start("x")
    await client.wait_terminal("x")
    assert client.terminal("x")["type"] == "end"
    await client.close()


async def test_attach_is_refused_twice_or_after_a_start(
    jp_ws_fetch, simulator, no_unhandled_errors
):
    simulator.configure(**LONG)
    first = await new_batch(jp_ws_fetch, "b-twice", "1.1")
    second = await attach(jp_ws_fetch, "b-twice")
    await second.wait(lambda: second.json_messages())
    await second.send({"type": "attach", "batch": "b-twice"})
    await second.send({"type": "batch", "id": "b-other", "prompt": "p"})
    await second.wait(lambda: len([m for m in second.json_messages() if m["type"] == "error"]) == 2)
    errors = [m for m in second.json_messages() if m["type"] == "error"]
    assert [(e["id"], e["code"], e["status"]) for e in errors] == [(None, "bad_request", 400)] * 2
    assert "'attach' must come once" in errors[0]["message"]
    assert "'batch' must come once" in errors[1]["message"]
    assert len([m for m in second.json_messages() if m["type"] == "attached"]) == 1

    third = await open_batch(jp_ws_fetch)
    await third.start("own")
    await third.send({"type": "attach", "batch": "b-twice"})
    await third.wait(lambda: any(m["type"] == "error" for m in third.json_messages()))
    [error] = [m for m in third.json_messages() if m["type"] == "error"]
    assert error["id"] is None and error["code"] == "bad_request"
    await third.send({"type": "attach", "batch": ""})
    await third.send({"type": "attach"})
    await third.wait(lambda: len([m for m in third.json_messages() if m["type"] == "error"]) == 3)
    assert all("attach 'batch' must be a string" in m["message"]
               for m in third.json_messages()[-2:])
    # nothing of b-twice reached the third socket
    assert "1.1" not in third.body
    for client in (first, second, third):
        await client.close()


# ------------------------------------------------------------------- several subscribers


async def test_two_subscribers_stop_and_start_reach_both(
    jp_ws_fetch, simulator, no_unhandled_errors
):
    """A stop from either socket stops the response for both; a start in one gives
    `started` (then the response's messages) in the other."""
    simulator.configure(**LONG)
    a = await new_batch(jp_ws_fetch, "b-two", "1.1")
    await a.wait_bytes("1.1")
    b = await attach(jp_ws_fetch, "b-two")
    await b.wait_bytes("1.1")
    await b.stop("1.1")
    await a.wait_terminal("1.1")
    await b.wait_terminal("1.1")
    assert a.terminals("1.1") == b.terminals("1.1") == [{"type": "stopped", "id": "1.1"}]
    record = await wait_record(simulator, lambda r: r and r[0]["disconnected"])
    assert entry_for(record, "1.1")["outcome"] == "disconnected"

    simulator.configure(**MEDIUM)
    await a.start("2.1", temperature=0.5, foo="dropped")
    await b.wait_terminal("2.1")
    await a.wait_terminal("2.1")
    started = [m for m in b.json_messages("2.1")]
    assert started[0] == {"type": "started", "id": "2.1", "upstream": "sim", "elapsed_ms": 0,
                          "request": {"messages": [{"role": "user", "content": "hello 2.1"}],
                                      "max_tokens": 64, "seed": started[0]["request"]["seed"],
                                      "temperature": 0.5}}
    assert [m["type"] for m in started[1:]] == ["open", "end"]
    assert not any(m["type"] == "started" for m in a.json_messages())  # not to the starter
    assert bytes(a.body["2.1"]) == bytes(b.body["2.1"])

    await b.start("3.1")
    await a.wait_terminal("3.1")
    assert a.json_messages("3.1")[0]["type"] == "started"
    await b.wait_terminal("3.1")
    # ids are unique per batch: a start reusing one is refused, whichever socket sends it
    await a.start("3.1")
    await a.wait(lambda: any(m["type"] == "error" for m in a.json_messages()))
    [error] = [m for m in a.json_messages() if m["type"] == "error"]
    assert error["id"] is None and "already used" in error["message"]
    await a.close()
    await b.close()


async def test_batch_naming_a_live_batch_joins_it(
    jp_ws_fetch, jp_serverapp, simulator, no_unhandled_errors
):
    """A re-generate from the same tab after its socket closed: `batch` with the live id
    subscribes without replay; its starts join that batch (and reach the other sockets)."""
    simulator.configure(**LONG)
    a = await new_batch(jp_ws_fetch, "b-join", "1.1")
    await a.wait_bytes("1.1")
    b = await new_batch(jp_ws_fetch, "b-join")
    await b.stop("1.1")  # stop from the joined socket reaches the batch
    await a.wait_terminal("1.1")
    assert a.terminal("1.1")["type"] == "stopped"
    simulator.configure(**MEDIUM)
    await b.start("1.2")
    await b.wait_terminal("1.2")
    await a.wait_terminal("1.2")
    assert not any(m["type"] == "attached" for m in b.json_messages())
    # without replay: nothing of 1.1, which was running when it joined
    assert "1.1" not in b.body and not b.json_messages("1.1")
    assert a.json_messages("1.2")[0]["type"] == "started"
    assert bytes(a.body["1.2"]) == bytes(b.body["1.2"])
    batch = state_of(jp_serverapp).batches.get("b-join")
    assert list(batch.responses) == ["1.1", "1.2"] and len(batch.subscribers) == 2
    await a.close()
    await b.close()


@pytest.mark.parametrize("fanout_overrides", [{"send_timeout": 1.0}], indirect=True)
async def test_a_stalled_subscriber_is_closed_and_the_batch_goes_on(
    jp_serverapp, jp_ws_fetch, jp_http_port, jp_base_url, simulator, caplog,
    no_unhandled_errors,
):
    """A second socket that attaches and never reads holds the streams back (backpressure)
    until `send_timeout`; then it alone is closed (1008) and the first socket gets every
    response to its end, equal to the simulator's record."""
    simulator.configure(tokens_per_second=2000, ttft_ms=0, reasoning_tokens=0,
                        answer_tokens=12000, max_model_len=100_000)
    a = await new_batch(jp_ws_fetch, "b-stall", "1.1", "2.1", max_tokens=12000)
    await a.wait_bytes("1.1")
    token = jp_serverapp.identity_provider.token
    frozen = await RawWebSocket.connect(
        jp_http_port, f"{jp_base_url}fanout/batch?token={token}", rcvbuf=4096)
    await frozen.send(json.dumps({"type": "attach", "batch": "b-stall"}))
    await a.wait_terminal("1.1", "2.1", timeout=40)
    record = await wait_record(simulator, lambda r: len(r) == 2 and all(
        e["outcome"] == "completed" for e in r))
    for rid in ("1.1", "2.1"):
        assert a.terminal(rid)["type"] == "end"
        assert sse_text(bytes(a.body[rid]))[1] == entry_for(record, rid)["content"]
    assert "send_timeout" in caplog.text
    while True:  # the frozen socket finds, after what was written, its close and the reason
        opcode, payload = await asyncio.wait_for(frozen.read_frame(), 5)
        if opcode == CLOSE:
            break
    assert int.from_bytes(payload[:2], "big") == 1008
    frozen.close()
    assert len(state_of(jp_serverapp).batches.get("b-stall").subscribers) == 1
    await a.close()


@pytest.mark.parametrize("fanout_overrides", [{"send_timeout": 1.0}], indirect=True)
async def test_a_stalled_last_subscriber_leaves_its_batch_detached(
    jp_serverapp, jp_ws_fetch, jp_http_port, jp_base_url, simulator, caplog,
    no_unhandled_errors,
):
    """The only socket stops reading: it is closed after `send_timeout`, its streams go on
    detached (the simulator sees no disconnect), and a tab that attaches gets them whole."""
    simulator.configure(tokens_per_second=2000, ttft_ms=0, reasoning_tokens=0,
                        answer_tokens=12000, max_model_len=100_000)
    token = jp_serverapp.identity_provider.token
    frozen = await RawWebSocket.connect(
        jp_http_port, f"{jp_base_url}fanout/batch?token={token}", rcvbuf=4096)
    await frozen.send(json.dumps({"type": "batch", "id": "b-frozen", "prompt": "p"}))
    for rid in ("1.1", "2.1"):
        await frozen.send(json.dumps({"type": "start", "id": rid, "upstream": "sim", "request": {
            "messages": [{"role": "user", "content": f"frozen {rid}"}], "max_tokens": 12000}}))
    state = state_of(jp_serverapp)
    deadline = time.monotonic() + 15
    while "send_timeout" not in caplog.text:
        assert time.monotonic() < deadline, "the frozen socket was never closed"
        await asyncio.sleep(0.05)
    batch = state.batches.get("b-frozen")
    assert batch is not None and batch.detached
    assert not any(e["disconnected"] for e in simulator.requests())
    frozen.close()
    late = await attach(jp_ws_fetch, "b-frozen")
    await late.wait_terminal("1.1", "2.1", timeout=30)
    record = await wait_record(simulator, lambda r: len(r) == 2 and all(
        e["outcome"] == "completed" for e in r))
    for rid in ("1.1", "2.1"):
        [entry] = [e for e in record if e["messages"][-1]["content"] == f"frozen {rid}"]
        assert late.terminal(rid)["type"] == "end"
        assert late.text(rid)[1] == entry["content"]
    await late.close()


# ------------------------------------------------------------------ detached batches


@settings(detached_timeout=0.8)
async def test_detached_timeout_stops_the_upstream_streams(
    jp_ws_fetch, jp_fetch, jp_serverapp, simulator, no_unhandled_errors
):
    simulator.configure(**LONG)
    client = await new_batch(jp_ws_fetch, "b-timeout", "1.1", "2.1")
    await client.wait(lambda: all(client.body.get(r) for r in ("1.1", "2.1")))
    closed_at = time.time()
    await client.close()
    record = await wait_record(
        simulator, lambda r: len(r) == 2 and all(e["disconnected"] for e in r), timeout=5)
    for rid in ("1.1", "2.1"):
        after = entry_for(record, rid)["disconnected_at"] - closed_at
        assert 0.8 <= after < 2.0, after
    state = state_of(jp_serverapp)
    assert not state.user_streams.count("server-user")
    batch = await stored(jp_fetch, "b-timeout", jp_serverapp)
    for rid in ("1.1", "2.1"):
        attempt = attempt_of(batch, rid)
        assert attempt["status"] == "stopped"
        assert attempt["error"] == {
            "code": "detached_timeout",
            "message": "stopped: no tab was attached for 0.8 s (c.Fanout.detached_timeout)"}
        assert attempt["text"]  # what came before is kept
    # ended and unsubscribed: kept for the grace period (min(0.8, 60) s), then dropped
    assert "b-timeout" in state.batches
    await asyncio.sleep(1.2)
    assert "b-timeout" not in state.batches


@settings(detached_timeout=1.5)
async def test_attaching_before_the_timeout_cancels_it(
    jp_ws_fetch, jp_serverapp, simulator, no_unhandled_errors
):
    simulator.configure(**LONG)
    first = await new_batch(jp_ws_fetch, "b-saved", "1.1")
    await first.wait_bytes("1.1")
    await first.close()
    await asyncio.sleep(1.0)
    second = await attach(jp_ws_fetch, "b-saved")
    await second.wait_terminal("1.1", timeout=10)  # well past the 1.5 s after the close
    assert second.terminal("1.1")["type"] == "end"
    [entry] = simulator.requests()
    assert entry["outcome"] == "completed" and not entry["disconnected"]
    await second.close()


@settings(detached_timeout=0)
async def test_detached_timeout_zero_stops_at_once_and_forgets(
    jp_ws_fetch, jp_fetch, jp_serverapp, simulator, no_unhandled_errors
):
    """0: the behaviour before server-owned batches. The last socket's close stops the
    streams (the store says socket_closed) and the batch leaves the registry at once."""
    simulator.configure(**LONG)
    client = await new_batch(jp_ws_fetch, "b-zero", "1.1")
    await client.wait_bytes("1.1")
    closed_at = time.time()
    await client.close()
    record = await wait_record(simulator, lambda r: r and r[0]["disconnected"], timeout=3)
    assert record[0]["disconnected_at"] - closed_at < 0.5
    await asyncio.sleep(0.1)
    assert "b-zero" not in state_of(jp_serverapp).batches
    attempt = attempt_of(await stored(jp_fetch, "b-zero", jp_serverapp), "1.1")
    assert attempt["status"] == "stopped" and attempt["error"]["code"] == "socket_closed"
    again = await attach(jp_ws_fetch, "b-zero")
    await again.wait(lambda: again.json_messages())
    assert again.json_messages()[0]["code"] == "unknown_batch"
    await again.close()


@settings()
async def test_stop_is_recorded_as_stopped_by_user(
    jp_ws_fetch, jp_fetch, jp_serverapp, simulator, no_unhandled_errors
):
    simulator.configure(**LONG)
    client = await new_batch(jp_ws_fetch, "b-stop", "1.1")
    await client.wait_bytes("1.1")
    await client.stop("1.1")
    await client.wait_terminal("1.1")
    attempt = attempt_of(await stored(jp_fetch, "b-stop", jp_serverapp), "1.1")
    assert attempt["status"] == "stopped"
    assert attempt["error"] == {"code": "stopped_by_user", "message": "stopped by the user"}
    await client.close()


@pytest.mark.parametrize("fanout_overrides", [{"max_streams_per_user": 2}], indirect=True)
async def test_limits_count_detached_streams(
    jp_ws_fetch, jp_serverapp, simulator, no_unhandled_errors
):
    simulator.configure(**LONG)
    first = await new_batch(jp_ws_fetch, "b-full", "1.1", "2.1")
    await first.wait(lambda: all(first.body.get(r) for r in ("1.1", "2.1")))
    await first.close()  # detached, still streaming: it holds both slots
    other = await open_batch(jp_ws_fetch)
    await other.start("x")
    await other.wait_terminal("x")
    error = other.terminal("x")
    assert (error["type"], error["code"], error["status"]) == ("error", "limit", 429)
    assert "max_streams_per_user" in error["message"]
    # attached again and stopped: the slots come back
    again = await attach(jp_ws_fetch, "b-full")
    await again.wait(lambda: again.json_messages())
    await again.stop("1.1")
    await again.stop("2.1")
    await again.wait_terminal("1.1", "2.1")
    await asyncio.sleep(0.05)
    assert not state_of(jp_serverapp).user_streams.count("server-user")
    await other.start("y")
    await other.wait_terminal("y")
    assert other.terminal("y")["type"] == "end"
    for client in (other, again):
        await client.close()


@settings()
async def test_shutdown_closes_the_streams_of_a_detached_batch(
    jp_ws_fetch, jp_serverapp, simulator, tmp_path
):
    simulator.configure(**LONG)
    spare = await open_batch(jp_ws_fetch)  # a socket with no batch: closed on shutdown too
    first = await new_batch(jp_ws_fetch, "b-down", "1.1")
    await first.wait_bytes("1.1")
    await first.close()
    await asyncio.sleep(0.3)
    assert not simulator.requests()[0]["disconnected"]
    await jp_serverapp.cleanup_extensions()
    record = await wait_record(simulator, lambda r: r[0]["disconnected"], timeout=3)
    assert record[0]["outcome"] == "disconnected"
    await spare.wait(lambda: spare.ws.close_code is not None, timeout=3)
    assert spare.ws.close_code == 1001
    assert len(state_of(jp_serverapp).batches) == 0
    db = sqlite3.connect(tmp_path / "store" / "batches.sqlite3")
    [(status, error)] = db.execute(
        "SELECT status, error FROM attempts WHERE batch_id = 'b-down'").fetchall()
    db.close()
    assert status == "stopped" and json.loads(error)["code"] == "server_shutdown"
    await spare.close()


@settings(detached_timeout=1.0)
async def test_the_registry_forgets_ended_batches_and_their_bytes(
    jp_ws_fetch, jp_serverapp, simulator, no_unhandled_errors
):
    """After the grace period (min(detached_timeout, 60) s) an ended batch with no socket is
    gone: not attachable, and its objects and replay buffers are freed."""
    simulator.configure(**MEDIUM)
    client = await new_batch(jp_ws_fetch, "b-gone", "1.1", "2.1")
    await client.wait_terminal("1.1", "2.1")
    state = state_of(jp_serverapp)
    batch = state.batches.get("b-gone")
    responses = list(batch.responses.values())
    for r in responses:
        # Held for an attach: every byte forwarded, or, once the store has made the digest
        # whole (its writer thread, at its own pace), the digest and its tail instead
        # (_release_replay), covering those bytes.
        body = bytes(client.body[r.id])
        if r.replay is not None:
            assert r.kept() == body
        else:
            assert r.digest.whole
            _entries, _count, _model, covered, tail = r.digest.snapshot()
            assert covered + len(tail) == len(body) and body.endswith(tail)
    refs = [weakref.ref(batch)] + [weakref.ref(r) for r in responses]
    del batch, responses, r
    closed = time.monotonic()
    await client.close()
    await asyncio.sleep(0.2)
    assert "b-gone" in state.batches  # within the grace period
    deadline = closed + 6
    while "b-gone" in state.batches and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert "b-gone" not in state.batches
    assert time.monotonic() - closed >= 1.0
    gc.collect()
    # nothing holds the batch or its responses, whose `raw` buffers were their only owners
    assert all(ref() is None for ref in refs)
    late = await attach(jp_ws_fetch, "b-gone")
    await late.wait(lambda: late.json_messages())
    assert late.json_messages()[0]["code"] == "unknown_batch"
    await late.close()


# ------------------------------------------------------- backpressure with several sockets


class FakeSocket:
    """The browser end of one Subscriber (a unit test: its send is a function). `blocked`:
    its writes never complete until released, like a browser that stopped reading."""

    def __init__(self, blocked: bool = False):
        self.body: dict[str, bytearray] = {}
        self.texts: list[dict] = []
        self.gate = asyncio.Event()
        if not blocked:
            self.gate.set()

    async def send(self, message: str | bytes) -> None:
        await self.gate.wait()
        if isinstance(message, bytes):
            for rid, chunk in split_records(message):
                self.body.setdefault(rid, bytearray()).extend(chunk)
        else:
            self.texts.append(json.loads(message))


async def test_a_response_waits_only_while_some_subscriber_is_congested(simulator):
    """Two sockets on one batch; one stops reading. Once more than its high-water mark waits
    for it, the response waits (the other socket gets nothing more); when that socket leaves,
    the response goes on; with no socket at all, nothing waits and the stream ends at the
    upstream's pace, every byte kept for a later attach."""
    simulator.configure(tokens_per_second=400, ttft_ms=0, reasoning_tokens=0,
                        answer_tokens=1200, max_model_len=100_000)
    log = logging.getLogger("test")
    upstream = Upstream(UpstreamSpec(name="sim", base_urls=(simulator.base_url,),
                                     dialect="vllm"),
                        idle_timeout=5, connect_timeout=5, models_timeout=5, log=log)
    fanout = Fanout(detached_timeout=30)
    registry = BatchRegistry(fanout=fanout, lookup=lambda _: upstream,
                             user_streams=UserStreams(), log=log)
    reader, frozen = FakeSocket(), FakeSocket(blocked=True)
    a = Subscriber(registry=registry, fanout=fanout, user="u", send=reader.send, log=log)
    b = Subscriber(registry=registry, fanout=fanout, user="u", send=frozen.send, log=log)
    b.outbox._high_water = 16 * 1024  # a small mark, so that it fills in a moment
    try:
        a.handle_message(json.dumps({"type": "batch", "id": "b-bp", "prompt": "p"}))
        a.handle_message(json.dumps({"type": "start", "id": "1", "request": {
            "messages": [{"role": "user", "content": "go"}], "max_tokens": 1200}}))
        b.handle_message(json.dumps({"type": "attach", "batch": "b-bp"}))
        response = registry.get("b-bp").responses["1"]
        for _ in range(200):
            await asyncio.sleep(0.02)
            if b.outbox.congested:
                break
        assert b.outbox.congested
        await asyncio.sleep(0.1)
        held = len(reader.body["1"])
        await asyncio.sleep(0.4)
        assert len(reader.body["1"]) == held  # waits for the congested socket
        assert len(response.kept()) == held
        b.close()  # it leaves: the response goes on for the other
        await asyncio.sleep(0.3)
        assert len(reader.body["1"]) > held
        a.close()  # no socket: detached, nothing waits
        assert registry.get("b-bp").detached
        await asyncio.wait_for(asyncio.shield(response.task), 10)
        [entry] = simulator.requests()
        assert entry["outcome"] == "completed"
        assert sse_text(response.kept())[1] == entry["content"]
        assert response.terminal == {"type": "end", "id": "1"}
    finally:
        frozen.gate.set()
        a.close()
        b.close()
        await registry.close()
        await upstream.close()
