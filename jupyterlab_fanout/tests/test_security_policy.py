"""Attack suite, end to end: token limits, media URLs and chat templates, key leaks.

A real Jupyter server with the extension; upstreams are the simulator, the recording
`capture` upstream and an `echo` upstream that sends the Authorization header it receives
back in every place a browser could see it (an error message cut at the proxy's length
limit, a 2xx stream split across two reads, a model id of /v1/models).
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Iterator

import pytest
import tornado.httpserver
import tornado.netutil
import tornado.web

from jupyterlab_fanout.upstream import MESSAGE_LIMIT

from .proxy_fixtures import *  # noqa: F403 - fixtures
from .proxy_fixtures import API_KEY, KEY_ENV, open_batch, wait_record

#: A key long enough that its prefixes are checked at many lengths.
ECHO_KEY = "sk-echo-0123456789abcdefghijklmnop"
ECHO_KEY_ENV = "FANOUT_TEST_ECHO_KEY"


def prefixes(key: str, shortest: int = 8) -> list[str]:
    return [key[:n] for n in range(shortest, len(key) + 1)]


def leaked(text: str, key: str) -> list[str]:
    """The prefixes of 8 or more characters of `key` found in `text`."""
    return [p for p in prefixes(key) if p in text]


def everything_received(client: Any) -> str:
    """All the browser received on a socket: text messages and the bytes of every record."""
    parts = []
    for _, message in client.messages:
        if isinstance(message, dict):
            parts.append(json.dumps(message))
    parts.extend(bytes(b).decode("utf-8", "replace") for b in client.body.values())
    return "\n".join(parts)


# ---------------------------------------------------------------- the echo upstream


class EchoUpstream:
    def __init__(self) -> None:
        self.base_url = ""
        self.reads_split = 0  # streams sent in two writes with a pause between


def _key_of(handler: tornado.web.RequestHandler) -> str:
    return handler.request.headers.get("Authorization", "").removeprefix("Bearer ")


class _EchoModels(tornado.web.RequestHandler):
    def get(self) -> None:
        key = _key_of(self)
        self.write({"object": "list", "data": [
            {"id": "echo-model"}, {"id": key}, {"id": f"org/{key}-instruct"},
        ]})


class _EchoChat(tornado.web.RequestHandler):
    def initialize(self, echo: EchoUpstream) -> None:
        self.echo = echo

    async def post(self) -> None:
        key = _key_of(self)
        mode = json.loads(self.request.body)["messages"][-1]["content"]
        if mode == "error":
            # the key straddles the proxy's MESSAGE_LIMIT: a cut before the scrub leaves
            # all but its last character
            message = "x" * (MESSAGE_LIMIT - len(key) + 1) + key + " was refused"
            self.set_status(401)
            self.write({"error": {"message": message, "type": "AuthenticationError"}})
            return
        self.set_header("Content-Type", "text/event-stream")
        chunk = {"object": "chat.completion.chunk", "choices": [
            {"index": 0, "delta": {"content": f"your key is {key}, bye"}}]}
        error = {"error": {"message": f"Authorization: Bearer {key} is not valid", "code": 401}}
        stream = (f"data: {json.dumps(chunk)}\n\ndata: {json.dumps(error)}\n\n"
                  "data: [DONE]\n\n").encode()
        # cut inside each copy of the key: every one arrives in two reads
        first = stream.index(key.encode()) + len(key) // 2
        second = stream.index(key.encode(), first) + 5
        for piece in (stream[:first], stream[first:second], stream[second:]):
            self.write(piece)
            await self.flush()
            await asyncio.sleep(0.05)
        self.echo.reads_split += 1


@pytest.fixture
def echo(jp_asyncio_loop: asyncio.AbstractEventLoop) -> Iterator[EchoUpstream]:
    up = EchoUpstream()
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    app = tornado.web.Application([
        (r"/v1/models", _EchoModels),
        (r"/v1/chat/completions", _EchoChat, {"echo": up}),
    ])
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    up.base_url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}/v1"
    yield up
    server.stop()


def _upstreams(request: pytest.FixtureRequest) -> dict[str, Any]:
    """`sim`, `capture`, and `capture` twins with the policy options."""
    sim = request.getfixturevalue("simulator")
    cap = request.getfixturevalue("capture")
    keyed = {"api_key_env": KEY_ENV}
    return {"upstreams": {
        "sim": {"base_urls": [sim.base_url], **keyed},
        "capture": {"base_urls": [cap.base_url], **keyed},
        "capture-data": {"base_urls": [cap.base_url], "allow_media_data": True, **keyed},
        "capture-open": {"base_urls": [cap.base_url], "allow_media_urls": True,
                         "allow_chat_template": True, **keyed},
    }}


policy_upstreams = pytest.mark.parametrize("fanout_overrides", [_upstreams], indirect=True)


# ---------------------------------------------------------------- max_tokens


async def test_a_missing_or_null_max_tokens_is_sent_as_the_default(jp_ws_fetch, simulator):
    client = await open_batch(jp_ws_fetch)
    messages = [{"role": "user", "content": "x"}]
    await client.send({"type": "start", "id": "absent", "request": {"messages": messages,
                                                                    "seed": 1}})
    await client.send({"type": "start", "id": "null", "request": {"messages": messages,
                                                                  "max_tokens": None, "seed": 2}})
    await client.send({"type": "start", "id": "mct", "request": {
        "messages": messages, "max_completion_tokens": 40000, "seed": 3}})
    t = await client.wait_terminal("absent", "null", "mct")
    assert t["mct"]["code"] == "limit" and "max_completion_tokens 40000" in t["mct"]["message"]
    record = await wait_record(simulator, lambda r: len(r) == 2)
    assert sorted(e["max_tokens"] for e in record) == [4096, 4096]
    await client.close()


@pytest.mark.parametrize(
    "fanout_overrides", [{"default_max_tokens": 50000, "max_tokens_limit": 7}], indirect=True
)
async def test_the_default_max_tokens_never_exceeds_the_limit(jp_ws_fetch, simulator,
                                                              fanout_overrides):
    client = await open_batch(jp_ws_fetch)
    await client.start("d", max_tokens=None)
    assert (await client.wait_terminal("d"))["d"]["type"] == "end"
    record = await wait_record(simulator, lambda r: len(r) == 1)
    assert record[0]["max_tokens"] == 7 and record[0]["completion_tokens_sent"] <= 7
    await client.close()


# ---------------------------------------------------------------- SSRF: media, templates


SSRF_URL = "http://169.254.169.254/latest/meta-data/"
#: (request fields, the field the error must name) for each way to make the upstream fetch
#: a URL or run a template of the request's choosing.
REFUSED = {
    "image": ({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": SSRF_URL}}]}]},
        "messages[0].content[1].image_url.url"),
    "audio": ({"messages": [{"role": "user", "content": [
        {"type": "audio_url", "audio_url": {"url": SSRF_URL}}]}]},
        "messages[0].content[0].audio_url.url"),
    "video": ({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": [
        {"type": "video_url", "video_url": SSRF_URL}]}]},
        "messages[1].content[0].video_url.url"),
    "file": ({"messages": [{"role": "user", "content": [
        {"type": "file", "file": {"file_id": SSRF_URL}}]}]}, "messages[0].content[0].file.file_id"),
    "untyped": ({"messages": [{"role": "user", "content": [{"image_url": {"url": SSRF_URL}}]}]},
                "messages[0].content[0].type"),
    "smuggled": ({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "x", "image_url": {"url": SSRF_URL}}]}]},
        "messages[0].content[0].'image_url'"),
    "ollama": ({"messages": [{"role": "user", "content": "x", "images": [SSRF_URL]}]},
               "messages[0].'images'"),
    "template": ({"chat_template": "{{ 7*7 }}"}, "chat_template"),
    "template-kwarg": ({"chat_template_kwargs": {"chat_template": "{{ 7*7 }}"}},
                       "chat_template_kwargs.'chat_template'"),
}
INLINE = {"messages": [{"role": "user", "content": [
    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}],
    "max_tokens": 5}


async def test_media_urls_and_chat_templates_are_refused_naming_the_field(
    jp_ws_fetch, capture, no_unhandled_errors
):
    """The default: an upstream configured without the policy options takes none of them."""
    client = await open_batch(jp_ws_fetch)
    for name, (request, _) in REFUSED.items():
        request = {"messages": [{"role": "user", "content": "x"}], "max_tokens": 5, **request}
        await client.send({"type": "start", "id": name, "upstream": "capture",
                           "request": request})
    await client.send({"type": "start", "id": "inline", "upstream": "capture", "request": INLINE})
    t = await client.wait_terminal(*REFUSED, "inline")
    for name, (_, field) in REFUSED.items():
        error = t[name]
        assert error["type"] == "error" and error["code"] == "bad_request", error
        assert error["status"] == 400 and field in error["message"], error
    assert "messages[0].content[0].image_url.url" in t["inline"]["message"]
    assert "allow_media_data" in t["inline"]["message"]
    assert capture.requests == []  # nothing reached the upstream
    await client.close()


@policy_upstreams
async def test_media_and_chat_templates_pass_only_where_the_upstream_allows_them(
    jp_ws_fetch, capture, fanout_overrides, no_unhandled_errors
):
    client = await open_batch(jp_ws_fetch)
    for name, (request, field) in REFUSED.items():
        request = {"messages": [{"role": "user", "content": "x"}], "max_tokens": 5, **request}
        await client.send({"type": "start", "id": f"data-{name}", "upstream": "capture-data",
                           "request": request})
        await client.send({"type": "start", "id": f"open-{name}", "upstream": "capture-open",
                           "request": request})
    await client.send({"type": "start", "id": "data-inline", "upstream": "capture-data",
                       "request": INLINE})
    t = await client.wait_terminal(*(f"{u}-{n}" for u in ("data", "open") for n in REFUSED),
                                   "data-inline")
    # inline media is allowed there, URLs and templates are not
    assert t["data-inline"]["type"] == "end"
    for name, (_, field) in REFUSED.items():
        assert t[f"data-{name}"]["code"] == "bad_request" and field in t[f"data-{name}"]["message"]
    # an upstream allowing URLs and templates takes them, but never a malformed part
    for name, (_, field) in REFUSED.items():
        malformed = name in ("untyped", "smuggled", "ollama")
        assert t[f"open-{name}"]["type"] == ("error" if malformed else "end"), t[f"open-{name}"]
    bodies = [body for _, body in capture.requests]
    assert len(bodies) == 1 + len(REFUSED) - 3
    assert INLINE["messages"] in [b["messages"] for b in bodies]
    assert REFUSED["image"][0]["messages"] in [b["messages"] for b in bodies]
    assert {"chat_template": "{{ 7*7 }}"} in [b.get("chat_template_kwargs") for b in bodies]
    assert "{{ 7*7 }}" in [b.get("chat_template") for b in bodies]
    await client.close()


@policy_upstreams
async def test_no_request_field_reaches_a_header_or_another_host(
    jp_ws_fetch, capture, fanout_overrides
):
    """CRLF and URLs in every forwarded field stay inside the JSON body of the one request
    to the configured upstream."""
    evil = "a\r\nX-Evil: 1\r\nHost: 169.254.169.254"
    client = await open_batch(jp_ws_fetch)
    request = {
        "model": evil, "max_tokens": 5, "stop": [evil], "seed": 1,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": evil}], "name": evil},
            {"role": "assistant", "content": evil, "tool_calls": [
                {"id": evil, "type": "function", "function": {"name": evil, "arguments": evil}}]},
            {"role": "tool", "content": evil, "tool_call_id": evil},
            {"role": "user", "content": [{"type": "image_url",
                                          "image_url": {"url": f"http://{evil}/", "detail": evil}}]},
        ],
        "chat_template_kwargs": {"reasoning_effort": evil},
        "chat_template": evil,
        "extra_headers": {"X-Evil": "1"}, "extra_body": {"url": SSRF_URL},
        "mm_processor_kwargs": {"url": SSRF_URL}, "base_url": SSRF_URL,
    }
    await client.send({"type": "start", "id": "h", "upstream": "capture-open", "request": request})
    assert (await client.wait_terminal("h"))["h"]["type"] == "end"
    [(headers, body)] = capture.requests
    assert "x-evil" not in headers and "169.254" not in json.dumps(headers)
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert body["messages"] == request["messages"] and body["model"] == evil
    for key in ("extra_headers", "extra_body", "mm_processor_kwargs", "base_url"):
        assert key not in body
    await client.close()


# ---------------------------------------------------------------- key leaks


def _with_echo(request: pytest.FixtureRequest) -> dict[str, Any]:
    sim = request.getfixturevalue("simulator")
    echo_up = request.getfixturevalue("echo")
    request.getfixturevalue("monkeypatch").setenv(ECHO_KEY_ENV, ECHO_KEY)
    return {"upstreams": {
        "sim": {"base_urls": [sim.base_url], "api_key_env": KEY_ENV},
        "echo": {"base_urls": [echo_up.base_url], "api_key_env": ECHO_KEY_ENV},
    }}


with_echo = pytest.mark.parametrize("fanout_overrides", [_with_echo], indirect=True)


@with_echo
async def test_a_key_in_an_error_body_straddling_the_length_limit_is_scrubbed(
    jp_ws_fetch, echo, fanout_overrides, caplog
):
    caplog.set_level(logging.DEBUG)
    client = await open_batch(jp_ws_fetch)
    await client.start("error", upstream="echo", messages=[{"role": "user", "content": "error"}])
    error = (await client.wait_terminal("error"))["error"]
    assert error["type"] == "error" and error["status"] == 401
    assert error["message"].startswith("xxxx") and "***" in error["message"]
    received = everything_received(client)
    assert not leaked(received, ECHO_KEY), leaked(received, ECHO_KEY)[-1:]
    assert not leaked(caplog.text, ECHO_KEY)
    await client.close()


@with_echo
async def test_a_key_in_a_2xx_stream_split_across_two_reads_is_scrubbed(
    jp_ws_fetch, echo, fanout_overrides, caplog
):
    caplog.set_level(logging.DEBUG)
    client = await open_batch(jp_ws_fetch)
    await client.start("stream", upstream="echo", messages=[{"role": "user", "content": "stream"}])
    assert (await client.wait_terminal("stream"))["stream"]["type"] == "end"
    assert echo.reads_split == 1
    assert len(client.messages) >= 4  # open, at least two records, end
    body = bytes(client.body["stream"]).decode()
    received = everything_received(client)
    assert not leaked(received, ECHO_KEY), leaked(received, ECHO_KEY)[-1:]
    assert "your key is ***, bye" in body and "Bearer *** is not valid" in body
    assert body.endswith("data: [DONE]\n\n")
    assert not leaked(caplog.text, ECHO_KEY)
    await client.close()


@with_echo
async def test_a_key_in_a_model_id_is_scrubbed_from_the_listing(jp_fetch, echo, fanout_overrides):
    listing = (await jp_fetch("fanout", "upstreams")).body.decode()
    assert not leaked(listing, ECHO_KEY), leaked(listing, ECHO_KEY)[-1:]
    by_name = {u["name"]: u for u in json.loads(listing)["upstreams"]}
    assert by_name["echo"]["models"] == ["echo-model", "***", "org/***-instruct"]
