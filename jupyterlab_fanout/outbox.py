"""What a batch sends to the browser: binary records, and the `Outbox` that frames them.

A record is one response's bytes (uint16 BE id length, id, uint32 BE byte count, bytes); the
records queued together leave as one binary frame, in order with the text messages
(docs/protocol.md).
"""
from __future__ import annotations

import asyncio
import struct
from typing import Awaitable, Callable, Optional, Union

from .errors import SocketClosed

#: Writes one message to the browser's socket (raises SocketClosed once it is gone).
Send = Callable[[Union[str, bytes]], Awaitable[None]]


def record(prefix: bytes, chunk: bytes) -> bytes:
    """One record of a binary frame: uint16 BE id length, id, uint32 BE byte count, bytes."""
    return prefix + struct.pack(">I", len(chunk)) + chunk


def record_prefix(response_id: str) -> bytes:
    raw = response_id.encode("utf-8")
    return struct.pack(">H", len(raw)) + raw


#: Least seconds between two frames of one batch once it is busy (see Outbox).
FRAME_INTERVAL = 0.005
#: ... and once it is very busy: more than `BUSY_RECORDS` records every `FRAME_INTERVAL`
#: (64 responses at 200 tokens/s each send 64). The page's worker then passes updates on at
#: most every 50 ms and the sidebar renders at most five times a second (src/engine/worker.ts),
#: so a frame every 5 ms only costs: a WebSocket write here, and in the browser an IPC message
#: and a task in the worker for each (at 64 x 200 tokens/s, about 0.15 of a core on two cores:
#: benchmarks/README.md). A response's first record and every text message still leave at once.
BUSY_FRAME_INTERVAL = 0.05
BUSY_RECORDS = 16
#: Bytes waiting for the browser beyond which the responses wait too (backpressure), and
#: bytes of text replies beyond which the socket reads no further message.
HIGH_WATER = 1 << 20


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Outbox:
    """Everything a batch sends, in order; records queued together leave as one binary frame.

    With many streams the upstream chunks of several responses arrive close together, and one
    frame for all of them spares the server a write and the browser a task per chunk. A record
    that finds the batch quiet (nothing sent for `interval` seconds) leaves at the next turn of
    the loop, so a first token never waits for company; while the batch is busy, frames leave at
    most every `interval` seconds with everything that came meanwhile. A text message (open,
    end, stopped, error) first sends every record queued before it, so a response's `end` never
    overtakes its bytes.

    Records are queued without waiting for their frame to be written, unless more than
    `high_water` bytes (records and text) are waiting for a slow browser: then the sender waits
    (backpressure up to the upstream). Text messages count too: an `error` answering each of a
    flood of messages is held here until written, and while more than `high_water` bytes of
    text wait, `readable()` tells the socket to read no further message. Memory is bounded by
    about twice `high_water` whatever the browser sends. Once a write has failed or the outbox
    was closed, queuing raises SocketClosed.

    A write that has not completed after `send_timeout` seconds (a browser that stopped
    reading: its socket and the kernel's buffers are full) calls `on_stall` once.
    """

    def __init__(
        self,
        send: Send,
        *,
        interval: float = FRAME_INTERVAL,
        busy_interval: float = BUSY_FRAME_INTERVAL,
        busy_records: int = BUSY_RECORDS,
        high_water: int = HIGH_WATER,
        send_timeout: float = 0.0,
        on_stall: Optional[Callable[[], None]] = None,
    ):
        self._send = send
        self._interval = interval
        self._busy_interval = max(busy_interval, interval)
        #: Records a second above which the batch is very busy.
        self._busy_rate = busy_records / interval if interval > 0 else float("inf")
        #: The pace of the next frame: `interval`, or `busy_interval` after a very busy frame.
        self._pace = interval
        #: Something queued must not wait for the pace (see the class's docstring).
        self._urgent = False
        #: Set while `_drain` waits for the pace: resolving it sends at once.
        self._pacing: asyncio.Future[None] | None = None
        self._high_water = high_water
        self._queue: list[tuple[str | bytes, Optional[asyncio.Future[None]]]] = []
        #: Everything queued and not yet written: records and text messages alike.
        self._queued_bytes = 0
        #: The text messages among them (replies to the browser's messages, mostly).
        self._queued_text = 0
        self._draining = False
        self._last_frame = -float("inf")
        self._failure: BaseException | None = None
        #: Futures of `readable()`: resolved once the text backlog is below `high_water`.
        self._readers: list[asyncio.Future[None]] = []
        self._send_timeout = send_timeout
        self._on_stall = on_stall
        self._write_began: float | None = None  # loop time the write in progress began
        self._stall_timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def send(self, message: str | bytes) -> None:
        """Send a text message (returns once written), or a record (returns at once, to leave
        with the next frame, unless the browser is behind: then once written)."""
        if isinstance(message, bytes) and not self.congested:
            self.put_record(message)
            return
        await self.put(message)

    @property
    def congested(self) -> bool:
        """True while more than `high_water` bytes (records and text) wait to be written."""
        return self._queued_bytes > self._high_water

    @property
    def backed_up(self) -> bool:
        """True while more than `high_water` bytes of text messages wait to be written: the
        browser sends messages faster than it reads their replies."""
        return self._queued_text > self._high_water

    def readable(self) -> asyncio.Future[None]:
        """A future resolved once no longer `backed_up` (or closed): until then the batch
        socket reads no further message, so a flood of messages whose replies the browser
        does not read waits in the network buffers, not in the server."""
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.backed_up and self._failure is None:
            self._readers.append(ready)
        else:
            ready.set_result(None)
        return ready

    def _wake_readers(self) -> None:
        readers, self._readers = self._readers, []
        for ready in readers:
            if not ready.done():
                ready.set_result(None)

    def close(self) -> None:
        """The socket is gone: drop everything queued (its senders get SocketClosed), stop
        the stall watch, let the socket's reader go on (to its end)."""
        if self._failure is None:
            self._failure = SocketClosed()
        queued, self._queue = self._queue, []
        self._queued_bytes = self._queued_text = 0
        for _, done in queued:
            if done is not None and not done.done():
                done.set_exception(SocketClosed())
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
        self._wake_readers()

    def put_record(self, record: bytes, urgent: bool = False) -> None:
        """Queue a record; it leaves with the next frame (`urgent`: at the next turn)."""
        if self._failure is not None:
            raise SocketClosed() from self._failure
        self._queue.append((record, None))
        self._queued_bytes += len(record)
        self._start(urgent)

    def put_text(self, message: str) -> None:
        """Queue a text message nobody waits for (an `error` answering a message); dropped
        if the socket is gone."""
        if self._failure is not None:
            return
        self._queue.append((message, None))
        self._queued_bytes += len(message)
        self._queued_text += len(message)
        self._start(True)

    def put(self, message: str | bytes) -> asyncio.Future[None]:
        """Queue a text message or a record; the future settles once it has been sent."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._failure is not None:
            done.set_exception(SocketClosed())
            return done
        self._queue.append((message, done))
        self._queued_bytes += len(message)
        if isinstance(message, str):
            self._queued_text += len(message)
        self._start(isinstance(message, str))
        return done

    def _start(self, urgent: bool = False) -> None:
        if urgent:
            self._urgent = True
            if self._pacing is not None and not self._pacing.done():
                self._pacing.set_result(None)
        if not self._draining:
            self._draining = True
            asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        wait = self._last_frame + self._pace - loop.time()
        try:
            if wait > 0 and not self._urgent:
                # While busy, pace the frames (an urgent message ends the wait).
                self._pacing = pacing = loop.create_future()
                timer = loop.call_later(wait, _settle, pacing)
                try:
                    await pacing
                finally:
                    timer.cancel()
                    self._pacing = None
            else:
                # Let the other responses woken in this turn queue theirs.
                await asyncio.sleep(0)
            self._urgent = False
            sent = 0
            while self._queue:
                queued, self._queue = self._queue, []
                records: list[tuple[bytes, Optional[asyncio.Future[None]]]] = []
                for message, done in queued:
                    if isinstance(message, bytes):
                        records.append((message, done))
                        sent += 1
                        continue
                    await self._flush(records)
                    records = []
                    await self._deliver(message, [done] if done else [])
                    self._queued_bytes -= len(message)
                    self._queued_text -= len(message)
                    if self._readers and not self.backed_up:
                        self._wake_readers()
                await self._flush(records)
                now = loop.time()
                rate = sent / max(now - self._last_frame, self._interval)
                self._pace = self._busy_interval if rate > self._busy_rate else self._interval
                self._last_frame = now
        finally:
            self._draining = False

    async def _flush(self, records: list[tuple[bytes, Optional[asyncio.Future[None]]]]) -> None:
        if records:
            frame = b"".join(r for r, _ in records)
            await self._deliver(frame, [done for _, done in records if done is not None])
            self._queued_bytes -= len(frame)

    async def _deliver(self, message: str | bytes, waiting: list[asyncio.Future[None]]) -> None:
        try:
            if self._failure is not None:
                raise SocketClosed() from self._failure
            self._watch_write()
            try:
                await self._send(message)
            finally:
                self._write_began = None
        except Exception as error:  # noqa: BLE001 - handed to every sender that waits on it
            if self._failure is None:
                self._failure = error
            for done in waiting:
                if not done.done():
                    done.set_exception(error)
            return
        for done in waiting:
            if not done.done():
                done.set_result(None)

    # -- the stall watch: a browser that stops reading -------------------------------------

    def _watch_write(self) -> None:
        """Note when this write began; one timer per outbox checks it (not one per write)."""
        if self._send_timeout <= 0:
            return
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        self._write_began = self._loop.time()
        if self._stall_timer is None:
            self._arm()

    def _arm(self) -> None:
        assert self._loop is not None
        self._stall_timer = self._loop.call_later(self._send_timeout / 4, self._check_stall)

    def _check_stall(self) -> None:
        """A write pending for `send_timeout` seconds calls `on_stall` (once): between 1 and
        1.25 times `send_timeout` after it began. Re-armed while writes go on."""
        self._stall_timer = None
        began = self._write_began
        if began is None or self._failure is not None:
            return  # idle: the next write arms the timer again
        assert self._loop is not None
        if self._loop.time() - began < self._send_timeout:
            self._arm()
            return
        if self._on_stall is not None:
            self._on_stall()
