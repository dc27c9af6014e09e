"""The proxy's server-wide state: upstream clients, per-user counters, the registry of batches
(registry.py) and the open batch sockets (subscriber.py).

One `FanoutState` lives in `web_app.settings["fanout_state"]`; handlers only talk to it.
"""
from __future__ import annotations

import asyncio
import inspect
import os
from typing import Any

from .batch import UserStreams
from .config import (
    SIMULATOR_UPSTREAM_NAME,
    Fanout,
    ResolvedUpstreams,
    UpstreamSpec,
)
from .errors import FanoutError
from .logs import Log
from .registry import BatchRegistry
from .store import BatchStore
from .subscriber import Subscriber
from .upstream import Upstream



class FanoutState:
    """Everything the handlers share; closed once on server shutdown."""

    def __init__(self, fanout: Fanout, resolved: ResolvedUpstreams, log: Log):
        self.fanout = fanout
        self.log = log
        self.default = resolved.default
        self.upstreams: dict[str, Upstream] = {
            name: self._client(spec) for name, spec in resolved.specs.items()
        }
        self.user_streams = UserStreams()
        self._use_simulator = resolved.use_simulator
        self._simulator: Any = None
        self._simulator_error: str | None = None
        self._start_lock: asyncio.Lock | None = None
        self._closed = False
        self.store: BatchStore | None = self._store()
        #: Every batch the server holds, by id (attached, detached, ended in its grace period).
        self.batches = BatchRegistry(fanout=fanout, lookup=self.lookup,
                                     user_streams=self.user_streams, log=log, store=self.store)
        #: Every open batch socket (closed with 1001 on shutdown).
        self.sockets: set[Subscriber] = set()

    def _store(self) -> BatchStore | None:
        """The batch store, its writer thread started (it opens the file); None when off."""
        path = store_path(self.fanout)
        if not path:
            return None
        store = BatchStore(
            path, log=self.log, max_batches=self.fanout.store_max_batches,
            max_bytes=self.fanout.store_max_bytes,
            parse_process=self.fanout.store_reader_process,
            fts=None if self.fanout.store_search_index else False,
        )
        store.open()
        return store

    def _client(self, spec: UpstreamSpec) -> Upstream:
        return Upstream(
            spec,
            idle_timeout=self.fanout.idle_timeout,
            connect_timeout=self.fanout.connect_timeout,
            models_timeout=self.fanout.models_timeout,
            log=self.log,
        )

    async def ensure_started(self) -> None:
        """Start the embedded simulator on first use (needs the running event loop), and the
        detection of every `auto` upstream's dialect not known yet (not waited for)."""
        loop = asyncio.get_running_loop()
        for upstream in self.upstreams.values():
            if upstream.dialect is None and upstream.detect_due(loop.time()):
                upstream.start_detection()
        if not self._use_simulator or self._simulator is not None or self._simulator_error:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._simulator is not None or self._simulator_error:
                return
            try:
                from .simulator import serve

                result = serve(self.fanout.simulator_settings or None, host="127.0.0.1", port=0)
                if inspect.isawaitable(result):
                    result = await result
                server, port = result
            except Exception as e:  # noqa: BLE001 - report it in the listing, keep serving
                self.log.exception("fanout: the embedded simulator failed to start")
                self._simulator_error = f"the simulator failed to start ({type(e).__name__})"
                return
            self._simulator = server
            spec = UpstreamSpec(
                name=SIMULATOR_UPSTREAM_NAME, base_urls=(f"http://127.0.0.1:{port}/v1",),
                # The simulator speaks vLLM unless its settings name another dialect.
                dialect=(self.fanout.simulator_settings or {}).get("dialect", "vllm"),
            )
            self.upstreams[SIMULATOR_UPSTREAM_NAME] = self._client(spec)
            self.log.info("fanout: no upstream configured; simulator listening on 127.0.0.1:%s", port)

    def lookup(self, name: str) -> Upstream | None:
        """The upstream of that configured name (a plain dict lookup, nothing else);
        the empty name means the default upstream."""
        return self.upstreams.get(name or self.default)

    def new_socket(self, user: str, send: Any, close_socket: Any = None) -> Subscriber:
        """A batch socket opened: it subscribes to a batch when its messages say which."""
        subscriber = Subscriber(registry=self.batches, fanout=self.fanout, user=user, send=send,
                                log=self.log, close_socket=close_socket)
        self.sockets.add(subscriber)
        return subscriber

    def socket_closed(self, subscriber: Subscriber) -> None:
        """A batch socket closed: it leaves its batch, which runs on (detached) when it was
        the last one, for `detached_timeout` seconds."""
        self.sockets.discard(subscriber)
        self.batches.observe(subscriber.close())

    async def _describe_one(self, upstream: Upstream) -> dict[str, Any]:
        error: str | None = None
        models: list[str] = []
        try:
            listed = await upstream.list_models()
            allowed = upstream.spec.models
            models = [m for m in listed if m in allowed] if allowed else listed
        except FanoutError as e:
            error = e.message
        return {
            "name": upstream.name,
            "models": models,
            "default_model": upstream.spec.default_model or (models[0] if models else None),
            "error": error,
            # Each listed model's context length where the server reports it (vLLM).
            "context_lengths": {m: upstream.context_lengths[m] for m in models
                                if m in upstream.context_lengths},
            # Configured, or detected from the listing just made; null while unknown.
            "dialect": upstream.dialect.name if upstream.dialect is not None else None,
        }

    async def describe(self) -> dict[str, Any]:
        """The GET fanout/upstreams answer: names, models, errors, limits; no address or key."""
        await self.ensure_started()
        upstreams = list(self.upstreams.values())
        described = list(await asyncio.gather(*(self._describe_one(u) for u in upstreams)))
        if self._simulator_error:
            described.append(
                {"name": SIMULATOR_UPSTREAM_NAME, "models": [], "default_model": None,
                 "error": self._simulator_error, "dialect": None, "context_lengths": {}}
            )
        return {
            "default": self.default, "upstreams": described, "limits": self.fanout.limits(),
            "store": self.store.state() if self.store is not None else None,
        }

    async def close(self) -> None:
        """Server shutdown: close every upstream stream of every batch (attached or
        detached), then every batch socket, every session, the simulator."""
        if self._closed:
            return
        self._closed = True
        await self.batches.close()
        sockets = list(self.sockets)
        self.sockets.clear()
        for subscriber in sockets:
            subscriber.close()
            # The browser learns why at once (1001 "going away") instead of from a dead socket.
            subscriber.close_socket(1001, "the Jupyter server is shutting down")
        await asyncio.gather(*(u.close() for u in self.upstreams.values()), return_exceptions=True)
        if self._simulator is not None:
            await _stop_server(self._simulator)
            self._simulator = None
        if self.store is not None:
            await self.store.close()


def store_path(fanout: Fanout) -> str:
    """`c.Fanout.store_path`, or the default file in the user's Jupyter data directory."""
    if fanout.store_path is not None:
        return fanout.store_path
    from jupyter_core.paths import jupyter_data_dir

    return os.path.join(jupyter_data_dir(), "fanout", "batches.sqlite3")


async def _stop_server(server: Any) -> None:
    """Stop the simulator's server, whatever kind of server object `serve` returned."""
    for name in ("stop", "close"):
        method = getattr(server, name, None)
        if method is not None:
            result = method()
            if inspect.isawaitable(result):
                await result
            break
    closer = getattr(server, "close_all_connections", None) or getattr(server, "wait_closed", None)
    if closer is not None:
        try:
            await asyncio.wait_for(closer(), 2)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - best effort at shutdown
            pass
