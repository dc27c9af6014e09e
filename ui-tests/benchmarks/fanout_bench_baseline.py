"""Bench-only Jupyter server extension: the design jupyterlab-fanout rejected, as a baseline.

`POST {base_url}fanout-bench/stream` takes a chat completion request body (JSON) and relays
ONE upstream streaming response per HTTP request, bytes unchanged, the way "one fetch per
response through the Jupyter server" would work. The upstream is the benchmark's simulator
(`http://127.0.0.1:$FANOUT_TEST_SIMULATOR_PORT/v1`); the upstream client is the real proxy's
(jupyterlab_fanout/http_client.py: one connection pool, `read_any()` per chunk), so the only
difference measured is the browser-side transport: one HTTP/1.1 response per stream instead of one WebSocket per batch.

Loaded only by ui-tests/playwright.bench.config.js (PYTHONPATH + jpserver_extensions).
Never ship this: it has no limits and no allow-list.
"""
from __future__ import annotations

import json
import os
from typing import Any, Optional

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.iostream import StreamClosedError

from jupyterlab_fanout.http_client import BadResponse, ClientResponse, ConnectionPool

_pool: Optional[ConnectionPool] = None


def _upstream_url() -> str:
    port = os.environ.get("FANOUT_TEST_SIMULATOR_PORT", "8893")
    return f"http://127.0.0.1:{port}/v1/chat/completions"


def _get_pool() -> ConnectionPool:
    global _pool
    if _pool is None:
        _pool = ConnectionPool()
    return _pool


class StreamHandler(JupyterHandler):
    """One upstream stream per request; the browser aborting closes the upstream connection."""

    _upstream: Optional[ClientResponse] = None
    _gone = False

    def on_connection_close(self) -> None:
        self._gone = True
        if self._upstream is not None:
            self._upstream.close()

    @web.authenticated
    async def post(self) -> None:
        body: Any = json.loads(self.request.body or b"{}")
        body["stream"] = True
        body["n"] = 1
        body["stream_options"] = {"include_usage": True, "continuous_usage_stats": True}
        response = await _get_pool().request(
            "POST",
            _upstream_url(),
            {"Accept": "text/event-stream", "Accept-Encoding": "identity",
             "Content-Type": "application/json"},
            json.dumps(body).encode("utf-8"),
            connect_timeout=10,
        )
        self._upstream = response
        try:
            await response.wait_head()
        except BaseException:
            response.close()
            raise
        if self._gone:
            response.close()
            return
        self.set_status(response.status)
        self.set_header("Content-Type", response.headers.get("content-type", "text/event-stream"))
        self.set_header("Cache-Control", "no-cache")
        clean = False
        try:
            await self.flush()
            while True:
                try:
                    chunk = await response.read_any()
                except BadResponse:
                    chunk = b""
                if not chunk:
                    break
                self.write(chunk)
                await self.flush()
            clean = True
        except StreamClosedError:
            pass
        finally:
            response.close()
        if clean and not self._gone:
            self.finish()


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "fanout_bench_baseline"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    web_app = server_app.web_app
    route = url_path_join(web_app.settings["base_url"], "fanout-bench", "stream")
    web_app.add_handlers(".*$", [(route, StreamHandler)])
    server_app.log.info("fanout_bench_baseline: POST %s (benchmark baseline only)", route)
