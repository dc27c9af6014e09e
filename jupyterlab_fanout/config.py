"""Server-side configuration of the fan-out proxy (`c.Fanout.*`).

Upstream addresses and API keys come from here only: the browser names an upstream
by its configured name and never sends a URL, host, port or header.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlsplit

from traitlets import Bool, Dict, Float, Int, Unicode
from traitlets.config import Configurable

from .dialects import CONFIG_VALUES as DIALECT_VALUES

#: Upstream names: what the browser may send to pick one.
NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

#: Keys one entry of `c.Fanout.upstreams` may have.
UPSTREAM_KEYS = frozenset(
    {"base_urls", "api_key_env", "api_key", "models", "default_model", "verify_tls", "dialect",
     "allow_media_urls", "allow_media_data", "allow_chat_template"}
)
#: Keys of an upstream entry that are true or false, all false by default.
POLICY_KEYS = ("allow_media_urls", "allow_media_data", "allow_chat_template")

#: Name of the upstream built from the FANOUT_* environment variables.
ENV_UPSTREAM_NAME = "default"
#: Name of the upstream played by the embedded simulator.
SIMULATOR_UPSTREAM_NAME = "simulator"


class ConfigError(ValueError):
    """The fan-out configuration is invalid; the message says what to fix."""


class Fanout(Configurable):
    """Configuration of the jupyterlab-fanout proxy (set in jupyter_server_config.py)."""

    upstreams = Dict(
        {},
        help="""OpenAI-compatible upstreams (vLLM, SGLang, llama.cpp ...) the proxy may call,
        by name. The browser only ever sends one of these names. Example:

            c.Fanout.upstreams = {
                "gpu": {
                    "base_urls": ["http://h1:8000/v1", "http://h2:8000/v1"],  # replicas
                    "api_key_env": "VLLM_API_KEY",   # env var holding the key (server side)
                    "models": ["Qwen/Qwen3-8B"],     # allow-list; empty = any the upstream lists
                    "default_model": "Qwen/Qwen3-8B",
                    "verify_tls": True,
                    "allow_media_urls": False,     # media parts with URLs the upstream fetches
                    "allow_media_data": False,     # media parts with inline data: URLs / base64
                    "allow_chat_template": False,  # request-supplied chat templates
                    "dialect": "vllm",               # default "auto": detected
                },
            }

        Names may contain only letters, digits, '.', '_' and '-'. `base_urls` must be
        http(s) URLs including the API prefix (usually /v1), without user info, query
        or fragment. Each new response goes to the replica with the fewest streams in
        flight. `api_key` (the key itself) is accepted too but `api_key_env` is preferred.

        Requests that could make the upstream fetch a URL or run a template are refused
        unless the upstream allows them: `allow_media_urls` lets content parts
        (`image_url`, `audio_url`, `video_url`, `file`) carry URLs, which vLLM and
        llama.cpp fetch themselves from the GPU host's network (and implies
        `allow_media_data`); `allow_media_data` lets them carry inline media only
        (`data:` URLs, `input_audio`, `file.file_data`); `allow_chat_template` lets a
        request carry its own `chat_template` (top level or in `chat_template_kwargs`).
        All three default to false.

        `dialect` is the kind of server: vllm, sglang, llamacpp, ollama, openai, litellm,
        generic, or auto (the default: detected once from its /models answer). It decides
        which request options are sent and how errors are read (docs/dialects.md).""",
    ).tag(config=True)

    default_upstream = Unicode(
        "",
        help="""Name of the upstream the UI selects by default. Empty: the only one, the
        'default' upstream from FANOUT_UPSTREAM_URL, the simulator, or the first configured.""",
    ).tag(config=True)

    simulator = Bool(
        True,
        help="""When no upstream is configured (neither `c.Fanout.upstreams` nor the
        FANOUT_UPSTREAM_URL environment variable), start the bundled vLLM simulator
        in-process on a random loopback port as upstream 'simulator'.""",
    ).tag(config=True)

    simulator_settings = Dict(
        {},
        help="Settings passed to the embedded simulator (tokens_per_second, ttft_ms, ...).",
    ).tag(config=True)

    max_responses_per_batch = Int(
        64, help="Most responses one batch (one WebSocket) may start over its lifetime."
    ).tag(config=True)

    max_streams_per_user = Int(
        256,
        help="""Most upstream streams one user may have in flight, across all of their
        sockets. A Jupyter server serves one user, so this bounds the whole server.""",
    ).tag(config=True)

    max_tokens_limit = Int(
        32768,
        help="""Largest `max_tokens` (or `max_completion_tokens`) a request may ask for.""",
    ).tag(config=True)

    default_max_tokens = Int(
        4096,
        help="""`max_tokens` sent upstream for a request that gives none (or null); capped at
        `max_tokens_limit`. The proxy always sends a limit: without one vLLM generates up
        to the model's context length.""",
    ).tag(config=True)

    max_message_bytes = Int(
        1024 * 1024,
        help="""Largest WebSocket message (bytes) the proxy accepts from the browser.
        Larger messages get an `error` with code 'limit'; messages over twice this size
        close the socket (code 1009) without being read.""",
    ).tag(config=True)

    idle_timeout = Float(
        120.0,
        help="""Seconds without any byte from the upstream (before the headers or
        mid-stream) after which a response fails with code 'upstream_timeout'. Mid-stream
        it is checked a few times per period: a response fails between 1 and 1.25 times
        this after its last byte.""",
    ).tag(config=True)

    connect_timeout = Float(
        10.0, help="Seconds to open a TCP/TLS connection to an upstream."
    ).tag(config=True)

    send_timeout = Float(
        20.0,
        help="""Seconds a write to a browser's batch socket may stay pending (a browser that
        stopped reading: frozen tab, suspended machine, a client that never reads) before the
        socket is closed (code 1008) together with every upstream stream of its batch, which
        frees the GPUs. It fires between 1 and 1.25 times this after the write began, once the
        network buffers are full. 0 disables it (then only Jupyter's WebSocket ping timeout
        closes such a socket).""",
    ).tag(config=True)

    models_timeout = Float(
        5.0, help="Seconds to wait for an upstream's /models listing."
    ).tag(config=True)

    judge_timeout = Float(
        120.0,
        min=1.0,
        help="""Seconds a judge request (`POST fanout/batches/<id>/judge`) or a guided merge's
        checklist (`POST fanout/fuse/checklist`), each one non-streamed completion, may take in
        all before it fails with 504; the upstream request is closed.""",
    ).tag(config=True)

    detached_timeout = Float(
        600.0,
        min=0.0,
        help="""Seconds a batch keeps streaming with no browser socket subscribed to it (the tab
        was reloaded or closed, the laptop went to sleep) before its running responses are
        stopped (upstream connections closed; the store records them as stopped with the
        error code 'detached_timeout'). A tab that attaches before then sees every response
        continue live. An ended batch with no socket stays attachable for min(this, 60)
        seconds, then only the store has it. 0: the responses stop as soon as the last
        socket of their batch closes (the behaviour before server-owned batches).""",
    ).tag(config=True)

    ended_replay_bytes = Int(
        128 * 1024 * 1024,
        min=0,
        help="""Bytes the server may hold, all users together, for the replays of ended batches
        that no socket holds (kept for an `attach` during their grace period of
        min(detached_timeout, 60) s). Replays are kept deflate-compressed, about 10-20 bytes
        per generated token, and with the store on, their digests (digest.py), about 11 more. Beyond this, the batches that ended longest ago leave memory
        before their grace period is over (the store still has them; an `attach` gets
        'unknown_batch' and the page reads the store). 0: an ended batch with no socket
        leaves memory at once. Running batches are not counted.""",
    ).tag(config=True)

    store_path = Unicode(
        None,
        allow_none=True,
        help="""SQLite file where every batch streamed through the proxy is kept (prompt,
        options, title, every attempt's request, text, reasoning, usage, metrics, status and
        error; never a key or an upstream address). Default (None): `fanout/batches.sqlite3`
        in the Jupyter data directory (`jupyter --data-dir`). The empty string disables the
        store.""",
    ).tag(config=True)

    store_max_batches = Int(
        10000,
        help="Most batches the store keeps; beyond, the oldest are deleted. 0: no limit.",
    ).tag(config=True)

    store_max_bytes = Int(
        1024 * 1024 * 1024,
        help="""Most bytes of text (requests, responses, reasoning) the store keeps; beyond,
        the oldest batches are deleted. 0: no limit.""",
    ).tag(config=True)

    store_reader_process = Bool(
        True,
        help="""Read the SSE bytes of running responses for the store in a small process of the
        store's own (store_worker.py), off the proxy's process and its GIL. False: the store's
        writer thread reads them in the server's process (less memory, one process fewer, more
        CPU in the proxy's process).""",
    ).tag(config=True)

    store_search_index = Bool(
        True,
        help="""Keep a full-text index (SQLite FTS5) of titles, prompts and every response's
        text and reasoning, for History's search: word-prefix matches, fast on thousands of
        batches, about 2.5 bytes more per generated token. False: no index (the triggers are
        dropped), search by substrings (LIKE), slower on many batches. Also off when the
        server's SQLite lacks FTS5.""",
    ).tag(config=True)

    def limits(self) -> dict[str, int]:
        """The limits the browser may know about (GET fanout/upstreams)."""
        return {
            "max_responses_per_batch": self.max_responses_per_batch,
            "max_streams_per_user": self.max_streams_per_user,
            "max_tokens_limit": self.max_tokens_limit,
            "max_message_bytes": self.max_message_bytes,
        }


@dataclass(frozen=True)
class UpstreamSpec:
    """One validated upstream: what the proxy needs to call it."""

    name: str
    base_urls: tuple[str, ...]
    api_key: str | None = field(default=None, repr=False)
    models: tuple[str, ...] = ()
    default_model: str | None = None
    verify_tls: bool = True
    #: Content parts may carry media URLs the upstream fetches (and inline data).
    allow_media_urls: bool = False
    #: Content parts may carry inline media (data: URLs, base64 audio or files).
    allow_media_data: bool = False
    #: Requests may carry their own chat template.
    allow_chat_template: bool = False
    #: One of dialects.CONFIG_VALUES; "auto" is detected on first use.
    dialect: str = "auto"


@dataclass(frozen=True)
class ResolvedUpstreams:
    """The upstreams to serve, the default one, and whether the simulator must play one."""

    specs: dict[str, UpstreamSpec]
    default: str
    use_simulator: bool


def validate_base_url(name: str, url: Any) -> str:
    """Check one replica URL; returns it without a trailing slash."""
    if not isinstance(url, str) or not url:
        raise ConfigError(f"Fanout upstream {name!r}: base URL must be a non-empty string")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ConfigError(
            f"Fanout upstream {name!r}: base URL {url!r} must start with http:// or https://"
        )
    if not parts.hostname:
        raise ConfigError(f"Fanout upstream {name!r}: base URL {url!r} has no host")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ConfigError(
            f"Fanout upstream {name!r}: base URL must not contain user info; use api_key_env"
        )
    if parts.query or parts.fragment:
        # Not echoed: a query may carry a key (`?api_key=...`), and this message is logged.
        shown = f"{parts.scheme}://{parts.netloc}{parts.path}"
        raise ConfigError(
            f"Fanout upstream {name!r}: base URL {shown!r} must not have a query or fragment "
            "(give a key with api_key_env)"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as e:
        raise ConfigError(f"Fanout upstream {name!r}: base URL {url!r} has a bad port ({e})") from None
    return url.rstrip("/")


def _str_list(name: str, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ConfigError(f"Fanout upstream {name!r}: {key!r} must be a list of strings")
    if not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"Fanout upstream {name!r}: {key!r} must be a list of strings")
    return tuple(value)


def validate_name(name: Any) -> str:
    """Check an upstream name against NAME_RE."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ConfigError(
            f"Fanout upstream name {name!r} is invalid: use 1-64 of [A-Za-z0-9._-]"
        )
    return name


def parse_upstream(
    name: Any, entry: Any, environ: Mapping[str, str], log: Any = None
) -> UpstreamSpec:
    """Validate one entry of `c.Fanout.upstreams`."""
    name = validate_name(name)
    if not isinstance(entry, Mapping):
        raise ConfigError(f"Fanout upstream {name!r} must be a dict")
    unknown = set(entry) - UPSTREAM_KEYS
    if unknown:
        raise ConfigError(
            f"Fanout upstream {name!r}: unknown keys {sorted(unknown)}; "
            f"allowed: {sorted(UPSTREAM_KEYS)}"
        )
    urls = entry.get("base_urls")
    if isinstance(urls, str):
        urls = [urls]
    if not urls:
        raise ConfigError(f"Fanout upstream {name!r}: 'base_urls' must list at least one URL")
    base_urls = tuple(validate_base_url(name, u) for u in _str_list(name, "base_urls", urls))
    api_key = entry.get("api_key")
    if api_key is not None and not isinstance(api_key, str):
        raise ConfigError(f"Fanout upstream {name!r}: 'api_key' must be a string")
    env_name = entry.get("api_key_env")
    if env_name:
        if not isinstance(env_name, str):
            raise ConfigError(f"Fanout upstream {name!r}: 'api_key_env' must be a string")
        api_key = environ.get(env_name) or None
        if api_key is None and log is not None:
            log.warning(
                "Fanout upstream %r: environment variable %s is not set; "
                "requests go without an API key",
                name,
                env_name,
            )
    if api_key is not None and any(c in api_key for c in "\r\n"):
        raise ConfigError(f"Fanout upstream {name!r}: the API key contains a line break")
    models = _str_list(name, "models", entry.get("models") or [])
    default_model = entry.get("default_model")
    if default_model is not None and not isinstance(default_model, str):
        raise ConfigError(f"Fanout upstream {name!r}: 'default_model' must be a string")
    if default_model and models and default_model not in models:
        raise ConfigError(
            f"Fanout upstream {name!r}: default_model {default_model!r} is not in 'models'"
        )
    if not default_model and models:
        default_model = models[0]
    verify_tls = entry.get("verify_tls", True)
    if not isinstance(verify_tls, bool):
        raise ConfigError(f"Fanout upstream {name!r}: 'verify_tls' must be true or false")
    policy = {key: entry.get(key, False) for key in POLICY_KEYS}
    for key, value in policy.items():
        if not isinstance(value, bool):
            raise ConfigError(f"Fanout upstream {name!r}: {key!r} must be true or false")
    dialect = entry.get("dialect", "auto")
    if dialect not in DIALECT_VALUES:
        raise ConfigError(
            f"Fanout upstream {name!r}: 'dialect' must be one of {', '.join(DIALECT_VALUES)}; "
            f"got {dialect!r}"
        )
    return UpstreamSpec(
        name=name,
        base_urls=base_urls,
        api_key=api_key or None,
        models=models,
        default_model=default_model or None,
        verify_tls=verify_tls,
        **policy,
        dialect=dialect,
    )


def env_upstream(environ: Mapping[str, str]) -> UpstreamSpec | None:
    """The quick-start upstream from FANOUT_UPSTREAM_URL / FANOUT_API_KEY / FANOUT_MODEL /
    FANOUT_DIALECT."""
    url = environ.get("FANOUT_UPSTREAM_URL", "").strip()
    if not url:
        return None
    entry: dict[str, Any] = {"base_urls": [url]}
    if environ.get("FANOUT_API_KEY"):
        entry["api_key"] = environ["FANOUT_API_KEY"]
    if environ.get("FANOUT_MODEL", "").strip():
        entry["default_model"] = environ["FANOUT_MODEL"].strip()
    if environ.get("FANOUT_DIALECT", "").strip():
        entry["dialect"] = environ["FANOUT_DIALECT"].strip()
    return parse_upstream(ENV_UPSTREAM_NAME, entry, environ)


def resolve_upstreams(
    fanout: Fanout, environ: Mapping[str, str] | None = None, log: Any = None
) -> ResolvedUpstreams:
    """Validate the configuration and decide which upstreams to serve.

    Precedence: `c.Fanout.upstreams` if not empty; else FANOUT_UPSTREAM_URL as upstream
    'default'; else the embedded simulator as upstream 'simulator' (when enabled; its
    spec is added once it listens). Raises ConfigError with a clear message.
    """
    environ = os.environ if environ is None else environ
    if fanout.default_max_tokens < 1:
        raise ConfigError(
            f"Fanout.default_max_tokens must be at least 1, not {fanout.default_max_tokens}"
        )
    specs: dict[str, UpstreamSpec] = {}
    for name, entry in fanout.upstreams.items():
        specs[name] = parse_upstream(name, entry, environ, log)
    use_simulator = False
    if not specs:
        spec = env_upstream(environ)
        if spec is not None:
            specs[spec.name] = spec
        elif fanout.simulator:
            use_simulator = True
    names = list(specs) + ([SIMULATOR_UPSTREAM_NAME] if use_simulator else [])
    default = fanout.default_upstream
    if default:
        if default not in names:
            raise ConfigError(
                f"Fanout.default_upstream {default!r} is not a configured upstream "
                f"(configured: {names})"
            )
    else:
        default = names[0] if names else ""
    return ResolvedUpstreams(specs=specs, default=default, use_simulator=use_simulator)
