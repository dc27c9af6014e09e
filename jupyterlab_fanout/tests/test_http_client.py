"""The upstream HTTP/1.1 client against scripted servers on loopback sockets.

Each server answers with exact bytes, so framing, keep-alive, cut connections, flow control
and TLS are checked byte for byte. The proxy's own tests (test_proxy.py) run the same client
against the simulator.
"""
from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Awaitable, Callable, List

import pytest

from jupyterlab_fanout import http_client
from jupyterlab_fanout.http_client import (BadResponse, ClientResponse, ConnectFailed,
                                           ConnectionPool, ServerDisconnected,
                                           _ChunkedDecoder)

DATA = Path(__file__).parent / "data"

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Server:
    """A loopback server running `handler` per connection; counts connections."""

    def __init__(self, handler: Handler, tls: ssl.SSLContext | None = None):
        self.handler = handler
        self.tls = tls
        self.connections = 0
        self.closed_by_client = asyncio.Event()
        self.requests: List[bytes] = []

    async def __aenter__(self) -> "Server":
        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        self._server = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=self.tls)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"{'https' if self.tls else 'http'}://127.0.0.1:{port}/v1/things"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        request = head + await reader.readexactly(length)
        self.requests.append(request)
        return request

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     reply: bytes) -> None:
        """Read one request, then write `reply` (exact bytes)."""
        await self.read_request(reader)
        writer.write(reply)
        await writer.drain()


@pytest.fixture
async def pool():
    """A connection pool, closed after the test."""
    pool = ConnectionPool()
    yield pool
    pool.close()


#: The head of a 200 answer with a chunked body.
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


async def head(pool: ConnectionPool, url: str, method: str = "POST") -> ClientResponse:
    """A request (POST of `{}`, or a GET), once its response head has arrived."""
    response = await pool.request(method, url, {}, b"{}" if method == "POST" else b"")
    await response.wait_head()
    return response


async def fetch(pool: ConnectionPool, url: str, body: bytes = b"{}") -> tuple[int, bytes, bool]:
    response = await pool.request("POST", url, {"Accept": "*/*"}, body)
    try:
        await response.wait_head()
        data = await response.read(1 << 20)
        return response.status, data, response.complete
    finally:
        response.close()


def test_chunked_decoder_in_every_split():
    body = [b"data: one\n\n", b"data: {\"x\": 2}\n\n", b"\xe4\xb8\xad"]
    wire = (b"b;ext=1\r\n" + body[0] + b"\r\n" + b"%x\r\n" % len(body[1]) + body[1] + b"\r\n"
            + b"3\r\n" + body[2] + b"\r\n" + b"0\r\nTrailer: x\r\n\r\n" + b"NEXT")
    for size in range(1, len(wire) + 1):
        decoder, out, extra = _ChunkedDecoder(), [], b""
        for i in range(0, len(wire), size):
            assert not decoder.done
            extra = decoder.feed(wire[i:i + size], out)
            if decoder.done:
                extra += wire[i + size:]
                break
        assert decoder.done, size
        assert b"".join(out) == b"".join(body), size
        assert extra == b"NEXT", size


@pytest.mark.parametrize("wire", [b"zz\r\n", b"3\r\nabcd\r\n", b"-1\r\n", b"1" * 5000])
def test_chunked_decoder_rejects_malformed_encodings(wire):
    with pytest.raises(BadResponse):
        _ChunkedDecoder().feed(wire, [])


async def test_keep_alive_reuses_one_connection_and_sends_our_request(pool):
    async def handler(reader, writer):
        while True:
            await server.answer(reader, writer, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")

    async with Server(handler) as server:
        for _ in range(3):
            assert await fetch(pool, server.url, b'{"a": 1}') == (200, b"hello", True)
    assert server.connections == 1
    request = server.requests[0]
    assert request.startswith(b"POST /v1/things HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\nAccept: */*\r\nContent-Length: 8\r\n\r\n{\"a\": 1}" in request


async def test_connection_close_expired_and_server_closed_connections_are_not_reused(monkeypatch, pool):
    replies = iter([
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb",  # kept, then the server closes it
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc",  # kept, then too old
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nd",
    ])

    async def handler(reader, writer):
        reply = next(replies)
        await server.answer(reader, writer, reply)
        if reply.endswith(b"b"):
            return  # closes right after answering
        await server.read_request(reader)  # would hang the client if reused after expiry

    async with Server(handler) as server:
        assert (await fetch(pool, server.url))[1] == b"a"
        assert (await fetch(pool, server.url))[1] == b"b"
        await asyncio.sleep(0.05)  # the close reaches the client while the connection is idle
        assert (await fetch(pool, server.url))[1] == b"c"
        monkeypatch.setattr(http_client, "KEEPALIVE_SECONDS", 0.0)
        assert (await fetch(pool, server.url))[1] == b"d"
    assert server.connections == 4


async def test_body_until_close_interim_responses_and_a_head_in_pieces(pool):
    async def handler(reader, writer):
        await server.read_request(reader)
        for piece in (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 20", b"0 OK\r\nX-A: 1\r\nx-a: 2",
                      b"\r\nContent-Type: text/plain\r\n\r\nsome ", b"text"):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.01)

    async with Server(handler) as server:
        response = await head(pool, server.url, "GET")
        assert response.status == 200
        assert response.headers == {"x-a": "1, 2", "content-type": "text/plain"}
        assert await response.read(100) == b"some text"
        assert response.complete  # ended by the close, as its framing says
        response.close()


async def test_a_cut_body_ends_incomplete_and_a_chunked_body_streams_as_it_arrives(pool):
    step = asyncio.Event()

    async def handler(reader, writer):
        await server.answer(reader, writer, CHUNKED + b"5\r\nfirst\r\n")
        await step.wait()
        writer.write(b"6\r\nsec")  # then the connection is cut mid-chunk

    async with Server(handler) as server:
        response = await head(pool, server.url)
        assert await response.read_any() == b"first"
        step.set()
        assert await response.read_any() == b"sec"
        assert await response.read_any() == b""
        assert not response.complete
        response.close()


async def test_closing_a_response_mid_body_closes_its_connection_at_once(pool):
    seen_close = asyncio.Event()

    async def handler(reader, writer):
        await server.answer(reader, writer, CHUNKED + b"2\r\nhi\r\n")
        assert await reader.read(1) == b""  # the client closed
        seen_close.set()

    async with Server(handler) as server:
        response = await head(pool, server.url)
        assert await response.read_any() == b"hi"
        response.close()
        await asyncio.wait_for(seen_close.wait(), 2)


@pytest.mark.parametrize(
    "reply, error",
    [
        (b"", ServerDisconnected),
        (b"HTTP/1.1 200 OK\r\nContent-Le", ServerDisconnected),
        (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", BadResponse),
        (b"HTTP/1.1 200 OK\r\nbad header line\r\n\r\n", BadResponse),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", BadResponse),
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * (http_client.MAX_HEAD + 10), BadResponse),
    ],
)
async def test_a_broken_head_is_a_clear_error(reply, error, pool):
    async def handler(reader, writer):
        await server.answer(reader, writer, reply)

    async with Server(handler) as server:
        response = await pool.request("POST", server.url, {}, b"{}")
        with pytest.raises(error):
            await response.wait_head()
        response.close()


async def test_a_reader_that_falls_behind_pauses_the_socket_and_loses_nothing(pool):
    total = 8 * http_client.HIGH_WATER

    async def handler(reader, writer):
        await server.answer(reader, writer, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % total)
        for _ in range(total // 4096):
            writer.write(b"x" * 4096)
            await writer.drain()

    async with Server(handler) as server:
        response = await head(pool, server.url, "GET")
        await asyncio.sleep(0.3)  # nobody reads
        assert response._paused
        assert response._buffered <= http_client.HIGH_WATER + 256 * 1024
        received = 0
        while chunk := await response.read_any():
            received += len(chunk)
        assert received == total and response.complete
        response.close()


def _tls_server_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(DATA / "selfsigned.crt", DATA / "selfsigned.key")
    return context


async def test_tls_is_verified_unless_turned_off():
    async def handler(reader, writer):
        await server.answer(reader, writer, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    async with Server(handler, tls=_tls_server_context()) as server:
        pool = ConnectionPool(verify_tls=True)
        with pytest.raises(ConnectFailed) as failure:
            await pool.request("GET", server.url, {})
        assert failure.value.reason == "TLS error"
        pool.close()
        pool = ConnectionPool(verify_tls=False)
        assert await fetch(pool, server.url) == (200, b"ok", True)
        pool.close()


async def test_refused_connections_and_header_injection(pool):
    sock = __import__("socket").socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(ConnectFailed) as failure:
        await pool.request("GET", f"http://127.0.0.1:{port}/v1", {})
    assert failure.value.reason == "connection refused"
    with pytest.raises(ValueError):
        await pool.request("GET", f"http://127.0.0.1:{port}/v1", {"X": "a\r\nHost: evil"})


async def test_bytes_after_a_body_make_its_connection_unusable(pool):
    async def handler(reader, writer):
        # More than the response: not to be trusted.
        await server.answer(reader, writer, CHUNKED + chunked(b"ab") + b"HTTP/1.1 200 OK\r\n")
        await reader.read()

    async with Server(handler) as server:
        assert await fetch(pool, server.url) == (200, b"ab", True)
        # Reusing the connection would wait for an answer that never comes.
        assert await asyncio.wait_for(fetch(pool, server.url), 2) == (200, b"ab", True)
    assert server.connections == 2


async def test_bytes_on_an_idle_connection_make_it_unusable(pool):
    async def handler(reader, writer):
        await server.answer(reader, writer, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await asyncio.sleep(0.05)
        writer.write(b"HTTP/1.1 200 OK\r\n")  # nobody asked: not to be trusted
        await writer.drain()
        await reader.read()

    async with Server(handler) as server:
        assert await fetch(pool, server.url) == (200, b"ok", True)
        await asyncio.sleep(0.2)
        assert await asyncio.wait_for(fetch(pool, server.url), 2) == (200, b"ok", True)
    assert server.connections == 2
