"""Settings of the vLLM simulator: immutable dataclasses validated from JSON objects."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

REASONING_FORMATS = ("reasoning", "reasoning_content", "both", "think", "none")
ERROR_FORMATS = ("current", "legacy")
FAULT_KINDS = ("error", "drop", "stall", "http_error", "abort")
DIALECTS = ("vllm", "sglang", "llamacpp", "ollama", "openai", "litellm", "generic")
HTTP_ERROR_BODIES = ("json", "html")


class SettingsError(ValueError):
    """A settings payload that cannot be applied; the message names the offending key."""


Check = Callable[[str, Any], Any]


def _integer(minimum: int) -> Check:
    def check(key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise SettingsError(f"'{key}' must be an integer >= {minimum}, got {value!r}")
        return value

    return check


def _number(minimum: float, *, exclusive: bool = False) -> Check:
    def check(key: str, value: Any) -> float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or value < minimum or (exclusive and value == minimum):
            bound = f"> {minimum}" if exclusive else f">= {minimum}"
            raise SettingsError(f"'{key}' must be a number {bound}, got {value!r}")
        return float(value)

    return check


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise SettingsError(f"'{key}' must be a non-empty string, got {value!r}")
    return value


def _choice(options: Tuple[str, ...]) -> Check:
    def check(key: str, value: Any) -> str:
        if value not in options:
            raise SettingsError(f"'{key}' must be one of {', '.join(options)}; got {value!r}")
        return value

    return check


def _optional(inner: Check) -> Check:
    def check(key: str, value: Any) -> Any:
        return None if value is None else inner(key, value)

    return check


def _text_list(key: str, value: Any) -> Tuple[str, ...]:
    if not isinstance(value, list):
        raise SettingsError(f"'{key}' must be a list of strings, got {value!r}")
    return tuple(_text(f"{key}[{i}]", item) for i, item in enumerate(value))


def _length_map(key: str, value: Any) -> Tuple[Tuple[str, int], ...]:
    if not isinstance(value, dict):
        raise SettingsError(f"'{key}' must be an object of model ids to context lengths, "
                            f"got {value!r}")
    return tuple((_text(f"{key} key", name), _integer(1)(f"{key}.{name}", length))
                 for name, length in value.items())


def _apply_checks(
    key_prefix: str, data: Mapping[str, Any], checks: Mapping[str, Check]
) -> Dict[str, Any]:
    """Validate every key of `data` with its check; unknown keys raise SettingsError."""
    values = {}
    for key, value in data.items():
        name = f"{key_prefix}{key}"
        if key not in checks:
            raise SettingsError(f"unknown setting '{name}'")
        values[key] = checks[key](name, value)
    return values


@dataclass(frozen=True)
class FaultRule:
    """One fault-injection rule; a request takes the first rule that has `times` left.

    kind: `error` (mid-stream error event), `drop` (close the TCP connection),
    `stall` (stop sending for `stall_ms`, forever when None), `http_error`
    (answer `status` before any stream, with a JSON or an HTML `body`) or `abort` (the
    engine aborts the request: a last chunk with `finish_reason: "abort"`, then [DONE], as
    vLLM and SGLang do).
    `after_tokens` tokens are sent before the fault strikes; `times` None means unlimited.
    """

    kind: str
    after_tokens: int = 0
    times: Optional[int] = None
    status: int = 500
    message: Optional[str] = None
    body: str = "json"
    stall_ms: Optional[float] = None

    @classmethod
    def from_dict(cls, data: Any, where: str = "faults[0]") -> FaultRule:
        if not isinstance(data, dict):
            raise SettingsError(f"'{where}' must be an object, got {data!r}")
        if "kind" not in data:
            raise SettingsError(f"'{where}.kind' is required ({', '.join(FAULT_KINDS)})")
        checks: Dict[str, Check] = {
            "kind": _choice(FAULT_KINDS),
            "after_tokens": _integer(0),
            "times": _optional(_integer(0)),
            "status": _integer(100),
            "message": _optional(_text),
            "body": _choice(HTTP_ERROR_BODIES),
            "stall_ms": _optional(_number(0)),
        }
        return cls(**_apply_checks(f"{where}.", data, checks))

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


def _fault_list(key: str, value: Any) -> Tuple[FaultRule, ...]:
    if not isinstance(value, list):
        raise SettingsError(f"'{key}' must be a list of fault rules, got {value!r}")
    return tuple(FaultRule.from_dict(rule, f"{key}[{i}]") for i, rule in enumerate(value))


_SETTINGS_CHECKS: Dict[str, Check] = {
    "model": _text,
    "models": _text_list,
    "tokens_per_second": _number(0, exclusive=True),
    "ttft_ms": _number(0),
    "tokens_per_event": _integer(1),
    "reasoning_tokens": _integer(0),
    "answer_tokens": _integer(0),
    "answer_text": _optional(_text),
    "reasoning_format": _choice(REASONING_FORMATS),
    "seed": _integer(0),
    "max_model_len": _integer(1),
    "max_model_lens": _length_map,
    "api_key": _optional(_text),
    "error_format": _choice(ERROR_FORMATS),
    "dialect": _choice(DIALECTS),
    "faults": _fault_list,
}


@dataclass(frozen=True)
class SimulatorSettings:
    """Every knob of the simulator; all of them are global (no per-request overrides).

    model / models: the served model id and optional extra ids.
    tokens_per_second: pace of EACH stream; ttft_ms: delay before its first token.
    tokens_per_event: tokens carried by one SSE event.
    reasoning_tokens / answer_tokens: natural lengths of the two parts of an answer.
    answer_text: when set, every answer is exactly this text (answer_tokens is ignored);
    for tests that need a known answer, such as one carrying HTML or given code blocks.
    reasoning_format: where reasoning goes (`reasoning`, `reasoning_content`, `both`,
    `think` for inline <think> tags in content, `none` for no reasoning).
    seed: mixed into every generated text. max_model_len: context length for validation.
    max_model_lens: per model id, a context length that replaces max_model_len for it.
    api_key: when set, /v1/* requires `Authorization: Bearer <key>`.
    error_format: `current` (vLLM >= 0.10.1) or `legacy` shape of error bodies.
    dialect: which server to answer as (simulator/dialects.py): `vllm` (the default),
    `sglang`, `llamacpp`, `ollama`, `openai`, `litellm` or `generic`. Other than vllm, the
    dialect's own reasoning field replaces `reasoning` / `reasoning_content` / `both`.
    faults: fault-injection rules (see FaultRule).
    """

    model: str = "fanout-sim"
    models: Tuple[str, ...] = ()
    tokens_per_second: float = 60.0
    ttft_ms: float = 150.0
    tokens_per_event: int = 1
    reasoning_tokens: int = 40
    answer_tokens: int = 120
    answer_text: Optional[str] = None
    reasoning_format: str = "reasoning"
    seed: int = 0
    max_model_len: int = 8192
    max_model_lens: Tuple[Tuple[str, int], ...] = ()
    api_key: Optional[str] = None
    error_format: str = "current"
    dialect: str = "vllm"
    faults: Tuple[FaultRule, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SimulatorSettings:
        """Defaults overridden by `data`; raises SettingsError on an unknown key or bad value."""
        return cls().merged(data)

    def merged(self, changes: Mapping[str, Any]) -> SimulatorSettings:
        """A copy with `changes` (JSON values) validated and applied."""
        if not isinstance(changes, Mapping):
            raise SettingsError(f"settings must be a JSON object, got {changes!r}")
        return dataclasses.replace(self, **_apply_checks("", changes, _SETTINGS_CHECKS))

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready settings; `from_dict(to_dict())` round-trips."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["models"] = list(self.models)
        data["max_model_lens"] = dict(self.max_model_lens)
        data["faults"] = [rule.to_dict() for rule in self.faults]
        return data

    def context_length(self, model: str) -> int:
        """The context length of `model`: its own in max_model_lens, else max_model_len."""
        return dict(self.max_model_lens).get(model, self.max_model_len)

    @property
    def served_models(self) -> Tuple[str, ...]:
        """Every model id a request may name."""
        return (self.model, *self.models)
