"""Checks of what the browser sends on a batch socket, before any upstream request.

Each check returns the checked value or raises `FanoutError` (code `bad_request`,
`unknown_upstream` or `limit`); none of them changes any state. `build_body` makes the one
upstream request body a `start` may cause.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Optional, Union

from .errors import FanoutError
from .upstream import Upstream

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

Lookup = Callable[[str], Optional[Upstream]]


def bad_request(message: str) -> FanoutError:
    return FanoutError("bad_request", 400, message)


def limit_error(name: str, value: int, what: str, status: int = 400) -> FanoutError:
    """An error naming the limit and its value."""
    return FanoutError("limit", status, f"{what}: over the limit {name} ({value})")


def parse_message(text: Union[str, bytes], max_message_bytes: int) -> dict[str, Any]:
    """One message from the browser as a dict whose `type` is 'start' or 'stop'.

    A message over `max_message_bytes` is refused unread (Tornado already closed the socket
    above twice the limit); binary messages are not accepted.
    """
    size = len(text.encode("utf-8") if isinstance(text, str) else text)
    if size > max_message_bytes:
        raise limit_error("max_message_bytes", max_message_bytes, f"message of {size} bytes", 413)
    if isinstance(text, bytes):
        raise bad_request("binary messages are not accepted")
    try:
        message = json.loads(text)
    except ValueError:
        raise bad_request("message is not valid JSON") from None
    if not isinstance(message, dict):
        raise bad_request("message must be a JSON object")
    if message.get("type") not in ("start", "stop"):
        raise bad_request("'type' must be 'start' or 'stop'")
    return message


def check_new_id(response_id: Any, used_ids: set[str]) -> str:
    """The id of a `start`: a string of 1 to MAX_ID_LENGTH characters this socket never used."""
    if not isinstance(response_id, str) or not 0 < len(response_id) <= MAX_ID_LENGTH:
        raise bad_request(f"'id' must be a string of 1 to {MAX_ID_LENGTH} characters")
    if response_id in used_ids:
        raise bad_request(f"id {response_id!r} was already used")
    return response_id


def check_known_id(response_id: Any, used_ids: set[str]) -> str:
    """The id of a `stop`: one a `start` of this socket named (started or refused)."""
    if not isinstance(response_id, str) or response_id not in used_ids:
        raise bad_request("'stop' names no response of this socket")
    return response_id


def check_upstream(name: Any, lookup: Lookup) -> Upstream:
    """The configured upstream a `start` names (absent or empty: the default one)."""
    if name is None:
        name = ""
    if not isinstance(name, str):
        raise bad_request("'upstream' must be the name of a configured upstream")
    upstream = lookup(name)
    if upstream is None:
        raise FanoutError(
            "unknown_upstream", 404, f"no upstream named {name[:100]!r} is configured"
        )
    return upstream


def check_batch_size(started: int, limit: int) -> None:
    """A batch may start at most `max_responses_per_batch` responses over its lifetime."""
    if started >= limit:
        raise limit_error("max_responses_per_batch", limit, f"response {started + 1} of this batch")


def build_body(request: Any, upstream: Upstream, max_tokens_limit: int) -> dict[str, Any]:
    """The upstream request body for one response, from the browser's `request`.

    Copies only ALLOWED_REQUEST_KEYS, fills the upstream's default model, checks the
    model allow-list and `max_tokens`, and asks for one streamed choice with usage. The
    upstream's dialect shapes it further when the request leaves (`dialects.Dialect.shape`:
    which of `n`, `continuous_usage_stats`, `chat_template_kwargs` go, and the name of the
    token limit).
    """
    if not isinstance(request, dict):
        raise bad_request("'request' must be a JSON object")
    body = {k: request[k] for k in ALLOWED_REQUEST_KEYS if k in request}
    model = body.get("model")
    if model is None or model == "":
        model = upstream.spec.default_model
    if model is None:
        body.pop("model", None)
    elif not isinstance(model, str):
        raise bad_request("'model' must be a string")
    else:
        allowed = upstream.spec.models
        if allowed and model not in allowed:
            raise bad_request(
                f"model {model[:200]!r} is not allowed on upstream {upstream.name!r} "
                f"(allowed: {', '.join(allowed)})"
            )
        body["model"] = model
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("'messages' must be a non-empty list")
    if not all(isinstance(m, dict) for m in messages):
        raise bad_request("each message must be a JSON object")
    if "max_tokens" in body:
        max_tokens = body["max_tokens"]
        if max_tokens is not None:
            if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
                raise bad_request("'max_tokens' must be a positive integer")
            if max_tokens > max_tokens_limit:
                raise limit_error("max_tokens_limit", max_tokens_limit, f"max_tokens {max_tokens}")
    body["stream"] = True
    body["n"] = 1
    body["stream_options"] = {"include_usage": True, "continuous_usage_stats": True}
    return body
