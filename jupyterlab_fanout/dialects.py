"""Upstream dialects: what each kind of OpenAI-compatible server is sent, and how its errors
are read (docs/dialects.md).

A dialect decides three things, and nothing else differs between upstreams:

- which request options go upstream (`Dialect.shape`): `stream_options.continuous_usage_stats`
  only where the server knows it, `max_completion_tokens` instead of `max_tokens` for OpenAI,
  `n` only where the server has it, `chat_template_kwargs` only where it is understood;
- how an error body is read (`read_error`): the upstream's own message, type and code, with
  placeholders such as LiteLLM's `"None"` dropped (the same reader serves every dialect: the
  shapes do not conflict);
- whether the relayed stream needs rewriting before the browser reads it
  (`Dialect.rewriter`): llama.cpp's non-standard `error:` SSE field and LiteLLM's
  placeholder-laden error events become a standard `data: {"error": …}` event. For every
  other dialect the bytes go through untouched (no per-chunk cost).

`auto` (the default) detects the dialect from the upstream's `GET /models` answer
(`detect`): once per upstream, cached; an explicit `dialect` always wins.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

#: Every dialect, in the order the docs list them.
DIALECT_NAMES = ("vllm", "sglang", "llamacpp", "ollama", "openai", "litellm", "generic")
#: Values the `dialect` key of an upstream may take.
CONFIG_VALUES = ("auto", *DIALECT_NAMES)

#: Values some servers put where a type or code is absent (LiteLLM writes Python's `str(None)`).
PLACEHOLDERS = frozenset({"", "none", "null", "nil", "undefined"})
#: Longest line of an event that the rewriter holds to rewrite; a longer one passes unchanged.
MAX_HELD_LINE = 256 * 1024


@dataclass(frozen=True)
class Dialect:
    """What one kind of server is sent and how its stream is read."""

    name: str
    #: `stream_options.continuous_usage_stats`: usage in every chunk (vLLM, SGLang).
    continuous_usage: bool = False
    #: The name of the token limit: `max_tokens`, or `max_completion_tokens` (OpenAI).
    max_tokens_key: str = "max_tokens"
    #: Send `n: 1` (servers whose request has an `n`); elsewhere it is left out (1 is the default).
    send_n: bool = True
    #: Pass `chat_template_kwargs` on when the browser set it (servers that apply chat templates).
    chat_template_kwargs: bool = True
    #: Pass `continue_final_message` / `add_generation_prompt` on (vLLM, SGLang); elsewhere
    #: they are dropped and a last assistant message is left for the server to read (llama.cpp
    #: continues it; others may answer it anew).
    continue_final: bool = False
    #: Rewrite llama.cpp's `error: {json}` SSE field into `data: {"error": {json}}`.
    error_field: bool = False
    #: Rewrite `data: {"error": …}` events, dropping placeholder types and codes (LiteLLM).
    error_placeholders: bool = False
    #: Takes `response_format: {"type": "json_schema", "json_schema": {name, schema, strict}}`
    #: (vLLM, SGLang, OpenAI, llama.cpp's server): structured output for the judge. Elsewhere
    #: (Ollama, LiteLLM, generic) it is dropped and the JSON is asked for by instructions only.
    json_schema: bool = False

    def shape(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The upstream request body: the checked browser `request` (validation.build_body),
        with this dialect's streaming options."""
        out = dict(body)
        if not self.chat_template_kwargs:
            out.pop("chat_template_kwargs", None)
        if not self.continue_final:
            out.pop("continue_final_message", None)
            out.pop("add_generation_prompt", None)
        # One token limit, under the name this server reads: the smaller of the two when the
        # browser gave both (validation checked each against max_tokens_limit).
        limits = [v for v in (out.pop("max_tokens", None), out.pop("max_completion_tokens", None))
                  if v is not None]
        if limits:
            out[self.max_tokens_key] = min(limits)
        out["stream"] = True
        if self.send_n:
            out["n"] = 1
        else:
            out.pop("n", None)
        options: dict[str, Any] = {"include_usage": True}
        if self.continuous_usage:
            options["continuous_usage_stats"] = True
        out["stream_options"] = options
        return out

    def shape_once(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A request body for one non-streamed completion (the judge): the token limit and `n`
        as `shape` sends them, `stream: false`, no stream options, and `response_format` only
        where the server takes it."""
        out = self.shape(body)
        out["stream"] = False
        out.pop("stream_options", None)
        if not self.json_schema:
            out.pop("response_format", None)
        return out

    def encode(self, body: Mapping[str, Any]) -> bytes:
        """`shape(body)` as the JSON bytes of the request."""
        return json.dumps(self.shape(body)).encode("utf-8")

    def rewriter(self) -> Optional[StreamRewriter]:
        """A rewriter for one response's stream, or None when the bytes go through as they are."""
        if self.error_field or self.error_placeholders:
            return StreamRewriter(self.error_field, self.error_placeholders)
        return None


DIALECTS: dict[str, Dialect] = {
    d.name: d
    for d in (
        Dialect("vllm", continuous_usage=True, continue_final=True, json_schema=True),
        Dialect("sglang", continuous_usage=True, continue_final=True, json_schema=True),
        Dialect("llamacpp", send_n=False, error_field=True, json_schema=True),
        Dialect("ollama", send_n=False, chat_template_kwargs=False),
        Dialect("openai", max_tokens_key="max_completion_tokens", chat_template_kwargs=False,
                json_schema=True),
        Dialect("litellm", error_placeholders=True),
        Dialect("generic", send_n=False),
    )
}
GENERIC = DIALECTS["generic"]


def get(name: str) -> Dialect:
    return DIALECTS[name]


# ------------------------------------------------------------------ detection


#: `owned_by` of `GET /models` entries, as each server writes it.
_OWNED_BY = {"vllm": "vllm", "sglang": "sglang", "llamacpp": "llamacpp", "llama.cpp": "llamacpp",
             "ollama": "ollama", "library": "ollama"}


def detect(base_url: str, headers: Mapping[str, str], raw: bytes) -> Dialect:
    """The dialect of an upstream from its `GET /models` answer (headers lower-cased).

    In order: LiteLLM's `x-litellm-*` headers (LiteLLM lists models as `owned_by: "openai"`);
    OpenAI's host or its `openai-*` headers; the `server` header (`llama.cpp`, `ollama`);
    `owned_by` of the first model (`vllm`, `sglang`, `llamacpp`, Ollama's `library`);
    else `generic`.
    """
    if any(name.startswith("x-litellm-") for name in headers):
        return DIALECTS["litellm"]
    host = (urlsplit(base_url).hostname or "").lower()
    if host == "api.openai.com" or "openai-version" in headers or "openai-organization" in headers:
        return DIALECTS["openai"]
    server = headers.get("server", "").lower()
    if "llama.cpp" in server or "llama-server" in server:
        return DIALECTS["llamacpp"]
    if server.startswith("ollama"):
        return DIALECTS["ollama"]
    try:
        data = json.loads(raw.decode("utf-8")).get("data")
        owned_by = data[0].get("owned_by") if data else None
    except (UnicodeDecodeError, ValueError, AttributeError, TypeError, KeyError, IndexError):
        owned_by = None
    if isinstance(owned_by, str) and owned_by.lower() in _OWNED_BY:
        return DIALECTS[_OWNED_BY[owned_by.lower()]]
    return GENERIC


# ------------------------------------------------------------------ errors


def _meaningful(value: Any) -> Any:
    """`value` unless it is a placeholder (None, "", "None", "null" …)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().lower() in PLACEHOLDERS:
        return None
    return value


@dataclass(frozen=True)
class UpstreamError:
    """An upstream's own error: message, type and code as it wrote them (placeholders dropped).

    A numeric code (vLLM, SGLang and llama.cpp repeat the HTTP status there; LiteLLM as a
    string) is the status, not a code: it is kept in `status`.
    """

    message: Optional[str]
    type: Optional[str]
    code: Optional[str]
    status: Optional[int]

    @property
    def kind(self) -> Optional[str]:
        """What the browser shows as the error's code: the upstream's code, else its type."""
        return self.code or self.type


def read_error(obj: Any) -> Optional[UpstreamError]:
    """The error a parsed JSON body carries, or None when it is not an error:
    `{"error": {"message", "type", "code", …}}` (vLLM ≥ 0.10.1, OpenAI, llama.cpp, Ollama,
    LiteLLM), `{"object": "error", "message", …}` (older vLLM, SGLang), `{"error": "text"}`,
    `{"detail": "text"}` (FastAPI)."""
    if not isinstance(obj, dict):
        return None
    err = obj.get("error")
    if isinstance(err, dict):
        body = err
    elif isinstance(err, str):
        body = {"message": err}
    elif obj.get("object") == "error":
        body = obj
    elif isinstance(obj.get("detail"), str):
        body = {"message": obj["detail"]}
    else:
        return None
    message = body.get("message")
    if not isinstance(message, str) or not message:
        message = obj.get("message") if isinstance(obj.get("message"), str) else None
    kind = _meaningful(body.get("type"))
    code = _meaningful(body.get("code"))
    status: Optional[int] = None
    if isinstance(code, int) or (isinstance(code, str) and code.isdigit() and len(code) == 3):
        status = int(code)
        code = None
    return UpstreamError(
        message=message or None,
        type=kind if isinstance(kind, str) else None,
        code=str(code) if isinstance(code, (str, float)) else None,
        status=status,
    )


def parse_error_body(body: bytes) -> Optional[UpstreamError]:
    """`read_error` of a non-2xx body; None when it is not JSON."""
    try:
        obj = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return read_error(obj)


def error_event(error: UpstreamError, fallback: str) -> bytes:
    """A standard SSE error event (`data: {"error": …}`), as the browser reads it."""
    value: dict[str, Any] = {"message": error.message or fallback}
    if error.type:
        value["type"] = error.type
    if error.code:
        value["code"] = error.code
    elif error.status is not None:
        value["code"] = error.status
    return b"data: " + json.dumps({"error": value}, ensure_ascii=False).encode("utf-8") + b"\n"


# ------------------------------------------------------------------ stream rewriting


_ERROR_FIELD = b"error:"
_DATA_ERROR = (b'data: {"error"', b'data:{"error"')


class StreamRewriter:
    """Rewrites the error lines of one response's SSE body, passing every other byte on at once.

    Only a line that begins like one of the markers is held until its end (bounded by
    MAX_HELD_LINE, beyond which it passes unchanged): the rest goes through as it arrives. The
    browser cannot act on a line before its end anyway, so holding one delays nothing it shows.
    """

    def __init__(self, error_field: bool, error_placeholders: bool):
        markers = []
        if error_field:
            markers.append(_ERROR_FIELD)
        if error_placeholders:
            markers.extend(_DATA_ERROR)
        self._markers = tuple(markers)
        self._held = b""
        #: True when the bytes passed on so far end at the start of a line.
        self._line_start = True

    def feed(self, data: bytes) -> bytes:
        """The bytes to pass on now (may be empty while a marked line is incomplete)."""
        if self._line_start and not self._held and data.endswith(b"\n") \
                and b"error" not in data:
            return data  # whole lines, none of them marked: the usual chunk, one scan
        if self._held:
            data = self._held + data
            self._held = b""
        out = bytearray()
        at, n = 0, len(data)
        if not self._line_start:
            # The rest of a line already passed on goes on too.
            end = _line_end(data, 0)
            if end < 0:
                return data
            out += data[:end]
            at = end
            self._line_start = True
        while at < n:
            end = _line_end(data, at)
            marked = self._marked(data, at, n if end < 0 else end)
            if end < 0:
                if marked is None or (marked and n - at > MAX_HELD_LINE):
                    out += data[at:]
                    self._line_start = False
                else:  # a marked line, or too short to tell: wait for its end
                    self._held = data[at:]
                return bytes(out)
            line = data[at:end]
            out += self._rewrite(line) if marked else line
            at = end
        return bytes(out)

    def flush(self) -> bytes:
        """At EOF: whatever is held, rewritten if it is a whole marked line."""
        held, self._held = self._held, b""
        if held and self._marked(held, 0, len(held)):
            return self._rewrite(held)
        return held

    def _marked(self, data: bytes, start: int, end: int) -> Optional[bool]:
        """True: the line begins with a marker; None: it cannot; False: too short to tell."""
        head = data[start:min(end, start + 16)]
        for marker in self._markers:
            if head.startswith(marker):
                return True
        for marker in self._markers:
            if end - start < len(marker) and marker.startswith(head):
                return False
        return None

    def _rewrite(self, line: bytes) -> bytes:
        """One whole marked line (with its line break) as a standard error event line."""
        body = line.rstrip(b"\r\n")
        ending = line[len(body):]
        if body.startswith(_ERROR_FIELD):
            payload = body[len(_ERROR_FIELD):]
        else:
            payload = body[body.index(b":") + 1:]
        try:
            obj = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            obj = None
        if body.startswith(_ERROR_FIELD):
            error = read_error({"error": obj}) if isinstance(obj, dict) else None
            if error is None:
                text = payload.decode("utf-8", "replace").strip()
                error = UpstreamError(text[:4000] or None, None, None, None)
        else:
            error = read_error(obj)
            if error is None:
                return line
        event = error_event(error, "The server reported an error")
        return event[:-1] + (ending or b"\n")


def _line_end(data: bytes, start: int) -> int:
    """Index just past the first line break at or after `start` (LF, CRLF or CR); -1 if none."""
    lf = data.find(b"\n", start)
    cr = data.find(b"\r", start, lf if lf >= 0 else len(data))
    if cr >= 0:
        if cr + 1 < len(data) and data[cr + 1:cr + 2] == b"\n":
            return cr + 2
        if cr + 1 == len(data):
            return -1  # a CR at the end may be the start of CRLF
        return cr + 1
    return lf + 1 if lf >= 0 else -1
