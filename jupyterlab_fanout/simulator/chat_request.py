"""Parsing and validating `POST /v1/chat/completions` bodies the way vLLM does."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from .protocol import ApiError, max_tokens_too_large, model_not_found, prompt_too_long
from .settings import SimulatorSettings

TOKENS_PER_MESSAGE = 4


@dataclass(frozen=True)
class ChatRequest:
    """A validated chat completion request (only what the simulator uses)."""

    model: str
    messages: List[Dict[str, Any]]
    stream: bool
    max_tokens: int  # effective: the request's, else what is left of the context
    seed: Optional[int]
    prompt_tokens: int
    include_usage: bool
    continuous_usage: bool
    #: `continue_final_message`: the last message (the assistant's) is continued, not answered.
    continue_final: bool = False


def parse_body(raw: bytes) -> Dict[str, Any]:
    """The JSON object of a request body, or a 400."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ApiError(400, f"Invalid JSON body: {error}") from error
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


def count_prompt_tokens(messages: Any) -> int:
    """A rough, deterministic prompt size: whitespace words plus 4 per message."""
    if not isinstance(messages, list):
        return 0
    return sum(TOKENS_PER_MESSAGE + len(_message_text(m).split()) for m in messages)


def validate(body: Dict[str, Any], settings: SimulatorSettings) -> ChatRequest:
    """Check a body like vLLM (schema, model, context length); raises ApiError."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages
    ):
        raise ApiError(400, "'messages' must be a non-empty list of objects with a 'role'.",
                       "messages")
    stream = _optional_type(body, "stream", bool) or False
    seed = _optional_type(body, "seed", int)
    n = _optional_type(body, "n", int)
    if n is not None and n != 1:
        raise ApiError(400, f"The simulator supports only n = 1 (one request per response); "
                            f"got n = {n}.", "n")
    options = _optional_type(body, "stream_options", dict)
    if options is not None and not stream:
        raise ApiError(400, "Stream options can only be defined when `stream=True`.",
                       "stream_options")
    model = _optional_type(body, "model", str) or settings.model
    if model not in settings.served_models:
        raise model_not_found(model)
    prompt_tokens = count_prompt_tokens(messages)
    max_model_len = settings.context_length(model)
    if prompt_tokens >= max_model_len:
        raise prompt_too_long(max_model_len, prompt_tokens)
    max_tokens = _max_tokens(body, max_model_len, prompt_tokens)
    continue_final = _continue_final(body, messages)
    options = options or {}
    include_usage = options.get("include_usage") is True
    return ChatRequest(
        model=model, messages=messages, stream=stream, max_tokens=max_tokens, seed=seed,
        prompt_tokens=prompt_tokens, include_usage=include_usage,
        continuous_usage=include_usage and options.get("continuous_usage_stats") is True,
        continue_final=continue_final,
    )


def _continue_final(body: Dict[str, Any], messages: List[Dict[str, Any]]) -> bool:
    """vLLM's `continue_final_message` / `add_generation_prompt` checks."""
    continue_final = _optional_type(body, "continue_final_message", bool) or False
    generation_prompt = _optional_type(body, "add_generation_prompt", bool)
    if not continue_final:
        return False
    if generation_prompt is None or generation_prompt:
        raise ApiError(400, "Cannot set both `continue_final_message` and "
                            "`add_generation_prompt` to True.", "continue_final_message")
    if messages[-1].get("role") != "assistant":
        raise ApiError(400, "You can only use `continue_final_message` when the final message "
                            "is from the assistant.", "continue_final_message")
    return True


def last_user_text(messages: List[Dict[str, Any]]) -> str:
    """The text of the last user message ('' without one)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return _message_text(message)
    return ""


def final_message_text(messages: List[Dict[str, Any]]) -> str:
    """The text of the last message (the assistant's prefix a continuation extends)."""
    return _message_text(messages[-1])


def _max_tokens(body: Dict[str, Any], max_model_len: int, prompt_tokens: int) -> int:
    key = "max_completion_tokens" if body.get("max_completion_tokens") is not None \
        else "max_tokens"
    requested = _optional_type(body, key, int)
    if requested is None:
        return max_model_len - prompt_tokens
    if requested < 1:
        raise ApiError(400, f"max_tokens must be at least 1, got {requested}.", key)
    if requested > max_model_len - prompt_tokens:
        raise max_tokens_too_large(requested, max_model_len, prompt_tokens)
    return requested


def _optional_type(body: Dict[str, Any], key: str, kind: type) -> Any:
    value = body.get(key)
    wrong_bool = kind is int and isinstance(value, bool)
    if value is not None and (wrong_bool or not isinstance(value, kind)):
        raise ApiError(400, f"'{key}' must be of type {kind.__name__}, got {value!r}.", key)
    return value


def _message_text(message: Any) -> str:
    """The text of a message: a string content or the text parts of a list content."""
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content
                        if isinstance(part, dict) and isinstance(part.get("text"), str))
    return ""
