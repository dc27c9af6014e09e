"""Behind a real nginx configured with the example of docs/nginx.md.

browser --ws--> nginx ("jupyter" block) --> Jupyter server (base_url /user/alice/)
                                               |--> simulator                       upstream "sim"
                                               '--> nginx ("vllm" block) --> simulator  upstream "vianginx"

The nginx configuration is the document's blocks verbatim, ports replaced (nginx_fixture).
"""
from __future__ import annotations

import json
import time
from typing import Any

import pytest
import tornado.httpclient
import tornado.websocket

from .nginx_fixture import BASE_URL, NGINX, PACED, NginxProcess, assert_incremental, start_nginx
from .processes import SimulatorProcess, process_fixtures

if NGINX is None:
    pytest.skip(
        "nginx is not installed (Debian: apt-get install nginx; scripts/setup.sh should "
        "install it so that CI runs these tests)",
        allow_module_level=True,
    )

from .proxy_fixtures import *  # noqa: E402,F403 - fixtures
from .proxy_fixtures import API_KEY, KEY_ENV, BatchClient, entry_for, wait_record  # noqa: E402
from .sse import sse_events, sse_text  # noqa: E402

LONG = {"tokens_per_second": 100, "ttft_ms": 0, "reasoning_tokens": 0, "answer_tokens": 400}


@pytest.fixture
def jp_base_url() -> str:
    return BASE_URL  # the documented block serves /user/alice/


def _start_nginx(request: pytest.FixtureRequest) -> NginxProcess:
    """nginx in front of this test's Jupyter server and in front of the simulator."""
    return start_nginx(
        request.getfixturevalue("tmp_path") / "nginx",
        jupyter_port=request.getfixturevalue("jp_http_port"),
        vllm_port=request.getfixturevalue("simulator").port,
    )


#: A fresh nginx for each test; its error log is checked once it has stopped.
nginx = process_fixtures(
    "nginx", _start_nginx, scope="function", after_stop=NginxProcess.assert_no_serious_errors
)


@pytest.fixture
def fanout_overrides(nginx: NginxProcess, simulator: SimulatorProcess,
                     request: pytest.FixtureRequest) -> dict[str, Any]:
    """`sim`: the simulator directly; `vianginx`: the simulator behind the "vllm" block; and
    a test's own settings (parametrized indirectly with a dict)."""
    return {"upstreams": {
        "sim": {"base_urls": [simulator.base_url], "api_key_env": KEY_ENV},
        "vianginx": {"base_urls": [nginx.vllm_base_url], "api_key_env": KEY_ENV},
    }, **getattr(request, "param", {})}


async def connect(nginx: NginxProcess, headers: dict[str, str]) -> BatchClient:
    req = tornado.httpclient.HTTPRequest(
        f"{nginx.ws_url}{BASE_URL}fanout/batch", headers=headers, connect_timeout=10
    )
    return BatchClient(await tornado.websocket.websocket_connect(req))


def host_of(entry: dict) -> str:
    raw = entry["headers"]
    items = raw.items() if isinstance(raw, dict) else raw
    return {str(k).lower(): v for k, v in items}.get("host") or ""


async def test_http_and_auth_through_nginx(jp_serverapp, nginx, jp_auth_header, http_server_client):
    client = tornado.httpclient.AsyncHTTPClient()
    url = f"{nginx.http_url}{BASE_URL}fanout/upstreams"
    data = json.loads((await client.fetch(url, headers=jp_auth_header)).body)
    assert {u["name"] for u in data["upstreams"]} == {"sim", "vianginx"}
    assert all(u["error"] is None and u["models"] for u in data["upstreams"])  # /v1/models via nginx
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await client.fetch(url)
    assert e.value.code in (401, 403)
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await connect(nginx, {})
    assert e.value.code in (401, 403)
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await connect(nginx, {"Authorization": "token wrong"})
    assert e.value.code in (401, 403)


async def test_batch_through_nginx_streams_unbuffered(
    jp_serverapp, nginx, jp_auth_header, http_server_client, simulator, no_unhandled_errors
):
    """Both hops: bytes arrive as the simulator paces them (40 events at 20/s, ~2 s)."""
    simulator.configure(**PACED)
    client = await connect(nginx, dict(jp_auth_header))
    started = time.time()
    await client.start("direct")  # browser -> nginx -> Jupyter -> simulator
    await client.start("hops", upstream="vianginx")  # ... Jupyter -> nginx -> simulator
    terminals = await client.wait_terminal("direct", "hops")
    record = await wait_record(
        simulator, lambda r: len(r) == 2 and all(e.get("outcome") == "completed" for e in r)
    )
    for rid in ("direct", "hops"):
        assert terminals[rid]["type"] == "end"
        assert_incremental(client, rid, started)
        raw = bytes(client.body[rid])
        assert sse_events(raw)[-1] == "[DONE]"
        assert sse_text(raw)[1] == entry_for(record, rid)["content"]
    # the second one really went through the "vllm" block (its Host is nginx's)
    assert host_of(entry_for(record, "hops")) == f"127.0.0.1:{nginx.vllm_listen}"
    assert host_of(entry_for(record, "direct")) == f"127.0.0.1:{simulator.port}"
    await client.close()


async def both_streaming(
    nginx: NginxProcess, jp_auth_header: dict[str, str], simulator: SimulatorProcess,
    more_than: int,
) -> BatchClient:
    """Two long responses, "direct" and "hops" (through the "vllm" block), each past
    `more_than` bytes."""
    simulator.configure(api_key=API_KEY, **LONG)
    client = await connect(nginx, dict(jp_auth_header))
    await client.start("direct")
    await client.start("hops", upstream="vianginx")
    await client.wait(
        lambda: all(len(client.body.get(r, b"")) > more_than for r in ("direct", "hops"))
    )
    return client


async def both_disconnected(simulator: SimulatorProcess) -> list[dict]:
    """The simulator's record once both responses' connections were closed."""
    return await wait_record(
        simulator, lambda r: len(r) == 2 and all(e.get("disconnected") for e in r), timeout=3
    )


async def test_stop_through_nginx_reaches_the_simulator(
    jp_serverapp, nginx, jp_auth_header, http_server_client, simulator, no_unhandled_errors
):
    client = await both_streaming(nginx, jp_auth_header, simulator, more_than=200)
    stopped_at = time.time()
    await client.stop("direct")
    await client.stop("hops")
    terminals = await client.wait_terminal("direct", "hops")
    assert terminals["direct"]["type"] == terminals["hops"]["type"] == "stopped"
    record = await both_disconnected(simulator)
    for rid in ("direct", "hops"):
        entry = entry_for(record, rid)
        assert entry["disconnected"] is True
        assert entry["disconnected_at"] - stopped_at < 0.5, entry
    await client.close()


@pytest.mark.parametrize("fanout_overrides", [{"detached_timeout": 0}], indirect=True)
async def test_closing_the_socket_through_nginx_closes_the_streams(
    jp_serverapp, nginx, jp_auth_header, http_server_client, simulator, no_unhandled_errors
):
    """The browser goes away: nginx closes its socket to Jupyter, which closes the upstreams
    (at once with detached_timeout = 0: the close reaches the server through nginx)."""
    client = await both_streaming(nginx, jp_auth_header, simulator, more_than=0)
    closed_at = time.time()
    await client.close()
    record = await both_disconnected(simulator)
    for rid in ("direct", "hops"):
        assert entry_for(record, rid)["disconnected_at"] - closed_at < 1.0


async def test_browser_style_cookie_and_origin_through_nginx(
    jp_serverapp, nginx, jp_auth_header, http_server_client, simulator
):
    """A browser sends the login cookie and its page's Origin, never the token.

    Jupyter compares Origin with Host: the documented `Host $http_host` keeps the port, so
    the page's own origin (nginx's address) is accepted and another one refused.
    """
    simulator.configure(api_key=API_KEY, **FAST)
    http = tornado.httpclient.AsyncHTTPClient()
    response = await http.fetch(f"{nginx.http_url}{BASE_URL}api/status", headers=jp_auth_header)
    cookies = [c.split(";")[0] for c in response.headers.get_list("Set-Cookie")]
    assert cookies, "the token login should set a cookie"
    cookie = "; ".join(cookies)
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await connect(nginx, {"Cookie": cookie, "Origin": "http://evil.example"})
    assert e.value.code == 403
    client = await connect(nginx, {"Cookie": cookie, "Origin": nginx.http_url})
    await client.start("b1", max_tokens=10)
    terminals = await client.wait_terminal("b1")
    assert terminals["b1"]["type"] == "end"
    assert sse_events(bytes(client.body["b1"]))[-1] == "[DONE]"
    await client.close()
