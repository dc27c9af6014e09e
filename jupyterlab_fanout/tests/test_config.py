"""Configuration: validation, the environment quick start, the embedded simulator."""
from __future__ import annotations

import json
from typing import Any

import pytest
from traitlets.config import Config

from jupyterlab_fanout.config import ConfigError, Fanout, resolve_upstreams

from .proxy_fixtures import jp_asyncio_loop  # noqa: F401 - fixture: one loop for server and test
from .proxy_fixtures import open_batch
from .sse import sse_events


def resolve(upstreams: Any = None, environ: dict | None = None, **fanout: Any):
    c = Config()
    if upstreams is not None:
        c.Fanout.upstreams = upstreams
    for k, v in fanout.items():
        setattr(c.Fanout, k, v)
    return resolve_upstreams(Fanout(config=c), environ or {})


def test_traits_are_configurable_with_help():
    for name, trait in Fanout.class_traits(config=True).items():
        assert trait.help, name
    f = Fanout(config=Config({"Fanout": {"max_tokens_limit": 100}}))
    assert f.max_tokens_limit == 100
    assert f.limits() == {"max_responses_per_batch": 64, "max_streams_per_user": 256,
                          "max_tokens_limit": 100, "max_message_bytes": 1024 * 1024}
    assert f.idle_timeout == 120 and f.simulator is True


def test_full_upstream_entry():
    r = resolve({"gpu": {"base_urls": ["http://h1:8000/v1/", "https://h2:8000/v1"],
                         "api_key_env": "VLLM_API_KEY", "models": ["Qwen/Qwen3-8B", "b"],
                         "default_model": "Qwen/Qwen3-8B", "verify_tls": False}},
                {"VLLM_API_KEY": "k-1"})
    spec = r.specs["gpu"]
    assert spec.base_urls == ("http://h1:8000/v1", "https://h2:8000/v1")
    assert spec.api_key == "k-1" and "k-1" not in repr(spec)
    assert spec.models == ("Qwen/Qwen3-8B", "b") and spec.default_model == "Qwen/Qwen3-8B"
    assert spec.verify_tls is False
    assert spec.dialect == "auto"
    assert r.default == "gpu" and not r.use_simulator


@pytest.mark.parametrize("dialect", ["auto", "vllm", "sglang", "llamacpp", "ollama", "openai",
                                     "litellm", "generic"])
def test_dialect_of_an_upstream(dialect):
    r = resolve({"gpu": {"base_urls": ["http://h/v1"], "dialect": dialect}})
    assert r.specs["gpu"].dialect == dialect


@pytest.mark.parametrize(
    "upstreams, fragment",
    [
        ({"gpu": {"base_urls": ["ftp://h/v1"]}}, "http:// or https://"),
        ({"gpu": {"base_urls": ["h1:8000/v1"]}}, "http:// or https://"),
        ({"gpu": {"base_urls": []}}, "at least one URL"),
        ({"gpu": {}}, "at least one URL"),
        ({"gpu": {"base_urls": ["http://user:pw@h/v1"]}}, "user info"),
        ({"gpu": {"base_urls": ["http://h/v1?x=1"]}}, "query"),
        ({"gpu": {"base_urls": ["http:///v1"]}}, "no host"),
        ({"gpu": {"base_urls": ["http://h:99999/v1"]}}, "port"),
        ({"../x": {"base_urls": ["http://h/v1"]}}, "invalid"),
        ({"a b": {"base_urls": ["http://h/v1"]}}, "invalid"),
        ({"http://evil": {"base_urls": ["http://h/v1"]}}, "invalid"),
        ({"gpu": {"base_urls": ["http://h/v1"], "url": "x"}}, "unknown keys"),
        ({"gpu": {"base_urls": ["http://h/v1"], "models": "m"}}, "list of strings"),
        ({"gpu": {"base_urls": ["http://h/v1"], "models": ["a"], "default_model": "b"}},
         "not in 'models'"),
        ({"gpu": {"base_urls": ["http://h/v1"], "verify_tls": "no"}}, "verify_tls"),
        ({"gpu": {"base_urls": ["http://h/v1"], "dialect": "tgi"}}, "'dialect' must be one of"),
        ({"gpu": {"base_urls": ["http://h/v1"], "dialect": ["vllm"]}}, "'dialect'"),
        ({"gpu": "http://h/v1"}, "must be a dict"),
    ],
)
def test_invalid_upstreams_fail_clearly(upstreams, fragment):
    with pytest.raises(ConfigError) as e:
        resolve(upstreams)
    assert fragment in str(e.value)


def test_unknown_default_upstream_fails():
    with pytest.raises(ConfigError, match="default_upstream 'x'"):
        resolve({"gpu": {"base_urls": ["http://h/v1"]}}, default_upstream="x")


def test_environment_quick_start():
    r = resolve(environ={"FANOUT_UPSTREAM_URL": "http://gpu:8000/v1", "FANOUT_API_KEY": "sk-1",
                         "FANOUT_MODEL": "Qwen/Qwen3-8B"})
    spec = r.specs["default"]
    assert spec.base_urls == ("http://gpu:8000/v1",) and spec.api_key == "sk-1"
    assert spec.default_model == "Qwen/Qwen3-8B" and spec.models == ()
    assert r.default == "default" and not r.use_simulator
    assert spec.dialect == "auto"
    with pytest.raises(ConfigError):
        resolve(environ={"FANOUT_UPSTREAM_URL": "file:///etc/passwd"})
    r = resolve(environ={"FANOUT_UPSTREAM_URL": "http://h/v1", "FANOUT_DIALECT": "ollama"})
    assert r.specs["default"].dialect == "ollama"
    with pytest.raises(ConfigError, match="'dialect'"):
        resolve(environ={"FANOUT_UPSTREAM_URL": "http://h/v1", "FANOUT_DIALECT": "tgi"})


def test_configured_upstreams_win_over_environment():
    r = resolve({"gpu": {"base_urls": ["http://h/v1"]}},
                {"FANOUT_UPSTREAM_URL": "http://other:8000/v1"})
    assert list(r.specs) == ["gpu"]


def test_simulator_when_nothing_is_configured():
    r = resolve()
    assert r.specs == {} and r.use_simulator and r.default == "simulator"
    r = resolve(simulator=False)
    assert not r.use_simulator and r.default == ""


# ------------------------------------------------------------ the server with the simulator


@pytest.fixture
def jp_server_config(monkeypatch):
    for name in ("FANOUT_UPSTREAM_URL", "FANOUT_API_KEY", "FANOUT_MODEL", "FANOUT_DIALECT"):
        monkeypatch.delenv(name, raising=False)
    return {
        "ServerApp": {"jpserver_extensions": {"jupyterlab_fanout": True},
                      "allow_unauthenticated_access": False},
        "Fanout": {"simulator_settings": {"tokens_per_second": 500, "ttft_ms": 0,
                                          "reasoning_tokens": 3, "answer_tokens": 10}},
    }


async def test_embedded_upstream_is_the_default(jp_fetch, jp_ws_fetch, jp_serverapp):
    data = json.loads((await jp_fetch("fanout", "upstreams")).body)
    assert data["default"] == "simulator"
    [sim] = data["upstreams"]
    assert sim["name"] == "simulator" and sim["error"] is None and sim["models"]
    client = await open_batch(jp_ws_fetch)
    await client.start("e1", upstream="simulator", model=sim["models"][0])
    t = await client.wait_terminal("e1")
    assert t["e1"]["type"] == "end"
    assert sse_events(bytes(client.body["e1"]))[-1] == "[DONE]"
    await client.close()
    state = jp_serverapp.web_app.settings["fanout_state"]
    await jp_serverapp.cleanup_extensions()
    assert state._simulator is None
