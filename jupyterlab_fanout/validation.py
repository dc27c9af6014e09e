"""Checks of what the browser sends on a batch socket, before any upstream request.

Each check returns the checked value or raises `FanoutError` (code `bad_request`,
`unknown_upstream` or `limit`); none of them changes any state. `build_body` makes the one
upstream request body a `start` may cause.
"""
from __future__ import annotations

import json
import re
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
    "max_completion_tokens",
    "chat_template",
    "continue_final_message",
    "add_generation_prompt",
)
#: Boolean keys of the request (vLLM's and SGLang's chat options; a null is dropped).
BOOLEAN_REQUEST_KEYS = ("continue_final_message", "add_generation_prompt")
#: Keys a message may have (nothing else is forwarded: a key another server reads as
#: media, e.g. Ollama's `images`, is refused by name).
ALLOWED_MESSAGE_KEYS = frozenset(
    {"role", "content", "name", "tool_calls", "tool_call_id", "reasoning", "reasoning_content"}
)
#: Content part types carrying text: the type and the key of its text.
TEXT_PARTS = ("text", "refusal")
#: Content part types carrying media (vLLM, llama.cpp, OpenAI). Any other type (image
#: embeddings, `image_pil`, ...) is refused whatever the upstream allows.
MEDIA_PARTS = ("image_url", "audio_url", "video_url", "input_audio", "file")
#: Keys of the object a media part carries, per type: which hold inline data and which
#: hold a URL or a reference the upstream resolves itself.
_MEDIA_FIELDS = {
    "image_url": {"url": "url", "detail": None},
    "audio_url": {"url": "url"},
    "video_url": {"url": "url"},
    "input_audio": {"data": "data", "format": None},
    "file": {"file_data": "data", "file_id": "url", "filename": None},
}
#: Names a `chat_template_kwargs` key may have; its value must be a JSON scalar.
TEMPLATE_KWARG_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
#: `chat_template_kwargs` keys refused: the template itself, and the parameters of the
#: tokenizer's own `apply_chat_template` that vLLM forwards from these kwargs.
RESERVED_TEMPLATE_KWARGS = frozenset({
    "chat_template", "tokenize", "tools", "documents", "conversation", "messages",
    "add_generation_prompt", "continue_final_message", "return_dict", "return_tensors",
    "return_assistant_tokens_mask", "tokenizer_kwargs", "padding", "truncation", "max_length",
})
#: Longest string value in `chat_template_kwargs`.
MAX_TEMPLATE_KWARG_LENGTH = 1000
#: Longest request-supplied chat template (only where `allow_chat_template`).
MAX_CHAT_TEMPLATE_LENGTH = 64 * 1024
#: Longest response id accepted (characters).
MAX_ID_LENGTH = 256
#: Deepest nesting of arrays and objects accepted in a `start` (a chat request needs about 6).
#: Deeper ones are refused before anything is built from them: Python's JSON encoder and
#: decoder recurse, and about a thousand levels exceed the interpreter's recursion limit.
MAX_JSON_DEPTH = 64

Lookup = Callable[[str], Optional[Upstream]]


def bad_request(message: str) -> FanoutError:
    return FanoutError("bad_request", 400, message)


def limit_error(name: str, value: int, what: str, status: int = 400) -> FanoutError:
    """An error naming the limit and its value."""
    return FanoutError("limit", status, f"{what}: over the limit {name} ({value})")


def parse_message(text: Union[str, bytes], max_message_bytes: int) -> dict[str, Any]:
    """One message from the browser as a dict whose `type` is 'start', 'stop', 'batch' or
    'attach'.

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
    except RecursionError:
        raise bad_request(f"message is nested more than {MAX_JSON_DEPTH} levels deep") from None
    if not isinstance(message, dict):
        raise bad_request("message must be a JSON object")
    if message.get("type") not in ("start", "stop", "batch", "attach"):
        raise bad_request("'type' must be 'start', 'stop', 'batch' or 'attach'")
    return message


def check_batch_message(message: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """The (id, prompt, options) of a `batch` message (what the store keeps of the batch)."""
    check_depth(message)
    batch_id = message.get("id")
    if not isinstance(batch_id, str) or not 0 < len(batch_id) <= MAX_ID_LENGTH:
        raise bad_request(f"batch 'id' must be a string of 1 to {MAX_ID_LENGTH} characters")
    prompt = message.get("prompt", "")
    if not isinstance(prompt, str):
        raise bad_request("batch 'prompt' must be a string")
    options = message.get("options", {})
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise bad_request("batch 'options' must be an object")
    if options.get("thread") is not None:
        # A follow-up's thread (followups.py), checked as the store will read it.
        from . import followups
        from .store import StoreError
        try:
            followups.check_thread(options["thread"])
        except StoreError as e:
            raise bad_request(f"batch {e.message}") from None
    try:
        (batch_id + prompt).encode("utf-8")
    except UnicodeEncodeError:
        raise bad_request("batch 'id' and 'prompt' must be valid Unicode") from None
    return batch_id, prompt, options


def check_new_id(response_id: Any, used_ids: set[str]) -> str:
    """The id of a `start`: a string of 1 to MAX_ID_LENGTH characters this batch never used."""
    if not isinstance(response_id, str) or not 0 < len(response_id) <= MAX_ID_LENGTH:
        raise bad_request(f"'id' must be a string of 1 to {MAX_ID_LENGTH} characters")
    try:
        response_id.encode("utf-8")  # the id of every binary record (docs/protocol.md)
    except UnicodeEncodeError:
        raise bad_request("'id' must be valid Unicode (it holds a lone surrogate)") from None
    if response_id in used_ids:
        raise bad_request(f"id {response_id!r} was already used")
    return response_id


def check_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse a decoded JSON value with arrays or objects nested more than `limit` deep.

    Iterative (a recursive walk would fail the way `json.dumps` does); linear in the number of
    arrays and objects, which `max_message_bytes` bounds.
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, (dict, list)):
                if depth >= limit:
                    raise bad_request(f"message is nested more than {limit} levels deep")
                stack.append((child, depth + 1))


def check_known_id(response_id: Any, used_ids: set[str]) -> str:
    """The id of a `stop`: one a `start` of this batch named (started or refused)."""
    if not isinstance(response_id, str) or response_id not in used_ids:
        raise bad_request("'stop' names no response of this batch")
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


def _short(value: Any) -> str:
    """A value for an error message: its repr, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _policy_error(where: str, what: str, option: str, upstream: Upstream) -> FanoutError:
    return bad_request(
        f"{where}: {what} not allowed on upstream {upstream.name!r} "
        f"(server option {option!r} of c.Fanout.upstreams)"
    )


def _media_value(part: dict[str, Any], kind: str, where: str) -> list[tuple[str, str]]:
    """The (key, kind of value) pairs of one media part: kind 'data' (inline) or 'url'."""
    value = part[kind] if kind in part else None
    if isinstance(value, str) and kind in ("image_url", "audio_url", "video_url"):
        value = {"url": value}
    if not isinstance(value, dict):
        raise bad_request(f"{where}.{kind} must be a JSON object")
    fields = _MEDIA_FIELDS[kind]
    found = []
    for key, item in value.items():
        if key not in fields:
            raise bad_request(f"{where}.{kind}.{_short(key)[:40]} is not accepted")
        role = fields[key]
        if role is None:
            if item is not None and not isinstance(item, str):
                raise bad_request(f"{where}.{kind}.{key} must be a string")
            continue
        if not isinstance(item, str):
            raise bad_request(f"{where}.{kind}.{key} must be a string")
        # A data: URL is inline media; any other URL (http, file, ...) the upstream fetches.
        if role == "url" and key == "url" and item.lstrip()[:5].lower() == "data:":
            role = "data"
        found.append((f"{where}.{kind}.{key}", role))
    if not found:
        raise bad_request(f"{where}.{kind} carries no media")
    return found


def check_content_part(part: Any, where: str, upstream: Upstream) -> None:
    """One part of a message's list content: text, or media the upstream allows."""
    if not isinstance(part, dict):
        raise bad_request(f"{where} must be a JSON object")
    kind = part.get("type")
    if kind in TEXT_PARTS:
        for key in part:
            if key not in ("type", kind):
                raise bad_request(f"{where}.{_short(key)[:40]} is not accepted in a {kind} part")
        if not isinstance(part.get(kind), str):
            raise bad_request(f"{where}.{kind} must be a string")
        return
    if kind not in MEDIA_PARTS:
        raise bad_request(
            f"{where}.type {_short(kind)} is not accepted "
            f"(accepted: {', '.join(TEXT_PARTS + MEDIA_PARTS)})"
        )
    for key in part:
        if key not in ("type", kind):
            raise bad_request(f"{where}.{_short(key)[:40]} is not accepted in a {kind} part")
    spec = upstream.spec
    for field_name, role in _media_value(part, kind, where):
        if role == "url" and not spec.allow_media_urls:
            raise _policy_error(field_name, "media URLs (fetched by the upstream) are",
                                "allow_media_urls", upstream)
        if role == "data" and not (spec.allow_media_data or spec.allow_media_urls):
            raise _policy_error(field_name, "inline media is", "allow_media_data", upstream)


def check_messages(messages: Any, upstream: Upstream) -> None:
    """`messages`: a non-empty list of objects with allow-listed keys, whose content is a
    string, null or a list of parts (`check_content_part`)."""
    if not isinstance(messages, list) or not messages:
        raise bad_request("'messages' must be a non-empty list")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise bad_request("each message must be a JSON object")
        for key in message:
            if key not in ALLOWED_MESSAGE_KEYS:
                raise bad_request(f"messages[{i}].{_short(key)[:40]} is not accepted")
        content = message.get("content")
        if content is None or isinstance(content, str):
            continue
        if not isinstance(content, list):
            raise bad_request(f"messages[{i}].content must be a string or a list of parts")
        for j, part in enumerate(content):
            check_content_part(part, f"messages[{i}].content[{j}]", upstream)


def check_chat_template(body: dict[str, Any], upstream: Upstream) -> None:
    """`chat_template` and `chat_template_kwargs`: a request's own template only where the
    upstream allows it; kwargs are named template variables with scalar values."""
    allowed = upstream.spec.allow_chat_template
    template = body.get("chat_template")
    if template is None:
        body.pop("chat_template", None)
    elif not allowed:
        raise _policy_error("chat_template", "request-supplied chat templates are",
                            "allow_chat_template", upstream)
    elif not isinstance(template, str) or len(template) > MAX_CHAT_TEMPLATE_LENGTH:
        raise bad_request(
            f"'chat_template' must be a string of at most {MAX_CHAT_TEMPLATE_LENGTH} characters"
        )
    kwargs = body.get("chat_template_kwargs")
    if kwargs is None:
        body.pop("chat_template_kwargs", None)
        return
    if not isinstance(kwargs, dict):
        raise bad_request("'chat_template_kwargs' must be a JSON object")
    for key, value in kwargs.items():
        where = f"chat_template_kwargs.{_short(key)[:40]}"
        if key == "chat_template":
            if not allowed:
                raise _policy_error(where, "request-supplied chat templates are",
                                    "allow_chat_template", upstream)
            if not isinstance(value, str) or len(value) > MAX_CHAT_TEMPLATE_LENGTH:
                raise bad_request(f"{where} must be a string of at most "
                                  f"{MAX_CHAT_TEMPLATE_LENGTH} characters")
            continue
        if not TEMPLATE_KWARG_RE.match(key) or key in RESERVED_TEMPLATE_KWARGS:
            raise bad_request(f"{where} is not accepted (a template variable's name)")
        if isinstance(value, str):
            if len(value) > MAX_TEMPLATE_KWARG_LENGTH:
                raise bad_request(
                    f"{where} must be at most {MAX_TEMPLATE_KWARG_LENGTH} characters"
                )
        elif value is not None and not isinstance(value, (bool, int, float)):
            raise bad_request(f"{where} must be a string, number, boolean or null")


def check_continuation(body: dict[str, Any]) -> None:
    """`continue_final_message` / `add_generation_prompt` (booleans, null dropped): continuing
    needs a last message from the assistant and no generation prompt, as vLLM requires."""
    for key in BOOLEAN_REQUEST_KEYS:
        if key in body and body[key] is None:
            del body[key]
        elif key in body and not isinstance(body[key], bool):
            raise bad_request(f"'{key}' must be true or false")
    if body.get("continue_final_message"):
        if body.get("add_generation_prompt", True):
            raise bad_request("'continue_final_message' needs 'add_generation_prompt': false")
        messages = body.get("messages")
        last = messages[-1] if isinstance(messages, list) and messages else None
        if not isinstance(last, dict) or last.get("role") != "assistant":
            raise bad_request(
                "'continue_final_message' needs the last message to be the assistant's"
            )


def _token_limit(body: dict[str, Any], key: str, max_tokens_limit: int) -> Optional[int]:
    """The request's `max_tokens` or `max_completion_tokens` (None if absent or null)."""
    value = body.get(key)
    if value is None:
        body.pop(key, None)
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise bad_request(f"'{key}' must be a positive integer")
    if value > max_tokens_limit:
        raise limit_error("max_tokens_limit", max_tokens_limit, f"{key} {value}")
    return value


def build_body(
    request: Any,
    upstream: Upstream,
    max_tokens_limit: int,
    default_max_tokens: Optional[int] = None,
) -> dict[str, Any]:
    """The upstream request body for one response, from the browser's `request`.

    Copies only ALLOWED_REQUEST_KEYS, fills the upstream's default model, checks the
    model allow-list, the messages (media only where the upstream allows it), the chat
    template options and the token limits. `max_tokens` is always sent: the request's, else
    `max_completion_tokens`, else `default_max_tokens` (capped at `max_tokens_limit`; None:
    `max_tokens_limit`). The upstream's dialect shapes it further when the request leaves
    (`dialects.Dialect.shape`: which of `n`, `continuous_usage_stats`,
    `chat_template_kwargs` go, and the one name the token limit goes under).
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
    check_messages(body.get("messages"), upstream)
    check_chat_template(body, upstream)
    check_continuation(body)
    max_tokens = _token_limit(body, "max_tokens", max_tokens_limit)
    completion = _token_limit(body, "max_completion_tokens", max_tokens_limit)
    if max_tokens is None:
        default = max_tokens_limit if default_max_tokens is None else default_max_tokens
        body["max_tokens"] = completion or min(default, max_tokens_limit)
    body["stream"] = True
    body["n"] = 1
    body["stream_options"] = {"include_usage": True, "continuous_usage_stats": True}
    return body
