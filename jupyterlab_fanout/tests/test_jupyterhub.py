"""A real JupyterHub (with configurable-http-proxy) decides who may use the proxy.

The Hub and the single-user servers are configured with the example blocks of
docs/jupyterhub.md, verbatim, plus test-only settings (loopback ports, DummyAuthenticator,
SimpleLocalProcessSpawner). Three users:

- alice holds the documented `fanout` role (`custom:fanout:use!user`); her server uses
  `FanoutHubAuthorizer`;
- bob holds only `access:servers!user=alice` and `access:servers!user=carol`;
- carol's server keeps JupyterHub's stock behaviour (no authorizer configured): the gap the
  authorizer closes, shown by bob using her proxy.

Every user logs in through the Hub's own OAuth flow, as a browser does, so the scopes the
servers see are those of real OAuth tokens (`oauth_client_allowed_scopes` included).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any, Iterator

import pytest

requests = pytest.importorskip("requests")
pytest.importorskip("jupyterhub", reason="JupyterHub is not installed (pip install -e '.[test]')")

import tornado.httpclient  # noqa: E402
import tornado.websocket  # noqa: E402

from .processes import free_port, stop_process, wait_listening  # noqa: E402
from .proxy_fixtures import FAST, BatchClient  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "jupyterhub.md"
CHP = next(
    (
        str(p) for p in (
            REPO / "ui-tests" / "node_modules" / ".bin" / "configurable-http-proxy",
            Path(shutil.which("configurable-http-proxy") or "/nonexistent"),
        ) if os.access(p, os.X_OK)
    ),
    None,
)
SINGLEUSER = Path(sys.executable).with_name("jupyterhub-singleuser")

if CHP is None:
    pytest.skip(
        "configurable-http-proxy is not installed: it is a devDependency of ui-tests/, which "
        "`scripts/setup.sh --tests` installs (or: cd ui-tests && jlpm install)",
        allow_module_level=True,
    )

PASSWORD = "fanout-hub-test"
#: The environment variable that makes a single-user server keep the stock authorizer.
STOCK_ENV = "FANOUT_TEST_STOCK_AUTHORIZER"


def doc_blocks() -> dict[str, str]:
    """The fenced ```python blocks that follow `<!-- jupyterhub-example: NAME -->` markers."""
    text = DOC.read_text(encoding="utf-8")
    found = re.findall(r"<!-- jupyterhub-example: (\w+) -->\s*```python\n(.*?)```", text, re.S)
    blocks = dict(found)
    assert set(blocks) == {"hub", "singleuser"}, f"docs/jupyterhub.md blocks: {list(blocks)}"
    return blocks


def hub_config(tmp: Path, port: int, hub_port: int, api_port: int, admin_token: str) -> str:
    """The documented Hub block, then the test-only settings around it."""
    test_only = f"""
import sys
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.command = [{CHP!r}]
c.JupyterHub.db_url = "sqlite:///{tmp}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{tmp}/cookie_secret"
c.JupyterHub.pid_file = "{tmp}/jupyterhub.pid"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {PASSWORD!r}
c.Authenticator.allowed_users = {{"alice", "bob", "carol"}}
c.JupyterHub.redirect_to_server = False  # logging in spawns nobody's server
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{tmp}/home/{{username}}"
c.Spawner.cmd = [{str(SINGLEUSER)!r}]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60
c.Spawner.environment = {{
    "PYTHONPATH": {str(REPO)!r},
    "JUPYTER_CONFIG_DIR": "{tmp}/singleuser-config",
    # carol's server keeps the stock authorizer
    {STOCK_ENV!r}: lambda spawner: "1" if spawner.user.name == "carol" else "",
}}
c.JupyterHub.services = [{{"name": "fanout-test", "api_token": {admin_token!r}}}]
c.JupyterHub.load_roles.extend([
    {{
        "name": "shared-with-bob",
        "scopes": ["access:servers!user=alice", "access:servers!user=carol"],
        "users": ["bob"],
    }},
    {{
        "name": "fanout-test-admin",
        "scopes": ["admin:users", "admin:servers"],
        "services": ["fanout-test"],
    }},
])
"""
    return doc_blocks()["hub"] + test_only


def singleuser_config() -> str:
    """The single-user servers' jupyter_server_config.py: the extension with its simulator,
    and the documented authorizer block unless the server is to keep the stock one."""
    block = doc_blocks()["singleuser"]
    indented = "".join(f"    {line}\n" for line in block.splitlines())
    return f"""
import os
c.ServerApp.jpserver_extensions = {{"jupyterlab_fanout": True}}
c.ServerApp.allow_root = True
c.Fanout.simulator = True
c.Fanout.simulator_settings = {json.dumps(FAST)}
if os.environ.get({STOCK_ENV!r}) != "1":
{indented}"""


@dataclass
class Hub:
    url: str  # public URL, through configurable-http-proxy
    admin_token: str
    proc: subprocess.Popen
    log_path: Path

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(
            method, f"{self.url}/hub/api/{path}",
            headers={"Authorization": f"token {self.admin_token}"}, timeout=30, **kwargs,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def spawn(self, *names: str, timeout: float = 60) -> None:
        """Start the default servers of `names` (all at once) and wait until they are ready."""
        # The Hub answers a POST only once the server is up (or after 10 s): post them at once.
        with ThreadPoolExecutor(len(names)) as pool:
            answers = list(pool.map(lambda name: self.api("POST", f"users/{name}/server"), names))
        for name, r in zip(names, answers):
            assert r.status_code in (201, 202), f"spawning {name}: {r.status_code} {r.text}\n{self.log()}"
        deadline = time.monotonic() + timeout
        for name in names:
            while True:
                server = self.api("GET", f"users/{name}").json().get("servers", {}).get("", {})
                if server.get("ready"):
                    break
                if self.proc.poll() is not None:
                    raise AssertionError(f"the Hub exited while {name}'s server started:\n{self.log()}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"{name}'s server not ready after {timeout} s:\n{self.log()}")
                time.sleep(0.2)

    def login(self, name: str) -> requests.Session:
        """A browser-like session logged in to the Hub as `name`."""
        s = requests.Session()
        s.get(f"{self.url}/hub/login", timeout=30).raise_for_status()
        r = s.post(
            f"{self.url}/hub/login",
            data={"username": name, "password": PASSWORD, "_xsrf": s.cookies.get("_xsrf", path="/hub/")},
            timeout=30,
        )
        r.raise_for_status()
        assert s.cookies.get("jupyterhub-session-id"), f"{name} did not log in:\n{self.log()}"
        return s

    def open_server(self, s: requests.Session, owner: str) -> None:
        """Go through the OAuth flow of `owner`'s server, confirming the Hub's authorization
        page when it shows one (a shared server), as a user clicking "Authorize" would."""
        r = s.get(f"{self.url}/user/{owner}/lab", timeout=60)
        if r.url.split("?")[0].endswith("/hub/api/oauth2/authorize"):
            fields = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', r.text)
            assert fields, f"no authorization form on {r.url}: {r.text[:2000]}"
            r = s.post(r.url, data=[(k, unescape(v)) for k, v in fields], timeout=60)
        assert r.status_code == 200 and r.url.split("?")[0].endswith(f"/user/{owner}/lab"), (
            f"{owner}'s JupyterLab: {r.status_code} at {r.url}\n{self.log()}"
        )


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    tmp = tmp_path_factory.mktemp("hub")
    (tmp / "singleuser-config").mkdir()
    (tmp / "singleuser-config" / "jupyter_server_config.py").write_text(singleuser_config())
    port, hub_port, api_port = free_port(), free_port(), free_port()
    admin_token = secrets.token_hex(16)
    config = tmp / "jupyterhub_config.py"
    config.write_text(hub_config(tmp, port, hub_port, api_port, admin_token))
    log_path = tmp / "jupyterhub.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTERHUB_", "JPY_"))}
    env["PYTHONPATH"] = str(REPO)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(config)],
            cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    hub = Hub(f"http://127.0.0.1:{port}", admin_token, proc, log_path)
    try:
        wait_listening(proc, [port, hub_port], 30, "jupyterhub", details=hub.log)
        deadline = time.monotonic() + 30
        while hub.api("GET", "users/alice").status_code != 200:
            assert time.monotonic() < deadline, f"the Hub never answered:\n{hub.log()}"
            time.sleep(0.1)
        hub.spawn("alice", "carol")
        yield hub
    finally:
        # JupyterHub stops the servers it spawned and its proxy when it gets SIGTERM.
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            stop_process(proc)


@pytest.fixture(scope="module")
def alice(hub: Hub) -> requests.Session:
    s = hub.login("alice")
    hub.open_server(s, "alice")
    return s


@pytest.fixture(scope="module")
def bob(hub: Hub) -> requests.Session:
    s = hub.login("bob")
    hub.open_server(s, "alice")
    hub.open_server(s, "carol")
    return s


async def open_batch(hub: Hub, s: requests.Session, owner: str) -> BatchClient:
    """The batch WebSocket of `owner`'s server, opened with the session's cookies, as
    JupyterLab does in the browser (same Origin as the page)."""
    url = f"{hub.url}/user/{owner}/fanout/batch"
    prepared = requests.Request("GET", url).prepare()
    cookie = requests.cookies.get_cookie_header(s.cookies, prepared)
    request = tornado.httpclient.HTTPRequest(
        url.replace("http://", "ws://"), headers={"Cookie": cookie, "Origin": hub.url},
        request_timeout=30,
    )
    return BatchClient(await tornado.websocket.websocket_connect(request))


async def test_owner_with_the_scope_lists_upstreams_and_streams(hub: Hub, alice: requests.Session):
    r = alice.get(f"{hub.url}/user/alice/fanout/upstreams", timeout=30)
    assert r.status_code == 200, f"{r.status_code} {r.text}\n{hub.log()}"
    names = [u["name"] for u in r.json()["upstreams"]]
    assert "simulator" in names, r.json()

    client = await open_batch(hub, alice, "alice")
    try:
        await client.start("r1", upstream="simulator")
        terminal = (await client.wait_terminal("r1", timeout=30))["r1"]
        assert terminal["type"] == "end", client.json_messages()
        assert b"data:" in bytes(client.body.get("r1", b"")), client.json_messages()
    finally:
        await client.close()


async def test_shared_user_without_the_scope_is_refused_the_proxy_only(
    hub: Hub, bob: requests.Session
):
    # JupyterLab and the server's API work for bob on alice's server...
    assert bob.get(f"{hub.url}/user/alice/lab", timeout=30).status_code == 200
    status = bob.get(f"{hub.url}/user/alice/api/status", timeout=30)
    assert status.status_code == 200, status.text
    # ...but not the proxy: neither the list of upstreams nor a batch.
    r = bob.get(f"{hub.url}/user/alice/fanout/upstreams", timeout=30)
    assert r.status_code == 403, f"bob listed alice's upstreams: {r.status_code} {r.text}"
    with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
        client = await open_batch(hub, bob, "alice")
        await client.close()
    assert refused.value.code == 403


async def test_stock_jupyterhub_lets_anyone_with_access_use_the_proxy(
    hub: Hub, bob: requests.Session
):
    """carol's server keeps the stock authorizer: bob, who may only access it, uses its
    upstreams (what docs/jupyterhub.md warns about, and the reason for the authorizer)."""
    r = bob.get(f"{hub.url}/user/carol/fanout/upstreams", timeout=30)
    assert r.status_code == 200, f"{r.status_code} {r.text}"
    client = await open_batch(hub, bob, "carol")
    try:
        await client.start("r1", upstream="simulator")
        assert (await client.wait_terminal("r1", timeout=30))["r1"]["type"] == "end"
    finally:
        await client.close()


def test_refusals_are_logged_with_the_missing_scope(hub: Hub, bob: requests.Session):
    bob.get(f"{hub.url}/user/alice/fanout/upstreams", timeout=30)
    deadline = time.monotonic() + 10
    expected = "bob may not read fanout: the Hub did not grant custom:fanout:use!server=alice/"
    while expected not in hub.log_path.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"not in the Hub's log: {expected}\n{hub.log()}"
        time.sleep(0.1)
