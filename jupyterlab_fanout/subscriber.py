"""One batch socket: what it sends (its own `Outbox`) and the messages it reads.

A socket subscribes to at most one batch (batch.py), kept in the registry (registry.py):
`attach` (with a replay of everything so far), `batch` (a new batch, or a live one joined
without replay) or its first `start` (a new batch with a server-generated id). Closing the
socket only unsubscribes it: the batch runs on (detached, see batch.py).
"""
from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any, Callable, Optional

from .logs import Log
from .config import Fanout
from .errors import INTERNAL_ERROR, FanoutError, SocketClosed
from .outbox import Outbox, Send
from .store import new_batch_id
from .validation import (
    MAX_ID_LENGTH,
    bad_request,
    check_batch_message,
    parse_message,
)

if TYPE_CHECKING:
    from .batch import Batch
    from .registry import BatchRegistry


#: Close code of a batch socket whose browser stopped reading (`send_timeout`).
STALL_CLOSE_CODE = 1008


def unknown_batch(batch_id: str) -> dict[str, Any]:
    """The `error` answering an `attach` to a batch the registry does not hold."""
    return {
        "type": "error", "id": None, "code": "unknown_batch", "status": 404, "batch": batch_id,
        "message": f"batch {batch_id[:100]!r} is not running on the server (it ended, or the"
                   " server restarted)",
    }


def _observe(future: asyncio.Future[None]) -> None:
    """Retrieve a write's outcome (its socket closing is no error here: the close
    unsubscribes it)."""
    if not future.cancelled():
        future.exception()


class Subscriber:
    """One WebSocket: its outbox and the batch it is subscribed to (None until it says)."""

    def __init__(
        self,
        *,
        registry: BatchRegistry,
        fanout: Fanout,
        user: str,
        send: Send,
        log: Log,
        close_socket: Callable[[int, str], None] | None = None,
    ):
        self.registry = registry
        self.fanout = fanout
        self.user = user
        self.log = log
        self._close_socket = close_socket
        self.outbox = Outbox(send, send_timeout=fanout.send_timeout, on_stall=self._stalled)
        self.batch: Batch | None = None
        #: Starts made over this socket (`max_responses_per_batch` counts them).
        self.started = 0
        self.closed = False

    # -- sending ----------------------------------------------------------------------------

    def put_record(self, rec: bytes, urgent: bool = False) -> Optional[asyncio.Future[None]]:
        """Queue a record (`urgent`: a response's first, sent without waiting for the
        frames' pace); while this socket is congested, the future of its write (the
        response may wait for it: backpressure), else None. A closed socket drops it."""
        outbox = self.outbox
        if outbox.congested:
            pending = outbox.put(rec)
            pending.add_done_callback(_observe)
            return pending
        try:
            outbox.put_record(rec, urgent)
        except SocketClosed:
            pass  # the socket is going; its close unsubscribes it
        return None

    def put_text(self, text: str) -> None:
        """Queue a text message (dropped once the socket is gone)."""
        self.outbox.put_text(text)

    def send_error(self, response_id: str | None, error: FanoutError) -> None:
        """Queue an `error` message for this socket alone."""
        if not self.closed:
            self.outbox.put_text(json.dumps(error.to_message(response_id)))

    def close_socket(self, code: int, reason: str) -> None:
        """Close the browser's socket (server shutdown, stall)."""
        if self._close_socket is not None:
            self._close_socket(code, reason)

    # -- reading ----------------------------------------------------------------------------

    def handle_message(self, text: str | bytes) -> Optional[asyncio.Future[None]]:
        """Dispatch one message from the browser, synchronously: a `start` has created its
        response (or queued its error) before the next message is read, an `attach` has
        queued its whole replay; a `stop` closes its upstream connection in a task.

        Whatever the message, handling it can fail only that message: every exception becomes
        an `error` (a bug: `internal`, logged) and nothing it took is kept. Returns None, or,
        while the browser leaves more than the outbox's high-water mark of replies unread, a
        future the socket waits for before it reads the next message.
        """
        if self.closed:
            return None  # closed for a stalled browser; the socket's close is under way
        try:
            message = parse_message(text, self.fanout.max_message_bytes)
            kind = message["type"]
            if kind == "start":
                self._batch_for_start().start(message, self)
            elif kind == "stop":
                if self.batch is None:
                    raise bad_request("'stop' names no response of this batch")
                self.batch.stop(message.get("id"))
            elif kind == "batch":
                self.describe(message)
            else:
                self.attach(message)
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
        return self.outbox.readable() if self.outbox.backed_up else None

    def _batch_for_start(self) -> Batch:
        """The batch a `start` goes to; a socket that named none gets a new one (`s-…`)."""
        if self.batch is None:
            self._subscribe(self.registry.create(new_batch_id(), self.user, None), False)
        assert self.batch is not None
        if self.batch.closed:
            raise FanoutError("internal", 503, "the batch is closed (the server is stopping)")
        return self.batch

    def _subscribe(self, batch: Batch, replay: bool) -> None:
        self.batch = batch
        batch.subscribe(self, replay)

    def describe(self, message: dict[str, Any]) -> None:
        """Handle `batch`: a new batch of that id (the prompt and options the store keeps),
        or, when the registry holds that id, that batch joined without replay."""
        batch_id, prompt, options = check_batch_message(message)
        if self.batch is not None:
            raise bad_request("'batch' must come once, before the first 'start' (and not"
                              " after 'attach')")
        live = self.registry.get(batch_id)
        if live is None:
            live = self.registry.create(batch_id, self.user, (prompt, options))
        self._subscribe(live, False)

    def attach(self, message: dict[str, Any]) -> None:
        """Handle `attach`: subscribe to a batch the registry holds, with its replay; else
        `unknown_batch` (the socket stays as it was: it may attach, or start, again)."""
        batch_id = message.get("batch")
        if not isinstance(batch_id, str) or not 0 < len(batch_id) <= MAX_ID_LENGTH:
            raise bad_request(f"attach 'batch' must be a string of 1 to {MAX_ID_LENGTH}"
                              " characters")
        if self.batch is not None:
            raise bad_request("'attach' must come once, before any 'batch' or 'start'")
        live = self.registry.get(batch_id)
        if live is None:
            self.outbox.put_text(json.dumps(unknown_batch(batch_id)))
            return
        self._subscribe(live, True)

    # -- the end ----------------------------------------------------------------------------

    def close(self) -> Optional[asyncio.Future[None]]:
        """The socket is gone: drop whatever waits to be sent, leave the batch (which runs on,
        detached, when this was its last subscriber). Returns the future of the streams that
        stop at once (detached_timeout = 0), else None."""
        if self.closed:
            return None
        self.closed = True
        self.outbox.close()
        batch, self.batch = self.batch, None
        if batch is None:
            return None
        return batch.unsubscribe(self)

    def _stalled(self) -> None:
        """The browser read nothing for `send_timeout` seconds: unsubscribe this socket (the
        batch goes on for the others, or detached) and close it (whose close handshake may
        take Tornado a few more seconds)."""
        if self.closed:
            return
        timeout = self.fanout.send_timeout
        self.log.warning(
            "fanout: a browser read nothing for %g s (send_timeout): closing its batch socket",
            timeout,
        )
        self.registry.observe(self.close())
        self.close_socket(STALL_CLOSE_CODE, f"the browser read nothing for {timeout:g} s")
