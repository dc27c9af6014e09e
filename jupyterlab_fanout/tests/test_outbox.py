"""The batch's outbox alone: how records become frames, pacing, backpressure, failure."""
from __future__ import annotations

import asyncio

import pytest

from jupyterlab_fanout.errors import SocketClosed
from jupyterlab_fanout.outbox import Outbox


class Socket:
    """Records what is sent and when; `gate` (when set) holds every write until opened."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, str | bytes]] = []
        self.gate: asyncio.Event | None = None
        self.fail = False

    async def send(self, message: str | bytes) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise SocketClosed()
        self.sent.append((asyncio.get_running_loop().time(), message))


async def settle(seconds: float = 0.0) -> None:
    await asyncio.sleep(seconds)
    for _ in range(5):
        await asyncio.sleep(0)


async def test_records_of_one_turn_share_a_frame_and_text_keeps_its_place():
    socket = Socket()
    outbox = Outbox(socket.send, interval=0.05)
    outbox.put_record(b"a")
    outbox.put_record(b"b")
    end = outbox.put('{"type": "end"}')
    outbox.put_record(b"c")
    await end
    await settle()
    assert [m for _, m in socket.sent] == [b"ab", '{"type": "end"}', b"c"]


async def test_a_quiet_batch_sends_at_once_and_a_busy_one_at_most_every_interval():
    socket = Socket()
    outbox = Outbox(socket.send, interval=0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    outbox.put_record(b"first")
    await settle()
    assert socket.sent and socket.sent[0][0] - started < 0.02  # no pacing for the first
    for i in range(10):  # 10 records over ~30 ms: busy
        outbox.put_record(b"x%d" % i)
        await asyncio.sleep(0.003)
    await settle(0.12)
    times = [t for t, _ in socket.sent]
    assert all(later - earlier >= 0.045 for earlier, later in zip(times, times[1:])), times
    assert b"".join(m for _, m in socket.sent[1:]) == b"".join(b"x%d" % i for i in range(10))


async def test_a_slow_browser_makes_senders_wait_beyond_high_water():
    socket = Socket()
    socket.gate = asyncio.Event()
    outbox = Outbox(socket.send, interval=0, high_water=10)
    outbox.put_record(b"0123456789")
    await settle()  # the frame is being written (held by the gate)
    outbox.put_record(b"abcdefghijk")
    assert outbox.congested
    waiter = asyncio.ensure_future(outbox.put(b"more"))
    await settle()
    assert not waiter.done()
    socket.gate.set()
    await asyncio.wait_for(waiter, 1)
    assert not outbox.congested
    assert b"".join(m for _, m in socket.sent) == b"0123456789abcdefghijkmore"


async def test_after_a_failed_write_queuing_raises_socket_closed():
    socket = Socket()
    socket.fail = True
    outbox = Outbox(socket.send, interval=0)
    outbox.put_record(b"lost")
    await settle()
    with pytest.raises(SocketClosed):
        outbox.put_record(b"next")
    with pytest.raises(SocketClosed):
        await outbox.put('{"type": "end"}')


async def test_text_counts_toward_high_water_and_a_backlog_of_text_pauses_reading():
    socket = Socket()
    socket.gate = asyncio.Event()
    outbox = Outbox(socket.send, interval=0, high_water=100)
    for _ in range(30):  # 30 error replies of 10 bytes nobody reads yet
        outbox.put_text("e" * 10)
    await settle()
    assert outbox.congested and outbox.backed_up  # 290 bytes wait (one is being written)
    readable = outbox.readable()
    await settle()
    assert not readable.done()
    socket.gate.set()
    await asyncio.wait_for(readable, 1)
    await settle()
    assert not outbox.congested and not outbox.backed_up
    assert len(socket.sent) == 30
    assert outbox.readable().done()  # not backed up: no wait


async def test_closing_drops_the_queue_and_wakes_the_reader():
    socket = Socket()
    socket.gate = asyncio.Event()
    outbox = Outbox(socket.send, interval=0, high_water=10)
    outbox.put_text("first")
    await settle()  # being written, held by the gate
    waiting = outbox.put("an end")
    for _ in range(10):
        outbox.put_text("error reply")
    readable = outbox.readable()
    outbox.close()
    await settle()
    assert readable.done() and readable.result() is None
    with pytest.raises(SocketClosed):
        await waiting
    assert not outbox.congested
    outbox.put_text("dropped")  # after the close: nothing queued, nothing raised
    with pytest.raises(SocketClosed):
        outbox.put_record(b"x")


async def test_a_write_that_stalls_calls_on_stall_once_within_the_send_timeout():
    socket = Socket()
    socket.gate = asyncio.Event()
    stalls: list[float] = []
    loop = asyncio.get_running_loop()
    outbox = Outbox(socket.send, interval=0, send_timeout=0.2,
                    on_stall=lambda: stalls.append(loop.time()))
    began = loop.time()
    outbox.put_record(b"never read")
    await settle(0.6)
    assert len(stalls) == 1
    assert 0.2 <= stalls[0] - began <= 0.25 + 0.05, stalls[0] - began


async def test_writes_that_complete_never_stall():
    socket = Socket()
    stalls: list[int] = []
    outbox = Outbox(socket.send, interval=0, send_timeout=0.05, on_stall=lambda: stalls.append(1))
    for _ in range(20):  # writes go on for 4x the send timeout, each one quick
        outbox.put_record(b"x")
        await asyncio.sleep(0.01)
    await settle(0.1)
    assert stalls == [] and len(socket.sent) == 20


async def test_a_very_busy_batch_is_paced_at_the_busy_interval_and_back_when_it_calms():
    socket = Socket()
    # Bounds are a large fraction of the busy interval: a loaded machine's late timers pass.
    outbox = Outbox(socket.send, interval=0.01, busy_interval=0.3, busy_records=4)
    loop = asyncio.get_running_loop()
    for i in range(30):  # 8 records every 10 ms: more than 4 per interval
        for j in range(8):
            outbox.put_record(b"%d.%d;" % (i, j))
        await asyncio.sleep(0.01)
    await settle(0.35)  # the last busy frame has left
    busy = [t for t, _ in socket.sent]
    gaps = [b - a for a, b in zip(busy[1:], busy[2:])]  # after the first very busy frame
    assert gaps and min(gaps) >= 0.295, gaps
    assert len(socket.sent) <= 1 + (loop.time() - busy[0]) / 0.295 + 1
    # Every record, in order, none lost or doubled.
    expected = b"".join(b"%d.%d;" % (i, j) for i in range(30) for j in range(8))
    assert b"".join(m for _, m in socket.sent) == expected
    # Calm again (one record every 30 ms): none waits for the busy pace.
    socket.sent.clear()
    await settle(0.35)
    arrivals = []
    for i in range(5):
        arrivals.append(loop.time())
        outbox.put_record(b"calm%d" % i)
        await asyncio.sleep(0.03)
    await settle(0.05)
    assert [m for _, m in socket.sent] == [b"calm%d" % i for i in range(5)]
    waits = [t - a for (t, _), a in zip(socket.sent, arrivals)]
    assert max(waits[1:]) < 0.15, waits


async def test_a_first_record_and_a_text_message_do_not_wait_for_the_busy_pace():
    # busy_records=0: every frame after the first counts as very busy, however long the
    # machine paused between them (with 2, a garbage collection of the whole test process in
    # the 10 ms between two groups made the rate too low, and the third group left at once).
    # The busy pace is 5 s: what waits for it cannot pass for what did not, pauses or not.
    socket = Socket()
    outbox = Outbox(socket.send, interval=0.01, busy_interval=5.0, busy_records=0)
    loop = asyncio.get_running_loop()
    for _ in range(3):
        for j in range(5):
            outbox.put_record(b"r%d;" % j)
        await asyncio.sleep(0.01)
    await settle(0.05)
    frames = len(socket.sent)
    assert frames == 2, "the outbox should be very busy after its second frame, the third waiting"
    outbox.put_record(b"queued;")
    began = loop.time()
    outbox.put_record(b"first-of-another;", urgent=True)
    await settle()
    assert len(socket.sent) == frames + 1 and socket.sent[-1][0] - began < 1.0
    # It leaves with everything queued before it, in order.
    assert socket.sent[-1][1].endswith(b"r4;queued;first-of-another;")
    assert b"".join(m for _, m in socket.sent) == b"r0;r1;r2;r3;r4;" * 3 + b"queued;first-of-another;"
    outbox.put_record(b"more;")
    began = loop.time()
    await asyncio.wait_for(outbox.put('{"type": "end"}'), 1.0)
    assert [m for _, m in socket.sent[-2:]] == [b"more;", '{"type": "end"}']
    assert socket.sent[-1][0] - began < 1.0
