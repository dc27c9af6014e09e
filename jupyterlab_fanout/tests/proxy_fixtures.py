"""Fixtures and a small WebSocket client for the proxy's end-to-end tests.

Test modules do `from .proxy_fixtures import *` to get the fixtures. Every test runs a
real Jupyter server (pytest-jupyter) with `allow_unauthenticated_access = False`,
pointed at real simulator processes on loopback.
"""
from __future__ import annotations

import asyncio
import gc
import itertools
import json
import logging
import struct
import time
import zlib
from typing import Any, Iterator

import pytest
import tornado.httpclient
import tornado.httpserver
import tornado.netutil
import tornado.web
import tornado.websocket

from .processes import SimulatorProcess, free_port, simulator_fixtures
from .sse import sse_text
from ..digest import Digester

API_KEY = "sk-fanout-test-7f3a9c"
KEY_ENV = "FANOUT_TEST_API_KEY"
#: Fast streams so the suite stays short.
FAST = {"tokens_per_second": 400, "ttft_ms": 20, "reasoning_tokens": 5, "answer_tokens": 20}

__all__ = [
    "API_KEY",
    "FAST",
    "BatchClient",
    "split_records",
    "CaptureUpstream",
    "capture",
    "wait_record",
    "jp_asyncio_loop",
    "entry_for",
    "faulty",
    "faulty_process",
    "fanout_overrides",
    "server_app_overrides",
    "jp_server_config",
    "no_unhandled_errors",
    "refused_port",
    "open_batch",
]


@pytest.fixture
async def jp_asyncio_loop() -> asyncio.AbstractEventLoop:
    """pytest-jupyter's loop, made the same loop pytest-asyncio runs the test in.

    With `asyncio_mode = "auto"` pytest-asyncio runs every coroutine test in its own loop,
    while pytest-jupyter starts the Jupyter server on `jp_asyncio_loop`: two loops, and the
    server never answers. As an async fixture of the test's (function) loop scope this one
    runs in that very loop and hands it over; no private pytest-asyncio fixture involved.
    """
    return asyncio.get_running_loop()


def _fail_fast(sim: SimulatorProcess) -> None:
    sim.reset()
    sim.configure(**FAST)


#: A second simulator, configured per test to fail every request.
faulty_process, faulty = simulator_fixtures("faulty", reset=_fail_fast)


def split_records(frame: bytes) -> list[tuple[str, bytes]]:
    """The (response id, bytes) records of one binary frame (docs/protocol.md)."""
    records = []
    at = 0
    while at < len(frame):
        (id_length,) = struct.unpack_from(">H", frame, at)
        rid = frame[at + 2 : at + 2 + id_length].decode("utf-8")
        (count,) = struct.unpack_from(">I", frame, at + 2 + id_length)
        start = at + 6 + id_length
        assert start + count <= len(frame), f"record overruns its frame at {at}"
        records.append((rid, frame[start : start + count]))
        at = start + count
    return records


class CaptureUpstream:
    """A minimal OpenAI-compatible upstream that records every request's headers and body."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], Any]] = []
        self.base_url = ""


class _CaptureHandler(tornado.web.RequestHandler):
    def initialize(self, capture: CaptureUpstream) -> None:
        self.capture = capture

    def post(self) -> None:
        headers = {k.lower(): v for k, v in self.request.headers.get_all()}
        self.capture.requests.append((headers, json.loads(self.request.body)))
        self.set_header("Content-Type", "text/event-stream")
        chunk = {"object": "chat.completion.chunk", "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        ]}
        self.write(f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n")


@pytest.fixture
def capture(jp_asyncio_loop: asyncio.AbstractEventLoop) -> Iterator[CaptureUpstream]:
    """A recording upstream on a random loopback port, served by the test's own loop."""
    cap = CaptureUpstream()
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    app = tornado.web.Application([(r"/v1/chat/completions", _CaptureHandler, {"capture": cap})])
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    cap.base_url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}/v1"
    yield cap
    server.stop()


@pytest.fixture
def refused_port() -> int:
    """A loopback port nothing listens on."""
    return free_port()


@pytest.fixture
def fanout_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Extra `c.Fanout` settings: @pytest.mark.parametrize("fanout_overrides", [...],
    indirect=True) with a dict, or a function of the pytest request returning one."""
    param = getattr(request, "param", {})
    return param(request) if callable(param) else param


@pytest.fixture
def server_app_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Extra `c.ServerApp` settings, parametrized indirectly like `fanout_overrides`."""
    return getattr(request, "param", {})


@pytest.fixture
def jp_server_config(
    simulator: SimulatorProcess,
    faulty: SimulatorProcess,
    capture: CaptureUpstream,
    refused_port: int,
    fanout_overrides: dict[str, Any],
    server_app_overrides: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, Any]:
    """Server with the extension, authentication required, upstreams on the simulators."""
    monkeypatch.setenv(KEY_ENV, API_KEY)
    for name in ("FANOUT_UPSTREAM_URL", "FANOUT_API_KEY", "FANOUT_MODEL", "FANOUT_DIALECT"):
        monkeypatch.delenv(name, raising=False)
    simulator.configure(api_key=API_KEY, **FAST)
    fanout: dict[str, Any] = {
        "upstreams": {
            "sim": {"base_urls": [simulator.base_url], "api_key_env": KEY_ENV},
            "faulty": {"base_urls": [faulty.base_url]},
            "refused": {"base_urls": [f"http://127.0.0.1:{refused_port}/v1"]},
            "capture": {"base_urls": [capture.base_url], "api_key_env": KEY_ENV,
                        "dialect": "vllm"},
            "allow": {
                "base_urls": [simulator.base_url],
                "api_key_env": KEY_ENV,
                "models": ["fanout-sim"],
            },
        },
        "default_upstream": "sim",
        "idle_timeout": 1.0,
        "connect_timeout": 2.0,
        "models_timeout": 2.0,
    }
    fanout.update(fanout_overrides)
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyterlab_fanout": True},
            "allow_unauthenticated_access": False,
            **server_app_overrides,
        },
        "Fanout": fanout,
    }


@pytest.fixture
def no_unhandled_errors(
    jp_serverapp: Any, jp_asyncio_loop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture
) -> Iterator[list]:
    """Fail the test if the loop saw an unhandled exception or the server logged an error."""
    loop = jp_asyncio_loop
    seen: list[dict] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    caplog.set_level(logging.INFO)
    yield seen
    gc.collect()  # "Task exception was never retrieved" is reported on collection
    loop.set_exception_handler(previous)
    assert not seen, f"unhandled exceptions in the loop: {seen}"
    errors = [
        r for r in caplog.records
        if r.levelno >= logging.ERROR or r.exc_info or "Traceback" in r.getMessage()
    ]
    assert not errors, "server logged errors: " + "; ".join(r.getMessage() for r in errors)


_SEEDS = itertools.count(1000)
#: response id -> the unique seed its request carried (the simulator records the seed)
SEED_OF: dict[str, int] = {}


def entry_for(record: list[dict], rid: str) -> dict:
    """The simulator record entry of the response `rid` (matched by its unique seed)."""
    for entry in record:
        if entry.get("seed") == SEED_OF[rid]:
            return entry
    raise AssertionError(f"{rid} not in the simulator record")


async def wait_record(sim: SimulatorProcess, predicate, timeout: float = 10.0) -> list[dict]:
    """Poll a simulator's record without blocking the loop the Jupyter server runs on."""
    deadline = time.monotonic() + timeout
    while True:
        record = await asyncio.to_thread(sim.requests)
        if predicate(record):
            return record
        if time.monotonic() > deadline:
            raise AssertionError(f"simulator record never matched: {json.dumps(record)[:2000]}")
        await asyncio.sleep(0.02)


def digest_text(digest: dict, field: int) -> str:
    """The content (`field` 0) or reasoning (2) of a digest's entries, joined."""
    return "".join(e[field] for e in digest["entries"] if len(e) > field)


class BatchClient:
    """Test side of the batch protocol: sends start/stop, collects everything received."""

    def __init__(self, ws: tornado.websocket.WebSocketClientConnection):
        self.ws = ws
        self.messages: list[tuple[float, Any]] = []  # (time.time(), dict | (id, bytes))
        self.frames_with_several_records = 0
        self.body: dict[str, bytearray] = {}
        #: Responses whose next record is a compressed replay (from `attached`): raw length.
        self._replays: dict[str, int] = {}
        #: The replay records as they came (compressed), by response id.
        self.replay_records: dict[str, bytes] = {}
        #: The digests of an `attach` (digest.py), by response id: `body` holds the bytes after.
        self.digests: dict[str, dict] = {}
        self.closed = asyncio.Event()
        self._changed = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while True:
            msg = await self.ws.read_message()
            if msg is None:
                break
            now = time.time()
            if isinstance(msg, bytes):
                records = split_records(msg)
                self.frames_with_several_records += len(records) > 1
                for rid, chunk in records:
                    if rid in self._replays:
                        # The replay of an `attach`: one zlib stream of every byte so far
                        # (docs/protocol.md); its decoded bytes are what the others got.
                        expected = self._replays.pop(rid)
                        self.replay_records[rid] = chunk
                        chunk = zlib.decompress(chunk)
                        assert len(chunk) == expected, (rid, len(chunk), expected)
                    self.body.setdefault(rid, bytearray()).extend(chunk)
                    self.messages.append((now, (rid, chunk)))
            else:
                message = json.loads(msg)
                if message.get("type") == "attached":
                    for listed in message["responses"]:
                        if "digest" in listed:
                            self.digests[listed["id"]] = listed["digest"]
                        if listed["replay"] is not None:
                            assert listed["replay"]["encoding"] == "deflate", listed
                            self._replays[listed["id"]] = listed["replay"]["bytes"]
                self.messages.append((now, message))
            self._changed.set()
        self.closed.set()
        self._changed.set()

    def text(self, rid: str) -> tuple[str, str]:
        """(reasoning, content) of `rid` as this socket got them: its digest's, if an attach
        gave one, then its bytes'."""
        reasoning, content = sse_text(bytes(self.body.get(rid, b"")))
        digest = self.digests.get(rid)
        if digest is None:
            return reasoning, content
        return (digest_text(digest, 2) + reasoning, digest_text(digest, 0) + content)

    def assert_replayed(self, rid: str, forwarded: bytes) -> None:
        """What this socket got of `rid` since its attach is `forwarded` (every byte the
        upstream sent, as another socket got them): the bytes after its digest equal,
        byte for byte, and the digest is exactly that of the bytes before (digest.py)."""
        digest = self.digests.get(rid)
        if digest is None:
            assert bytes(self.body.get(rid, b"")) == forwarded
            return
        offset = digest["offset"]
        assert bytes(self.body.get(rid, b"")) == forwarded[offset:]
        entries, events, consumed = Digester().feed(forwarded[:offset])
        assert (events, consumed) == (digest["events"], offset)
        assert json.loads(b"[" + entries + b"]") == digest["entries"]

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.write_message(json.dumps(message))

    async def start(self, rid: str, upstream: str = "sim", **request: Any) -> None:
        request.setdefault("messages", [{"role": "user", "content": f"hello {rid}"}])
        request.setdefault("max_tokens", 64)
        SEED_OF[rid] = request.setdefault("seed", next(_SEEDS))
        await self.send({"type": "start", "id": rid, "upstream": upstream, "request": request})

    async def stop(self, rid: str) -> float:
        t = time.time()
        await self.send({"type": "stop", "id": rid})
        return t

    def json_messages(self, rid: Any = ...) -> list[dict]:
        out = [m for _, m in self.messages if isinstance(m, dict)]
        return out if rid is ... else [m for m in out if m.get("id") == rid]

    def terminals(self, rid: str) -> list[dict]:
        return [m for m in self.json_messages(rid) if m["type"] in ("end", "stopped", "error")]

    def terminal(self, rid: str) -> dict | None:
        t = self.terminals(rid)
        return t[0] if t else None

    async def wait(self, predicate, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closed.is_set():
                if predicate():
                    return
                raise AssertionError(f"timed out; received {self.json_messages()}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def wait_terminal(self, *rids: str, timeout: float = 10.0) -> dict[str, dict]:
        await self.wait(lambda: all(self.terminal(r) for r in rids), timeout)
        return {r: self.terminal(r) for r in rids}  # type: ignore[misc]

    async def wait_bytes(self, rid: str, n: int = 1, timeout: float = 10.0) -> None:
        await self.wait(lambda: len(self.body.get(rid, b"")) >= n, timeout)

    async def close(self) -> None:
        self.ws.close()
        try:
            await asyncio.wait_for(self._reader, 5)
        except asyncio.TimeoutError:
            self._reader.cancel()


async def open_batch(jp_ws_fetch: Any, **kwargs: Any) -> BatchClient:
    ws = await jp_ws_fetch("fanout", "batch", **kwargs)
    return BatchClient(ws)
