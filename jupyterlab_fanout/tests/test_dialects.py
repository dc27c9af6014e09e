"""Upstream dialects (docs/dialects.md): for each of the seven, through the proxy, against the
simulator answering as that server: the request options sent, the upstream's own error type
and code, a mid-stream error that ends the response as an error; and the parts on their own
(detection, error reading, the stream rewriter cut at every byte)."""
from __future__ import annotations

import json
from typing import Any

import pytest

from .. import dialects
from .processes import simulator_fixtures
from .proxy_fixtures import *  # noqa: F403 - fixtures
from .proxy_fixtures import FAST, open_batch, wait_record
from .sse import sse_events

ALL = dialects.DIALECT_NAMES

dialect_sim_process, dialect_sim = simulator_fixtures("dialect_sim", scope="module")


def _upstreams(request: pytest.FixtureRequest) -> dict[str, Any]:
    sim = request.getfixturevalue("dialect_sim")
    return {"upstreams": {
        "auto": {"base_urls": [sim.base_url]},
        "as_vllm": {"base_urls": [sim.base_url], "dialect": "vllm"},
    }, "default_upstream": "auto"}


#: The proxy tests' upstreams: `auto` (detected) and `as_vllm`, both on `dialect_sim`.
PROXY = pytest.mark.parametrize("fanout_overrides", [_upstreams], indirect=True)

#: Request keys each dialect is sent (the browser sends model, messages, max_tokens, seed and
#: here chat_template_kwargs).
SENT = {
    "vllm": {"chat_template_kwargs", "max_tokens", "n"},
    "sglang": {"chat_template_kwargs", "max_tokens", "n"},
    "llamacpp": {"chat_template_kwargs", "max_tokens"},
    "ollama": {"max_tokens"},
    "openai": {"max_completion_tokens", "n"},
    "litellm": {"chat_template_kwargs", "max_tokens", "n"},
    "generic": {"chat_template_kwargs", "max_tokens"},
}
BASE_KEYS = {"messages", "model", "seed", "stream", "stream_options"}

#: (code, upstream_error) of an HTTP 400 each dialect answers before any stream.
HTTP_400 = {
    "vllm": ("BadRequestError", {"type": "BadRequestError"}),
    "sglang": ("BadRequestError", {"type": "BadRequestError"}),
    "llamacpp": ("invalid_request_error", {"type": "invalid_request_error"}),
    "ollama": ("invalid_request_error", {"type": "invalid_request_error"}),
    "openai": ("invalid_request_error", {"type": "invalid_request_error"}),
    "litellm": ("upstream_http", None),  # type "None", code "400": nothing of its own
    "generic": ("invalid_request_error", {"type": "invalid_request_error"}),
}

#: (type, code) of the mid-stream error event the browser reads, after the proxy.
STREAM_ERROR = {
    "vllm": ("InternalServerError", 500),
    "sglang": ("InternalServerError", 500),
    "llamacpp": ("server_error", 500),
    "ollama": ("server_error", None),
    "openai": ("server_error", None),
    "litellm": (None, None),
    "generic": ("server_error", None),
}


def _configure(sim: Any, dialect: str, **settings: Any) -> None:
    sim.reset()
    sim.configure(dialect=dialect, **FAST, **settings)


@PROXY
@pytest.mark.parametrize("dialect", ALL)
async def test_each_dialect_is_detected_and_sent_only_its_options(
    jp_ws_fetch, dialect_sim, dialect, no_unhandled_errors
):
    _configure(dialect_sim, dialect)
    client = await open_batch(jp_ws_fetch)
    await client.start("r1", upstream="auto", chat_template_kwargs={"enable_thinking": True})
    terminal = (await client.wait_terminal("r1"))["r1"]
    assert terminal["type"] == "end", terminal
    events = sse_events(bytes(client.body["r1"]))
    assert events[-1] == "[DONE]"
    [entry] = await wait_record(dialect_sim, lambda r: len(r) == 1 and r[0]["outcome"] != "running")
    assert set(entry["keys"]) == (BASE_KEYS - {"model"}) | SENT[dialect], entry["keys"]
    continuous = dialect in ("vllm", "sglang")
    assert entry["stream_options"] == (
        {"include_usage": True, "continuous_usage_stats": True} if continuous
        else {"include_usage": True})
    if "n" in entry["keys"]:
        assert entry["n"] == 1
    assert entry["max_tokens"] == 64
    # Usage: in every chunk where the server honours continuous_usage_stats, else at the end.
    chunks = [e for e in events if isinstance(e, dict)]
    with_usage = [e for e in chunks if e.get("usage")]
    assert with_usage and with_usage[-1]["choices"] == []
    assert (len(with_usage) == len(chunks)) == continuous
    await client.close()


@PROXY
@pytest.mark.parametrize("dialect", ALL)
async def test_an_upstream_error_keeps_its_own_type_and_code(
    jp_ws_fetch, dialect_sim, dialect, no_unhandled_errors
):
    _configure(dialect_sim, dialect, faults=[
        {"kind": "http_error", "status": 400, "message": "no such thing (test)"}])
    client = await open_batch(jp_ws_fetch)
    await client.start("r1", upstream="auto")
    terminal = (await client.wait_terminal("r1"))["r1"]
    code, given = HTTP_400[dialect]
    assert terminal["type"] == "error" and terminal["status"] == 400
    assert "no such thing (test)" in terminal["message"]
    assert terminal["code"] == code
    assert terminal.get("upstream_error") == given
    await client.close()


@PROXY
async def test_a_configured_dialect_wins_and_openai_refuses_what_vllm_takes(
    jp_ws_fetch, dialect_sim, no_unhandled_errors
):
    """`as_vllm` is told the server is vLLM: it sends continuous_usage_stats, which OpenAI
    refuses with its own code; `auto` detects OpenAI and is not refused."""
    _configure(dialect_sim, "openai")
    client = await open_batch(jp_ws_fetch)
    await client.start("told", upstream="as_vllm")
    await client.start("detected", upstream="auto")
    t = await client.wait_terminal("told", "detected")
    assert t["detected"]["type"] == "end"
    told = t["told"]
    assert told["type"] == "error" and told["status"] == 400
    assert told["code"] == "unknown_parameter"
    assert told["upstream_error"] == {"type": "invalid_request_error",
                                      "code": "unknown_parameter"}
    assert "continuous_usage_stats" in told["message"]
    await client.close()


@PROXY
@pytest.mark.parametrize("dialect", ALL)
async def test_a_mid_stream_error_reaches_the_browser_as_an_error_event(
    jp_ws_fetch, dialect_sim, dialect, no_unhandled_errors
):
    """Read the relayed bytes as the browser does (`data:` events only): the error is there,
    with the upstream's type and code and no placeholder, whatever the dialect wrote."""
    _configure(dialect_sim, dialect, faults=[
        {"kind": "error", "after_tokens": 3, "message": "engine fell over (test)"}])
    client = await open_batch(jp_ws_fetch)
    await client.start("r1", upstream="auto")
    await client.wait_terminal("r1")
    events = sse_events(bytes(client.body["r1"]))
    errors = [e["error"] for e in events if isinstance(e, dict) and "error" in e]
    assert len(errors) == 1, events
    [error] = errors
    assert error["message"] == "engine fell over (test)"
    kind, code = STREAM_ERROR[dialect]
    assert error.get("type") == kind
    assert error.get("code") == code
    assert "None" not in json.dumps(error)
    await client.close()


@PROXY
@pytest.mark.parametrize("dialect", ["llamacpp", "litellm"])
async def test_the_listing_detects_and_shows_the_dialect(jp_fetch, dialect_sim, dialect):
    _configure(dialect_sim, dialect)
    response = await jp_fetch("fanout", "upstreams")
    by_name = {u["name"]: u for u in json.loads(response.body)["upstreams"]}
    assert by_name["auto"]["dialect"] == dialect
    assert by_name["as_vllm"]["dialect"] == "vllm"


@PROXY
@pytest.mark.parametrize("dialect", ["vllm", "sglang"])
async def test_abort_finish_reason_is_relayed(jp_ws_fetch, dialect_sim, dialect):
    _configure(dialect_sim, dialect, faults=[{"kind": "abort", "after_tokens": 4}])
    client = await open_batch(jp_ws_fetch)
    await client.start("r1", upstream="auto")
    await client.wait_terminal("r1")
    events = sse_events(bytes(client.body["r1"]))
    reasons = [c["finish_reason"] for e in events if isinstance(e, dict)
               for c in e.get("choices", []) if c.get("finish_reason")]
    assert reasons == ["abort"] and events[-1] == "[DONE]"
    await client.close()


# ---------------------------------------------------------------- the parts


@pytest.mark.parametrize("headers, owned_by, url, expected", [
    ({}, "vllm", "http://h/v1", "vllm"),
    ({}, "sglang", "http://h/v1", "sglang"),
    ({}, "llamacpp", "http://h/v1", "llamacpp"),
    ({}, "library", "http://h/v1", "ollama"),
    ({"openai-version": "2020-10-01"}, "system", "http://h/v1", "openai"),
    ({}, "system", "https://api.openai.com/v1", "openai"),
    ({"x-litellm-version": "1.108.0"}, "openai", "http://h/v1", "litellm"),
    ({"server": "llama.cpp"}, "someone", "http://h/v1", "llamacpp"),
    ({}, "someone", "http://h/v1", "generic"),
])
def test_detection(headers, owned_by, url, expected):
    raw = json.dumps({"data": [{"id": "m", "owned_by": owned_by}]}).encode()
    assert dialects.detect(url, headers, raw).name == expected
    assert dialects.detect(url, {}, b"not json").name in ("generic", "openai")


def test_read_error_drops_placeholders_and_status_codes():
    read = dialects.read_error
    e = read({"error": {"message": "m", "type": "None", "param": "None", "code": "None"}})
    assert (e.message, e.type, e.code, e.status) == ("m", None, None, None)
    e = read({"error": {"message": "m", "type": "BadRequestError", "code": 400}})
    assert (e.type, e.code, e.status, e.kind) == ("BadRequestError", None, 400, "BadRequestError")
    e = read({"object": "error", "message": "old", "type": "NotFoundError", "code": 404})
    assert (e.message, e.kind, e.status) == ("old", "NotFoundError", 404)
    e = read({"error": {"message": "x", "type": "invalid_request_error",
                        "code": "unknown_parameter"}})
    assert e.kind == "unknown_parameter"
    assert read({"detail": "Not Found"}).message == "Not Found"
    assert read({"choices": []}) is None


LLAMACPP_BODY = (b'data: {"choices":[{"delta":{"content":"error: not a field"}}]}\n\n'
                 b'error: {"code":500,"message":"boom","type":"server_error"}\n\n'
                 b'data: [DONE]\n\n')
LITELLM_BODY = (b'data: {"choices":[{"delta":{"content":"x"}}]}\r\n\r\n'
                b'data: {"error": {"message": "bad", "type": "None", "param": "None", '
                b'"code": "None"}}\r\n\r\n')


@pytest.mark.parametrize("dialect, body, expected", [
    ("llamacpp", LLAMACPP_BODY, LLAMACPP_BODY.replace(
        b'error: {"code":500,"message":"boom","type":"server_error"}',
        b'data: {"error": {"message": "boom", "type": "server_error", "code": 500}}')),
    ("litellm", LITELLM_BODY, LITELLM_BODY.replace(
        b'{"error": {"message": "bad", "type": "None", "param": "None", "code": "None"}}',
        b'{"error": {"message": "bad"}}')),
])
def test_rewriter_cut_anywhere(dialect, body, expected):
    for size in range(1, len(body) + 1):
        rewriter = dialects.get(dialect).rewriter()
        out = b"".join(rewriter.feed(body[i:i + size]) for i in range(0, len(body), size))
        assert out + rewriter.flush() == expected, size


def test_rewriter_passes_other_lines_at_once_and_bounds_what_it_holds():
    rewriter = dialects.get("llamacpp").rewriter()
    assert rewriter.feed(b'data: {"choices":[{"delta":{"content":"a') == \
        b'data: {"choices":[{"delta":{"content":"a'
    assert rewriter.feed(b'b"}}]}\n\nerr') == b'b"}}]}\n\n'
    huge = b"or: " + b"x" * (dialects.MAX_HELD_LINE + 10)
    assert rewriter.feed(huge) == b"err" + huge
    assert rewriter.feed(b"y\n") == b"y\n"
    assert dialects.get("vllm").rewriter() is None


def test_shape_per_dialect():
    body = {"model": "m", "messages": [{"role": "user", "content": "q"}], "max_tokens": 9,
            "seed": 1, "chat_template_kwargs": {"enable_thinking": False}, "n": 1,
            "stream": True, "stream_options": {"include_usage": True,
                                               "continuous_usage_stats": True}}
    for name in ALL:
        shaped = dialects.get(name).shape(body)
        keys = set(shaped) - BASE_KEYS
        assert keys == SENT[name], name
        assert shaped["stream"] is True and shaped["seed"] == 1


def test_one_token_limit_goes_upstream_under_the_dialects_name():
    # validation.build_body keeps max_completion_tokens beside max_tokens when the browser
    # gave both; the upstream gets one limit, the smaller, under the name it reads.
    body = {"model": "m", "messages": [], "max_tokens": 90, "max_completion_tokens": 40}
    for name in ALL:
        shaped = dialects.get(name).shape(body)
        key = "max_completion_tokens" if name == "openai" else "max_tokens"
        other = "max_tokens" if name == "openai" else "max_completion_tokens"
        assert shaped[key] == 40 and other not in shaped, name


def test_continuing_options_go_only_to_servers_that_read_them():
    body = {"model": "m", "messages": [{"role": "user", "content": "q"},
                                       {"role": "assistant", "content": "a"}],
            "max_tokens": 9, "continue_final_message": True, "add_generation_prompt": False}
    for name in ALL:
        shaped = dialects.get(name).shape(body)
        sent = name in ("vllm", "sglang")
        assert ("continue_final_message" in shaped) is sent, name
        assert ("add_generation_prompt" in shaped) is sent, name
        assert shaped["messages"][-1] == {"role": "assistant", "content": "a"}, name


@PROXY
async def test_the_listing_gives_each_models_context_length(jp_fetch, dialect_sim):
    _configure(dialect_sim, "vllm", models=["tiny"], max_model_lens={"tiny": 64})
    response = await jp_fetch("fanout", "upstreams")
    by_name = {u["name"]: u for u in json.loads(response.body)["upstreams"]}
    assert by_name["as_vllm"]["context_lengths"] == {"fanout-sim": 8192, "tiny": 64}
    _configure(dialect_sim, "openai")  # OpenAI's listing gives no context length
    response = await jp_fetch("fanout", "upstreams")
    by_name = {u["name"]: u for u in json.loads(response.body)["upstreams"]}
    assert by_name["auto"]["context_lengths"] == {}
