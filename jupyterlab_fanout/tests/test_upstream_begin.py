"""`Upstream.begin`: a request leaves while its `start` is handled, not at the loop's next turn.

A batch's N `start` messages are read in one go; each request should reach the upstream as
soon as its own `start` has been checked. The scripted server here runs on a thread of its
own, so it receives while the test holds the event loop. The last test stops a response in
the same turn as its start, against the simulator (its own process).
"""
from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
import json
from typing import List

import pytest

from jupyterlab_fanout.batch import UserStreams
from jupyterlab_fanout.config import Fanout, UpstreamSpec
from jupyterlab_fanout.registry import BatchRegistry
from jupyterlab_fanout.subscriber import Subscriber
from jupyterlab_fanout.upstream import Upstream

BODY = b"data: [DONE]\n\n"
ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
)


class ThreadServer:
    """Answers each request with ANSWER (keep-alive); records when requests and closes came."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/v1"
        self.arrivals: List[float] = []
        self.closes: List[float] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        data = b""
        with connection:
            while True:
                while b"\r\n\r\n" not in data:
                    try:
                        chunk = connection.recv(65536)
                    except ConnectionResetError:  # an aborted connection
                        chunk = b""
                    if not chunk:
                        self.closes.append(time.monotonic())
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                while len(data) < length:
                    data += connection.recv(65536)
                data = data[length:]
                self.arrivals.append(time.monotonic())
                connection.sendall(ANSWER)

    def close(self) -> None:
        self._listener.close()


def wait_until(condition, seconds: float = 2.0) -> bool:
    """Poll from this thread (the event loop does not run meanwhile)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def upstream_at(base_url: str) -> Upstream:
    # A known dialect: an `auto` upstream's first request waits for its detection instead.
    return Upstream(UpstreamSpec(name="scripted", base_urls=(base_url,), dialect="vllm"),
                    idle_timeout=5,
                    connect_timeout=5, models_timeout=5, log=logging.getLogger("test"))


async def warm_upstream(server: ThreadServer) -> Upstream:
    """An upstream with one idle keep-alive connection to `server`."""
    upstream = upstream_at(server.url)
    stream = await upstream.begin({"messages": []}).open()
    assert await stream.read() == BODY
    assert await stream.read() == b""
    stream.close()
    return upstream


async def test_a_request_on_an_idle_connection_leaves_before_the_loop_runs_again():
    server = ThreadServer()
    upstream = await warm_upstream(server)
    try:
        opening = upstream.begin({"messages": [{"role": "user", "content": "hi"}]})
        # No await since begin: only a request sent by begin itself can arrive now.
        assert wait_until(lambda: len(server.arrivals) == 2), "the request did not leave"
        assert upstream.replicas[0].in_flight == 1
        stream = await opening.open()
        assert stream.status == 200
        assert await stream.read() == BODY
        stream.close()
        assert upstream.replicas[0].in_flight == 0
    finally:
        await upstream.close()
        server.close()


async def test_a_discarded_opening_closes_its_request_and_frees_the_replica():
    server = ThreadServer()
    upstream = await warm_upstream(server)
    try:
        opening = upstream.begin({"messages": []})
        assert wait_until(lambda: len(server.arrivals) == 2)
        opening.discard()
        opening.discard()  # idempotent: counted once
        assert upstream.replicas[0].in_flight == 0
        # The upstream sees the disconnect (asyncio closes an aborted socket at its next turn).
        for _ in range(400):
            if server.closes:
                break
            await asyncio.sleep(0.005)
        assert len(server.closes) == 1, "the upstream never saw a close"
    finally:
        await upstream.close()
        server.close()


async def test_without_an_idle_connection_the_request_is_sent_by_open():
    server = ThreadServer()
    upstream = upstream_at(server.url)
    try:
        opening = upstream.begin({"messages": []})
        assert opening.response is None  # connecting needs the loop
        stream = await opening.open()
        assert await stream.read() == BODY
        stream.close()
        assert len(server.arrivals) == 1
        assert upstream.replicas[0].in_flight == 0
    finally:
        await upstream.close()
        server.close()


@pytest.mark.parametrize("ending", ["stop", "socket closed", "task cancelled before it ran"])
async def test_a_response_ended_in_the_turn_of_its_start_closes_its_request(simulator, ending):
    """Its request left with the start. A stop or the browser's socket closing in the same
    turn closes that connection, and so does cancelling the response's task before it ever
    ran (a coroutine that never started runs no `finally`: the task's done callback does)."""
    simulator.configure(ttft_ms=0, answer_tokens=2)
    upstream = upstream_at(simulator.base_url)
    sent: List[dict] = []

    async def send(message: str | bytes) -> None:
        if isinstance(message, str):
            sent.append(json.loads(message))

    async def terminal(response_id: str) -> dict:
        for _ in range(400):
            for message in sent:
                if message.get("id") == response_id and message["type"] != "open":
                    return message
            await asyncio.sleep(0.005)
        raise AssertionError(f"no terminal message for {response_id}: {sent}")

    # detached_timeout = 0: the socket's close stops its batch's streams at once.
    fanout = Fanout(detached_timeout=0)
    log = logging.getLogger("test")
    registry = BatchRegistry(fanout=fanout, lookup=lambda _: upstream,
                             user_streams=UserStreams(), log=log)
    batch = Subscriber(registry=registry, fanout=fanout, user="u", send=send, log=log)
    request = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    try:
        batch.handle_message(json.dumps({"type": "start", "id": "warm", "request": request}))
        assert (await terminal("warm"))["type"] == "end"  # its connection is idle now
        simulator.configure(ttft_ms=3000)
        batch.handle_message(json.dumps({"type": "start", "id": "x", "request": request}))
        if ending == "stop":
            batch.handle_message(json.dumps({"type": "stop", "id": "x"}))
            assert (await terminal("x"))["type"] == "stopped"
        elif ending == "socket closed":
            closing = batch.close()  # the browser went away (its only socket): nobody is told
            assert closing is not None  # its streams stop at once (detached_timeout = 0)
            await closing
        else:
            batch.batch.responses["x"].task.cancel()
        await asyncio.sleep(0.05)  # asyncio closes an aborted socket at its next turn
        record = simulator.wait_for(lambda r: len(r) == 2 and r[1]["disconnected"], timeout=2)
        assert record[1]["outcome"] == "disconnected"
        assert upstream.replicas[0].in_flight == 0
    finally:
        closing = batch.close()
        if closing is not None:
            await closing
        await registry.close()
        await upstream.close()
