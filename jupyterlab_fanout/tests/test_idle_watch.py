"""The idle watch alone: which streams it times out, and when it stops checking."""
from __future__ import annotations

import asyncio

from jupyterlab_fanout.upstream import IdleWatch


class Stream:
    """What the idle watch reads of an UpstreamStream."""

    def __init__(self, reading: bool, since: float) -> None:
        self.reading = reading
        self.reading_since = since
        self.timed_out = False

    def time_out(self) -> None:
        self.timed_out = True


async def test_times_out_only_streams_waiting_for_the_upstream_too_long():
    loop = asyncio.get_running_loop()
    watch = IdleWatch(0.2)
    now = loop.time()
    waiting = Stream(reading=True, since=now)
    fresh = Stream(reading=True, since=now + 10)  # began waiting long after: not yet idle
    held = Stream(reading=False, since=now)  # held back by a slow browser, not reading
    for stream in (waiting, fresh, held):
        watch.watch(stream)
    await asyncio.sleep(0.3)
    assert waiting.timed_out
    assert not fresh.timed_out and not held.timed_out
    await asyncio.sleep(0.3)
    assert not held.timed_out  # checked again, still not reading: never timed out
    watch.unwatch(fresh)
    watch.unwatch(held)


async def test_the_timer_stops_once_no_stream_is_watched():
    watch = IdleWatch(0.2)
    stream = Stream(reading=True, since=asyncio.get_running_loop().time() + 100)
    watch.watch(stream)
    assert watch._timer is not None
    watch.unwatch(stream)
    assert watch._timer is None
