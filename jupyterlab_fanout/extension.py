"""The server extension's life cycle, as jupyter_server documents it: an `ExtensionApp`.

`initialize_settings` reads `c.Fanout` and builds the proxy's state, `initialize_handlers`
routes `fanout/upstreams` and `fanout/batch` under the server's base_url, and
`stop_extension` closes every upstream stream, batch socket, the simulator and the batch
store (flushed) when the server stops (Ctrl+C, `jupyter server stop`, a test's teardown).
"""
from __future__ import annotations

import os

from jupyter_server.extension.application import ExtensionApp

from .config import ConfigError, Fanout, resolve_upstreams
from .fuse_handlers import ChecklistHandler, FusionHandler
from .handlers import (
    BatchesHandler,
    BatchExportHandler,
    BatchHandler,
    BatchRecordHandler,
    BatchTagsHandler,
    DirectAttemptHandler,
    DirectBatchHandler,
    JudgementsHandler,
    JudgeHandler,
    LeaderboardHandler,
    PickHandler,
    RatingHandler,
    StoreStateHandler,
    UpstreamsHandler,
    VotesHandler,
)
from .state import FanoutState


class FanoutExtensionApp(ExtensionApp):
    """jupyterlab-fanout's server extension. Its options are the `Fanout` class's:
    `c.Fanout.upstreams = {...}` in jupyter_server_config.py, `--Fanout.simulator=False`."""

    name = "jupyterlab_fanout"

    state: FanoutState | None = None

    def initialize_settings(self) -> None:
        """Read `c.Fanout` (raises ConfigError, after logging it, when it is invalid) and put
        the proxy's state in the web app's settings, where the handlers find it."""
        log = self.serverapp.log
        fanout = Fanout(parent=self)
        try:
            resolved = resolve_upstreams(fanout, os.environ, log)
        except ConfigError as e:
            log.error("jupyterlab_fanout: invalid configuration: %s", e)
            raise
        self.state = FanoutState(fanout, resolved, log)
        self.settings["fanout_state"] = self.state
        names = list(self.state.upstreams)
        if resolved.use_simulator:
            names.append("simulator (started on first use)")
        log.info(
            "jupyterlab_fanout: upstreams %s; default %r",
            ", ".join(names) or "none",
            self.state.default,
        )

    def initialize_handlers(self) -> None:
        """The routes, relative to the server's base_url (ExtensionApp prepends it)."""
        self.handlers.extend(
            [
                ("fanout/upstreams", UpstreamsHandler),
                ("fanout/store", StoreStateHandler),
                ("fanout/batch", BatchHandler),
                ("fanout/batches", BatchesHandler),
                (r"fanout/batches/([^/]+)", BatchRecordHandler),
                (r"fanout/batches/([^/]+)/export", BatchExportHandler),
                (r"fanout/batches/([^/]+)/tags", BatchTagsHandler),
                ("fanout/votes", VotesHandler),
                ("fanout/leaderboard", LeaderboardHandler),
                (r"fanout/batches/([^/]+)/direct", DirectBatchHandler),
                (r"fanout/batches/([^/]+)/pick", PickHandler),
                (r"fanout/batches/([^/]+)/responses/([^/]+)/rating", RatingHandler),
                (r"fanout/batches/([^/]+)/direct/([^/]+)/([^/]+)", DirectAttemptHandler),
                (r"fanout/batches/([^/]+)/judge", JudgeHandler),
                (r"fanout/batches/([^/]+)/judgements", JudgementsHandler),
                (r"fanout/batches/([^/]+)/responses/([^/]+)/fusion", FusionHandler),
                ("fanout/fuse/checklist", ChecklistHandler),
            ]
        )

    async def stop_extension(self) -> None:
        """Server shutdown: close every upstream stream, every batch socket, the simulator.

        A failure is logged, not raised: the server's other extensions stop after this one.
        """
        if self.state is None:
            return
        try:
            await self.state.close()
        except Exception:  # noqa: BLE001 - shutdown must go on
            self.serverapp.log.exception("jupyterlab_fanout: closing the proxy failed")
