"""vLLM's wire shapes: chunks, usage, error bodies and SSE framing.

JSON is compact and UTF-8 (not \\u-escaped), like pydantic's `model_dump_json`; optional
fields are left out rather than sent as null, like vLLM's `exclude_unset`.
"""
from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any, Dict, List, Optional

DONE_EVENT = b"data: [DONE]\n\n"
SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
JSON_CONTENT_TYPE = "application/json"
DEFAULT_ENGINE_ERROR = (
    "EngineCore encountered an issue. See stack trace (above) for the root cause."
)

_ERROR_TYPES = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    429: "RateLimitError",
    500: "InternalServerError",
}

JSON = Dict[str, Any]


class ApiError(Exception):
    """A request vLLM would refuse before streaming: status, message and the faulty param."""

    def __init__(self, status: int, message: str, param: Optional[str] = None,
                 code: Optional[str] = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        #: A textual error code (OpenAI's `unknown_parameter` …); vLLM's is the status.
        self.code = code


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, as vLLM sends it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sse_event(value: Any) -> bytes:
    """One server-sent event carrying `value` as JSON."""
    return b"data: " + dumps(value) + b"\n\n"


def error_type(status: int) -> str:
    """vLLM/OpenAI's error type name for an HTTP status, e.g. 502 -> "BadGatewayError"."""
    if status in _ERROR_TYPES:
        return _ERROR_TYPES[status]
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return "APIError"
    return "".join(word.capitalize() for word in phrase.replace("-", " ").split()) + "Error"


def error_body(status: int, message: str, param: Optional[str], error_format: str) -> JSON:
    """vLLM's JSON error body: `current` (since v0.10.1) or `legacy` shape.

    The legacy shape always carried `param: null`.
    """
    if error_format == "legacy":
        return {"object": "error", "message": message, "type": error_type(status),
                "param": None, "code": status}
    return {"error": {"message": message, "type": error_type(status), "param": param,
                      "code": status}}


def stream_error(message: str, error_format: str) -> JSON:
    """The event vLLM sends when generation fails after the stream began."""
    body = error_body(500, message, None, error_format)
    return body if error_format == "current" else {"error": body}


def nginx_error_page(status: int) -> str:
    """An HTML error page like the ones nginx answers when its upstream fails."""
    try:
        title = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        title = str(status)
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )


def usage(prompt_tokens: int, completion_tokens: int, reasoning_tokens: Optional[int]) -> JSON:
    """A usage object; `completion_tokens_details` only when a reasoning parser counts."""
    value: JSON = {
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "completion_tokens": completion_tokens,
    }
    if reasoning_tokens is not None:
        value["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    return value


def chunk(
    completion_id: str,
    created: int,
    model: str,
    delta: Optional[JSON],
    finish_reason: Optional[str] = None,
    usage_value: Optional[JSON] = None,
) -> JSON:
    """A `chat.completion.chunk`; `delta` None makes the usage-only chunk (`choices: []`)."""
    choices: List[JSON] = []
    if delta is not None:
        choice: JSON = {"index": 0, "delta": delta, "logprobs": None,
                        "finish_reason": finish_reason}
        if finish_reason is not None:
            choice["stop_reason"] = None
        choices.append(choice)
    value: JSON = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                   "model": model, "choices": choices}
    if usage_value is not None:
        value["usage"] = usage_value
    return value


def max_tokens_too_large(max_tokens: int, max_model_len: int, prompt_tokens: int) -> ApiError:
    """vLLM's 400 for a `max_tokens` that does not fit the context."""
    return ApiError(
        400,
        f"'max_tokens' or 'max_completion_tokens' is too large: {max_tokens}. "
        f"This model's maximum context length is {max_model_len} tokens and your request "
        f"has {prompt_tokens} input tokens "
        f"({max_tokens} > {max_model_len} - {prompt_tokens}).",
        "max_tokens",
    )


def prompt_too_long(max_model_len: int, prompt_tokens: int) -> ApiError:
    """vLLM's 400 for a prompt that alone fills the context."""
    return ApiError(
        400,
        f"This model's maximum context length is {max_model_len} tokens. However, your "
        f"request has {prompt_tokens} input tokens. Please reduce the length of the input "
        "messages.",
        "messages",
    )


def model_not_found(model: str) -> ApiError:
    """vLLM's 404 for a model it does not serve."""
    return ApiError(404, f"The model `{model}` does not exist.", "model")
