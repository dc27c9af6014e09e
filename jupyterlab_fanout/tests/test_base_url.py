"""Under a JupyterHub-style base_url (`/user/alice/`): routes, authentication, streaming."""
from __future__ import annotations

import json
import time

import pytest
import tornado.httpclient
import tornado.websocket

from .nginx_fixture import PACED, assert_incremental
from .proxy_fixtures import *  # noqa: F403 - fixtures
from .proxy_fixtures import BatchClient, entry_for, wait_record
from .sse import sse_events, sse_text

BASE_URL = "/user/alice/"


@pytest.fixture
def jp_base_url() -> str:
    return BASE_URL


def _ws_request(port: int, path: str, headers: dict[str, str] | None = None):
    return tornado.httpclient.HTTPRequest(f"ws://localhost:{port}{path}", headers=headers or {})


async def test_routes_live_under_base_url(
    jp_serverapp, jp_http_port, jp_auth_header, http_server_client
):
    assert jp_serverapp.base_url == BASE_URL
    fetch = http_server_client.fetch
    response = await fetch(f"{BASE_URL}fanout/upstreams", headers=jp_auth_header)
    assert json.loads(response.body)["default"] == "sim"
    # not at the root: the server's routes all carry the prefix
    for path in ("/fanout/upstreams", "/user/fanout/upstreams", "/user/bob/fanout/upstreams"):
        with pytest.raises(tornado.httpclient.HTTPClientError) as e:
            await fetch(path, headers=jp_auth_header)
        assert e.value.code == 404, path
    # authentication still required under the prefix
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await fetch(f"{BASE_URL}fanout/upstreams")
    assert e.value.code in (401, 403)


async def test_batch_socket_lives_under_base_url_and_needs_auth(
    jp_serverapp, jp_http_port, jp_auth_header, http_server_client
):
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await tornado.websocket.websocket_connect(
            _ws_request(jp_http_port, f"{BASE_URL}fanout/batch")
        )
    assert e.value.code in (401, 403)
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await tornado.websocket.websocket_connect(
            _ws_request(jp_http_port, "/fanout/batch", jp_auth_header)
        )
    assert e.value.code == 404
    ws = await tornado.websocket.websocket_connect(
        _ws_request(jp_http_port, f"{BASE_URL}fanout/batch", jp_auth_header)
    )
    ws.close()


async def test_batch_streams_incrementally_under_base_url(
    jp_serverapp, jp_http_port, jp_auth_header, http_server_client, simulator,
    no_unhandled_errors,
):
    """40 events at 20/s (~2 s): the first frame comes within 1 s, the rest as paced."""
    simulator.configure(**PACED)
    ws = await tornado.websocket.websocket_connect(
        _ws_request(jp_http_port, f"{BASE_URL}fanout/batch", jp_auth_header)
    )
    client = BatchClient(ws)
    started = time.time()
    await client.start("alice1")
    await client.wait_terminal("alice1")
    assert client.terminal("alice1")["type"] == "end"
    assert_incremental(client, "alice1", started)
    raw = bytes(client.body["alice1"])
    assert sse_events(raw)[-1] == "[DONE]"
    record = await wait_record(simulator, lambda r: len(r) == 1 and r[0].get("content"))
    assert sse_text(raw)[1] == entry_for(record, "alice1")["content"]
    await client.close()
