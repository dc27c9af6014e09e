"""The replay kept for `attach` (replay.py, docs/protocol.md "Server-owned batches"): one
deflate stream per response, fed on the forwarding path; the compressed record an attaching
socket gets; no record framed for a detached batch; the memory ended batches keep, and its cap
`c.Fanout.ended_replay_bytes`. Real sockets and the real simulator process where a server is
involved."""
from __future__ import annotations

import asyncio
import gc
import json
import logging
import weakref
import zlib
from typing import Any

import pytest

from .proxy_fixtures import *  # noqa: F403 - fixtures
from .proxy_fixtures import entry_for, split_records, wait_record
from .sse import sse_events, sse_text
from .test_attach import LONG, MEDIUM, attach, attached_of, new_batch, state_of
from .. import batch as batch_module
from ..batch import UserStreams
from ..config import Fanout, UpstreamSpec
from ..registry import BatchRegistry
from ..replay import COMPRESSOR_BYTES, PENDING_BYTES, WBITS, ReplayBuffer, compress
from ..subscriber import Subscriber
from ..upstream import Upstream


def sse_chunks(n: int) -> list[bytes]:
    """`n` vLLM-like SSE events, cut into reads at awkward places (inside a UTF-8 character)."""
    events = b"".join(
        b'data: {"id":"c1","choices":[{"index":0,"delta":{"content":" mot\xc3\xa9 %d"}}],'
        b'"usage":{"completion_tokens":%d}}\n\n' % (i, i + 1) for i in range(n))
    cuts = list(range(0, len(events), 97)) + [len(events)]
    return [events[a:b] for a, b in zip(cuts, cuts[1:])]


# ------------------------------------------------------------------- the buffer itself


def test_a_snapshot_is_a_complete_stream_of_every_byte_so_far_and_the_compressor_goes_on():
    chunks = sse_chunks(1500)  # about 165 KB: compressed in several gathers, and a rest
    assert sum(map(len, chunks)) > 2 * PENDING_BYTES
    buffer = ReplayBuffer()
    half = len(chunks) // 2
    for chunk in chunks[:half]:
        buffer.add(chunk)
    first = buffer.snapshot()
    decompressor = zlib.decompressobj()
    assert decompressor.decompress(first) == b"".join(chunks[:half])
    assert decompressor.eof and decompressor.unused_data == b""  # complete, nothing after
    for chunk in chunks[half:]:
        buffer.add(chunk)
    whole = b"".join(chunks)
    assert zlib.decompress(buffer.snapshot()) == whole == buffer.decoded()
    assert buffer.raw_bytes == len(whole)
    assert len(buffer.snapshot()) * 10 < len(whole)  # repetitive JSON: far fewer bytes


def test_sealing_keeps_the_same_bytes_and_lets_go_of_the_compressor():
    buffer = ReplayBuffer()
    for chunk in sse_chunks(200):
        buffer.add(chunk)
    running = buffer.kept_bytes()
    before = zlib.decompress(buffer.snapshot())
    buffer.seal()
    assert buffer.sealed
    assert zlib.decompress(buffer.snapshot()) == before
    assert buffer.kept_bytes() == len(buffer.snapshot())
    # the compressor's state was counted while it ran, and is gone
    assert running >= COMPRESSOR_BYTES and buffer.kept_bytes() < COMPRESSOR_BYTES // 10
    buffer.seal()  # twice: nothing changes
    assert zlib.decompress(buffer.snapshot()) == before
    with pytest.raises(RuntimeError, match="got bytes after it was sealed"):
        buffer.add(b"data: late\n\n")


def test_an_empty_buffer_is_an_empty_stream():
    buffer = ReplayBuffer()
    assert zlib.decompress(buffer.snapshot()) == b"" and buffer.raw_bytes == 0
    buffer.seal()
    assert zlib.decompress(buffer.snapshot()) == b""


def test_compress_writes_one_record_as_the_buffer_does():
    """A digest's tail (batch.py) is compressed with the buffer's own settings."""
    data = b"".join(sse_chunks(300))
    record = compress(data)
    assert zlib.decompress(record) == data
    assert (record[0] >> 4) + 8 == WBITS  # the zlib header's window: the buffer's
    buffer = ReplayBuffer()
    buffer.add(data)
    buffer.seal()
    assert record == buffer.snapshot()  # the same stream, byte for byte
    assert compress(b"") == ReplayBuffer().snapshot()


# --------------------------------------------------------------- the record on the wire


def without_store(**more: Any) -> Any:
    """No store, so no digest (digest.py): an attach replays every byte, as tested here."""
    return pytest.mark.parametrize(
        "fanout_overrides", [lambda request: {"store_path": "", **more}], indirect=True)


@without_store()
async def test_the_replay_record_is_one_deflate_stream_that_decodes_byte_equal(
    jp_ws_fetch, simulator, no_unhandled_errors
):
    """`attached` announces each replay (`{"encoding": "deflate", "bytes": N}`, null without
    bytes); the record after each `open` is one complete zlib stream, a fraction of the SSE
    it holds, whose inflated bytes are what the first socket received up to then."""
    simulator.configure(**LONG)
    first = await new_batch(jp_ws_fetch, "b-z", "1.1", "2.1")
    await first.start("3.1", upstream="refused")  # fails before any byte: no replay
    await first.wait(lambda: all(len(first.body.get(r, b"")) > 20000 for r in ("1.1", "2.1")))
    await first.wait_terminal("3.1")
    second = await attach(jp_ws_fetch, "b-z")
    await second.wait_terminal("1.1", "2.1", "3.1", timeout=15)
    await first.wait_terminal("1.1", "2.1")
    listed = {r["id"]: r for r in attached_of(second)["responses"]}
    assert listed["3.1"]["replay"] is None and "3.1" not in second.replay_records
    for rid in ("1.1", "2.1"):
        announced = listed[rid]["replay"]
        assert announced["encoding"] == "deflate" and announced["bytes"] > 20000
        compressed = second.replay_records[rid]
        # a zlib header (RFC 1950): method deflate, a window of at most 32 KiB, its check
        assert compressed[0] & 0x0F == 8 and compressed[0] >> 4 <= 7
        assert (compressed[0] << 8 | compressed[1]) % 31 == 0
        decompressor = zlib.decompressobj()
        replayed = decompressor.decompress(compressed)
        assert decompressor.eof and decompressor.unused_data == b""
        assert len(replayed) == announced["bytes"]
        assert bytes(first.body[rid]).startswith(replayed)  # what the others got, exactly
        assert len(compressed) * 8 < len(replayed)
        # then the rest came live, raw: the whole equals the first socket's, byte for byte
        assert bytes(second.body[rid]) == bytes(first.body[rid])
        assert sse_events(bytes(second.body[rid]), strict=True)[-1] == "[DONE]"
    await first.close()
    await second.close()


@without_store(detached_timeout=5)
async def test_an_ended_response_replays_its_sealed_stream(
    jp_ws_fetch, jp_serverapp, simulator, no_unhandled_errors
):
    """Once a response ended its replay is sealed (no compressor kept): an attach gets the
    same complete stream, equal to the simulator's record."""
    simulator.configure(**MEDIUM)
    first = await new_batch(jp_ws_fetch, "b-sealed", "1.1")
    await first.wait_terminal("1.1")
    response = state_of(jp_serverapp).batches.get("b-sealed").responses["1.1"]
    assert response.replay.sealed
    assert response.kept_bytes() == len(response.replay.snapshot())
    second = await attach(jp_ws_fetch, "b-sealed")
    await second.wait_terminal("1.1")
    record = await wait_record(simulator, lambda r: len(r) == 1)
    assert zlib.decompress(second.replay_records["1.1"]) == bytes(first.body["1.1"])
    assert sse_text(bytes(second.body["1.1"]))[1] == entry_for(record, "1.1")["content"]
    await first.close()
    await second.close()


# ------------------------------------------------- a detached batch frames nothing, memory


def unit_registry(simulator: Any, fanout: Fanout) -> tuple[BatchRegistry, Upstream]:
    log = logging.getLogger("test")
    upstream = Upstream(UpstreamSpec(name="sim", base_urls=(simulator.base_url,),
                                     dialect="vllm"),
                        idle_timeout=5, connect_timeout=5, models_timeout=5, log=log)
    registry = BatchRegistry(fanout=fanout, lookup=lambda _: upstream,
                             user_streams=UserStreams(), log=log)
    return registry, upstream


class Sink:
    """The browser end of a Subscriber: counts what it receives."""

    def __init__(self) -> None:
        self.body: dict[str, bytearray] = {}
        self.texts: list[dict] = []

    async def send(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            for rid, chunk in split_records(message):
                self.body.setdefault(rid, bytearray()).extend(chunk)
        else:
            self.texts.append(json.loads(message))


def start(subscriber: Subscriber, batch_id: str, rid: str, tokens: int) -> None:
    subscriber.handle_message(json.dumps({"type": "batch", "id": batch_id, "prompt": "p"}))
    subscriber.handle_message(json.dumps({"type": "start", "id": rid, "request": {
        "messages": [{"role": "user", "content": "go"}], "max_tokens": tokens}}))


async def test_a_detached_batch_frames_no_record(simulator, monkeypatch):
    """While a batch has no subscriber, its chunks are kept for a later attach, but no
    WebSocket record is built for nobody; with a subscriber, one per chunk."""
    simulator.configure(tokens_per_second=200, ttft_ms=0, reasoning_tokens=0,
                        answer_tokens=300)
    framed: list[str] = []
    real_record = batch_module.record

    def counting(prefix: bytes, chunk: bytes) -> bytes:
        framed.append(prefix.decode("utf-8", "replace"))
        return real_record(prefix, chunk)

    monkeypatch.setattr(batch_module, "record", counting)
    registry, upstream = unit_registry(simulator, Fanout(detached_timeout=30))
    sink = Sink()
    socket = Subscriber(registry=registry, fanout=registry.fanout, user="u", send=sink.send,
                        log=registry.log)
    try:
        start(socket, "b-detached", "1", 300)
        response = registry.get("b-detached").responses["1"]
        for _ in range(200):
            await asyncio.sleep(0.01)
            if response.replay.raw_bytes > 2000:
                break
        assert framed  # attached: records are framed
        socket.close()
        assert registry.get("b-detached").detached
        framed_when_detached = len(framed)
        kept_when_detached = response.replay.raw_bytes
        await asyncio.wait_for(asyncio.shield(response.task), 10)
        assert response.replay.raw_bytes > kept_when_detached  # it went on, kept
        assert len(framed) == framed_when_detached  # and framed nothing
        [entry] = simulator.requests()
        assert sse_text(response.kept())[1] == entry["content"]
    finally:
        socket.close()
        await registry.close()
        await upstream.close()


async def test_ended_batches_beyond_the_cap_leave_memory_oldest_first(simulator):
    """`ended_replay_bytes`: when a batch becomes idle (ended, no socket) and the idle batches
    keep more than that, those idle longest are dropped (their objects freed); running and
    subscribed batches are never counted or dropped."""
    simulator.configure(**MEDIUM)
    registry, upstream = unit_registry(simulator, Fanout(detached_timeout=30))
    sockets: list[Subscriber] = []

    async def ended_batch(batch_id: str) -> Subscriber:
        socket = Subscriber(registry=registry, fanout=registry.fanout, user="u",
                            send=Sink().send, log=registry.log)
        sockets.append(socket)
        start(socket, batch_id, "1", 100)
        await asyncio.wait_for(asyncio.shield(registry.get(batch_id).responses["1"].task), 10)
        return socket

    try:
        a = await ended_batch("b-a")
        one = registry.get("b-a").kept_bytes()
        assert 0 < one < 10_000  # sealed: its compressed bytes only
        # room for two ended batches, not three
        registry.fanout.ended_replay_bytes = int(one * 2.5)
        b = await ended_batch("b-b")
        c = await ended_batch("b-c")  # ended, but still subscribed: not idle
        a.close()
        await asyncio.sleep(0.01)
        b.close()
        assert registry.kept_bytes()[1] <= registry.fanout.ended_replay_bytes
        assert {"b-a", "b-b", "b-c"} <= {x.id for x in registry}
        ref = weakref.ref(registry.get("b-a"))
        c.close()  # a third idle batch: over the cap, the one idle longest (b-a) leaves
        assert "b-a" not in registry and "b-b" in registry and "b-c" in registry
        busy, idle = registry.kept_bytes()
        assert busy == 0 and idle <= registry.fanout.ended_replay_bytes
        gc.collect()
        assert ref() is None
        # 0: an ended batch with no socket leaves at once
        registry.fanout.ended_replay_bytes = 0
        d = await ended_batch("b-d")
        d.close()
        assert not {"b-b", "b-c", "b-d"} & {x.id for x in registry}
    finally:
        for socket in sockets:
            socket.close()
        await registry.close()
        await upstream.close()
