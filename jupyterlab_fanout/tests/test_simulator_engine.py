"""The simulator's engine (simulator/engine.py): streams of one pace step together."""
from __future__ import annotations

import asyncio
import time
from typing import List, Tuple

import pytest

from jupyterlab_fanout.simulator.engine import Engine, Engines


class Recorder:
    """A segment that 'writes' one event at each due time until `stop` events."""

    def __init__(self, rate: float, start: float, stop: int) -> None:
        self.rate, self.start, self.stop = rate, start, stop
        self.sent: List[float] = []  # the loop time each event left

    def __call__(self, now: float) -> bool:
        while len(self.sent) < self.stop and self.start + len(self.sent) / self.rate <= now:
            self.sent.append(now)
        return len(self.sent) >= self.stop


async def test_streams_started_apart_leave_on_the_same_ticks():
    loop = asyncio.get_running_loop()
    engine = Engine(100.0, loop)
    first = Recorder(100.0, loop.time(), 20)
    done_first = engine.join(first)
    await asyncio.sleep(0.0237)  # the second starts between two ticks
    second = Recorder(100.0, loop.time(), 20)
    done_second = engine.join(second)
    await asyncio.wait_for(asyncio.gather(done_first, done_second), 2)
    # Each one's first event leaves at once, the rest on shared ticks.
    assert first.sent[0] < second.sent[0]
    shared = set(first.sent[1:]) & set(second.sent[1:])
    assert len(shared) >= 12  # both run for about 16 of the same ticks
    # The pace holds: 20 events at 100 a second take about 0.19 s, at most a step more.
    for stream in (first, second):
        assert 0.18 <= stream.sent[-1] - stream.sent[0] <= 0.19 + 0.01 + 0.05
        assert all(b >= a for a, b in zip(stream.sent, stream.sent[1:]))
    assert engine.idle and engine._timer is None


async def test_a_segment_due_at_once_never_waits_for_a_tick():
    loop = asyncio.get_running_loop()
    engine = Engine(1.0, loop)  # a tick a second
    stream = Recorder(1.0, loop.time() - 2.5, 3)  # three events already due
    done = engine.join(stream)
    assert done.done() and len(stream.sent) == 3 and engine.idle


async def test_one_streams_failure_leaves_the_others_running():
    loop = asyncio.get_running_loop()
    engine = Engine(200.0, loop)
    healthy = Recorder(200.0, loop.time(), 10)
    calls = 0

    def broken(now: float) -> bool:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ValueError("this stream's own bug")
        return False

    done_healthy, done_broken = engine.join(healthy), engine.join(broken)
    with pytest.raises(ValueError, match="own bug"):
        await asyncio.wait_for(done_broken, 1)
    await asyncio.wait_for(done_healthy, 1)
    assert len(healthy.sent) == 10 and calls == 2 and engine.idle


async def test_leave_forgets_a_segment_woken_from_outside():
    loop = asyncio.get_running_loop()
    engine = Engine(50.0, loop)
    stream = Recorder(50.0, loop.time(), 1000)
    done = engine.join(stream)
    await asyncio.sleep(0.05)
    done.set_result(None)  # the client went away: its handler wakes the coroutine
    await asyncio.sleep(0.05)  # a tick finds it done and drops it without stepping it
    sent = len(stream.sent)
    engine.leave(done)
    await asyncio.sleep(0.05)
    assert len(stream.sent) == sent and engine.idle and engine._timer is None


async def test_a_late_tick_catches_up_every_due_event():
    loop = asyncio.get_running_loop()
    engine = Engine(1000.0, loop)
    stream = Recorder(1000.0, loop.time(), 50)
    done = engine.join(stream)
    time.sleep(0.03)  # the loop is blocked for 30 steps
    await asyncio.sleep(0)
    await asyncio.wait_for(done, 1)
    late: List[Tuple[int, float]] = [(i, t) for i, t in enumerate(stream.sent) if i]
    assert len(stream.sent) == 50
    # After the block, the events due during it left together on the next tick.
    assert sum(1 for _, t in late if t == late[0][1]) >= 25


async def test_engines_keeps_one_engine_per_pace_and_forgets_idle_ones():
    engines = Engines()
    a = engines.for_rate(100.0)
    assert engines.for_rate(100.0) is a
    b = engines.for_rate(50.0)  # a is idle: forgotten when another pace comes
    assert b is not a and engines.for_rate(100.0) is not a


async def test_a_step_that_wakes_its_own_future_ends_its_segment_alone():
    """A write that finds the client gone wakes the coroutine from inside the step."""
    loop = asyncio.get_running_loop()
    engine = Engine(200.0, loop)
    healthy = Recorder(200.0, loop.time(), 10)
    holder: List[asyncio.Future[None]] = []

    def gone(now: float) -> bool:
        if holder:
            holder[0].set_result(None)  # what the handler's close callback does
            return True
        return False

    holder.append(engine.join(gone))
    done = engine.join(healthy)
    await asyncio.wait_for(asyncio.gather(holder[0], done), 1)
    assert len(healthy.sent) == 10 and engine.idle


async def test_a_step_failing_after_its_client_left_is_reported_not_lost():
    loop = asyncio.get_running_loop()
    reported = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    engine = Engine(200.0, loop)
    holder: List[asyncio.Future[None]] = []

    def failing(now: float) -> bool:
        if holder:
            holder[0].set_result(None)
            raise RuntimeError("after the close")
        return False

    holder.append(engine.join(failing))
    await asyncio.wait_for(holder[0], 1)
    assert [str(c["exception"]) for c in reported] == ["after the close"]
    loop.set_exception_handler(None)
