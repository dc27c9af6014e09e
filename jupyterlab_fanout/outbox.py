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
#: Bytes of records waiting for the browser beyond which the responses wait too (backpressure).
HIGH_WATER = 1 << 20


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
    `high_water` bytes are waiting for a slow browser: then the sender waits (backpressure up to
    the upstream). Once a write has failed, queuing raises SocketClosed.
    """

    def __init__(
        self,
        send: Send,
        *,
        interval: float = FRAME_INTERVAL,
        high_water: int = HIGH_WATER,
    ):
        self._send = send
        self._interval = interval
        self._high_water = high_water
        self._queue: list[tuple[str | bytes, Optional[asyncio.Future[None]]]] = []
        self._queued_bytes = 0
        self._draining = False
        self._last_frame = -float("inf")
        self._failure: BaseException | None = None

    async def send(self, message: str | bytes) -> None:
        """Send a text message (returns once written), or a record (returns at once, to leave
        with the next frame, unless the browser is behind: then once written)."""
        if isinstance(message, bytes) and not self.congested:
            self.put_record(message)
            return
        await self.put(message)

    @property
    def congested(self) -> bool:
        """True while more than `high_water` bytes of records wait to be written."""
        return self._queued_bytes > self._high_water

    def put_record(self, record: bytes) -> None:
        """Queue a record; it leaves with the next frame."""
        if self._failure is not None:
            raise SocketClosed() from self._failure
        self._queue.append((record, None))
        self._queued_bytes += len(record)
        self._start()

    def put(self, message: str | bytes) -> asyncio.Future[None]:
        """Queue a text message or a record; the future settles once it has been sent."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._failure is not None:
            done.set_exception(SocketClosed())
            return done
        self._queue.append((message, done))
        if isinstance(message, bytes):
            self._queued_bytes += len(message)
        self._start()
        return done

    def _start(self) -> None:
        if not self._draining:
            self._draining = True
            asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        wait = self._last_frame + self._interval - loop.time()
        # Let the other responses woken in this turn queue theirs; while busy, pace the frames.
        await asyncio.sleep(max(wait, 0))
        try:
            while self._queue:
                queued, self._queue = self._queue, []
                records: list[tuple[bytes, Optional[asyncio.Future[None]]]] = []
                for message, done in queued:
                    if isinstance(message, bytes):
                        records.append((message, done))
                        continue
                    await self._flush(records)
                    records = []
                    await self._deliver(message, [done] if done else [])
                await self._flush(records)
                self._last_frame = loop.time()
        finally:
            self._draining = False

    async def _flush(self, records: list[tuple[bytes, Optional[asyncio.Future[None]]]]) -> None:
        if records:
            frame = b"".join(r for r, _ in records)
            await self._deliver(frame, [done for _, done in records if done is not None])
            self._queued_bytes -= len(frame)

    async def _deliver(self, message: str | bytes, waiting: list[asyncio.Future[None]]) -> None:
        try:
            await self._send(message)
        except Exception as error:  # noqa: BLE001 - handed to every sender that waits on it
            self._failure = error
            for done in waiting:
                if not done.done():
                    done.set_exception(error)
            return
        for done in waiting:
            if not done.done():
                done.set_result(None)
