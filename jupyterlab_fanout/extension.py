"""Wire the proxy into a Jupyter server: config, handlers, shutdown."""
from __future__ import annotations

import os
from typing import Any

from jupyter_server.utils import url_path_join

from .config import ConfigError, Fanout, resolve_upstreams
from .handlers import BatchHandler, UpstreamsHandler
from .state import FanoutState


def load(server_app: Any) -> FanoutState:
    """Read `c.Fanout`, register the handlers under base_url, close everything on shutdown.

    Raises ConfigError (after logging it) when the configuration is invalid.
    """
    fanout = Fanout(parent=server_app)
    log = server_app.log
    try:
        resolved = resolve_upstreams(fanout, os.environ, log)
    except ConfigError as e:
        log.error("jupyterlab_fanout: invalid configuration: %s", e)
        raise
    state = FanoutState(fanout, resolved, log)
    web_app = server_app.web_app
    web_app.settings["fanout_state"] = state
    base_url = web_app.settings["base_url"]
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base_url, "fanout", "upstreams"), UpstreamsHandler),
            (url_path_join(base_url, "fanout", "batch"), BatchHandler),
        ],
    )
    _close_on_shutdown(server_app, state)
    names = list(state.upstreams) + (["simulator (started on first use)"] if resolved.use_simulator else [])
    log.info("jupyterlab_fanout: upstreams %s; default %r", ", ".join(names) or "none", state.default)
    return state


def _close_on_shutdown(server_app: Any, state: FanoutState) -> None:
    """Run `state.close()` when the server cleans up its extensions.

    A module-style extension has no stop hook in jupyter_server 2.x (only ExtensionApp
    subclasses do), so this wraps this ServerApp instance's `cleanup_extensions`.
    """
    original = server_app.cleanup_extensions

    async def cleanup_extensions() -> None:
        try:
            await state.close()
        except Exception:  # noqa: BLE001 - shutdown must go on
            server_app.log.exception("jupyterlab_fanout: closing the proxy failed")
        await original()

    server_app.cleanup_extensions = cleanup_extensions
