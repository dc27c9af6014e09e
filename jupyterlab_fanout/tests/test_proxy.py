"""End to end: browser WebSocket -> Jupyter server extension -> simulator processes."""
from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from .processes import SimulatorProcess, simulator_fixtures
from .proxy_fixtures import *  # noqa: F403 - fixtures
from .proxy_fixtures import API_KEY, SEED_OF, BatchClient, entry_for, open_batch, wait_record
from .sse import sse_events, sse_text

ALLOWED = {
    "model", "messages", "max_tokens", "temperature", "top_p", "seed", "stop",
    "presence_penalty", "frequency_penalty", "chat_template_kwargs",
    "stream", "n", "stream_options",
}


def finished(entry: dict) -> bool:
    return entry.get("outcome") not in (None, "", "streaming", "pending", "running")


def assert_lifecycle(client: BatchClient, rid: str, terminal: str) -> None:
    """open first (unless error), then bytes, then exactly one terminal of that type."""
    kinds = []
    for _, m in client.messages:
        if isinstance(m, tuple):
            if m[0] == rid:
                kinds.append("bytes")
        elif m.get("id") == rid:
            kinds.append(m["type"])
    assert kinds.count(terminal) == 1, kinds
    assert kinds[-1] == terminal, kinds
    assert sum(k in ("end", "stopped", "error") for k in kinds) == 1, kinds
    if kinds[0] != "error":
        assert kinds[0] == "open", kinds
        assert "open" not in kinds[1:], kinds


# ---------------------------------------------------------------- streaming


async def test_four_responses_stream_through(jp_ws_fetch, simulator, no_unhandled_errors):
    client = await open_batch(jp_ws_fetch)
    ids = [f"r{i}" for i in range(4)]
    for rid in ids:
        await client.start(rid, temperature=0.7)
    terminals = await client.wait_terminal(*ids)
    record = await wait_record(simulator, lambda r: len(r) == 4 and all(finished(e) for e in r))
    for rid in ids:
        assert terminals[rid]["type"] == "end"
        assert_lifecycle(client, rid, "end")
        opened = client.json_messages(rid)[0]
        assert opened == {"type": "open", "id": rid, "status": 200}
        raw = bytes(client.body[rid])
        events = sse_events(raw)
        assert events[-1] == "[DONE]"
        entry = entry_for(record, rid)
        reasoning, content = sse_text(raw)
        assert content == entry["content"]
        assert reasoning == entry["reasoning"]
        assert entry["content"] and entry["reasoning"]
    await client.close()


async def test_bytes_forwarded_as_they_arrive(jp_ws_fetch, simulator):
    """No buffering: a slow stream's first bytes reach the browser long before its end."""
    simulator.configure(tokens_per_second=20, ttft_ms=0, reasoning_tokens=0, answer_tokens=20)
    client = await open_batch(jp_ws_fetch)
    t0 = time.time()
    await client.start("slow")
    await client.wait_bytes("slow")
    first = time.time() - t0
    await client.wait_terminal("slow")
    total = time.time() - t0
    assert first < 0.4 < total, (first, total)
    frames = [m for _, m in client.messages if isinstance(m, tuple)]
    assert len(frames) >= 10  # one frame per upstream chunk, not one at the end
    await client.close()


async def test_exactly_n_upstream_requests_each_n1_streamed(jp_ws_fetch, simulator):
    client = await open_batch(jp_ws_fetch)
    for i in range(3):
        await client.start(f"k{i}", n=5, stream=False, stream_options={"include_usage": False})
    await client.wait_terminal("k0", "k1", "k2")
    record = await wait_record(simulator, lambda r: len(r) == 3 and all(finished(e) for e in r))
    assert len(record) == 3
    for entry in record:
        assert entry["n"] == 1 and entry["stream"] is True
        assert entry["stream_options"] == {"include_usage": True, "continuous_usage_stats": True}
        assert entry["outcome"] == "completed"
    for rid in ("k0", "k1", "k2"):
        assert client.terminal(rid)["type"] == "end"
    await client.close()


async def test_only_allowed_keys_reach_the_upstream(jp_ws_fetch, capture, simulator, refused_port):
    """The capture upstream records whole bodies: extra keys never leave the proxy."""
    client = await open_batch(jp_ws_fetch)
    await client.start(
        "c1", upstream="capture", model="m", n=5, stream=False,
        stream_options={"include_usage": False}, url=f"http://127.0.0.1:{refused_port}/v1",
        headers={"X-Evil": "1"}, api_base="http://evil.example", logprobs=True, tools=[],
        top_p=0.9, stop=["\n\n"], chat_template_kwargs={"enable_thinking": False},
        presence_penalty=0.1, frequency_penalty=0.2,
    )
    t = await client.wait_terminal("c1")
    assert t["c1"]["type"] == "end"
    assert bytes(client.body["c1"]).endswith(b"data: [DONE]\n\n")
    [(headers, body)] = capture.requests
    assert set(body) <= ALLOWED, set(body) - ALLOWED
    assert body["n"] == 1 and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True, "continuous_usage_stats": True}
    assert body["top_p"] == 0.9 and body["stop"] == ["\n\n"] and body["model"] == "m"
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert body["presence_penalty"] == 0.1 and body["frequency_penalty"] == 0.2
    assert "x-evil" not in headers
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert simulator.requests() == []
    await client.close()


# ---------------------------------------------------------------- cancellation


LONG = {"tokens_per_second": 100, "ttft_ms": 0, "reasoning_tokens": 0, "answer_tokens": 400}


async def test_case_006_stop_one_of_four(jp_ws_fetch, simulator, no_unhandled_errors):
    simulator.configure(tokens_per_second=100, ttft_ms=0, reasoning_tokens=0, answer_tokens=60)
    client = await open_batch(jp_ws_fetch)
    ids = ["a", "b", "c", "d"]
    for rid in ids:
        await client.start(rid)
    await client.wait_bytes("c")
    await client.stop("c")
    terminals = await client.wait_terminal(*ids)
    assert terminals["c"]["type"] == "stopped"
    for rid in ("a", "b", "d"):
        assert terminals[rid]["type"] == "end"
        assert sse_events(bytes(client.body[rid]))[-1] == "[DONE]"
    record = await wait_record(simulator, lambda r: len(r) == 4 and all(finished(e) for e in r))
    assert entry_for(record, "c")["disconnected"] is True
    for rid in ("a", "b", "d"):
        entry = entry_for(record, rid)
        assert entry["outcome"] == "completed", entry
        assert not entry["disconnected"]
    await client.close()


async def test_case_001_stop_reaches_upstream(jp_ws_fetch, simulator, no_unhandled_errors):
    simulator.configure(**LONG)
    client = await open_batch(jp_ws_fetch)
    await client.start("x")
    await client.wait_bytes("x", 200)
    stopped_at = await client.stop("x")
    await client.wait_terminal("x")
    assert client.terminal("x")["type"] == "stopped"
    assert_lifecycle(client, "x", "stopped")
    record = await wait_record(simulator, lambda r: r and r[0].get("disconnected"), timeout=2)
    delay = record[0]["disconnected_at"] - stopped_at
    assert -0.05 < delay < 0.2, delay
    # `stopped` is only sent after the upstream connection was closed
    await client.close()


async def test_stop_before_upstream_answers(jp_ws_fetch, simulator, no_unhandled_errors):
    """A stop while the proxy still waits for the upstream's headers closes that connection."""
    simulator.configure(ttft_ms=3000, tokens_per_second=100, answer_tokens=10)
    client = await open_batch(jp_ws_fetch)
    await client.start("early")
    await wait_record(simulator, lambda r: len(r) == 1, timeout=3)
    await client.stop("early")
    await client.wait_terminal("early")
    assert client.terminal("early")["type"] == "stopped"
    await wait_record(simulator, lambda r: r[0].get("disconnected"), timeout=2)
    await client.close()


async def test_case_004_streams_are_not_aborted_prematurely(
    jp_ws_fetch, simulator, no_unhandled_errors
):
    simulator.configure(tokens_per_second=200, ttft_ms=100, reasoning_tokens=10, answer_tokens=60)
    client = await open_batch(jp_ws_fetch)
    ids = [f"p{i}" for i in range(4)]
    for rid in ids:
        await client.start(rid)
    terminals = await client.wait_terminal(*ids)
    record = await wait_record(simulator, lambda r: len(r) == 4 and all(finished(e) for e in r))
    for rid in ids:
        assert terminals[rid]["type"] == "end"
        assert sse_events(bytes(client.body[rid]))[-1] == "[DONE]"
        entry = entry_for(record, rid)
        assert entry["outcome"] == "completed" and not entry["disconnected"], entry
    await client.close()


async def test_case_003_stop_late_in_a_long_stream(jp_ws_fetch, simulator, no_unhandled_errors):
    simulator.configure(tokens_per_second=400, ttft_ms=0, reasoning_tokens=0, answer_tokens=2000)
    client = await open_batch(jp_ws_fetch)
    await client.start("long", max_tokens=4000)
    await asyncio.sleep(1.5)  # well into the stream, long after the headers came
    assert client.terminal("long") is None
    stopped_at = await client.stop("long")
    await client.wait_terminal("long")
    assert client.terminal("long")["type"] == "stopped"
    record = await wait_record(simulator, lambda r: r and r[0].get("disconnected"), timeout=2)
    assert record[0]["disconnected_at"] - stopped_at < 0.2
    await client.close()


@pytest.mark.parametrize("fanout_overrides", [{"detached_timeout": 0}], indirect=True)
async def test_case_005_stop_and_close_mid_stream_raise_nothing(
    jp_ws_fetch, simulator, no_unhandled_errors
):
    simulator.configure(**LONG)
    client = await open_batch(jp_ws_fetch)
    for rid in ("s1", "s2", "s3", "s4"):
        await client.start(rid)
    await client.wait_bytes("s1")
    await client.stop("s1")
    await client.stop("s1")  # a second stop is ignored
    await client.wait_terminal("s1")
    await client.send({"type": "stop", "id": "nope"})  # unknown id: an error not tied to a response
    await client.wait(lambda: any(m.get("id") is None for m in client.json_messages()))
    await client.close()  # s2..s4 are mid-stream
    await wait_record(simulator, lambda r: len(r) == 4 and all(e.get("disconnected") for e in r), timeout=3)
    assert client.terminals("s1") == [{"type": "stopped", "id": "s1"}]
    await asyncio.sleep(0.2)  # let the server finish closing


async def test_stop_racing_with_end(jp_ws_fetch, simulator, no_unhandled_errors):
    """Stops sent around the moment streams end: never a crash, never two terminal messages."""
    simulator.configure(tokens_per_second=1000, ttft_ms=0, reasoning_tokens=0, answer_tokens=10)
    client = await open_batch(jp_ws_fetch)
    ids = [f"race{i}" for i in range(12)]
    for i, rid in enumerate(ids):
        await client.start(rid)
        if i % 3 == 0:
            await asyncio.sleep(0.005 * i)
        await client.stop(rid)
    await client.wait_terminal(*ids)
    await asyncio.sleep(0.2)
    for rid in ids:
        assert len(client.terminals(rid)) == 1, client.json_messages(rid)
        assert client.terminal(rid)["type"] in ("end", "stopped")
    await client.close()


@pytest.mark.parametrize("fanout_overrides", [{"detached_timeout": 0}], indirect=True)
async def test_closing_the_socket_closes_all_its_streams(
    jp_ws_fetch, simulator, no_unhandled_errors
):
    """With detached_timeout = 0 (the behaviour before server-owned batches) closing the last
    socket of a batch stops its streams at once; test_attach.py covers the default."""
    simulator.configure(**LONG)
    client = await open_batch(jp_ws_fetch)
    other = await open_batch(jp_ws_fetch)
    for rid in ("w1", "w2", "w3"):
        await client.start(rid)
    await other.start("keep", max_tokens=30)
    await client.wait(lambda: all(client.body.get(r) for r in ("w1", "w2", "w3")))
    closed_at = time.time()
    await client.close()
    record = await wait_record(simulator, 
        lambda r: sum(bool(e.get("disconnected")) for e in r) == 3, timeout=3
    )
    for rid in ("w1", "w2", "w3"):
        assert entry_for(record, rid)["disconnected_at"] - closed_at < 0.3
    # the other socket's response is untouched
    await other.wait_terminal("keep")
    assert other.terminal("keep")["type"] == "end"
    assert not entry_for(simulator.requests(), "keep")["disconnected"]
    await other.close()


async def test_server_shutdown_closes_streams(jp_serverapp, jp_ws_fetch, simulator):
    simulator.configure(**LONG)
    client = await open_batch(jp_ws_fetch)
    await client.start("sd1")
    await client.start("sd2")
    await client.wait(lambda: client.body.get("sd1") and client.body.get("sd2"))
    await jp_serverapp.cleanup_extensions()
    await wait_record(simulator, lambda r: len(r) == 2 and all(e.get("disconnected") for e in r), timeout=3)
    # The browser's socket is closed too, saying why, rather than left open to a dead proxy.
    await client.wait(lambda: client.ws.close_code is not None, timeout=3)
    assert client.ws.close_code == 1001
    assert client.ws.close_reason == "the Jupyter server is shutting down"
    await client.close()


# ---------------------------------------------------------------- upstream failures


def _direct_error(simulator: SimulatorProcess, body: dict) -> tuple[int, dict]:
    """What the simulator itself answers to an invalid request (for an exact comparison)."""
    req = urllib.request.Request(
        simulator.base_url + "/chat/completions", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            raise AssertionError(f"expected an error, got {resp.status}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


FAULTS = {
    "http_500_json": {"kind": "http_error", "status": 500, "body": "json",
                      "message": "engine exploded (test)"},
    "http_502_html": {"kind": "http_error", "status": 502, "body": "html"},
    "drop": {"kind": "drop", "after_tokens": 5},
    "stall": {"kind": "stall", "after_tokens": 3},
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_upstream_fault_affects_only_its_response(
    jp_ws_fetch, simulator, faulty, fault, no_unhandled_errors
):
    faulty.configure(faults=[FAULTS[fault]])
    client = await open_batch(jp_ws_fetch)
    await client.start("ok1")
    await client.start("bad", upstream="faulty")
    await client.start("ok2")
    terminals = await client.wait_terminal("ok1", "bad", "ok2", timeout=8)
    for rid in ("ok1", "ok2"):
        assert terminals[rid]["type"] == "end"
        assert sse_events(bytes(client.body[rid]))[-1] == "[DONE]"
    bad = terminals["bad"]
    if fault == "http_500_json":
        # The upstream's own type is the code (docs/dialects.md); `upstream_http` when none.
        assert bad == {"type": "error", "id": "bad", "status": 500,
                       "message": "engine exploded (test)", "code": "InternalServerError",
                       "upstream_error": {"type": "InternalServerError"}}
        assert_lifecycle(client, "bad", "error")
    elif fault == "http_502_html":
        assert bad["status"] == 502 and bad["code"] == "upstream_http"
        assert bad["message"] == "HTTP 502 Bad Gateway from upstream 'faulty'"
        assert "<" not in bad["message"]
    elif fault == "drop":
        assert bad["type"] == "end"
        assert_lifecycle(client, "bad", "end")
        assert b"[DONE]" not in bytes(client.body.get("bad", b""))
    elif fault == "stall":
        assert bad["type"] == "error" and bad["code"] == "upstream_timeout"
        assert bad["status"] == 504 and "idle_timeout" in bad["message"]
        assert_lifecycle(client, "bad", "error")
        await wait_record(faulty, lambda r: r and r[0].get("disconnected"), timeout=3)
    await client.close()


async def test_refused_and_too_large_only_affect_their_response(
    jp_ws_fetch, simulator, no_unhandled_errors
):
    too_large = {"model": "fanout-sim", "messages": [{"role": "user", "content": "hello big"}],
                 "max_tokens": 20000}
    status, expected = _direct_error(simulator, {**too_large, "stream": True})
    simulator.reset()
    simulator.configure(api_key=API_KEY, tokens_per_second=400, ttft_ms=20,
                        reasoning_tokens=5, answer_tokens=20)
    client = await open_batch(jp_ws_fetch)
    await client.start("ok1")
    await client.start("refused", upstream="refused")
    await client.start("big", max_tokens=20000)
    await client.start("ok2")
    t = await client.wait_terminal("ok1", "refused", "big", "ok2")
    assert t["ok1"]["type"] == t["ok2"]["type"] == "end"
    assert t["refused"]["code"] == "upstream_unreachable"
    assert "refused" in t["refused"]["message"] and "127.0.0.1" not in t["refused"]["message"]
    assert t["big"]["status"] == status == 400
    message = expected.get("error", expected).get("message")
    assert t["big"]["message"] == message
    assert t["big"]["code"] == "BadRequestError"
    assert t["big"]["upstream_error"] == {"type": "BadRequestError"}
    await client.close()


# ---------------------------------------------------------------- replicas


replica_process, replica = simulator_fixtures("replica", scope="module")


def _in(record: list[dict], rid: str) -> bool:
    try:
        entry_for(record, rid)
    except AssertionError:
        return False
    return True


def _pair(request: pytest.FixtureRequest) -> dict[str, Any]:
    sim = request.getfixturevalue("simulator")
    rep = request.getfixturevalue("replica")
    return {"upstreams": {
        "sim": {"base_urls": [sim.base_url], "api_key_env": "FANOUT_TEST_API_KEY"},
        "pair": {"base_urls": [sim.base_url, rep.base_url], "api_key_env": "FANOUT_TEST_API_KEY"},
    }}


@pytest.mark.parametrize("fanout_overrides", [_pair], indirect=True)
async def test_replicas_fewest_in_flight(jp_ws_fetch, simulator, replica, fanout_overrides):
    for sim in (simulator, replica):
        sim.configure(api_key=API_KEY, **LONG)
    client = await open_batch(jp_ws_fetch)
    for rid in ("q1", "q2", "q3", "q4"):
        await client.start(rid, upstream="pair")
    await wait_record(simulator, lambda r: len(r) == 2)
    await wait_record(replica, lambda r: len(r) == 2)
    # free one slot on the first replica: the next response must go there
    first = next(r for r in ("q1", "q2", "q3", "q4")
                 if _in(simulator.requests(), r))
    await client.stop(first)
    await client.wait_terminal(first)
    await client.start("q5", upstream="pair")
    record = await wait_record(simulator, lambda r: len(r) == 3)
    assert _in(record[2:], "q5")
    assert len(replica.requests()) == 2
    await client.close()


# ---------------------------------------------------------------- limits


@pytest.mark.parametrize(
    "fanout_overrides", [{"max_responses_per_batch": 3}], indirect=True
)
async def test_limit_max_responses_per_batch(jp_ws_fetch, simulator, fanout_overrides):
    client = await open_batch(jp_ws_fetch)
    for rid in ("l1", "l2", "l3", "l4"):
        await client.start(rid, max_tokens=5)
    t = await client.wait_terminal("l1", "l2", "l3", "l4")
    assert [t[r]["type"] for r in ("l1", "l2", "l3")] == ["end"] * 3
    assert t["l4"]["type"] == "error" and t["l4"]["code"] == "limit"
    assert "max_responses_per_batch (3)" in t["l4"]["message"]
    assert len(simulator.requests()) == 3
    await client.close()


async def test_limit_max_tokens(jp_ws_fetch, simulator):
    client = await open_batch(jp_ws_fetch)
    await client.start("mt", max_tokens=40000)
    t = await client.wait_terminal("mt")
    assert t["mt"]["code"] == "limit" and "max_tokens_limit (32768)" in t["mt"]["message"]
    assert simulator.requests() == []
    await client.close()


@pytest.mark.parametrize("fanout_overrides", [{"max_streams_per_user": 2}], indirect=True)
async def test_limit_max_streams_per_user_across_sockets(
    jp_ws_fetch, simulator, fanout_overrides
):
    simulator.configure(**LONG)
    one = await open_batch(jp_ws_fetch)
    two = await open_batch(jp_ws_fetch)
    await one.start("u1")
    await two.start("u2")
    await one.wait_bytes("u1")
    await two.wait_bytes("u2")
    await two.start("u3")
    t = await two.wait_terminal("u3")
    assert t["u3"]["code"] == "limit" and "max_streams_per_user (2)" in t["u3"]["message"]
    await one.stop("u1")
    await one.wait_terminal("u1")
    await two.start("u4")  # a slot is free again
    await two.wait_bytes("u4")
    await one.close()
    await two.close()


@pytest.mark.parametrize("fanout_overrides", [{"max_message_bytes": 4000}], indirect=True)
async def test_limit_message_size(jp_ws_fetch, simulator, fanout_overrides):
    client = await open_batch(jp_ws_fetch)
    await client.start("big", messages=[{"role": "user", "content": "x" * 5000}])
    await client.wait(lambda: client.json_messages())
    error = client.json_messages()[0]
    assert error["id"] is None and error["code"] == "limit"
    assert "max_message_bytes (4000)" in error["message"]
    await client.start("fine")  # the socket still works
    await client.wait_terminal("fine")
    await client.start("huge", messages=[{"role": "user", "content": "x" * 9000}])
    await asyncio.wait_for(client.closed.wait(), 5)  # over twice the limit: closed unread
    assert client.ws.close_code == 1009
    assert await wait_record(simulator, lambda r: len(r) == 1)
    await client.close()


async def test_records_ready_together_share_a_frame_and_end_follows_its_bytes(jp_ws_fetch, simulator):
    simulator.configure(tokens_per_second=400, ttft_ms=0, reasoning_tokens=0, answer_tokens=40)
    client = await open_batch(jp_ws_fetch)
    ids = [f"c{i}" for i in range(16)]
    for rid in ids:
        await client.start(rid, max_tokens=64)
    terminal = await client.wait_terminal(*ids)
    assert all(terminal[rid]["type"] == "end" for rid in ids)
    # Every response's bytes are whole and in order (the simulator's own record says what it sent).
    record = await wait_record(simulator, lambda r: len(r) == 16 and all(e["outcome"] != "running" for e in r))
    assert sorted(sse_text(bytes(client.body[rid]))[1] for rid in ids) == sorted(e["content"] for e in record)
    # No response's end came before one of its own records.
    for rid in ids:
        positions = [i for i, (_, m) in enumerate(client.messages) if (isinstance(m, tuple) and m[0] == rid)]
        end_at = next(
            i for i, (_, m) in enumerate(client.messages)
            if isinstance(m, dict) and m.get("id") == rid and m["type"] == "end"
        )
        assert max(positions) < end_at
    # 16 streams at 400 tokens/s: chunks of several responses were sent together.
    assert client.frames_with_several_records > 0
    await client.close()


# ---------------------------------------------------------------- unreachable upstreams


@pytest.fixture
def blackhole_port() -> Iterator[int]:
    """A loopback port that never completes a connection: it listens with a full backlog and
    never accepts, so the kernel drops further SYNs and a client's connect times out."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    time.sleep(0.1)
    yield port
    for s in (*fillers, server):
        s.close()


def _beside_the_simulator(
    request: pytest.FixtureRequest, others: dict[str, str], **settings: Any
) -> dict[str, Any]:
    """`c.Fanout` overrides: the simulator as upstream "sim" and `others` (name -> base URL)."""
    sim = request.getfixturevalue("simulator")
    upstreams: dict[str, Any] = {
        "sim": {"base_urls": [sim.base_url], "api_key_env": "FANOUT_TEST_API_KEY"}
    }
    upstreams.update({name: {"base_urls": [url]} for name, url in others.items()})
    return {"upstreams": upstreams, **settings}


def _unreachable(request: pytest.FixtureRequest) -> dict[str, Any]:
    port = request.getfixturevalue("blackhole_port")
    return _beside_the_simulator(
        request,
        # RFC 6761: names under .invalid never resolve.
        {"unresolvable": "http://fanout-test.invalid/v1",
         "blackhole": f"http://127.0.0.1:{port}/v1"},
        connect_timeout=0.5,
    )


@pytest.mark.parametrize("fanout_overrides", [_unreachable], indirect=True)
async def test_dns_failure_and_connect_timeout_only_affect_their_response(
    jp_ws_fetch, simulator, fanout_overrides, no_unhandled_errors
):
    client = await open_batch(jp_ws_fetch)
    await client.start("ok")
    await client.start("dns", upstream="unresolvable")
    await client.start("timeout", upstream="blackhole")
    started = time.monotonic()
    t = await client.wait_terminal("ok", "dns", "timeout", timeout=10)
    assert t["ok"]["type"] == "end"
    assert sse_events(bytes(client.body["ok"]))[-1] == "[DONE]"
    assert t["dns"] == {
        "type": "error", "id": "dns", "status": 502, "code": "upstream_unreachable",
        "message": "upstream 'unresolvable': host name could not be resolved",
    }
    assert t["timeout"] == {
        "type": "error", "id": "timeout", "status": 504, "code": "upstream_timeout",
        "message": "connecting to upstream 'blackhole' timed out",
    }
    # The connect timeout applied (0.5 s), not some default of minutes.
    assert time.monotonic() - started < 5
    for rid in ("dns", "timeout"):
        assert_lifecycle(client, rid, "error")
    await client.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback server that accepts connections and reads requests but never answers."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for s in (*accepted, server):
        s.close()


def _silent(request: pytest.FixtureRequest) -> dict[str, Any]:
    port = request.getfixturevalue("silent_port")
    return _beside_the_simulator(
        request, {"silent": f"http://127.0.0.1:{port}/v1"}, idle_timeout=0.6
    )


@pytest.mark.parametrize("fanout_overrides", [_silent], indirect=True)
async def test_an_upstream_that_never_answers_times_out_alone(
    jp_ws_fetch, simulator, fanout_overrides, no_unhandled_errors
):
    """No headers within idle_timeout: that response fails with upstream_timeout; the other
    response, on another upstream, streams to its end."""
    # About 1.5 s of streaming: it outlives the silent upstream's timeout.
    simulator.configure(tokens_per_second=20, ttft_ms=0, reasoning_tokens=0, answer_tokens=30)
    client = await open_batch(jp_ws_fetch)
    await client.start("ok")
    await client.start("silent", upstream="silent")
    started = time.monotonic()
    t = await client.wait_terminal("silent", timeout=5)
    assert t["silent"] == {
        "type": "error", "id": "silent", "status": 504, "code": "upstream_timeout",
        "message": "upstream 'silent' did not answer in time",
    }
    assert 0.5 < time.monotonic() - started < 3
    assert client.terminal("ok") is None  # still streaming
    t = await client.wait_terminal("ok", timeout=10)
    assert t["ok"]["type"] == "end"
    assert_lifecycle(client, "silent", "error")
    await client.close()


#: A simulator serving HTTPS with a self-signed certificate (vLLM's --ssl-* flags).
DATA = Path(__file__).parent / "data"
tls_simulator = simulator_fixtures(
    "tls_simulator", "--ssl-certfile", str(DATA / "selfsigned.crt"),
    "--ssl-keyfile", str(DATA / "selfsigned.key"), scheme="https", scope="module", reset=None,
)


def _tls(request: pytest.FixtureRequest) -> dict[str, Any]:
    url = request.getfixturevalue("tls_simulator").base_url
    overrides = _beside_the_simulator(request, {"checked": url})
    overrides["upstreams"]["unchecked"] = {"base_urls": [url], "verify_tls": False}
    return overrides


@pytest.mark.parametrize("fanout_overrides", [_tls], indirect=True)
async def test_tls_upstreams_are_verified_unless_configured_not_to(
    jp_ws_fetch, tls_simulator, fanout_overrides, no_unhandled_errors
):
    """An https upstream whose certificate no CA vouches for is refused (verify_tls on by
    default); with verify_tls false the same upstream streams to its end."""
    tls_simulator.reset()
    tls_simulator.configure(**FAST)
    client = await open_batch(jp_ws_fetch)
    await client.start("checked", upstream="checked")
    await client.start("unchecked", upstream="unchecked")
    t = await client.wait_terminal("checked", "unchecked", timeout=10)
    assert t["checked"] == {
        "type": "error", "id": "checked", "status": 502, "code": "upstream_unreachable",
        "message": "upstream 'checked': TLS error",
    }
    assert t["unchecked"]["type"] == "end"
    assert sse_events(bytes(client.body["unchecked"]))[-1] == "[DONE]"
    assert [r["seed"] for r in tls_simulator.requests()] == [SEED_OF["unchecked"]]
    await client.close()
