"""How the simulator answers as each server dialect (the `dialect` setting; default `vllm`).

Only the differences a client meets are played (docs/dialects.md): the `/models` listing and
headers that give the server away, the error body shapes, the mid-stream error (llama.cpp's
non-standard `error:` SSE field), which usage is sent, the reasoning field, and the refusal of
unknown parameters where the real server refuses them (OpenAI). Sources: each server's own
code as of late 2026 (vLLM `entrypoints/openai/`, SGLang `srt/entrypoints/openai/protocol.py`,
llama.cpp `tools/server/`, Ollama `openai/openai.go`, LiteLLM `proxy/`).
"""
from __future__ import annotations

import json
from typing import Any, Dict, Optional, Tuple

from .protocol import JSON, ApiError, error_body as vllm_error_body, error_type

DIALECTS = ("vllm", "sglang", "llamacpp", "ollama", "openai", "litellm", "generic")

#: `owned_by` of the `/models` entries.
OWNED_BY = {"vllm": "vllm", "sglang": "sglang", "llamacpp": "llamacpp", "ollama": "library",
            "openai": "system", "litellm": "openai", "generic": "organization-owner"}

#: Extra response headers of every `/v1` answer.
HEADERS: Dict[str, Dict[str, str]] = {
    "openai": {"openai-version": "2020-10-01", "openai-processing-ms": "12"},
    "litellm": {"x-litellm-version": "1.108.0"},
}

#: The reasoning field of each dialect (vLLM's follows the `reasoning_format` setting).
REASONING_FIELD = {"sglang": ("reasoning_content",), "llamacpp": ("reasoning_content",),
                   "ollama": ("reasoning",), "litellm": ("reasoning_content",),
                   "openai": (), "generic": ("reasoning_content",)}

#: Dialects whose server honours `stream_options.continuous_usage_stats`.
CONTINUOUS_USAGE = frozenset({"vllm", "sglang"})

#: OpenAI's chat completion parameters: any other is refused.
OPENAI_PARAMETERS = frozenset({
    "model", "messages", "max_completion_tokens", "max_tokens", "temperature", "top_p", "n",
    "stream", "stream_options", "stop", "presence_penalty", "frequency_penalty", "seed",
    "logprobs", "top_logprobs", "logit_bias", "user", "tools", "tool_choice",
    "parallel_tool_calls", "response_format", "reasoning_effort", "metadata", "store",
    "service_tier", "modalities", "audio", "prediction", "web_search_options", "verbosity",
})
OPENAI_STREAM_OPTIONS = frozenset({"include_usage", "include_obfuscation"})

_LLAMACPP_TYPES = {400: "invalid_request_error", 401: "authentication_error",
                   403: "permission_error", 404: "not_found_error", 501: "not_supported_error",
                   503: "unavailable_error"}
_OPENAI_TYPES = {400: "invalid_request_error", 401: "invalid_request_error",
                 404: "invalid_request_error", 429: "rate_limit_error"}


def check_parameters(dialect: str, body: Dict[str, Any]) -> None:
    """Refuse what the real server refuses before any stream (OpenAI: unknown parameters,
    and `max_tokens`, which its newer models no longer take)."""
    if dialect != "openai":
        return
    for key in body:
        if key not in OPENAI_PARAMETERS:
            raise ApiError(400, f"Unrecognized request argument supplied: {key}", None,
                           code="unknown_parameter")
    options = body.get("stream_options")
    if isinstance(options, dict):
        for key in options:
            if key not in OPENAI_STREAM_OPTIONS:
                raise ApiError(400, f"Unknown parameter: 'stream_options.{key}'.",
                               f"stream_options.{key}", code="unknown_parameter")
    if body.get("max_tokens") is not None:
        raise ApiError(400, "Unsupported parameter: 'max_tokens' is not supported with this "
                            "model. Use 'max_completion_tokens' instead.", "max_tokens",
                       code="unsupported_parameter")


def error_body(dialect: str, status: int, message: str, param: Optional[str],
               error_format: str, code: Optional[str] = None) -> JSON:
    """The JSON body of an error answered before any stream, as the dialect writes it."""
    if dialect == "vllm":
        return vllm_error_body(status, message, param, error_format)
    if dialect == "sglang":
        return {"object": "error", "message": message, "type": error_type(status),
                "param": param, "code": status}
    if dialect == "llamacpp":
        return {"error": {"code": status, "message": message,
                          "type": _LLAMACPP_TYPES.get(status, "server_error")}}
    if dialect == "ollama":
        kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
        return {"error": {"message": message, "type": kind, "param": None, "code": None}}
    if dialect == "litellm":
        # LiteLLM's ProxyException: `str()` of whatever it had, so absent values read "None".
        return {"error": {"message": f"litellm.{error_type(status)}: {message}", "type": "None",
                          "param": str(param), "code": str(status)}}
    # openai, generic
    return {"error": {"message": message,
                      "type": _OPENAI_TYPES.get(status, "server_error" if status >= 500
                                                else "invalid_request_error"),
                      "param": param, "code": code}}


def stream_error(dialect: str, message: str, error_format: str) -> bytes:
    """The bytes a dialect sends when generation fails after the stream began, [DONE] included
    where the server sends it."""
    done = b"data: [DONE]\n\n"
    if dialect == "llamacpp":
        # Not a `data:` line: an SSE field of its own, which SSE parsers ignore.
        value = {"code": 500, "message": message, "type": "server_error"}
        return b"error: " + _dumps(value) + b"\n\n" + done
    if dialect == "litellm":
        value = {"error": {"message": message, "type": "None", "param": "None", "code": "None"}}
        return b"data: " + json.dumps(value).encode("utf-8") + b"\n\n"
    if dialect == "vllm":
        body = vllm_error_body(500, message, None, error_format)
        value = body if error_format == "current" else {"error": body}
    elif dialect == "sglang":
        value = {"error": {"message": message, "type": "InternalServerError", "code": 500}}
    else:  # ollama, openai, generic
        value = {"error": {"message": message, "type": "server_error", "param": None,
                           "code": None}}
    return b"data: " + _dumps(value) + b"\n\n" + done


def delta_fields(dialect: str) -> Tuple[str, ...]:
    """Delta fields a dialect always writes, null when unused (SGLang writes every one)."""
    return ("role", "content", "reasoning_content", "tool_calls") if dialect == "sglang" else ()


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
