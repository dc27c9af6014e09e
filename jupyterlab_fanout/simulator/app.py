"""The simulator's Tornado application: vLLM's `/v1` routes plus the `/simulator` control API."""
from __future__ import annotations

import asyncio
import json
import ssl
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

import tornado.httpserver
import tornado.httputil
import tornado.netutil
import tornado.web
from tornado.iostream import StreamClosedError

from . import dialects, fuse, protocol
from . import judge as judge_requests
from .chat_request import (ChatRequest, count_prompt_tokens, final_message_text, last_user_text,
                           parse_body, validate)
from .protocol import ApiError
from .settings import FaultRule, SimulatorSettings
from .state import (COMPLETED, DISCONNECTED, DROPPED, ERROR, REJECTED, RequestRecord,
                    SimulatorState)
from .text import completion_tokens, final_answer, tokenize

# Where each reasoning format puts the reasoning text (`think` and `none`: nowhere).
_REASONING_FIELDS = {
    "reasoning": ("reasoning",),
    "reasoning_content": ("reasoning_content",),
    "both": ("reasoning", "reasoning_content"),
    "think": (),
    "none": (),
}


class _BaseHandler(tornado.web.RequestHandler):
    """JSON helpers; errors Tornado raises itself are answered like FastAPI does."""

    state: SimulatorState

    def initialize(self, state: SimulatorState) -> None:
        self.state = state

    def write_json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", protocol.JSON_CONTENT_TYPE)
        self.finish(protocol.dumps(value))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", protocol.JSON_CONTENT_TYPE)
        reason = tornado.httputil.responses.get(status_code, "Error")
        self.finish(protocol.dumps({"detail": reason}))


class _NotFoundHandler(_BaseHandler):
    def prepare(self) -> None:
        raise tornado.web.HTTPError(404, reason="Not Found")


class _V1Handler(_BaseHandler):
    """Base of the `/v1` routes, protected by the API key when one is set."""

    def authorized(self) -> bool:
        key = self.state.settings.api_key
        return key is None or self.request.headers.get("Authorization") == f"Bearer {key}"

    def write_unauthorized(self) -> None:
        self.write_json({"error": "Unauthorized"}, 401)

    def set_default_headers(self) -> None:
        # Like vLLM's default `--allowed-origins '["*"]'`: a browser page may call /v1 itself.
        self.set_header("Access-Control-Allow-Origin", "*")

    def prepare(self) -> None:
        # The headers that give the dialect's server away (OpenAI's, LiteLLM's).
        for name, value in dialects.HEADERS.get(self.state.settings.dialect, {}).items():
            self.set_header(name, value)

    def options(self, *args: Any) -> None:
        """CORS preflight (not recorded: it is not a request for a completion)."""
        requested = self.request.headers.get("Access-Control-Request-Headers", "")
        self.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        self.set_header("Access-Control-Allow-Headers", requested or "Authorization, Content-Type")
        self.set_header("Access-Control-Max-Age", "600")
        self.set_status(204)
        self.finish()


class ModelsHandler(_V1Handler):
    """`GET /v1/models`."""

    def get(self) -> None:
        if not self.authorized():
            return self.write_unauthorized()
        settings = self.state.settings
        created = int(time.time())
        cards = [
            {"id": name, "object": "model", "created": created,
             "owned_by": dialects.OWNED_BY[settings.dialect],
             "root": name, "parent": None, "max_model_len": settings.context_length(name)}
            for name in settings.served_models
        ]
        if settings.dialect not in ("vllm", "sglang"):
            for card in cards:  # Only vLLM and SGLang list a model's context length.
                del card["max_model_len"]
        self.write_json({"object": "list", "data": cards})


@dataclass
class _Run:
    """One accepted completion being generated."""

    record: RequestRecord
    request: ChatRequest
    settings: SimulatorSettings
    tokens: List[str]
    #: The first `reasoning_count` tokens are reasoning, the others content.
    reasoning_count: int
    finish_reason: str
    fault: Optional[FaultRule]
    created: int
    reasoning_fields: Tuple[str, ...]
    counts_reasoning: bool
    #: Usage in every chunk: asked for, and the dialect's server honours it.
    continuous_usage: bool = False
    reasoning_sent: int = 0
    role_sent: bool = False

    def usage(self, completion_tokens: int, reasoning_tokens: int) -> Dict[str, Any]:
        return protocol.usage(self.request.prompt_tokens, completion_tokens,
                              reasoning_tokens if self.counts_reasoning else None)

    def chunk(self, delta: Optional[Dict[str, Any]], finish_reason: Optional[str] = None,
              usage: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        return protocol.chunk(self.record.id, self.created, self.request.model, delta,
                              finish_reason, usage)


class ChatCompletionsHandler(_V1Handler):
    """`POST /v1/chat/completions`, streamed or not, with fault injection.

    The client going away (detected by Tornado's close callback, even while idle)
    stops the generation at once, like vLLM aborting the request.
    """

    def initialize(self, state: SimulatorState) -> None:
        super().initialize(state)
        self._client_gone = False
        self._waiter: Optional[asyncio.Future[None]] = None
        self._record: Optional[RequestRecord] = None
        self._directed: Optional[str] = None

    def on_connection_close(self) -> None:
        self._client_gone = True
        if self._record is not None:
            self._record.mark_disconnected()
        _wake(self._waiter)

    async def post(self) -> None:
        settings = self.state.settings
        record = self._record = self.state.open_record(self._recorded_headers())
        if not self.authorized():
            return self._reject(record, 401, self.write_unauthorized)
        try:
            body = parse_body(self.request.body)
            record.describe(body, count_prompt_tokens(body.get("messages")))
            dialects.check_parameters(settings.dialect, body)
            request = validate(body, settings)
            # The extension's fuse and checklist prompts (fuse.py), recognised by their marker.
            self._directed = fuse.directed_answer(request.messages, body)
        except ApiError as error:
            return self._reject(record, error.status,
                                lambda error=error: self._write_api_error(error, settings))
        fault = self.state.take_fault()
        record.fault = fault.kind if fault else None
        if fault is not None and fault.kind == "http_error":
            return self._answer_http_fault(record, fault, settings)
        # A judge request (simulator/judge.py) gets its deterministic JSON judgement.
        judged = judge_requests.answer(body)
        await self._generate(self._new_run(record, request, settings, fault, judged))

    # -- accepted requests -------------------------------------------------------------

    def _new_run(self, record: RequestRecord, request: ChatRequest,
                 settings: SimulatorSettings, fault: Optional[FaultRule],
                 answer_text: Optional[str] = None) -> _Run:
        # Without a request seed, the arrival index makes every request's text differ.
        seed = request.seed if request.seed is not None else f"arrival-{record.index}"
        if answer_text is not None:  # a given answer, without reasoning (a judge request)
            tokens, reasoning = tokenize(answer_text), 0
        elif request.continue_final:
            tokens, reasoning = _continuation(settings, seed, request.messages), 0
        else:
            key = [settings.seed, seed, request.messages]
            # `[[final: a | b]]` in the prompt: a controlled short final answer (text.py).
            directed = final_answer(last_user_text(request.messages), record.index)
            if directed is None:
                directed = self._directed
            tokens, reasoning = completion_tokens(key, settings.reasoning_tokens,
                                                  settings.answer_tokens,
                                                  settings.reasoning_format,
                                                  directed if directed is not None
                                                  else settings.answer_text)
        fields = _REASONING_FIELDS[settings.reasoning_format]
        if settings.dialect != "vllm" and fields:
            fields = dialects.REASONING_FIELD[settings.dialect]
        return _Run(
            record=record, request=request, settings=settings,
            tokens=tokens[: request.max_tokens],
            reasoning_count=min(reasoning, request.max_tokens),
            finish_reason="length" if len(tokens) > request.max_tokens else "stop",
            fault=fault if fault is not None and fault.kind != "http_error" else None,
            created=int(time.time()), reasoning_fields=fields,
            counts_reasoning=bool(fields) and reasoning > 0,
            continuous_usage=request.continuous_usage
            and settings.dialect in dialects.CONTINUOUS_USAGE,
        )

    async def _generate(self, run: _Run) -> None:
        """Send the run's tokens on schedule, then its ending (or its fault)."""
        record = run.record
        record.status = 200
        if run.request.stream:
            self.set_header("Content-Type", protocol.SSE_CONTENT_TYPE)
            self.set_header("Cache-Control", "no-cache")
            if not await self._flush():
                return
        outcome = await self._send_tokens(run)
        if outcome == COMPLETED:
            await self._complete(run)
        elif outcome == ERROR:
            await self._fail(run)
        elif outcome == DROPPED:
            record.end(DROPPED)
            self.request.connection.stream.close()

    async def _send_tokens(self, run: _Run) -> str:
        """Emit tokens paced per stream; returns COMPLETED, ERROR, DROPPED or DISCONNECTED."""
        settings, fault, total = run.settings, run.fault, len(run.tokens)
        if await self._client_gone_within(settings.ttft_ms / 1000):
            return DISCONNECTED
        loop = asyncio.get_running_loop()
        engine = self.state.engines.for_rate(settings.tokens_per_second)
        segment = _Segment(self, run, start=loop.time(), sent=0, stop=total)
        while True:
            sent = segment.sent
            if fault is not None and sent >= fault.after_tokens:
                if fault.kind == "abort":
                    run.finish_reason = "abort"
                    return COMPLETED
                if fault.kind != "stall":
                    return ERROR if fault.kind == "error" else DROPPED
                stall = None if fault.stall_ms is None else fault.stall_ms / 1000
                if await self._client_gone_within(stall):
                    return DISCONNECTED
                fault, segment.start = None, loop.time() - sent / settings.tokens_per_second
            if sent == total:
                return COMPLETED
            segment.stop = total if fault is None else min(total, fault.after_tokens)
            # The events up to the stop leave on the engine's steps (engine.py); the segment
            # ends early when a write waits for a slow client: wait for it, then go on.
            self._waiter = waiter = engine.join(segment)
            try:
                await waiter
            finally:
                self._waiter = None
                engine.leave(waiter)
            if self._client_gone:
                return DISCONNECTED
            if segment.pending is not None:
                written, (start, end) = segment.pending
                segment.pending = None
                if not await self._written(written):
                    return DISCONNECTED
                segment.account(start, end)

    def _write_event(self, run: _Run, start: int, end: int) -> Optional["asyncio.Future[None]"]:
        """Write tokens `start:end` as one event (streaming) and flush it; returns the flush's
        future (None when not streaming: the tokens are only accounted for)."""
        if not run.request.stream:
            return None
        split = min(max(run.reasoning_count, start), end)
        reasoning = "".join(run.tokens[start:split])
        content = "".join(run.tokens[split:end])
        if not run.role_sent:
            self._write_role_chunk(run)
        delta = {name: None for name in dialects.delta_fields(run.settings.dialect)}
        delta.update({name: reasoning for name in run.reasoning_fields if reasoning})
        if content:
            delta["content"] = content
        usage = None
        if run.continuous_usage:
            usage = run.usage(run.record.completion_tokens_sent + end - start,
                              run.reasoning_sent + split - start)
        finish_reason = run.finish_reason if end == len(run.tokens) else None
        self.write(protocol.sse_event(run.chunk(delta, finish_reason, usage)))
        return self.flush()

    def _account(self, run: _Run, start: int, end: int) -> None:
        """Tokens `start:end` reached the client (or, not streaming, were generated)."""
        split = min(max(run.reasoning_count, start), end)
        run.reasoning_sent += split - start
        run.record.add_sent("".join(run.tokens[start:split]), "".join(run.tokens[split:end]),
                            end - start)
        if end == len(run.tokens):
            run.record.finish_reason = run.finish_reason

    def _write_role_chunk(self, run: _Run) -> None:
        usage = run.usage(0, 0) if run.continuous_usage else None
        self.write(protocol.sse_event(run.chunk({"role": "assistant", "content": ""},
                                                usage=usage)))
        run.role_sent = True

    async def _complete(self, run: _Run) -> None:
        """The normal ending: final usage and [DONE], or the whole non-streamed answer (after an
        `abort` fault, a last empty chunk says `finish_reason: "abort"` first)."""
        record = run.record
        if run.finish_reason == "abort" and run.request.stream:
            delta = {name: None for name in dialects.delta_fields(run.settings.dialect)}
            delta["content"] = ""
            self.write(protocol.sse_event(run.chunk(
                delta, "abort", run.usage(record.completion_tokens_sent, run.reasoning_sent)
                if run.continuous_usage else None)))
            record.finish_reason = "abort"
        usage = run.usage(record.completion_tokens_sent, run.reasoning_sent)
        if run.request.stream:
            if run.request.include_usage:
                value = run.chunk(None, usage=usage)
                if run.settings.dialect == "llamacpp":
                    value["timings"] = {"predicted_n": record.completion_tokens_sent}
                self.write(protocol.sse_event(value))
            self.write(protocol.DONE_EVENT)
        else:
            self.set_header("Content-Type", protocol.JSON_CONTENT_TYPE)
            self.write(protocol.dumps(self._completion_body(run, usage)))
        if await self._flush():
            record.end(COMPLETED)
            self.finish()

    def _completion_body(self, run: _Run, usage: Dict[str, Any]) -> Dict[str, Any]:
        message: Dict[str, Any] = {"role": "assistant", "content": run.record.content}
        for name in run.reasoning_fields:
            message[name] = run.record.reasoning or None
        message["tool_calls"] = []
        choice = {"index": 0, "message": message, "logprobs": None,
                  "finish_reason": run.finish_reason, "stop_reason": None}
        return {"id": run.record.id, "object": "chat.completion", "created": run.created,
                "model": run.request.model, "choices": [choice], "usage": usage,
                "prompt_logprobs": None}

    async def _fail(self, run: _Run) -> None:
        """An `error` fault: vLLM's mid-stream error event and [DONE], or a plain 500."""
        assert run.fault is not None
        message = run.fault.message or protocol.DEFAULT_ENGINE_ERROR
        error_format = run.settings.error_format
        dialect = run.settings.dialect
        if run.request.stream:
            self.write(dialects.stream_error(dialect, message, error_format))
        else:
            run.record.status = 500
            self.set_status(500)
            self.set_header("Content-Type", protocol.JSON_CONTENT_TYPE)
            self.write(protocol.dumps(dialects.error_body(dialect, 500, message, None,
                                                          error_format)))
        if await self._flush():
            run.record.end(ERROR)
            self.finish()

    # -- refused requests --------------------------------------------------------------

    def _reject(self, record: RequestRecord, status: int, write: Any) -> None:
        record.status = status
        record.end(REJECTED)
        write()

    def _write_api_error(self, error: ApiError, settings: SimulatorSettings) -> None:
        body = dialects.error_body(settings.dialect, error.status, error.message, error.param,
                                   settings.error_format, error.code)
        self.write_json(body, error.status)

    def _answer_http_fault(self, record: RequestRecord, fault: FaultRule,
                           settings: SimulatorSettings) -> None:
        record.status = fault.status
        record.end(ERROR)
        if fault.body == "html":
            self.set_status(fault.status)
            self.set_header("Content-Type", "text/html")
            self.finish(protocol.nginx_error_page(fault.status))
            return
        message = fault.message or protocol.error_type(fault.status)
        self.write_json(dialects.error_body(settings.dialect, fault.status, message, None,
                                            settings.error_format), fault.status)

    # -- connection helpers ------------------------------------------------------------

    def _recorded_headers(self) -> Dict[str, Optional[str]]:
        headers: Dict[str, Optional[str]] = {"authorization": None, "cookie": None}
        for name in self.request.headers:
            headers[name.lower()] = ", ".join(self.request.headers.get_list(name))
        return headers

    async def _flush(self) -> bool:
        """Flush written bytes; False (and the record marked) if the client is gone."""
        return await self._written(self.flush())

    async def _written(self, flushed: "asyncio.Future[None]") -> bool:
        """Wait for a flush; False (and the record marked) if the client is gone."""
        try:
            await flushed
        except StreamClosedError:
            self.on_connection_close()
            return False
        return True

    async def _client_gone_within(self, timeout: Optional[float]) -> bool:
        """Wait up to `timeout` seconds (forever if None); True as soon as the client leaves.

        A bare future and a timer, not `asyncio.wait_for`: this runs for every event of
        every stream, so it must stay cheap.
        """
        if not self._client_gone:
            loop = asyncio.get_running_loop()
            self._waiter = loop.create_future()
            timer = None if timeout is None else loop.call_later(timeout, _wake, self._waiter)
            try:
                await self._waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
        return self._client_gone


class _Segment:
    """A stream's events up to `stop`, written on its engine's steps (`engine.Step`).

    Events are due at `start + sent / tokens_per_second` of the loop's clock. A flush that
    does not complete at once (a client reading slowly) ends the segment with it `pending`:
    the handler awaits it and accounts for its tokens, as vLLM's server waits for its socket.
    """

    __slots__ = ("handler", "run", "start", "sent", "stop", "pending", "_rate", "_size")

    def __init__(self, handler: ChatCompletionsHandler, run: _Run, *, start: float, sent: int,
                 stop: int) -> None:
        self.handler, self.run = handler, run
        self.start, self.sent, self.stop = start, sent, stop
        self.pending: Optional[Tuple["asyncio.Future[None]", Tuple[int, int]]] = None
        self._rate = run.settings.tokens_per_second
        self._size = run.settings.tokens_per_event

    def __call__(self, now: float) -> bool:
        handler = self.handler
        while self.sent < self.stop and self.start + self.sent / self._rate <= now:
            if handler._client_gone:
                return True
            start, end = self.sent, min(self.sent + self._size, self.stop)
            flushed = handler._write_event(self.run, start, end)
            if flushed is not None and not flushed.done():
                self.pending = (flushed, (start, end))
                self.sent = end
                return True
            if flushed is not None and flushed.exception() is not None:
                error = flushed.exception()
                if not isinstance(error, StreamClosedError):
                    raise error
                handler.on_connection_close()
                return True
            self.account(start, end)
        return self.sent >= self.stop or handler._client_gone

    def account(self, start: int, end: int) -> None:
        self.handler._account(self.run, start, end)
        self.sent = max(self.sent, end)


def _continuation(settings: SimulatorSettings, seed: Any, messages: List[Any]) -> List[str]:
    """The tokens that continue the final (assistant) message, without reasoning: when that
    message begins the answer this seed gives to the messages before it (a response cut off
    by `max_tokens`), the rest of that answer, so that prefix + continuation is the whole
    answer; otherwise an answer of its own to all the messages."""
    prefix = final_message_text(messages)
    key = [settings.seed, seed, messages[:-1]]
    tokens, reasoning = completion_tokens(key, settings.reasoning_tokens,
                                          settings.answer_tokens, settings.reasoning_format,
                                          settings.answer_text)
    answer = tokens[reasoning:]
    text = ""
    for i, token in enumerate(answer):
        if text == prefix:
            return answer[i:]
        if len(text) > len(prefix):
            break
        text += token
    if text == prefix:
        return []
    tokens, _ = completion_tokens([settings.seed, seed, messages], 0, settings.answer_tokens,
                                  "none", settings.answer_text)
    return tokens


def _wake(waiter: Optional[asyncio.Future[None]]) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


class ConfigHandler(_BaseHandler):
    """`GET /simulator/config` (current settings), `POST` (merge a JSON object into them)."""

    def get(self) -> None:
        self.write_json(self.state.settings.to_dict())

    def post(self) -> None:
        try:
            changes = json.loads(self.request.body or b"{}")
            settings = self.state.configure(changes)
        except ValueError as error:  # invalid JSON or a SettingsError
            return self.write_json({"error": str(error)}, 400)
        self.write_json(settings.to_dict())


class ResetHandler(_BaseHandler):
    """`POST /simulator/reset`: start-up settings, empty record, fresh fault counters."""

    def post(self) -> None:
        self.state.reset()
        self.write_json(self.state.settings.to_dict())


class RequestsHandler(_BaseHandler):
    """`GET /simulator/requests`: the record, in arrival order."""

    def get(self) -> None:
        self.write_json([record.to_dict() for record in self.state.records])


def make_app(settings: Optional[SimulatorSettings] = None) -> tornado.web.Application:
    """The simulator as a Tornado application, starting from `settings` (defaults if None)."""
    state = SimulatorState(settings or SimulatorSettings())
    routes = [
        (r"/v1/models", ModelsHandler),
        (r"/v1/chat/completions", ChatCompletionsHandler),
        (r"/simulator/config", ConfigHandler),
        (r"/simulator/reset", ResetHandler),
        (r"/simulator/requests", RequestsHandler),
    ]
    return tornado.web.Application(
        [(path, handler, {"state": state}) for path, handler in routes],
        default_handler_class=_NotFoundHandler, default_handler_args={"state": state},
    )


def serve(
    settings: Union[Dict[str, Any], SimulatorSettings, None] = None,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_context: Optional[ssl.SSLContext] = None,
) -> Tuple[tornado.httpserver.HTTPServer, int]:
    """Start the simulator on the running asyncio loop; returns the server and its port.

    `settings` may be a JSON-like dict (validated, SettingsError if invalid);
    port 0 picks a free port; with `ssl_context` it serves HTTPS.
    """
    if not isinstance(settings, SimulatorSettings):
        settings = SimulatorSettings.from_dict(settings or {})
    server = tornado.httpserver.HTTPServer(make_app(settings), ssl_options=ssl_context)
    sockets = tornado.netutil.bind_sockets(port, host)
    server.add_sockets(sockets)
    return server, sockets[0].getsockname()[1]
