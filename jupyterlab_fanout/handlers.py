"""Thin Tornado handlers: authentication, Origin check and size limits; the work is elsewhere.

- `GET {base_url}fanout/upstreams`: configured upstreams, their models, the limits.
- `WS  {base_url}fanout/batch`: a socket subscribed to one batch of streamed responses
  (docs/protocol.md); the batch itself belongs to the server (registry.py).
- `GET {base_url}fanout/batches?query=&limit=`, `GET|PATCH|DELETE fanout/batches/<id>`,
  `GET fanout/batches/<id>/export?format=json|markdown|notebook`: the batch store (store.py).
- `GET|POST fanout/votes`, `GET fanout/leaderboard?tags=&format=json|csv`,
  `PUT fanout/batches/<id>/tags`: blind votes and the leaderboard (votes.py).
- `PUT fanout/batches/<id>/direct`, `PUT fanout/batches/<id>/direct/<response id>/<attempt>`:
  the browser records a batch it streams in direct mode (direct_record.py).
- `PUT fanout/batches/<id>/pick`, `PUT fanout/batches/<id>/responses/<response id>/rating`:
  the winner of a batch and the rating of a response (verdicts.py).
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.websocket import WebSocketClosedError, WebSocketHandler, WebSocketProtocol

from . import completion, judge, verdicts, votes, ws_protocol
from .direct_record import parse_body
from .errors import SocketClosed
from .logs import RedactedLogMixin
from .state import FanoutState
from .store import BatchStore, StoreError
from .subscriber import Subscriber
from .validation import bad_request


def _state(handler: web.RequestHandler) -> FanoutState:
    return handler.settings["fanout_state"]


def _budget_key(user: Any) -> str:
    """Whose stream budget (`max_streams_per_user`) a socket draws from.

    A Jupyter server belongs to one user (JupyterHub starts one per user), and token
    authentication gives every request a fresh anonymous identity, so per-identity
    counting could be bypassed by opening more sockets: all sockets of this server
    share the one budget of its user (the one the judge and the checklist draw from too).
    """
    return completion.BUDGET_KEY


#: The resource a Jupyter server authorizer is asked about: "read" to list the upstreams,
#: "execute" to open a batch (it spends the upstreams' GPUs).
AUTH_RESOURCE = "fanout"


class UpstreamsHandler(RedactedLogMixin, APIHandler):
    """List the configured upstreams (names and models only) and the limits."""

    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(await _state(self).describe()))


class StoreStateHandler(RedactedLogMixin, APIHandler):
    """`GET fanout/store`: whether the batch store works (`{"store": {ok, error, path}}`, or
    `{"store": null}` when it is off), without listing every upstream's models."""

    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        store = _state(self).store
        self.finish(json.dumps({"store": store.state() if store is not None else None}))


class _StoreHandler(RedactedLogMixin, APIHandler):
    """Base of the store's REST handlers: JSON answers; a StoreError becomes its status
    (APIHandler writes errors as `{"message": ...}`)."""

    auth_resource = AUTH_RESOURCE

    def _store(self) -> BatchStore:
        store = _state(self).store
        if store is None:
            raise web.HTTPError(404, "the batch store is disabled (c.Fanout.store_path = '')")
        return store

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Cache-Control", "no-store")

    def _record_body(self) -> Any:
        """The JSON body of a direct-mode record (413 above its size limit, 400 if not JSON)."""
        try:
            return parse_body(self.request.body)
        except StoreError as e:
            raise web.HTTPError(e.status, e.message.replace("%", "%%")) from None

    async def _call(self, coro: Any) -> Any:
        try:
            return await coro
        except StoreError as e:
            raise web.HTTPError(e.status, e.message.replace("%", "%%")) from None


class BatchesHandler(_StoreHandler):
    """`GET fanout/batches?query=&limit=`: summaries, newest first; `POST`: import a batch."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.get_argument("query", "")
        try:
            limit = int(self.get_argument("limit", "100"))
        except ValueError:
            raise web.HTTPError(400, "limit must be an integer") from None
        limit = max(1, min(limit, 10000))
        batches = await self._call(self._store().list(query, limit))
        self.finish(json.dumps({"batches": batches}))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        """Import a whole batch in the shape `GET fanout/batches/<id>` answers (e.g. the batches
        an earlier version kept in the workspace); 409 if its id is taken."""
        try:
            body = json.loads(self.request.body or b"null")
        except ValueError:
            raise web.HTTPError(400, "the body is not JSON") from None
        created = await self._call(self._store().import_batch(body))
        self.set_status(201)
        self.finish(json.dumps(created))


class BatchRecordHandler(_StoreHandler):
    """`GET|PATCH|DELETE fanout/batches/<id>`: one batch, every response and attempt."""

    @web.authenticated
    @authorized
    async def get(self, batch_id: str) -> None:
        self.finish(json.dumps(await self._call(self._store().get(batch_id))))

    @web.authenticated
    @authorized
    async def patch(self, batch_id: str) -> None:
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "the body is not JSON") from None
        title = body.get("title") if isinstance(body, dict) else None
        if not isinstance(title, str) or not title.strip() or len(title) > 1000:
            raise web.HTTPError(400, "'title' must be a non-empty string of at most 1000 characters")
        self.finish(json.dumps(await self._call(self._store().rename(batch_id, title.strip()))))

    @web.authenticated
    @authorized
    async def delete(self, batch_id: str) -> None:
        await self._call(self._store().delete(batch_id))
        self.set_status(204)
        self.finish()


class BatchExportHandler(_StoreHandler):
    """`GET fanout/batches/<id>/export?format=json|markdown|notebook` (an attachment)."""

    @web.authenticated
    @authorized
    async def get(self, batch_id: str) -> None:
        fmt = self.get_argument("format", "json")
        content_type, name, body = await self._call(self._store().export(batch_id, fmt))
        self.set_header("Content-Type", content_type)
        self.set_header("Content-Disposition", f'attachment; filename="{name}"')
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish(body)


class VotesHandler(_StoreHandler):
    """`GET fanout/votes?batchId=&limit=`: votes, newest first; `POST`: one vote (votes.py)."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        try:
            limit = max(1, min(int(self.get_argument("limit", "1000")), 100000))
        except ValueError:
            raise web.HTTPError(400, "limit must be an integer") from None
        batch_id = self.get_argument("batchId", "")
        found = await self._call(self._store().call_in_reader(votes.list_votes, batch_id, limit))
        self.finish(json.dumps({"votes": found}))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        try:
            body = json.loads(self.request.body or b"null")
        except ValueError:
            raise web.HTTPError(400, "the body is not JSON") from None
        created = await self._call(self._store().call_in_reader(votes.record, body))
        self.set_status(201)
        self.finish(json.dumps(created))


class LeaderboardHandler(_StoreHandler):
    """`GET fanout/leaderboard?tags=a,b&format=json|csv` (votes.py, leaderboard.py)."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        fmt = self.get_argument("format", "json")
        if fmt not in ("json", "csv"):
            raise web.HTTPError(400, "format must be json or csv")
        try:
            tags = votes.parse_tag_filter(self.get_argument("tags", ""))
        except StoreError as e:
            raise web.HTTPError(400, e.message.replace("%", "%%")) from None
        result = await self._call(self._store().call_in_reader(votes.board, tags))
        if fmt == "csv":
            self.set_header("Content-Disposition", 'attachment; filename="leaderboard.csv"')
            self.set_header("X-Content-Type-Options", "nosniff")
            # APIHandler.finish sets the Content-Type itself: JSON unless told.
            self.finish(votes.to_csv(result["rows"]), set_content_type="text/csv; charset=utf-8")
            return
        result["all_tags"] = await self._call(self._store().call_in_reader(votes.all_tags))
        self.finish(json.dumps(result))


class BatchTagsHandler(_StoreHandler):
    """`PUT fanout/batches/<id>/tags` `{tags: [...]}`: replace a batch's tags."""

    @web.authenticated
    @authorized
    async def put(self, batch_id: str) -> None:
        try:
            body = json.loads(self.request.body or b"null")
        except ValueError:
            raise web.HTTPError(400, "the body is not JSON") from None
        if not isinstance(body, dict) or "tags" not in body:
            raise web.HTTPError(400, "the body must be {\"tags\": [...]}")
        try:
            tags = votes.check_tags(body["tags"])
        except StoreError as e:
            raise web.HTTPError(400, e.message.replace("%", "%%")) from None
        self.finish(json.dumps(await self._call(
            self._store().call_in_reader(votes.set_tags, batch_id, tags))))


class DirectBatchHandler(_StoreHandler):
    """`PUT fanout/batches/<id>/direct`: the browser records a batch it streams in direct mode
    (direct_record.py checks it)."""

    @web.authenticated
    @authorized
    async def put(self, batch_id: str) -> None:
        body = self._record_body()
        self.finish(json.dumps(await self._call(self._store().record_direct_batch(batch_id, body))))


class DirectAttemptHandler(_StoreHandler):
    """`PUT fanout/batches/<id>/direct/<response id>/<attempt>`: one attempt of a direct-mode
    batch, as it starts or ends."""

    @web.authenticated
    @authorized
    async def put(self, batch_id: str, response_id: str, attempt: str) -> None:
        body = self._record_body()
        self.finish(json.dumps(await self._call(
            self._store().record_direct_attempt(batch_id, response_id, attempt, body))))


class PickHandler(_StoreHandler):
    """`PUT fanout/batches/<id>/pick` `{"responseId": id | null, "attempt"?: n}`: the winner
    (verdicts.py checks the body); answers `{"batchId", "responseId", "attempt"}`."""

    @web.authenticated
    @authorized
    async def put(self, batch_id: str) -> None:
        async def pick() -> Any:
            response_id, attempt = verdicts.check_pick(verdicts.parse(self.request.body))
            return await self._store().pick(batch_id, response_id, attempt)

        self.finish(json.dumps(await self._call(pick())))


class RatingHandler(_StoreHandler):
    """`PUT fanout/batches/<id>/responses/<response id>/rating` `{"rating": 1..5 | null,
    "attempt"?: n}`; answers `{"batchId", "responseId", "attempt", "rating"}`."""

    @web.authenticated
    @authorized
    async def put(self, batch_id: str, response_id: str) -> None:
        async def rate() -> Any:
            rating, attempt = verdicts.check_rating(verdicts.parse(self.request.body))
            return await self._store().rate(batch_id, response_id, attempt, rating)

        self.finish(json.dumps(await self._call(rate())))


class CancelledOnCloseMixin:
    """A POST whose work (one upstream request: the judge, the checklist) is cancelled when the
    browser goes away, which closes the upstream connection, so the model server aborts it."""

    _task: "asyncio.Task[Any] | None" = None

    async def run_cancellable(self, work: Any) -> tuple[bool, Any]:
        """`(True, result)`, or `(False, None)` when the browser went away (nothing to answer)."""
        self._task = asyncio.ensure_future(work)
        try:
            return True, await self._task
        except asyncio.CancelledError:
            stream = self.request.connection.stream  # type: ignore[attr-defined]
            if stream is None or stream.closed():
                return False, None
            raise
        finally:
            self._task = None

    def on_connection_close(self) -> None:
        task = self._task
        if task is not None and not task.done():
            task.cancel()
        super().on_connection_close()  # type: ignore[misc]


class JudgeHandler(CancelledOnCloseMixin, _StoreHandler):
    """`POST fanout/batches/<id>/judge`: a model scores the batch's responses (judge.py). The
    browser going away cancels the judge request (its upstream connection is closed)."""

    @web.authenticated
    @authorized("execute")
    async def post(self, batch_id: str) -> None:
        state = _state(self)
        self._store()
        try:
            data = judge.parse_body(self.request.body)
        except StoreError as e:
            raise web.HTTPError(e.status, e.message.replace("%", "%%")) from None
        answered, created = await self.run_cancellable(self._call(judge.run(state, batch_id, data)))
        if answered:
            self.set_status(201)
            self.finish(json.dumps(created))


class JudgementsHandler(_StoreHandler):
    """`GET fanout/batches/<id>/judgements`: the batch's judgements, newest first."""

    @web.authenticated
    @authorized
    async def get(self, batch_id: str) -> None:
        found = await self._call(self._store().call_in_reader(judge.list_judgements, batch_id))
        self.finish(json.dumps({"judgements": found}))


class BatchHandler(RedactedLogMixin, WebSocketMixin, WebSocketHandler, JupyterHandler):
    """One WebSocket = one subscriber of one batch. Authenticated upgrade, Origin checked by
    WebSocketMixin."""

    subscriber: Subscriber | None = None

    def set_default_headers(self) -> None:
        """No JupyterHandler default headers on a WebSocket upgrade."""

    def get_compression_options(self) -> dict[str, Any] | None:
        return self.settings.get("websocket_compression_options", None)

    @property
    def max_message_size(self) -> int:  # type: ignore[override]
        """Tornado closes the socket (1009) above twice the limit without reading the message;
        between one and two times the limit the message is refused with a `limit` error."""
        return 2 * _state(self).fanout.max_message_bytes

    def get_websocket_protocol(self) -> WebSocketProtocol | None:
        """Tornado's protocol, but a text frame that is not UTF-8 fails only itself."""
        protocol = super().get_websocket_protocol()
        if type(protocol) is ws_protocol.WebSocketProtocol13 and ws_protocol.supported():
            protocol.__class__ = ws_protocol.LenientTextProtocol
        return protocol

    auth_resource = AUTH_RESOURCE

    @ws_authenticated
    @authorized("execute")
    async def get(self, *args: Any, **kwargs: Any) -> None:
        await _state(self).ensure_started()
        await super().get(*args, **kwargs)

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)
        self.subscriber = _state(self).new_socket(
            _budget_key(self.current_user), self._send, close_socket=self.close
        )

    async def _send(self, message: str | bytes) -> None:
        if self.ws_connection is None or self.ws_connection.is_closing():
            raise SocketClosed()
        try:
            await self.write_message(message, binary=isinstance(message, bytes))
        except WebSocketClosedError:
            raise SocketClosed() from None

    def on_message(self, message: str | bytes) -> asyncio.Future[None] | None:
        # Synchronous: Tornado would run an `async` on_message as a task and wait for it
        # before reading the next frame, one loop turn per message (a batch sends N starts).
        # A future comes back only while the browser leaves its replies unread: Tornado reads
        # no further frame until it resolves.
        if self.subscriber is not None:
            return self.subscriber.handle_message(message)
        return None

    def on_invalid_text(self, data: bytes) -> asyncio.Future[None] | None:
        """A text frame that is not UTF-8 (see ws_protocol.py): an error, like bad JSON."""
        if self.subscriber is not None:
            return self.subscriber.refuse(bad_request("text message is not valid UTF-8"))
        return None

    def on_close(self) -> None:
        subscriber, self.subscriber = self.subscriber, None
        if subscriber is not None:
            _state(self).socket_closed(subscriber)  # its batch runs on (detached_timeout)


__all__ = [
    "BatchExportHandler", "JudgeHandler", "JudgementsHandler", "BatchTagsHandler", "LeaderboardHandler", "VotesHandler", "DirectAttemptHandler", "DirectBatchHandler", "BatchHandler", "PickHandler", "RatingHandler", "BatchRecordHandler", "BatchesHandler", "StoreStateHandler",
    "UpstreamsHandler",
]
