"""The upstream HTTP/1.1 client against scripted servers on loopback sockets.

Each server answers with exact bytes, so framing, keep-alive, cut connections, flow control
and TLS are checked byte for byte. The proxy's own tests (test_proxy.py) run the same client
against the simulator.
"""
from __future__ import annotations

import asyncio
import socket
import ssl
import struct
from pathlib import Path
from typing import Awaitable, Callable, List

import pytest

from jupyterlab_fanout import http_client
from jupyterlab_fanout.http_client import (BadResponse, ClientResponse, ConnectFailed,
                                           ConnectionPool, ServerDisconnected, _Connection)

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


class FakeTransport(asyncio.Transport):
    """A transport that only records: the parser is fed by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.closing = False

    def write(self, data: bytes) -> None:
        pass

    def abort(self) -> None:
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def fed_response(pool: ConnectionPool) -> tuple[ClientResponse, _Connection]:
    """A GET sent on a connection whose bytes the test feeds itself (`data_received`)."""
    connection = _Connection(pool, ("http", "upstream", 80))
    connection.connection_made(FakeTransport())
    response = ClientResponse(pool, connection.origin, b"GET / HTTP/1.1\r\n\r\n", False, None)
    pool._dispatch(response, connection)
    return response, connection


async def test_chunked_decoder_in_every_split(pool):
    body = [b"data: one\n\n", b"data: {\"x\": 2}\n\n", b"\xe4\xb8\xad"]
    wire = (b"b;ext=1\r\n" + body[0] + b"\r\n" + b"%x\r\n" % len(body[1]) + body[1] + b"\r\n"
            + b"3\r\n" + body[2] + b"\r\n" + b"0\r\nTrailer: x\r\n\r\n" + b"NEXT")
    wire = CHUNKED + wire
    for size in range(1, len(wire) + 1):
        response, connection = fed_response(pool)
        for i in range(0, len(wire), size):
            connection.data_received(wire[i:i + size])
        assert response.complete, size
        assert await response.read(1 << 20) == b"".join(body), size
        assert not response._keep_alive, size  # the bytes after the body were noticed
        response.close()


@pytest.mark.parametrize("wire", [b"zz\r\n", b"3\r\nabcd\r\n", b"-1\r\n", b"1" * 5000])
async def test_chunked_decoder_rejects_malformed_encodings(wire, pool):
    response, connection = fed_response(pool)
    connection.data_received(CHUNKED + wire)
    with pytest.raises(BadResponse):
        await response.read(1 << 20)
    response.close()


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


# -- strict framing, bounded heads and trailers (issue 14) -----------------------------------


@pytest.mark.parametrize("size", [b"0x1f", b"1_f", b"+1f", b" 1f"])
async def test_a_chunk_size_that_is_not_plain_hex_is_a_protocol_error(size, pool):
    async def handler(reader, writer):
        await server.answer(reader, writer, CHUNKED + size + b"\r\n" + b"a" * 31 + b"\r\n0\r\n\r\n")

    async with Server(handler) as server:
        response = await head(pool, server.url)
        with pytest.raises(BadResponse):
            await response.read(1 << 20)
        assert not response.complete
        response.close()


async def test_bytes_before_a_malformed_chunk_are_read_before_its_error(pool):
    """A good chunk and a bad one in the same packet: the good bytes are not lost, then the
    error names what was wrong (issue 14, item 6)."""
    async def handler(reader, writer):
        await server.answer(reader, writer, CHUNKED + b"5\r\nhello\r\nZZ\r\n")
        await reader.read()

    async with Server(handler) as server:
        response = await head(pool, server.url)
        assert await asyncio.wait_for(response.read_any(), 5) == b"hello"
        with pytest.raises(BadResponse, match="^invalid character in chunk size$"):
            await asyncio.wait_for(response.read_any(), 5)
        with pytest.raises(BadResponse):  # and again: it is not mistaken for the end
            await asyncio.wait_for(response.read_any(), 5)
        assert not response.complete
        response.close()


@pytest.mark.parametrize("trailers", [
    b"".join(b"X-T-%d: %s\r\n" % (i, b"t" * 1000) for i in range(200)) + b"\r\n",  # 200 KB of lines
    b"X-T: " + b"t" * (1 << 20),  # one line that never ends
])
async def test_trailers_are_bounded(trailers, pool):
    async def handler(reader, writer):
        await server.answer(reader, writer, CHUNKED + b"2\r\nhi\r\n0\r\n" + trailers)
        await reader.read()

    async with Server(handler) as server:
        response = await head(pool, server.url)
        with pytest.raises(BadResponse):
            while await asyncio.wait_for(response.read_any(), 5):
                pass
        assert not response.complete
        response.close()


async def test_a_complete_head_larger_than_the_limit_is_refused_with_a_clear_error(pool):
    lines = b"".join(b"X-H-%d: %s\r\n" % (i, b"h" * 1000) for i in range(100))  # about 100 KB

    async def handler(reader, writer):
        await server.answer(reader, writer, b"HTTP/1.1 200 OK\r\n" + lines
                            + b"Content-Length: 2\r\n\r\nok")

    async with Server(handler) as server:
        response = await pool.request("POST", server.url, {}, b"{}")
        with pytest.raises(BadResponse, match="the response head is larger than 64 KiB"):
            await response.wait_head()
        response.close()


# -- Happy Eyeballs (issue 14) -----------------------------------------------------------------


async def test_a_black_holed_ipv6_address_does_not_cost_the_connect_timeout(monkeypatch, pool):
    """The name resolves to an IPv6 address whose packets vanish, then to a working IPv4
    one: IPv4 is tried 250 ms later, not after the connect timeout."""
    loop = asyncio.get_running_loop()
    sock_connect = loop.sock_connect

    async def getaddrinfo(host, port, *, family=0, type=0, proto=0, flags=0):
        assert host == "dual-stack.test"
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("100::1", port, 0, 0)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    async def black_holed_ipv6(sock, address):
        if sock.family == socket.AF_INET6:
            await asyncio.sleep(3600)  # a SYN nobody answers
        return await sock_connect(sock, address)

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(loop, "sock_connect", black_holed_ipv6)

    async def handler(reader, writer):
        await server.answer(reader, writer, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    async with Server(handler) as server:
        url = server.url.replace("127.0.0.1", "dual-stack.test")
        started = loop.time()
        response = await pool.request("POST", url, {}, b"{}", connect_timeout=3)
        assert loop.time() - started < 1.5
        await response.wait_head()
        assert await response.read(10) == b"ok"
        response.close()


# -- one response object per request (issue 14) -----------------------------------------------


async def test_a_late_second_close_of_a_response_does_not_touch_the_next_request(pool):
    release = asyncio.Event()

    async def handler(reader, writer):
        await server.answer(reader, writer, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
        await server.read_request(reader)
        await release.wait()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond")
        await writer.drain()
        await reader.read()

    async with Server(handler) as server:
        first = await head(pool, server.url)
        assert await first.read(100) == b"first"
        first.close()
        second = await pool.request("POST", server.url, {}, b"{}")  # on the same connection
        first.close()  # late, again: must not cancel or close the second request
        release.set()
        await asyncio.wait_for(second.wait_head(), 2)
        assert await second.read(100) == b"second" and second.complete
        second.close()
    assert server.connections == 1


# -- one retry when a reused connection turns out closed (issue 14) ---------------------------


def _reset_on_close(writer: asyncio.StreamWriter) -> None:
    """Make the server's close an RST (SO_LINGER 0) instead of a FIN."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@pytest.mark.parametrize("send", ["request", "send_if_idle"])
@pytest.mark.parametrize("close", ["FIN", "RST"])
async def test_a_request_on_a_reused_connection_the_server_closed_is_sent_again_once(
        send, close, pool):
    async def handler(reader, writer):
        if server.connections == 1:
            await server.answer(reader, writer, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await server.read_request(reader)  # the server closes the idle connection as the
            if close == "RST":                 # request reaches it: no byte of an answer
                _reset_on_close(writer)
            return
        await server.answer(reader, writer, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain")
        await reader.read()

    async with Server(handler) as server:
        assert await fetch(pool, server.url) == (200, b"ok", True)
        if send == "request":
            response = await pool.request("POST", server.url, {}, b'{"n": 2}', connect_timeout=2)
        else:
            response = pool.send_if_idle("POST", server.url, {}, b'{"n": 2}')
            assert response is not None
        await asyncio.wait_for(response.wait_head(), 3)
        assert response.status == 200
        assert await response.read(100) == b"again" and response.complete
        response.close()
    assert server.connections == 2
    assert [r.endswith(b'{"n": 2}') for r in server.requests] == [False, True, True]


@pytest.mark.parametrize("case", ["fresh connection", "a byte arrived", "retried already"])
async def test_no_retry_on_a_fresh_connection_after_a_byte_or_a_second_time(case, pool):
    async def handler(reader, writer):
        if case == "fresh connection":
            await server.read_request(reader)
            return
        if server.connections == 1:
            await server.answer(reader, writer, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await server.read_request(reader)
            if case == "a byte arrived":
                writer.write(b"H")
                await writer.drain()
            return
        await server.read_request(reader)  # "retried already": the new connection closes too

    async with Server(handler) as server:
        if case != "fresh connection":
            assert await fetch(pool, server.url) == (200, b"ok", True)
        response = await pool.request("POST", server.url, {}, b"{}", connect_timeout=2)
        with pytest.raises(ServerDisconnected):
            await asyncio.wait_for(response.wait_head(), 3)
        response.close()
    assert server.connections == {"fresh connection": 1, "a byte arrived": 1,
                                  "retried already": 2}[case]


async def test_closing_a_response_while_its_retry_connects_stops_the_retry(monkeypatch, pool):
    loop = asyncio.get_running_loop()
    connecting = asyncio.Event()
    create_connection = loop.create_connection

    async def slow_create_connection(*args, **kwargs):
        connecting.set()
        await asyncio.sleep(0.2)
        return await create_connection(*args, **kwargs)

    async def handler(reader, writer):
        await server.answer(reader, writer, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await server.read_request(reader)  # then closes: the next request is retried

    async with Server(handler) as server:
        assert await fetch(pool, server.url) == (200, b"ok", True)
        monkeypatch.setattr(loop, "create_connection", slow_create_connection)
        response = await pool.request("POST", server.url, {}, b"{}")
        await asyncio.wait_for(connecting.wait(), 2)
        response.close()
        with pytest.raises(asyncio.CancelledError):
            await response.wait_head()
        # The same with the whole pool closed: the request fails, it does not wait forever.
        assert await fetch(pool, server.url) == (200, b"ok", True)
        connecting.clear()
        response = await pool.request("POST", server.url, {}, b"{}")
        await asyncio.wait_for(connecting.wait(), 2)
        pool.close()
        with pytest.raises(ServerDisconnected):
            await asyncio.wait_for(response.wait_head(), 2)
        response.close()
        await asyncio.sleep(0.4)
    assert server.connections == 2
    assert not pool._retrying
