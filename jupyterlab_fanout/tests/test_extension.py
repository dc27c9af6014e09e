"""The server extension's life cycle: an ExtensionApp the server loads, links and stops."""
from __future__ import annotations

import logging

from jupyterlab_fanout.extension import FanoutExtensionApp

from .proxy_fixtures import *  # noqa: F403 - fixtures


async def test_the_server_runs_the_extension_app(jp_serverapp, jp_fetch):
    [app] = jp_serverapp.extension_manager.extension_apps["jupyterlab_fanout"]
    assert isinstance(app, FanoutExtensionApp)
    assert jp_serverapp.web_app.settings["fanout_state"] is app.state
    assert app.state.fanout.idle_timeout == 1.0  # c.Fanout reached the extension
    assert (await jp_fetch("fanout", "upstreams")).code == 200


async def test_a_failing_shutdown_is_logged_and_the_server_stops_anyway(jp_serverapp, caplog):
    [app] = jp_serverapp.extension_manager.extension_apps["jupyterlab_fanout"]

    async def broken() -> None:
        raise RuntimeError("closing failed (test)")

    close, app.state.close = app.state.close, broken
    caplog.set_level(logging.INFO)
    await jp_serverapp.cleanup_extensions()  # does not raise
    [record] = [r for r in caplog.records if "closing the proxy failed" in r.getMessage()]
    assert record.levelno == logging.ERROR and "closing failed (test)" in str(record.exc_info[1])
    await close()  # what the failed shutdown left open
