"""Authentication, Origin checks, SSRF attempts, keys and browser credentials."""
from __future__ import annotations

import json

import pytest
import tornado.httpclient
import tornado.websocket
from jupyter_server.auth import Authorizer

from .proxy_fixtures import *  # noqa: F403 - fixtures
from .proxy_fixtures import API_KEY, open_batch, wait_record


def headers_of(entry: dict) -> dict[str, str]:
    """The request headers the simulator recorded, lower-cased names."""
    raw = entry["headers"]
    items = raw.items() if isinstance(raw, dict) else raw
    return {str(k).lower(): v for k, v in items if v is not None}


def ws_url(port: int, host: str = "localhost", base: str = "/a%40b/") -> str:
    return f"ws://{host}:{port}{base}fanout/batch"


async def test_http_without_token_is_refused(jp_fetch):
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await jp_fetch("fanout", "upstreams", headers={"Authorization": ""})
    assert e.value.code in (401, 403)


async def test_http_with_bad_token_is_refused(jp_fetch):
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await jp_fetch("fanout", "upstreams", headers={"Authorization": "token not-the-token"})
    assert e.value.code in (401, 403)


async def test_ws_without_token_is_refused(jp_serverapp, jp_http_port, http_server_client):
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await tornado.websocket.websocket_connect(ws_url(jp_http_port))
    assert e.value.code in (401, 403)


async def test_ws_with_bad_token_is_refused(jp_serverapp, jp_http_port, http_server_client):
    req = tornado.httpclient.HTTPRequest(
        ws_url(jp_http_port), headers={"Authorization": "token wrong"}
    )
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await tornado.websocket.websocket_connect(req)
    assert e.value.code in (401, 403)


async def test_ws_cross_origin_is_refused(jp_fetch, jp_http_port, caplog):
    """A browser page elsewhere carries the login cookie, never the token: refused.

    (jupyter_server skips the Origin check for requests that carry the token itself,
    which a cross-origin page cannot know.)
    """
    response = await jp_fetch("api", "status")
    cookies = [c.split(";")[0] for c in response.headers.get_list("Set-Cookie")]
    assert cookies, "the token login should set a cookie"
    cookie = "; ".join(cookies)
    # the login cookie's name includes the host the token login was made on
    host = "127.0.0.1" if any("127-0-0-1" in c for c in cookies) else "localhost"
    url = ws_url(jp_http_port, host)
    req = tornado.httpclient.HTTPRequest(
        url, headers={"Cookie": cookie, "Origin": "http://evil.example"}
    )
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await tornado.websocket.websocket_connect(req)
    assert e.value.code == 403
    assert "Blocking Cross Origin WebSocket Attempt" in caplog.text  # refused for its Origin
    # the same origin with the same cookie is fine
    req = tornado.httpclient.HTTPRequest(
        url, headers={"Cookie": cookie, "Origin": f"http://{host}:{jp_http_port}"}
    )
    ws = await tornado.websocket.websocket_connect(req)
    ws.close()


async def test_upstreams_listing_has_no_address_or_key(jp_fetch, simulator, refused_port):
    response = await jp_fetch("fanout", "upstreams")
    text = response.body.decode()
    data = json.loads(text)
    assert data["default"] == "sim"
    by_name = {u["name"]: u for u in data["upstreams"]}
    assert set(by_name) == {"sim", "faulty", "refused", "allow", "capture"}
    assert by_name["sim"]["error"] is None and "fanout-sim" in by_name["sim"]["models"]
    assert by_name["allow"]["models"] == ["fanout-sim"]
    assert by_name["allow"]["default_model"] == "fanout-sim"
    assert by_name["refused"]["error"] and by_name["refused"]["models"] == []
    assert data["limits"]["max_responses_per_batch"] == 64
    for secret in (API_KEY, "127.0.0.1", str(simulator.port), str(refused_port), "base_url",
                   "http://", "Bearer"):
        assert secret not in text, secret
    assert response.headers["Content-Type"].startswith("application/json")


SMUGGLED_NAMES = [
    "../x", "http://evil", "default@127.0.0.1:1", "sim/../refused", "sim@127.0.0.1:1",
    "a\r\nX-Evil: 1", "SIM", " sim", 7, ["sim"], {"name": "sim"},
]


async def test_upstream_names_cannot_smuggle_an_address(jp_ws_fetch, simulator, faulty):
    client = await open_batch(jp_ws_fetch)
    ids = []
    for i, name in enumerate(SMUGGLED_NAMES):
        rid = f"n{i}"
        ids.append(rid)
        await client.send({"type": "start", "id": rid, "upstream": name,
                           "request": {"messages": [{"role": "user", "content": "x"}]}})
    t = await client.wait_terminal(*ids)
    for rid in ids:
        assert t[rid]["type"] == "error"
        assert t[rid]["code"] in ("unknown_upstream", "bad_request"), t[rid]
    assert simulator.requests() == [] and faulty.requests() == []
    await client.close()


async def test_an_empty_or_absent_upstream_name_means_the_default_upstream(jp_ws_fetch, simulator):
    client = await open_batch(jp_ws_fetch)
    messages = [{"role": "user", "content": "x"}]
    await client.send({"type": "start", "id": "empty", "upstream": "", "request": {"messages": messages, "max_tokens": 5}})
    await client.send({"type": "start", "id": "absent", "request": {"messages": messages, "max_tokens": 5}})
    t = await client.wait_terminal("empty", "absent")
    assert t["empty"]["type"] == "end" and t["absent"]["type"] == "end"
    record = await wait_record(simulator, lambda r: len(r) == 2)
    assert len(record) == 2  # both went to the default upstream, "sim"
    await client.close()


async def test_request_keys_and_values_cannot_redirect_or_inject(jp_ws_fetch, simulator):
    client = await open_batch(jp_ws_fetch)
    await client.start(
        "inj", max_tokens=5,
        url="http://127.0.0.1:1/v1", base_url="http://127.0.0.1:1/v1", api_base="http://x",
        host="127.0.0.1", port=1, headers={"Authorization": "Bearer evil", "X-Evil": "1"},
        extra_headers={"X-Evil": "1"}, api_key="evil", user="a\r\nX-Evil: 1",
    )
    await client.start("inj-model", model="a\r\nX-Evil: 1")  # unknown model: the upstream says 404
    await client.start("inj-allow", upstream="allow", model="../../etc\r\nX-Evil: 1")
    t = await client.wait_terminal("inj", "inj-model", "inj-allow")
    assert t["inj"]["type"] == "end"
    assert t["inj-model"]["type"] == "error"
    assert t["inj-allow"]["code"] == "bad_request" and "not allowed" in t["inj-allow"]["message"]
    record = await wait_record(simulator, lambda r: len(r) == 2 and all(e.get("outcome") != "running" for e in r))
    for entry in record:
        headers = headers_of(entry)
        assert "x-evil" not in headers
        assert headers["authorization"] == f"Bearer {API_KEY}"
        assert not any("evil" in v.lower() for v in headers.values())
    await client.close()


async def test_browser_credentials_never_reach_upstream_key_never_reaches_browser(
    jp_ws_fetch, jp_serverapp, simulator
):
    token = jp_serverapp.identity_provider.token
    client = await open_batch(
        jp_ws_fetch, headers={"Cookie": "browser-session=cookie-value-123"}
    )
    await client.start("cred", max_tokens=5)
    await client.start("cred-err", max_tokens=20000)  # an upstream error passes through
    await client.start("cred-unk", upstream="nope")
    await client.wait_terminal("cred", "cred-err", "cred-unk")
    record = await wait_record(simulator, lambda r: len(r) == 2 and all(e.get("outcome") != "running" for e in r))
    for entry in record:
        headers = headers_of(entry)
        assert headers["authorization"] == f"Bearer {API_KEY}"
        assert "cookie" not in headers
        assert not any(token in v or "cookie-value-123" in v for v in headers.values())
    for _, message in client.messages:
        text = json.dumps(message) if isinstance(message, dict) else message[1].decode()
        assert API_KEY not in text
    await client.close()


async def test_upstream_rejecting_the_key_does_not_leak_it(jp_ws_fetch, simulator):
    simulator.configure(api_key="another-key")
    client = await open_batch(jp_ws_fetch)
    await client.start("k")
    t = await client.wait_terminal("k")
    assert t["k"]["type"] == "error" and t["k"]["status"] == 401
    assert API_KEY not in json.dumps(t["k"])
    await client.close()


async def test_garbage_messages_get_errors_not_crashes(jp_ws_fetch, simulator, no_unhandled_errors):
    client = await open_batch(jp_ws_fetch)
    for raw in ("not json", "[]", "42", json.dumps({"type": "launch"}),
                json.dumps({"type": "start"}), json.dumps({"type": "start", "id": "g"}),
                json.dumps({"type": "start", "id": "x" * 300, "upstream": "sim"})):
        await client.ws.write_message(raw)
    await client.ws.write_message(b"\x00\x01binary", binary=True)
    await client.start("g2", messages="not a list")
    await client.start("g3", max_tokens=-1)
    await client.start("g3b", max_tokens=True)
    await client.start("g4")
    await client.start("g4")  # a duplicate id
    await client.wait_terminal("g4")
    await client.wait(lambda: len(client.json_messages()) >= 13)
    errors = [m for m in client.json_messages() if m["type"] == "error"]
    assert all(e["code"] in ("bad_request", "unknown_upstream") for e in errors), errors
    assert client.terminal("g4")["type"] == "end"
    assert len(simulator.requests()) == 1
    await client.close()


class _NoFanout(Authorizer):
    """An authorizer that lets a user do everything but use the fanout proxy."""

    def is_authorized(self, handler, user, action, resource):
        return resource != "fanout"


@pytest.mark.parametrize("server_app_overrides", [{"authorizer_class": _NoFanout}], indirect=True)
async def test_the_server_authorizer_is_asked_for_the_fanout_resource(jp_fetch, jp_ws_fetch, simulator):
    with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
        await jp_fetch("fanout", "upstreams")
    assert refused.value.code == 403
    with pytest.raises(tornado.httpclient.HTTPClientError) as refused_ws:
        await jp_ws_fetch("fanout", "batch")
    assert refused_ws.value.code == 403
    # Everything else still works for this user.
    assert (await jp_fetch("api", "status")).code == 200
    assert simulator.requests() == []
