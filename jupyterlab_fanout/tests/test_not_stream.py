"""A 2xx answer that is not an event stream the browser can read (issue 14, item 6).

An HTML page, a JSON body, a compressed body, a malformed chunk, a response head over the
client's limit: each ends its own response with a specific `error` (docs/protocol.md:
`upstream_not_stream`, `upstream_protocol`), keeps the bytes already relayed, and leaves the
other response of the batch to complete. The upstream is a scripted loopback server: the
first segment of the request's path picks its answer.
"""
from __future__ import annotations

import gzip
import json
import re
import socket
import threading
import time
from typing import Any, Callable, Dict, Iterator, List

import pytest

from .proxy_fixtures import *  # noqa: F403 - fixtures
from .proxy_fixtures import API_KEY, BatchClient, open_batch
from .sse import sse_events

FIRST_EVENT = b'data: {"object": "chat.completion.chunk", "choices": [{"index": 0, ' \
    b'"delta": {"content": "Hello"}, "finish_reason": null}]}\n\n'


def _answer(status_and_headers: str, body: bytes) -> bytes:
    return (f"HTTP/1.1 {status_and_headers}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode("latin-1") + body


HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Sign in &ndash; Corp <b>SSO</b></title>"
    b"<script>alert('x')</script></head><body><form action=\"http://10.1.2.3:8000/login\">"
    b"<input name=user></form></body></html>"
)
COMPLETION = json.dumps({
    "id": "chatcmpl-1", "object": "chat.completion", "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"},
                 "finish_reason": "stop"}],
}).encode()
JSON_ERROR = json.dumps({"error": {
    "message": f"quota exceeded for key {API_KEY}", "type": "insufficient_quota"}}).encode()
PLAIN = (f"upstream connect error to http://10.0.0.5:8000/v1 (key {API_KEY})\n"
         "reset reason: overflow").encode()
CHUNKED_SSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n")


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


#: case -> the parts the server sends, with a pause (seconds, a float) between some.
SCRIPTS: Dict[str, List[Any]] = {
    "html": [_answer("200 OK\r\nContent-Type: text/html; charset=utf-8", HTML_PAGE)],
    "completion": [_answer("200 OK\r\nContent-Type: application/json", COMPLETION)],
    "jsonerror": [_answer("200 OK\r\nContent-Type: application/json", JSON_ERROR)],
    "plain": [_answer("200 OK\r\nContent-Type: text/plain", PLAIN)],
    "gzip": [CHUNKED_SSE.replace(b"\r\n\r\n", b"\r\nContent-Encoding: gzip\r\n\r\n")
             + _chunk(gzip.compress(FIRST_EVENT)), 5.0],
    # One good event, then (once it was relayed) a chunk size that is not hexadecimal.
    "badchunk": [CHUNKED_SSE + _chunk(FIRST_EVENT), 0.3, b"ZZ\r\ndata: x\r\n", 5.0],
    # About 100 KB of headers: over the client's 64 KiB limit.
    "bighead": [b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                + b"".join(b"X-Filler-%d: %s\r\n" % (i, b"f" * 1000) for i in range(100))
                + b"Content-Length: 0\r\n\r\n", 5.0],
}


class ScriptedUpstream:
    """A loopback HTTP server that answers each request with the script its path names."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._connections: List[socket.socket] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, case: str) -> str:
        return f"http://127.0.0.1:{self.port}/{case}/v1"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            found = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
            length = int(found.group(1)) if found else 0
            while len(body) < length:
                body += connection.recv(65536)
            case = head.split(b" ")[1].decode().split("/")[1]
            for part in SCRIPTS[case]:
                if isinstance(part, float):
                    # Pause, but end at once when the proxy closes the connection.
                    connection.settimeout(part)
                    try:
                        if not connection.recv(1):
                            return
                    except socket.timeout:
                        pass
                    connection.settimeout(None)
                else:
                    connection.sendall(part)
        except OSError:
            pass
        finally:
            connection.close()

    def close(self) -> None:
        self._listener.close()
        for connection in self._connections:
            connection.close()


@pytest.fixture
def scripted() -> Iterator[ScriptedUpstream]:
    server = ScriptedUpstream()
    yield server
    server.close()


def _overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The simulator as "sim", and one upstream per script (the key configured on each, so
    that messages are scrubbed of it; "badchunk-nokey" relays bytes unfiltered)."""
    sim = request.getfixturevalue("simulator")
    server = request.getfixturevalue("scripted")
    upstreams: Dict[str, Any] = {
        "sim": {"base_urls": [sim.base_url], "api_key_env": "FANOUT_TEST_API_KEY"},
    }
    for case in SCRIPTS:
        upstreams[case] = {"base_urls": [server.url(case)], "dialect": "generic",
                           "api_key_env": "FANOUT_TEST_API_KEY"}
    upstreams["badchunk-nokey"] = {"base_urls": [server.url("badchunk")], "dialect": "generic"}
    return {"upstreams": upstreams, "idle_timeout": 2.0}


scripted_upstreams = pytest.mark.parametrize("fanout_overrides", [_overrides], indirect=True)


async def _run_beside_a_good_response(jp_ws_fetch: Any, upstream: str) -> tuple[BatchClient, dict]:
    """Start "ok" on the simulator and "bad" on `upstream`; "ok" must complete normally.
    Returns the client and the terminal message of "bad"."""
    client = await open_batch(jp_ws_fetch)
    await client.start("ok")
    await client.start("bad", upstream=upstream)
    t = await client.wait_terminal("ok", "bad", timeout=10)
    assert t["ok"]["type"] == "end"
    assert sse_events(bytes(client.body["ok"]))[-1] == "[DONE]"
    return client, t["bad"]


def _kinds(client: BatchClient, rid: str) -> List[str]:
    return [("bytes" if isinstance(m, tuple) else m["type"]) for _, m in client.messages
            if (m[0] if isinstance(m, tuple) else m.get("id")) == rid]


def _safe(message: str) -> None:
    """Nothing of the upstream's address, key or markup in a message meant for the browser."""
    assert API_KEY not in message
    assert "127.0.0.1" not in message and "10.0.0.5" not in message and "10.1.2.3" not in message
    assert "<" not in message and ">" not in message


NOT_STREAM: Dict[str, Callable[[str], bool]] = {
    "html": lambda m: m == ("upstream 'html' answered HTTP 200 with an HTML page titled "
                            "'Sign in – Corp SSO' (text/html), not an event stream"),
    "completion": lambda m: m == (
        "upstream 'completion' answered HTTP 200 with application/json, not an event stream: "
        "a whole chat completion at once (it ignored `stream: true`)"),
    "jsonerror": lambda m: m == (
        "upstream 'jsonerror' answered HTTP 200 with application/json, not an event stream: "
        "quota exceeded for key ***"),
    "plain": lambda m: m == (
        "upstream 'plain' answered HTTP 200 with text/plain, not an event stream: "
        "upstream connect error to [address] (key ***) reset reason: overflow"),
}


@scripted_upstreams
@pytest.mark.parametrize("case", sorted(NOT_STREAM))
async def test_a_2xx_that_is_not_an_event_stream_names_what_it_was(
    jp_ws_fetch, scripted, fanout_overrides, case, no_unhandled_errors
):
    client, bad = await _run_beside_a_good_response(jp_ws_fetch, case)
    assert bad["type"] == "error" and bad["code"] == "upstream_not_stream", bad
    assert bad["status"] == 502
    assert NOT_STREAM[case](bad["message"]), bad["message"]
    _safe(bad["message"])
    assert _kinds(client, "bad") == ["error"]
    assert "bad" not in client.body  # not one byte of the page reached the browser
    await client.close()


@scripted_upstreams
async def test_a_compressed_stream_is_an_error_saying_so(
    jp_ws_fetch, scripted, fanout_overrides, no_unhandled_errors
):
    client, bad = await _run_beside_a_good_response(jp_ws_fetch, "gzip")
    assert bad == {
        "type": "error", "id": "bad", "status": 502, "code": "upstream_not_stream",
        "message": "upstream 'gzip' compressed its stream (Content-Encoding: gzip) although "
                   "the proxy asked for none (Accept-Encoding: identity); turn compression off "
                   "for this upstream (e.g. in its reverse proxy)",
    }
    assert _kinds(client, "bad") == ["error"]
    assert "bad" not in client.body
    await client.close()


@scripted_upstreams
@pytest.mark.parametrize("upstream", ["badchunk", "badchunk-nokey"])
async def test_a_malformed_chunk_mid_stream_is_a_protocol_error_after_the_bytes_before_it(
    jp_ws_fetch, scripted, fanout_overrides, upstream, no_unhandled_errors
):
    """With the key configured the bytes go through the scrubber, without it unfiltered:
    either way the event before the bad chunk stays relayed, and the response ends with
    an error that names the cause (it used to end as a plain `end`)."""
    started = time.monotonic()
    client, bad = await _run_beside_a_good_response(jp_ws_fetch, upstream)
    assert bad == {
        "type": "error", "id": "bad", "status": 502, "code": "upstream_protocol",
        "message": f"upstream {upstream!r} broke the HTTP protocol mid-stream: "
                   "invalid character in chunk size",
    }
    assert bytes(client.body["bad"]) == FIRST_EVENT
    assert _kinds(client, "bad") == ["open", "bytes", "error"]
    assert time.monotonic() - started < 3  # not an idle timeout
    await client.close()


@scripted_upstreams
async def test_a_response_head_over_the_limit_is_a_protocol_error_saying_so(
    jp_ws_fetch, scripted, fanout_overrides, no_unhandled_errors
):
    client, bad = await _run_beside_a_good_response(jp_ws_fetch, "bighead")
    assert bad == {
        "type": "error", "id": "bad", "status": 502, "code": "upstream_protocol",
        "message": "upstream 'bighead' broke the HTTP protocol: "
                   "the response head is larger than 64 KiB",
    }
    assert _kinds(client, "bad") == ["error"]
    await client.close()


# -- the message alone -------------------------------------------------------------------------


def _upstream() -> Any:
    import logging

    from jupyterlab_fanout.config import UpstreamSpec
    from jupyterlab_fanout.upstream import Upstream

    return Upstream(UpstreamSpec(name="u", base_urls=("http://127.0.0.1:1/v1",), api_key=API_KEY),
                    idle_timeout=1, connect_timeout=1, models_timeout=1,
                    log=logging.getLogger("test"))


@pytest.mark.parametrize("content_type, body, expected", [
    # Markup hidden in entities is still markup: removed after decoding.
    ("text/plain", b"&lt;script&gt;alert(1)&lt;/script&gt; down for maintenance",
     "upstream 'u' answered HTTP 200 with text/plain, not an event stream: alert(1) down for "
     "maintenance"),
    # A page labelled as text is still a page: its title only.
    ("text/plain", b"  <!DOCTYPE html><title>Oops</title><p>at [fe80::1]:8000</p>",
     "upstream 'u' answered HTTP 200 with an HTML page titled 'Oops' (text/plain), not an "
     "event stream"),
    ("text/plain", b"proxy at [fe80::1]:8000 and 192.168.1.20 refused " + API_KEY.encode(),
     "upstream 'u' answered HTTP 200 with text/plain, not an event stream: proxy at [address] "
     "and [address] refused ***"),
    ("application/octet-stream", b"\xff\xfe\x00binary",
     "upstream 'u' answered HTTP 200 with application/octet-stream, not an event stream"),
    ("text/plain", b"x" * 1000,
     "upstream 'u' answered HTTP 200 with text/plain, not an event stream: " + "x" * 199 + "…"),
    ('"><img src=x>', b"",
     "upstream 'u' answered HTTP 200 with an unreadable value, not an event stream"),
])
def test_the_message_of_a_body_that_is_not_a_stream(content_type, body, expected):
    from jupyterlab_fanout.upstream import not_stream_error

    error = not_stream_error(200, content_type, body, _upstream())
    assert (error.code, error.status, error.message) == ("upstream_not_stream", 502, expected)
