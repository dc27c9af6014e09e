"""One batch, owned by the server: its responses (each its own upstream stream) and the
sockets subscribed to it (subscriber.py), decoupled from any one socket.

State of one response: running -> ended. Exactly one terminal message (`end`, `stopped` or
`error`) is emitted per response, whatever races happen between a stop, the end of the stream
and the subscribers going away. Every message a response emits goes to each of its subscribers,
in the same order for each. Each response keeps the chunks it forwarded, compressed as one running
zlib stream (`replay`, replay.py), while its batch is in the registry (registry.py), so that a
socket that attaches later gets exactly what the others got (`attach`, docs/protocol.md). A batch with running responses and no subscriber is
*detached*: its responses run on for `c.Fanout.detached_timeout` seconds, then stop. A batch
with nothing running and no subscriber is dropped from the registry after a grace period.

Every task is observed: its exceptions are handled or logged, never left to the event loop.
What a message may contain is checked in validation.py; how bytes are framed, in outbox.py.
"""
from __future__ import annotations

import asyncio
import json
from collections import defaultdict, deque
from typing import TYPE_CHECKING, Any, Callable, Optional

from .logs import Log
from .config import Fanout
from .errors import INTERNAL_ERROR, FanoutError
from .outbox import record, record_prefix
from .digest import ATTACH_TAIL_LIMIT, Digest
from .replay import ENCODING, ReplayBuffer, compress
from .store import BatchStore, Recording, prompt_of
from .upstream import Upstream, UpstreamStream
from .validation import (
    ALLOWED_REQUEST_KEYS,
    Lookup,
    build_body,
    check_batch_size,
    check_depth,
    check_known_id,
    check_new_id,
    check_upstream,
    limit_error,
)

if TYPE_CHECKING:
    from .subscriber import Subscriber


#: How many ids of refused `start`s a batch remembers (to answer "already used"); beyond, the
#: oldest is forgotten, so that a flood of refused starts does not grow the server.
MAX_REFUSED_IDS = 1024
#: Longest grace period (seconds) an ended batch with no subscriber stays in the registry.
MAX_GRACE = 60.0

#: Why a response was stopped, as the store records it (`error` of a `stopped` attempt).
STOPPED_BY_USER = "stopped_by_user"
DETACHED_TIMEOUT = "detached_timeout"
SOCKET_CLOSED = "socket_closed"
SERVER_SHUTDOWN = "server_shutdown"


def stop_reason(code: str, fanout: Fanout) -> dict[str, str]:
    """The `error` the store keeps for a response stopped for `code`."""
    messages = {
        STOPPED_BY_USER: "stopped by the user",
        DETACHED_TIMEOUT: f"stopped: no tab was attached for {fanout.detached_timeout:g} s"
                          " (c.Fanout.detached_timeout)",
        SOCKET_CLOSED: "stopped: the browser's socket closed (c.Fanout.detached_timeout = 0)",
        SERVER_SHUTDOWN: "stopped: the Jupyter server shut down",
    }
    return {"code": code, "message": messages[code]}


class UserStreams:
    """Streams in flight per user, across all of that user's batches (detached ones too)."""

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
    """One response of a batch: one upstream request, streamed to the batch's subscribers."""

    def __init__(self, batch: Batch, response_id: str, upstream: Upstream, body: dict[str, Any],
                 request: dict[str, Any], subscribers: list[Subscriber],
                 recording: Recording | None = None):
        self.batch = batch
        self.id = response_id
        self.upstream = upstream
        #: What the browser asked for, forwarded keys only (`attached` and `started` say it).
        self.request = request
        #: The sockets this response's messages go to (attached or subscribed at its start).
        self.subscribers = subscribers
        self.done = False  # a terminal message was emitted (or is being emitted)
        self.stop_requested = False
        #: This attempt in the batch store (None when the store is off or already told the end).
        self.recording = recording
        loop = asyncio.get_running_loop()
        self._loop = loop
        self.started_at = loop.time()
        self.first_byte_at: float | None = None
        #: Every chunk forwarded so far, compressed, for a later `attach` (None once the batch
        #: is dropped).
        self.replay: ReplayBuffer | None = ReplayBuffer()
        #: What an attach replays first when it can (digest.py): the store's reading of the
        #: same bytes (None without a store, and once the batch is dropped).
        self.digest: Digest | None = None if recording is None else recording.digest
        #: The `open` message once the upstream answered, the terminal one once ended.
        self.opened: dict[str, Any] | None = None
        self.terminal: dict[str, Any] | None = None
        self.prefix = record_prefix(response_id)
        # The request leaves now if it can (before the batch's next `start` is read); the
        # task waits for its answer. A task cancelled before its first step runs none of
        # `_run` (no `finally`): the done callback lets go of the request then (a no-op once
        # the stream opened; the stream is closed in `_run`).
        self._opening = upstream.begin(body)
        self.task: asyncio.Task[None] = asyncio.ensure_future(self._run())
        self.task.add_done_callback(lambda _task: self._opening.discard())
        if self.digest is not None:
            self.digest.when_whole(self._release_replay)

    async def _run(self) -> None:
        """Open the upstream stream, forward every chunk, emit the terminal message."""
        stream: UpstreamStream | None = None
        clean_end = False
        try:
            stream = await self._opening.open()
            self.opened = {"type": "open", "id": self.id, "status": stream.status}
            self.emit(self.opened)
            recording = self.recording
            replay = self.replay
            assert replay is not None
            prefix = self.prefix
            while True:
                chunk = await stream.read()
                if not chunk:
                    break
                first = self.first_byte_at is None
                if first:
                    self.first_byte_at = self._loop.time()
                # Kept and queued for every subscriber in one step: an `attach` between two
                # chunks replays exactly what the others were sent.
                replay.add(chunk)
                if recording is not None:
                    recording.data(chunk)
                if self.subscribers:  # detached: no record is framed for nobody
                    waits = self.forward(record(prefix, chunk), first)
                    if waits is not None:
                        # Backpressure: only while some subscriber has too much unsent.
                        await asyncio.wait(waits)
            clean_end = True
        except FanoutError as e:
            self.finish(e.to_message(self.id))
        except Exception:  # noqa: BLE001 - a bug must not kill the loop or other responses
            self.batch.log.exception("fanout: response %r failed", self.id)
            self.finish(INTERNAL_ERROR.to_message(self.id))
        finally:
            # Runs on cancellation too (stop, detached timeout, shutdown): the upstream
            # connection is closed before anyone is told the response stopped.
            if stream is not None:
                stream.close()
            # No chunk comes after this: the replay keeps its compressed bytes only, or none
            # if the digest holds the whole stream already.
            if self.replay is not None:
                self.replay.seal()
                self._release_replay()
        if clean_end:
            self.finish({"type": "end", "id": self.id})

    def forward(self, rec: bytes, urgent: bool = False) -> list[asyncio.Future[None]] | None:
        """Queue one record for every subscriber (`urgent`: the response's first bytes, its
        time to first token); the futures of those that are congested."""
        waits = None
        for subscriber in self.subscribers:
            pending = subscriber.put_record(rec, urgent)
            if pending is not None:
                if waits is None:
                    waits = [pending]
                else:
                    waits.append(pending)
        return waits

    def emit(self, message: dict[str, Any]) -> None:
        """Queue a text message for every subscriber of this response."""
        if self.subscribers:
            text = json.dumps(message)
            for subscriber in self.subscribers:
                subscriber.put_text(text)

    def finish(self, message: dict[str, Any], error: dict[str, str] | None = None) -> None:
        """Emit this response's one terminal message (no-op if one was emitted already);
        `error`: why it stopped, for the store."""
        if self.done:
            return
        self.done = True
        self.terminal = message
        self.record_end(message, error)
        self.emit(message)
        self.subscribers = []  # nothing more to send
        self.batch.check_idle()

    async def stop(self, code: str = STOPPED_BY_USER) -> None:
        """Close the upstream connection, then emit `stopped` (unless already finished)."""
        if self.done or self.stop_requested:
            return
        self.stop_requested = True
        self.task.cancel()
        await asyncio.wait([self.task])
        self.finish({"type": "stopped", "id": self.id}, stop_reason(code, self.batch.fanout))

    async def abandon(self, code: str) -> None:
        """Close the upstream connection without telling anyone (server shutdown)."""
        if not self.done:
            self.done = True
            self.terminal = {"type": "stopped", "id": self.id}
            self.record_end(self.terminal, stop_reason(code, self.batch.fanout))
        self.subscribers = []
        self.task.cancel()
        await asyncio.wait([self.task])

    def record_end(self, message: dict[str, Any], error: dict[str, str] | None = None) -> None:
        """Tell the store how this attempt ended (once): `end`, `stopped` or `error`."""
        recording, self.recording = self.recording, None
        if recording is not None and self.batch.store is not None:
            if message["type"] == "error":
                error = {k: message[k] for k in ("message", "code", "status", "upstream_error")
                         if k in message}
            self.batch.store.end(recording, message["type"], error)

    def kept(self) -> bytes:
        """Every byte forwarded so far, inflated (b"" once the batch was dropped, or once an
        ended response let go of them for its digest: `_release_replay`); for tests."""
        return b"" if self.replay is None else self.replay.decoded()

    def kept_bytes(self) -> int:
        """About how much memory this response holds for a later `attach`."""
        return ((0 if self.replay is None else self.replay.kept_bytes())
                + (0 if self.digest is None else self.digest.kept_bytes()))

    def _release_replay(self) -> None:
        """An ended response whose digest holds its whole stream lets go of its compressed
        bytes: an attach replays the digest and its tail (about half the memory). Called when
        the replay is sealed and when the digest becomes whole (`Digest.when_whole`: the
        store's writer thread hands it to the event loop), whichever comes last does it."""
        if (self.replay is not None and self.replay.sealed and self.digest is not None
                and self.digest.whole):
            self.replay = None

    def replay_for_attach(self, now: float) -> tuple[str, bytes | None]:
        """This response in an `attached` message (JSON), and the replay record that follows
        its `open` (None: none). With a digest (digest.py), the entries ride in the `attached`
        message and the record holds the bytes after them; else the record holds every byte
        forwarded so far. Either record is a zlib stream of `replay.bytes` bytes."""
        description: dict[str, Any] = {
            "id": self.id, "upstream": self.upstream.name, "request": self.request,
            "elapsed_ms": round((now - self.started_at) * 1000, 1),
            "first_byte_ms": (None if self.first_byte_at is None
                              else round((now - self.first_byte_at) * 1000, 1)),
            "state": "ended" if self.terminal is not None else "running",
            "replay": None,
        }
        digest = None if self.digest is None else self.digest.snapshot()
        if digest is not None and len(digest[4]) > ATTACH_TAIL_LIMIT and self.replay is not None:
            digest = None  # the reader is far behind: the bytes, compressed as they came
        if digest is not None:
            entries, events, model, offset, tail = digest
            if tail:
                description["replay"] = {"encoding": ENCODING, "bytes": len(tail)}
            head = json.dumps({**description, "digest": {"model": model, "offset": offset,
                                                         "events": events}})
            # The entries are JSON already (the reader process wrote them): spliced in, not
            # decoded and encoded again on the event loop.
            text = head[:-2] + ', "entries": ' + entries.decode("utf-8") + "}}"
            return text, compress(tail) if tail else None
        replay = self.replay
        if replay is None or not replay.raw_bytes:
            return json.dumps(description), None
        description["replay"] = {"encoding": ENCODING, "bytes": replay.raw_bytes}
        return json.dumps(description), replay.snapshot()


class Batch:
    """The responses of one batch and the sockets subscribed to it."""

    def __init__(
        self,
        batch_id: str,
        *,
        fanout: Fanout,
        lookup: Lookup,
        user: str,
        user_streams: UserStreams,
        log: Log,
        store: BatchStore | None = None,
        described: tuple[str, dict[str, Any]] | None = None,
        on_drop: Callable[[Batch], None] | None = None,
        on_idle: Callable[[Batch], None] | None = None,
    ):
        #: The batch's id in the registry and in the store.
        self.id = batch_id
        self.fanout = fanout
        self.store = store
        #: The prompt and options of the `batch` message that created it (None: none came).
        self._described = described
        self._stored = False  # the store was told of the batch (on its first start)
        self.lookup = lookup
        self.user = user
        self.user_streams = user_streams
        self.log = log
        self._on_drop = on_drop
        #: Told when the batch becomes idle (ended, no socket: its grace period began).
        self._on_idle = on_idle
        #: Loop time the grace period began (None: not idle).
        self.idle_since: float | None = None
        self.responses: dict[str, Response] = {}  # in start order
        self.subscribers: list[Subscriber] = []
        #: The id of every response started, and of the last MAX_REFUSED_IDS refused starts.
        self.used_ids: set[str] = set()
        self._refused_ids: deque[str] = deque()
        #: Dropped from the registry, or shut down: nothing starts any more.
        self.closed = False
        self._detach_timer: asyncio.TimerHandle | None = None
        self._drop_timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Future[None]] = set()  # stops in flight (kept referenced)

    # -- state -----------------------------------------------------------------------------

    @property
    def active(self) -> list[Response]:
        """Responses whose task has not finished."""
        return [r for r in self.responses.values() if not r.task.done()]

    @property
    def running(self) -> bool:
        """Some response has not ended (no terminal yet, or its task still closes)."""
        return any(not r.done or not r.task.done() for r in self.responses.values())

    @property
    def detached(self) -> bool:
        """Running responses and no subscriber."""
        return not self.subscribers and self.running

    # -- subscribers ------------------------------------------------------------------------

    def subscribe(self, subscriber: Subscriber, replay: bool) -> None:
        """Add a socket. With `replay` (`attach`) it gets, in this one step, `attached`, then
        per response in start order its `open`, one record of every byte forwarded so far and
        its terminal message, and every live message after; without (`batch` naming a live
        batch), the messages of responses started from now on."""
        self._cancel_timers()
        self.subscribers.append(subscriber)
        if not replay:
            return
        now = asyncio.get_running_loop().time()
        responses = list(self.responses.values())
        replays = [r.replay_for_attach(now) for r in responses]
        subscriber.put_text('{"type": "attached", "batch": ' + json.dumps(self.id)
                            + ', "responses": [' + ", ".join(text for text, _ in replays) + "]}")
        for response, (_, replay) in zip(responses, replays):
            if response.opened is not None:
                subscriber.put_text(json.dumps(response.opened))
            if replay is not None:
                subscriber.put_record(record(response.prefix, replay))
            if response.terminal is not None:
                subscriber.put_text(json.dumps(response.terminal))
            else:
                response.subscribers.append(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> Optional[asyncio.Future[None]]:
        """A socket left. The last one leaving detaches the batch (its running responses
        stop after `detached_timeout`, at once when 0: the future of those stops)."""
        if subscriber not in self.subscribers:
            return None
        self.subscribers.remove(subscriber)
        for response in self.responses.values():
            if subscriber in response.subscribers:
                response.subscribers.remove(subscriber)
        if self.subscribers or self.closed:
            return None
        if not self.running:
            self.check_idle()
            return None
        timeout = self.fanout.detached_timeout
        if timeout <= 0:
            return self._stop_all(SOCKET_CLOSED)
        self.log.info(
            "fanout: batch %r has no tab attached: its %d running responses stop in %g s"
            " (detached_timeout) unless one attaches", self.id, len(self.active), timeout,
        )
        self._detach_timer = asyncio.get_running_loop().call_later(timeout, self._detach_expired)
        return None

    def _detach_expired(self) -> None:
        self._detach_timer = None
        if self.subscribers or self.closed:
            return
        self.log.info("fanout: batch %r: no tab attached for %g s (detached_timeout): stopping"
                      " its running responses", self.id, self.fanout.detached_timeout)
        self._stop_all(DETACHED_TIMEOUT)

    def _stop_all(self, code: str) -> asyncio.Future[None]:
        """Stop every running response (each records why); the future of those stops."""
        task = asyncio.ensure_future(asyncio.gather(
            *(r.stop(code) for r in self.responses.values() if not r.done),
            return_exceptions=True,
        ))
        self._keep(task)
        return task

    def _keep(self, task: asyncio.Future[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.log.error("fanout: stopping a response failed", exc_info=exc)
            return
        for result in task.result() or ():  # a gather's results (`_stop_all`)
            if isinstance(result, BaseException):
                self.log.error("fanout: stopping a response failed", exc_info=result)

    def check_idle(self) -> None:
        """Nothing running and nobody subscribed: drop the batch after the grace period
        (`min(detached_timeout, 60)` s; at once when 0 or when it started nothing)."""
        if self.closed or self.subscribers or self._drop_timer is not None or self.running:
            return
        grace = min(self.fanout.detached_timeout, MAX_GRACE)
        if grace <= 0 or not self.responses:
            self.drop()
            return
        loop = asyncio.get_running_loop()
        self._drop_timer = loop.call_later(grace, self.drop)
        self.idle_since = loop.time()
        if self._on_idle is not None:
            self._on_idle(self)

    def kept_bytes(self) -> int:
        """About how much memory the batch holds for a later `attach` (replay.py)."""
        return sum(r.kept_bytes() for r in self.responses.values())

    def _cancel_timers(self) -> None:
        for timer in (self._detach_timer, self._drop_timer):
            if timer is not None:
                timer.cancel()
        self._detach_timer = self._drop_timer = None
        self.idle_since = None

    def drop(self) -> None:
        """Leave the registry; the bytes kept for replay are released."""
        if self.closed:
            return
        self.closed = True
        self._cancel_timers()
        for response in self.responses.values():
            response.replay = response.digest = None
            response.subscribers = []
        self.responses = {}
        self.subscribers = []
        if self._on_drop is not None:
            self._on_drop(self)

    async def shutdown(self) -> None:
        """Server shutdown: close every upstream stream (each recorded as stopped), leave
        the registry. The sockets are closed by the caller afterwards."""
        live = [r for r in self.responses.values() if not r.task.done()]
        self.drop()
        if live:
            await asyncio.gather(*(r.abandon(SERVER_SHUTDOWN) for r in live),
                                 return_exceptions=True)
        if self._tasks:  # stops under way: they end with their (cancelled) tasks
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- messages of subscribers -----------------------------------------------------------

    def _recording(self, response_id: str, upstream: Upstream,
                   request: dict[str, Any]) -> Recording | None:
        """Register this start with the store (the batch itself on the first)."""
        store = self.store
        if store is None:
            return None
        if not self._stored:
            self._stored = True
            prompt, options = self._described or (prompt_of(request), {})
            store.batch(self.id, prompt, options)
        return store.start(self.id, response_id, upstream.name, request)

    def start(self, message: dict[str, Any], by: Subscriber) -> None:
        """Start one response, or answer its `error` (to `by` alone) at once; the other
        subscribers get `started` before the response's `open`.

        The user's stream slot is taken last, once nothing else can refuse the start, and
        given back if the response cannot be created.
        """
        response_id = check_new_id(message.get("id"), self.used_ids)
        self.used_ids.add(response_id)
        try:
            check_depth(message)
            upstream = check_upstream(message.get("upstream"), self.lookup)
            check_batch_size(by.started, self.fanout.max_responses_per_batch)
            body = build_body(message.get("request"), upstream, self.fanout.max_tokens_limit,
                              self.fanout.default_max_tokens)
            limit = self.fanout.max_streams_per_user
            if not self.user_streams.acquire(self.user, limit):
                raise limit_error(
                    "max_streams_per_user", limit, "too many streams in flight", status=429
                )
        except FanoutError as e:
            self._refused(response_id, e, by)
            return
        except Exception:  # noqa: BLE001 - a bug refuses this start only
            self.log.exception("fanout: start %r could not be handled", response_id)
            self._refused(response_id, INTERNAL_ERROR, by)
            return
        # What the browser asked for, as it sent it, but only the keys that were forwarded
        # (ALLOWED_REQUEST_KEYS): nothing else a client put there is kept or repeated.
        sent = message.get("request")
        request = {k: v for k, v in sent.items() if k in ALLOWED_REQUEST_KEYS}
        recording = None
        try:
            recording = self._recording(response_id, upstream, request)
            response = Response(self, response_id, upstream, body, request,
                                list(self.subscribers), recording)
        except Exception:  # noqa: BLE001 - e.g. a body the JSON encoder cannot write
            if recording is not None and self.store is not None:
                self.store.end(recording, "error", INTERNAL_ERROR.to_message(response_id))
            self.user_streams.release(self.user)
            self.log.exception("fanout: start %r could not be handled", response_id)
            self._refused(response_id, INTERNAL_ERROR, by)
            return
        by.started += 1
        self._cancel_timers()  # a start from a socket that just joined: nothing is idle
        self.responses[response_id] = response
        response.task.add_done_callback(lambda t: self._on_done(response, t))
        others = [s for s in self.subscribers if s is not by]
        if others:
            started = json.dumps({"type": "started", "id": response_id,
                                  "upstream": upstream.name, "request": request,
                                  "elapsed_ms": 0})
            for subscriber in others:
                subscriber.put_text(started)

    def _refused(self, response_id: str, error: FanoutError, by: Subscriber) -> None:
        """Answer a refused start; its id stays used (it names a finished response) among
        the last MAX_REFUSED_IDS refused ones."""
        self._refused_ids.append(response_id)
        if len(self._refused_ids) > MAX_REFUSED_IDS:
            self.used_ids.discard(self._refused_ids.popleft())
        by.send_error(response_id, error)

    def _on_done(self, response: Response, task: asyncio.Task[None]) -> None:
        """Release the user's slot, observe the task's outcome, drop the batch if idle."""
        self.user_streams.release(self.user)
        if response.replay is not None:  # also when the task was cancelled before it ran
            response.replay.seal()
        if not task.cancelled():
            exc = task.exception()
            if exc is not None:
                self.log.error("fanout: response %r task failed", response.id, exc_info=exc)
        self.check_idle()

    def stop(self, response_id: Any) -> None:
        """Handle `stop` (from any subscriber): a finished or refused response is left alone;
        a running one closes its upstream connection, then emits `stopped` (in a task)."""
        response = self.responses.get(check_known_id(response_id, self.used_ids))
        if response is not None:  # Response.stop leaves a finished or stopping one alone
            self._keep(asyncio.ensure_future(response.stop(STOPPED_BY_USER)))
