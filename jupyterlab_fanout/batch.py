"""One batch: the responses one WebSocket started, each its own upstream stream.

State of one response: running -> done. Exactly one terminal message (`end`,
`stopped` or `error`) is sent per response, whatever races happen between a stop,
the end of the stream and the socket going away. Every task is observed: its
exceptions are handled or logged, never left to the event loop.
"""
from __future__ import annotations

import asyncio
import json
import logging
import struct
from collections import defaultdict
from typing import Any, Awaitable, Callable, Optional, Union

from .config import Fanout
from .upstream import Upstream, UpstreamError, UpstreamStream

#: Keys of the browser's `request` copied into the upstream request; nothing else is.
ALLOWED_REQUEST_KEYS = (
    "model",
    "messages",
    "max_tokens",
    "temperature",
    "top_p",
    "seed",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "chat_template_kwargs",
)
#: Longest response id accepted (characters).
MAX_ID_LENGTH = 256

Send = Callable[[Union[str, bytes]], Awaitable[None]]
Lookup = Callable[[str], Optional[Upstream]]
Log = Union[logging.Logger, logging.LoggerAdapter]


class SocketClosed(Exception):
    """The browser's socket is gone; nothing more can be sent."""


class RequestError(Exception):
    """A `start` the proxy refuses before any upstream request (bad_request, limit, ...)."""

    def __init__(self, code: str, status: int, message: str):
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message


def limit_error(name: str, value: int, what: str, status: int = 400) -> RequestError:
    """An error naming the limit and its value."""
    return RequestError("limit", status, f"{what}: over the limit {name} ({value})")


class UserStreams:
    """Streams in flight per user, across all of that user's sockets."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = defaultdict(int)

    def count(self, user: str) -> int:
        return self._counts.get(user, 0)

    def acquire(self, user: str, limit: int) -> bool:
        """Take one slot for `user`; False when the user is at `limit`."""
        if self._counts[user] >= limit:
            return False
        self._counts[user] += 1
        return True

    def release(self, user: str) -> None:
        self._counts[user] -= 1
        if self._counts[user] <= 0:
            del self._counts[user]


def build_body(request: Any, upstream: Upstream, max_tokens_limit: int) -> dict[str, Any]:
    """The upstream request body for one response, from the browser's `request`.

    Copies only ALLOWED_REQUEST_KEYS, fills the upstream's default model, checks the
    model allow-list and `max_tokens`, and forces one streamed choice with usage.
    """
    if not isinstance(request, dict):
        raise RequestError("bad_request", 400, "'request' must be a JSON object")
    body = {k: request[k] for k in ALLOWED_REQUEST_KEYS if k in request}
    model = body.get("model")
    if model is None or model == "":
        model = upstream.spec.default_model
    if model is None:
        body.pop("model", None)
    elif not isinstance(model, str):
        raise RequestError("bad_request", 400, "'model' must be a string")
    else:
        allowed = upstream.spec.models
        if allowed and model not in allowed:
            raise RequestError(
                "bad_request",
                400,
                f"model {model[:200]!r} is not allowed on upstream {upstream.name!r} "
                f"(allowed: {', '.join(allowed)})",
            )
        body["model"] = model
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("bad_request", 400, "'messages' must be a non-empty list")
    if not all(isinstance(m, dict) for m in messages):
        raise RequestError("bad_request", 400, "each message must be a JSON object")
    if "max_tokens" in body:
        max_tokens = body["max_tokens"]
        if max_tokens is not None:
            if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
                raise RequestError("bad_request", 400, "'max_tokens' must be a positive integer")
            if max_tokens > max_tokens_limit:
                raise limit_error(
                    "max_tokens_limit", max_tokens_limit, f"max_tokens {max_tokens}"
                )
    body["stream"] = True
    body["n"] = 1
    body["stream_options"] = {"include_usage": True, "continuous_usage_stats": True}
    return body


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
        send: Callable[[str | bytes], Awaitable[None]],
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


class Response:
    """One response of a batch: one upstream request, streamed to the browser."""

    def __init__(self, batch: Batch, response_id: str, upstream: Upstream, body: dict[str, Any]):
        self.batch = batch
        self.id = response_id
        self.upstream = upstream
        self.done = False  # a terminal message was sent (or is being sent)
        self.stop_requested = False
        self._prefix = record_prefix(response_id)
        # The request leaves now if it can (before the batch's next `start` is read); the
        # task waits for its answer. A task cancelled before its first step runs none of
        # `_run` (no `finally`): the done callback lets go of the request then (a no-op once
        # the stream opened; the stream is closed in `_run`).
        self._opening = upstream.begin(body)
        self.task: asyncio.Task[None] = asyncio.ensure_future(self._run())
        self.task.add_done_callback(lambda _task: self._opening.discard())

    async def _run(self) -> None:
        """Open the upstream stream, forward every chunk, send the terminal message."""
        stream: UpstreamStream | None = None
        clean_end = False
        try:
            stream = await self._opening.open()
            await self.batch.send_json({"type": "open", "id": self.id, "status": stream.status})
            while True:
                chunk = await stream.read()
                if not chunk:
                    break
                await self.batch.send(record(self._prefix, chunk))
            clean_end = True
        except UpstreamError as e:
            await self.finish(
                {"type": "error", "id": self.id, "status": e.status,
                 "message": e.message, "code": e.code}
            )
        except SocketClosed:
            self.done = True  # nobody to tell; the batch is being closed
        except Exception:  # noqa: BLE001 - a bug must not kill the loop or other responses
            self.batch.log.exception("fanout: response %r failed", self.id)
            await self.finish(
                {"type": "error", "id": self.id, "status": 500,
                 "message": "internal error in the proxy", "code": "internal"}
            )
        finally:
            # Runs on cancellation too (stop, socket closed, shutdown): the upstream
            # connection is closed before anyone is told the response stopped.
            if stream is not None:
                stream.close()
        if clean_end:
            await self.finish({"type": "end", "id": self.id})

    async def finish(self, message: dict[str, Any]) -> None:
        """Send this response's one terminal message (no-op if one was sent already)."""
        if self.done:
            return
        self.done = True
        try:
            await self.batch.send_json(message)
        except SocketClosed:
            pass

    async def stop(self) -> None:
        """Close the upstream connection, then send `stopped` (unless already finished)."""
        if self.done or self.stop_requested:
            return
        self.stop_requested = True
        self.task.cancel()
        await asyncio.wait([self.task])
        await self.finish({"type": "stopped", "id": self.id})

    async def abandon(self) -> None:
        """Close the upstream connection without telling anyone (socket gone, shutdown)."""
        self.done = True
        self.task.cancel()
        await asyncio.wait([self.task])


class Batch:
    """The responses of one WebSocket."""

    def __init__(
        self,
        *,
        fanout: Fanout,
        lookup: Lookup,
        user: str,
        user_streams: UserStreams,
        send: Send,
        log: Log,
        close_socket: Callable[[int, str], None] | None = None,
    ):
        self.fanout = fanout
        self._close_socket = close_socket
        self.lookup = lookup
        self.user = user
        self.user_streams = user_streams
        self._outbox = Outbox(send)
        self.log = log
        self.responses: dict[str, Response] = {}
        self.used_ids: set[str] = set()  # every id a start named, refused ones too
        self.started = 0
        self.closed = False
        self._stopping: set[asyncio.Future[None]] = set()  # tasks of `stop`s (kept referenced)

    def close_socket(self, code: int, reason: str) -> None:
        """Close the browser's socket (server shutdown); its streams are closed first."""
        if self._close_socket is not None:
            self._close_socket(code, reason)

    @property
    def active(self) -> list[Response]:
        """Responses whose task has not finished."""
        return [r for r in self.responses.values() if not r.task.done()]

    async def send(self, message: str | bytes) -> None:
        """Send a text message (returns once written), or a record (bytes, which may share a
        frame with others; returns at once unless the browser is behind)."""
        if self.closed:
            raise SocketClosed()
        await self._outbox.send(message)

    async def send_json(self, message: dict[str, Any]) -> None:
        await self.send(json.dumps(message))

    def send_error(self, response_id: str | None, error: RequestError) -> None:
        """Queue an `error` message (in order with everything else this batch sends)."""
        if self.closed:
            return  # nobody left to read it
        done = self._outbox.put(json.dumps(
            {"type": "error", "id": response_id, "status": error.status,
             "message": error.message, "code": error.code}
        ))
        # A socket that closes before the error is written has nobody to tell.
        done.add_done_callback(lambda f: f.cancelled() or f.exception())

    def handle_message(self, text: str | bytes) -> None:
        """Dispatch one message from the browser, synchronously: a `start` has created its
        response (or queued its error) before the next message is read, without a task and
        a loop turn per message; a `stop` closes its upstream connection in a task."""
        try:
            if isinstance(text, bytes):
                raise RequestError("bad_request", 400, "binary messages are not accepted")
            try:
                message = json.loads(text)
            except ValueError:
                raise RequestError("bad_request", 400, "message is not valid JSON") from None
            if not isinstance(message, dict):
                raise RequestError("bad_request", 400, "message must be a JSON object")
            kind = message.get("type")
            if kind == "start":
                self.start(message)
            elif kind == "stop":
                self.stop(message.get("id"))
            else:
                raise RequestError("bad_request", 400, "'type' must be 'start' or 'stop'")
        except RequestError as e:
            self.send_error(None, e)

    def _check_id(self, response_id: Any) -> str:
        if not isinstance(response_id, str) or not 0 < len(response_id) <= MAX_ID_LENGTH:
            raise RequestError(
                "bad_request", 400, f"'id' must be a string of 1 to {MAX_ID_LENGTH} characters"
            )
        if response_id in self.used_ids:
            raise RequestError("bad_request", 400, f"id {response_id!r} was already used")
        self.used_ids.add(response_id)
        return response_id

    def start(self, message: dict[str, Any]) -> None:
        """Start one response, or answer its `error` at once."""
        response_id = self._check_id(message.get("id"))
        try:
            upstream = self._upstream(message.get("upstream"))
            limit = self.fanout.max_responses_per_batch
            if self.started >= limit:
                raise limit_error(
                    "max_responses_per_batch", limit, f"response {self.started + 1} of this batch"
                )
            body = build_body(message.get("request"), upstream, self.fanout.max_tokens_limit)
            limit = self.fanout.max_streams_per_user
            if not self.user_streams.acquire(self.user, limit):
                raise limit_error(
                    "max_streams_per_user", limit, "too many streams in flight", status=429
                )
        except RequestError as e:
            # The id stays used: it belongs to a finished (refused) response.
            self.send_error(response_id, e)
            return
        self.started += 1
        response = Response(self, response_id, upstream, body)
        self.responses[response_id] = response
        response.task.add_done_callback(lambda t: self._on_done(response, t))

    def _upstream(self, name: Any) -> Upstream:
        if name is None:
            name = ""
        if not isinstance(name, str):
            raise RequestError(
                "bad_request", 400, "'upstream' must be the name of a configured upstream"
            )
        upstream = self.lookup(name)
        if upstream is None:
            raise RequestError(
                "unknown_upstream", 404, f"no upstream named {name[:100]!r} is configured"
            )
        return upstream

    def _on_done(self, response: Response, task: asyncio.Task[None]) -> None:
        """Release the user's slot and observe the task's outcome."""
        self.user_streams.release(self.user)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and not isinstance(exc, SocketClosed):
            self.log.error("fanout: response %r task failed", response.id, exc_info=exc)

    def stop(self, response_id: Any) -> None:
        """Handle `stop`: a finished or refused response is left alone; a running one closes
        its upstream connection, then sends `stopped` (in a task)."""
        if not isinstance(response_id, str) or response_id not in self.used_ids:
            raise RequestError("bad_request", 400, "'stop' names no response of this socket")
        response = self.responses.get(response_id)
        if response is not None:  # Response.stop leaves a finished or stopping one alone
            task = asyncio.ensure_future(response.stop())
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    async def close(self) -> None:
        """The browser went away (or the server stops): close every upstream stream.

        Kept in one place so that a later version may wait for a reattach here first.
        """
        self.closed = True
        live = self.active
        if live:
            await asyncio.gather(*(r.abandon() for r in live), return_exceptions=True)

