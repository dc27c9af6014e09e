"""The simulator's engine: every running stream's events leave on one shared clock.

vLLM's engine decodes its whole running batch in one step and hands every request its new
token at once, so 64 streams at 200 tokens/s each send their events together every 5 ms, not
each on a timer of its own. The simulator does the same. An `Engine` per pace (tokens a second)
ticks on the grid `k / rate` of the event loop's clock and at each tick calls every stream it
holds, which writes the events it has due. A stream's event costs its write and nothing else:
no timer, future or task step of its own (the simulator spent about half its CPU on those).

A stream joins for a *segment* (`join`): a callable `step(now)` that writes what is due by
`now` and returns True once the segment is over (sent up to its stop, a write that did not
complete at once, the client gone). Its first events leave at once, so a first token never
waits for a tick; the later ones leave at the first tick at or after they are due, at most one
step late. The coroutine that joined awaits the returned future, which resolves when the
segment is over, or fails with the exception its own step raised: one stream's failure never
touches another. It calls `leave` afterwards in any case (a client that went away wakes the
coroutine from outside).
"""
from __future__ import annotations

import asyncio
import math
from typing import Callable, Dict

#: `step(now)`: write the events due by `now` (the loop's clock); True once the segment is over.
Step = Callable[[float], bool]

#: A tick this close to a grid time (a fraction of a step) counts as at it (the loop fires
#: timers up to its clock's resolution early).
_GRID_SLACK = 1e-3


class Engine:
    """Steps every stream of one pace together (see the module's docstring)."""

    def __init__(self, rate: float, loop: asyncio.AbstractEventLoop) -> None:
        self.rate = rate
        self.loop = loop
        self._streams: Dict[asyncio.Future[None], Step] = {}
        self._timer: asyncio.TimerHandle | None = None

    @property
    def idle(self) -> bool:
        return not self._streams

    def join(self, step: Step) -> asyncio.Future[None]:
        """Run `step` now and then at every tick until it returns True; await the result."""
        future: asyncio.Future[None] = self.loop.create_future()
        if not self._run(future, step, self.loop.time()):
            self._streams[future] = step
            if self._timer is None:
                self._schedule(self.loop.time())
        return future

    def leave(self, future: asyncio.Future[None]) -> None:
        """Forget a segment (over or not: its client may have gone)."""
        self._streams.pop(future, None)
        if not self._streams and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self, now: float) -> None:
        tick = math.ceil(now * self.rate + _GRID_SLACK)
        self._timer = self.loop.call_at(tick / self.rate, self._tick)

    def _tick(self) -> None:
        self._timer = None
        now = self.loop.time()
        for future, step in list(self._streams.items()):
            if self._run(future, step, now):
                self._streams.pop(future, None)
        if self._streams:
            self._schedule(now)

    def _run(self, future: asyncio.Future[None], step: Step, now: float) -> bool:
        if future.done():  # woken from outside (its client went away)
            return True
        try:
            over = step(now)
        except Exception as error:  # this stream's own failure, raised in its coroutine
            if future.done():  # woken during the step: nobody awaits it any more
                self.loop.call_exception_handler({
                    "message": "a simulated stream failed after its client left",
                    "exception": error, "future": future})
            else:
                future.set_exception(error)
            return True
        # The step may have woken its future itself (a write found the client gone).
        if over and not future.done():
            future.set_result(None)
        return over or future.done()


class Engines:
    """The engines of one simulator, one per pace, made on first use in the running loop."""

    def __init__(self) -> None:
        self._engines: Dict[float, Engine] = {}

    def for_rate(self, rate: float) -> Engine:
        loop = asyncio.get_running_loop()
        engine = self._engines.get(rate)
        if engine is None or engine.loop is not loop:
            # Paces come and go with the settings: forget the engines no stream uses.
            self._engines = {r: e for r, e in self._engines.items()
                             if not e.idle and e.loop is loop}
            engine = self._engines[rate] = Engine(rate, loop)
        return engine
