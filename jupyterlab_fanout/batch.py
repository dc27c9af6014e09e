"""One batch: the responses one WebSocket started, each its own upstream stream.

State of one response: running -> done. Exactly one terminal message (`end`,
`stopped` or `error`) is sent per response, whatever races happen between a stop,
the end of the stream and the socket going away. Every task is observed: its
exceptions are handled or logged, never left to the event loop. What a message may
contain is checked in validation.py; how bytes are framed for the browser, in outbox.py.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict, deque
from typing import Any, Callable, Optional, Union

from .config import Fanout
from .errors import FanoutError, SocketClosed
from .outbox import Outbox, Send, record, record_prefix
from .store import BatchStore, Recording, new_batch_id, prompt_of
from .upstream import Upstream, UpstreamStream
from .validation import (
    ALLOWED_REQUEST_KEYS,
    Lookup,
    bad_request,
    build_body,
    check_batch_message,
    check_batch_size,
    check_depth,
    check_known_id,
    check_new_id,
    check_upstream,
    limit_error,
    parse_message,
)

Log = Union[logging.Logger, logging.LoggerAdapter]

#: What the browser is told when a response fails for a bug in the proxy (logged in full).
INTERNAL_ERROR = FanoutError("internal", 500, "internal error in the proxy")
#: How many ids of refused `start`s a socket remembers (to answer "already used"); beyond, the
#: oldest is forgotten, so that a flood of refused starts does not grow the server.
MAX_REFUSED_IDS = 1024
#: Close code and reason of a batch socket whose browser stopped reading (`send_timeout`).
STALL_CLOSE_CODE = 1008


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


class Response:
    """One response of a batch: one upstream request, streamed to the browser."""

    def __init__(self, batch: Batch, response_id: str, upstream: Upstream, body: dict[str, Any],
                 recording: Recording | None = None):
        self.batch = batch
        self.id = response_id
        self.upstream = upstream
        self.done = False  # a terminal message was sent (or is being sent)
        self.stop_requested = False
        #: This attempt in the batch store (None when the store is off or already told the end).
        self.recording = recording
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
            recording = self.recording
            while True:
                chunk = await stream.read()
                if not chunk:
                    break
                if recording is not None:
                    recording.data(chunk)
                await self.batch.send(record(self._prefix, chunk))
            clean_end = True
        except FanoutError as e:
            await self.finish(e.to_message(self.id))
        except SocketClosed:
            self.done = True  # nobody to tell; the batch is being closed
            self.record_end({"type": "stopped"})
        except Exception:  # noqa: BLE001 - a bug must not kill the loop or other responses
            self.batch.log.exception("fanout: response %r failed", self.id)
            await self.finish(INTERNAL_ERROR.to_message(self.id))
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
        self.record_end(message)
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
        self.record_end({"type": "stopped"})

    def record_end(self, message: dict[str, Any]) -> None:
        """Tell the store how this attempt ended (once): `end`, `stopped` or `error`."""
        recording, self.recording = self.recording, None
        if recording is not None and self.batch.store is not None:
            error = None
            if message["type"] == "error":
                error = {k: message[k] for k in ("message", "code", "status", "upstream_error")
                         if k in message}
            self.batch.store.end(recording, message["type"], error)


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
        store: BatchStore | None = None,
    ):
        self.fanout = fanout
        self.store = store
        #: The batch's id in the store and what the browser said of it (`batch` message).
        self.record_id: str | None = None
        self._described: tuple[str, str, dict[str, Any]] | None = None
        self._close_socket = close_socket
        self.lookup = lookup
        self.user = user
        self.user_streams = user_streams
        self._outbox = Outbox(send, send_timeout=fanout.send_timeout, on_stall=self._stalled)
        self.log = log
        self.responses: dict[str, Response] = {}
        #: The id of every response started, and of the last MAX_REFUSED_IDS refused starts.
        self.used_ids: set[str] = set()
        self._refused_ids: deque[str] = deque()
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

    def send_error(self, response_id: str | None, error: FanoutError) -> None:
        """Queue an `error` message (in order with everything else this batch sends)."""
        if self.closed:
            return  # nobody left to read it
        # A socket that closes before the error is written has nobody to tell.
        self._outbox.put_text(json.dumps(error.to_message(response_id)))

    def handle_message(self, text: str | bytes) -> Optional[asyncio.Future[None]]:
        """Dispatch one message from the browser, synchronously: a `start` has created its
        response (or queued its error) before the next message is read, without a task and
        a loop turn per message; a `stop` closes its upstream connection in a task.

        Whatever the message, handling it can fail only that message: every exception becomes
        an `error` (a bug: `internal`, logged) and nothing it took is kept. Returns None, or,
        while the browser leaves more than the outbox's high-water mark of replies unread, a
        future the socket waits for before it reads the next message.
        """
        if self.closed:
            return None  # closed for a stalled browser; the socket's close is under way
        try:
            message = parse_message(text, self.fanout.max_message_bytes)
            if message["type"] == "start":
                self.start(message)
            elif message["type"] == "batch":
                self.describe(message)
            else:
                self.stop(message.get("id"))
        except FanoutError as e:
            self.send_error(None, e)
        except Exception:  # noqa: BLE001 - a bug fails this message only, never the socket
            self.log.exception("fanout: a message from the browser could not be handled")
            self.send_error(None, INTERNAL_ERROR)
        return self.backpressure()

    def refuse(self, error: FanoutError) -> Optional[asyncio.Future[None]]:
        """Answer a message that cannot even be read (not UTF-8) with `error` (id null)."""
        self.send_error(None, error)
        return self.backpressure()

    def backpressure(self) -> Optional[asyncio.Future[None]]:
        """None, or a future to wait for before the socket reads another message."""
        return self._outbox.readable() if self._outbox.backed_up else None

    def describe(self, message: dict[str, Any]) -> None:
        """Handle `batch`: the id, prompt and options the store keeps for this socket's starts."""
        described = check_batch_message(message)
        if self._described is not None or self.record_id is not None:
            raise bad_request("'batch' must come once, before the first 'start'")
        self._described = described

    def _recording(self, response_id: str, upstream: Upstream,
                   message: dict[str, Any]) -> Recording | None:
        """Register this start with the store (the batch itself on the first)."""
        store = self.store
        if store is None:
            return None
        sent = message.get("request")
        # What the browser asked for, as it sent it, but only the keys that were forwarded
        # (ALLOWED_REQUEST_KEYS): nothing else a client put there is kept.
        request = {k: v for k, v in sent.items() if k in ALLOWED_REQUEST_KEYS} if isinstance(
            sent, dict) else {}
        if self.record_id is None:
            if self._described is not None:
                self.record_id, prompt, options = self._described
            else:
                self.record_id, prompt, options = new_batch_id(), prompt_of(request), {}
            store.batch(self.record_id, prompt, options)
        return store.start(self.record_id, response_id, upstream.name, request)

    def start(self, message: dict[str, Any]) -> None:
        """Start one response, or answer its `error` at once.

        The user's stream slot is taken last, once nothing else can refuse the start, and
        given back if the response cannot be created.
        """
        response_id = check_new_id(message.get("id"), self.used_ids)
        self.used_ids.add(response_id)
        try:
            check_depth(message)
            upstream = check_upstream(message.get("upstream"), self.lookup)
            check_batch_size(self.started, self.fanout.max_responses_per_batch)
            body = build_body(message.get("request"), upstream, self.fanout.max_tokens_limit,
                              self.fanout.default_max_tokens)
            limit = self.fanout.max_streams_per_user
            if not self.user_streams.acquire(self.user, limit):
                raise limit_error(
                    "max_streams_per_user", limit, "too many streams in flight", status=429
                )
        except FanoutError as e:
            self._refused(response_id, e)
            return
        except Exception:  # noqa: BLE001 - a bug refuses this start only
            self.log.exception("fanout: start %r could not be handled", response_id)
            self._refused(response_id, INTERNAL_ERROR)
            return
        recording = None
        try:
            recording = self._recording(response_id, upstream, message)
            response = Response(self, response_id, upstream, body, recording)
        except Exception:  # noqa: BLE001 - e.g. a body the JSON encoder cannot write
            if recording is not None and self.store is not None:
                self.store.end(recording, "error", INTERNAL_ERROR.to_message(response_id))
            self.user_streams.release(self.user)
            self.log.exception("fanout: start %r could not be handled", response_id)
            self._refused(response_id, INTERNAL_ERROR)
            return
        self.started += 1
        self.responses[response_id] = response
        response.task.add_done_callback(lambda t: self._on_done(response, t))

    def _refused(self, response_id: str, error: FanoutError) -> None:
        """Answer a refused start; its id stays used (it names a finished response) among
        the last MAX_REFUSED_IDS refused ones."""
        self._refused_ids.append(response_id)
        if len(self._refused_ids) > MAX_REFUSED_IDS:
            self.used_ids.discard(self._refused_ids.popleft())
        self.send_error(response_id, error)

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
        response = self.responses.get(check_known_id(response_id, self.used_ids))
        if response is not None:  # Response.stop leaves a finished or stopping one alone
            task = asyncio.ensure_future(response.stop())
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    def _stalled(self) -> None:
        """The browser read nothing for `send_timeout` seconds: close its upstream streams
        now and its socket (whose close handshake may take Tornado a few more seconds)."""
        if self.closed:
            return
        timeout = self.fanout.send_timeout
        self.log.warning(
            "fanout: a browser read nothing for %g s (send_timeout): closing its batch socket"
            " and its %d streams", timeout, len(self.active),
        )
        task = asyncio.ensure_future(self.close())
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)
        self.close_socket(STALL_CLOSE_CODE, f"the browser read nothing for {timeout:g} s")

    async def close(self) -> None:
        """The browser went away (or the server stops): close every upstream stream and
        drop whatever still waits to be sent.

        Kept in one place so that a later version may wait for a reattach here first.
        """
        self.closed = True
        self._outbox.close()
        live = self.active
        if live:
            await asyncio.gather(*(r.abandon() for r in live), return_exceptions=True)

