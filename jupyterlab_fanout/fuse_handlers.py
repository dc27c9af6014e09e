"""Thin handlers of fused responses (fusions.py does the work).

- `PUT {base_url}fanout/batches/<id>/responses/<response id>/fusion`: what a fused response
  merges (kept in the store before its `start` is sent).
- `POST {base_url}fanout/fuse/checklist`: the guided merge's checklist, one non-streamed call
  to an allow-listed upstream (the key stays on the server).
"""
from __future__ import annotations

import json
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from . import fusions
from .errors import FanoutError
from .handlers import AUTH_RESOURCE, CancelledOnCloseMixin, _StoreHandler, _state
from .logs import RedactedLogMixin

#: The largest checklist request body read (the drafts it quotes included).
MAX_CHECKLIST_BODY = 4 * 1024 * 1024


def _json_body(handler: web.RequestHandler, limit: int) -> Any:
    if len(handler.request.body or b"") > limit:
        raise web.HTTPError(413, f"the body is larger than {limit} bytes")
    try:
        return json.loads(handler.request.body or b"null")
    except ValueError:
        raise web.HTTPError(400, "the body is not JSON") from None


class FusionHandler(_StoreHandler):
    """`PUT fanout/batches/<id>/responses/<response id>/fusion` (fusions.record)."""

    @web.authenticated
    @authorized
    async def put(self, batch_id: str, response_id: str) -> None:
        body = _json_body(self, MAX_CHECKLIST_BODY)
        self.finish(json.dumps(await self._call(
            self._store().call_in_reader(fusions.record, batch_id, response_id, body))))


class ChecklistHandler(CancelledOnCloseMixin, RedactedLogMixin, APIHandler):
    """`POST fanout/fuse/checklist` `{upstream, request}` → `{text, finishReason, model,
    structured, dialect}` (fusions.checklist_call). It spends the upstream's GPU: the
    authorizer is asked for "execute", as for a batch socket. The browser going away cancels
    the upstream request."""

    auth_resource = AUTH_RESOURCE

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Cache-Control", "no-store")

    @web.authenticated
    @authorized("execute")
    async def post(self) -> None:
        body = _json_body(self, MAX_CHECKLIST_BODY)
        try:
            answered, answer = await self.run_cancellable(fusions.checklist_call(_state(self), body))
        except FanoutError as e:
            self.set_status(e.status)
            self.finish(json.dumps({"message": e.message, "code": e.code}))
            return
        if answered:
            self.finish(json.dumps(answer))
