"""The simulator's engine (simulator/engine.py): streams of one pace step together."""
from __future__ import annotations

import asyncio
from typing import Callable, List

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


class Timer:
    """What `call_at` gives the engine: a callback at a time, which it may cancel."""

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self._when, self._callback, self._cancelled = when, callback, False

    def when(self) -> float:
        return self._when

    def cancel(self) -> None:
        self._cancelled = True

    def cancelled(self) -> bool:
        return self._cancelled

    def fire(self) -> None:
        self._callback()


class Clock:
    """The loop an engine sees, on a clock the test moves: no test here depends on how busy
    the machine is. Timers fire in order, each a microsecond after its time (a real loop's
    timers are never early), futures are the running loop's."""

    LATE = 1e-6

    def __init__(self, loop: asyncio.AbstractEventLoop, now: float = 1000.0) -> None:
        self.loop, self.now = loop, now
        self.timers: List[Timer] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(when, callback)
        self.timers.append(timer)
        return timer

    def create_future(self) -> asyncio.Future[None]:
        return self.loop.create_future()

    def call_exception_handler(self, context: dict) -> None:
        self.loop.call_exception_handler(context)

    def advance(self, to: float) -> None:
        """Move the clock to `to`, firing each timer due by then at its own time."""
        while True:
            due = sorted((t for t in self.timers if not t.cancelled() and t.when() <= to),
                         key=lambda t: t.when())
            if not due:
                break
            timer = due[0]
            self.timers.remove(timer)
            self.now = max(self.now, timer.when() + self.LATE)
            timer.fire()
        self.timers = [t for t in self.timers if not t.cancelled()]
        self.now = max(self.now, to)


async def test_streams_started_apart_leave_on_the_same_ticks():
    clock = Clock(asyncio.get_running_loop())
    engine = Engine(100.0, clock)  # type: ignore[arg-type]
    first = Recorder(100.0, clock.time(), 20)
    done_first = engine.join(first)
    clock.advance(1000.0237)  # the second starts between two ticks
    second = Recorder(100.0, clock.time(), 20)
    done_second = engine.join(second)
    clock.advance(1001.0)
    assert done_first.done() and done_second.done()
    # Each one's first event leaves at once, the rest on the ticks of the grid k / 100 s.
    assert first.sent[0] == 1000.0 and second.sent[0] == 1000.0237
    ticks = [round(t, 3) for t in first.sent[1:] + second.sent[1:]]
    assert all(abs(t * 100 - round(t * 100)) < 1e-6 for t in ticks), ticks
    # The first's 19 later events leave at 1000.01 ... 1000.19, the second's at 1000.04 ...
    # 1000.22 (each at the first tick after it is due): 16 ticks carry both.
    shared = set(round(t, 3) for t in first.sent[1:]) & set(round(t, 3) for t in second.sent[1:])
    assert sorted(shared) == [round(1000.04 + k / 100, 3) for k in range(16)]
    # The pace holds: 20 events at 100 a second take 0.19 s, at most a step more.
    for stream in (first, second):
        assert 0.19 - 1e-9 <= stream.sent[-1] - stream.sent[0] <= 0.20 + 1e-5
        assert len(stream.sent) == 20 and stream.sent == sorted(stream.sent)
    assert engine.idle and engine._timer is None and clock.timers == []


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
    clock = Clock(asyncio.get_running_loop())
    engine = Engine(1000.0, clock)  # type: ignore[arg-type]
    stream = Recorder(1000.0, clock.time(), 50)
    done = engine.join(stream)
    [timer] = clock.timers
    clock.timers.clear()
    clock.now = 1000.030  # the loop was blocked for 30 steps: the tick fires late
    timer.fire()
    # The events due during the block (1 to 30) leave together on that one tick.
    assert stream.sent[1:31] == [1000.030] * 30 and len(stream.sent) == 31
    clock.advance(1001.0)
    assert done.done() and len(stream.sent) == 50 and engine.idle


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
