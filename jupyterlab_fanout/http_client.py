"""A small HTTP/1.1 client for the proxy's upstream requests, on asyncio's protocol layer.

What the proxy needs and nothing more: a request with a body, the response's status and
headers, then its body piece by piece as the bytes arrive (chunked, `Content-Length` or
until the server closes), keep-alive connections reused per origin, TLS, and a way to close
a request in flight at once. Closing a response before its body ended closes its TCP
connection, which is how vLLM learns that nobody reads and aborts the request.

Written for the hot path: each upstream chunk goes from `data_received` to the reader with
no parser object or stream reader in between. Against aiohttp, which the proxy used before,
the proxy's CPU per response of one token fell by a third and per forwarded token by 7 %
(`benchmarks/proxy_cpu.py`, 64 streams); most of what is left is the kernel's. No redirects,
no cookies, no proxies from the environment, no content decoding (requests ask for
`identity`).
"""
from __future__ import annotations

import asyncio
import functools
import socket
import ssl
from collections import deque
from typing import Deque, Dict, List, Optional, Tuple
from urllib.parse import quote, urlsplit

#: Most bytes of a response head (status line and headers).
MAX_HEAD = 64 * 1024
#: Body bytes held for a reader that does not keep up before the socket is paused.
HIGH_WATER = 256 * 1024
#: An idle keep-alive connection is not reused after this many seconds (uvicorn, which
#: serves vLLM, closes idle connections after 5 s; reusing one it is closing loses a request).
KEEPALIVE_SECONDS = 4.0
#: Idle connections kept per origin.
MAX_IDLE_PER_ORIGIN = 128


class HTTPClientError(Exception):
    """Base of the errors this client raises."""


class ConnectFailed(HTTPClientError):
    """The TCP or TLS connection could not be made; `reason` is safe to show (no address)."""

    def __init__(self, reason: str, cause: Optional[BaseException] = None):
        super().__init__(reason)
        self.reason = reason
        self.cause = cause


class ConnectTimeout(HTTPClientError):
    """Connecting took longer than the connect timeout."""


class ServerDisconnected(HTTPClientError):
    """The server closed the connection before the response head was complete."""


class BadResponse(HTTPClientError):
    """The server's bytes are not an HTTP/1.x response this client understands."""


Origin = Tuple[str, str, int]  # scheme, host, port


@functools.lru_cache(maxsize=256)
def split_url(url: str) -> Tuple[Origin, str]:
    """The origin of an http(s) URL and its request target (path, percent-encoded)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        target += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    return (parts.scheme, parts.hostname, port), target


def _host_header(origin: Origin) -> str:
    scheme, host, port = origin
    name = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return name if port == default else f"{name}:{port}"


def _check_header(name: str, value: str) -> None:
    if any(c in name for c in "\r\n:") or "\r" in value or "\n" in value:
        raise ValueError(f"header {name!r} contains a line break")


class _ChunkedDecoder:
    """Incremental `Transfer-Encoding: chunked` decoder."""

    def __init__(self) -> None:
        self._buffer = b""
        self._remaining = 0  # data bytes left in the current chunk
        self._state = "size"  # size | data | data-end | trailer | done
        self.done = False

    def feed(self, data: bytes, out: List[bytes]) -> bytes:
        """Decode `data`, appending body bytes to `out`; returns bytes after the body's end.

        Raises BadResponse on a malformed encoding.
        """
        buffer = self._buffer + data if self._buffer else data
        self._buffer = b""
        pos, end = 0, len(buffer)
        while pos < end:
            state = self._state
            if state == "data":
                take = min(self._remaining, end - pos)
                out.append(buffer[pos:pos + take])
                pos += take
                self._remaining -= take
                if self._remaining == 0:
                    self._state = "data-end"
                continue
            line_end = buffer.find(b"\r\n", pos)
            if line_end < 0:
                if end - pos > 4096:
                    raise BadResponse("chunk header line too long")
                self._buffer = buffer[pos:]
                return b""
            line = buffer[pos:line_end]
            pos = line_end + 2
            if state == "size":
                size_text = line.split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise BadResponse(f"bad chunk size {size_text[:20]!r}") from None
                if size < 0:
                    raise BadResponse("negative chunk size")
                if size == 0:
                    self._state = "trailer"
                else:
                    self._remaining = size
                    self._state = "data"
            elif state == "data-end":
                if line:
                    raise BadResponse("chunk data longer than its size")
                self._state = "size"
            elif state == "trailer":
                if not line:
                    self._state = "done"
                    self.done = True
                    return buffer[pos:]
        return b""


class ClientResponse(asyncio.Protocol):
    """One connection's protocol, and the response on it being read.

    A connection carries one request at a time; after a complete response with keep-alive
    the pool may hand it to the next request (`_reset`).
    """

    def __init__(self, pool: ConnectionPool, origin: Origin):
        self._pool = pool
        self.origin = origin
        self.transport: Optional[asyncio.Transport] = None
        self.lost = False
        self.idle_since = 0.0
        self._loop = asyncio.get_running_loop()
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.reason = ""
        self.headers: Dict[str, str] = {}
        self._head = b""
        self._head_done: Optional[asyncio.Future[None]] = None
        self._head_failed = False
        self._body: Deque[bytes] = deque()
        self._buffered = 0
        self._waiter: Optional[asyncio.Future[None]] = None
        self._exc: Optional[BaseException] = None
        self._complete = False  # the body ended as its framing says
        self._eof = False  # no more body bytes will come (complete, or cut)
        self._chunked: Optional[_ChunkedDecoder] = None
        self._length: Optional[int] = None  # body bytes still expected (Content-Length)
        self._keep_alive = False
        self._paused = False
        self._closed = False
        self._no_body = False

    # -- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._head_done is None:
            # Bytes on an idle keep-alive connection: it cannot be reused.
            self._discard()
            return
        if self._closed:
            return
        try:
            if not self._head_done.done():
                data = self._read_head(data)
                if not self._head_done.done():
                    return
            if data and not self._eof:
                self._feed_body(data)
        except BadResponse as e:
            self._fail(e)

    def eof_received(self) -> Optional[bool]:
        self._connection_ended(None)
        return False

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.lost = True
        self._connection_ended(exc)

    # -- head ---------------------------------------------------------------------------

    def _read_head(self, data: bytes) -> bytes:
        """Parse the response head; returns the body bytes that followed it."""
        assert self._head_done is not None
        while True:
            self._head += data
            data = b""
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                if len(self._head) > MAX_HEAD:
                    raise BadResponse("response head too large")
                return b""
            head, rest = self._head[:end], self._head[end + 4:]
            self._head = b""
            lines = head.decode("latin-1").split("\r\n")
            version, _, status_text = lines[0].partition(" ")
            code_text, _, reason = status_text.partition(" ")
            if not version.startswith("HTTP/1.") or len(code_text) != 3 or not code_text.isdigit():
                raise BadResponse("not an HTTP/1.x response")
            status = int(code_text)
            headers: Dict[str, str] = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if not sep or not name or name != name.strip():
                    raise BadResponse("malformed response header")
                key = name.lower()
                value = value.strip()
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
            if 100 <= status < 200:
                # Interim response (100 Continue, 103 Early Hints): the real one follows.
                data = rest
                if not data:
                    return b""
                continue
            self.status, self.reason, self.headers = status, reason, headers
            self._frame_body(version)
            self._head_done.set_result(None)
            return rest

    def _frame_body(self, version: str) -> None:
        headers = self.headers
        connection = headers.get("connection", "").lower()
        self._keep_alive = (
            "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
        )
        encoding = headers.get("transfer-encoding", "").lower()
        if self._no_body or self.status in (204, 304):
            self._length = 0
        elif encoding:
            if encoding.split(",")[-1].strip() != "chunked":
                raise BadResponse(f"unsupported transfer encoding {encoding[:40]!r}")
            self._chunked = _ChunkedDecoder()
        elif "content-length" in headers:
            try:
                self._length = int(headers["content-length"])
            except ValueError:
                raise BadResponse("bad Content-Length") from None
            if self._length < 0:
                raise BadResponse("bad Content-Length")
        else:
            self._keep_alive = False  # the body ends when the server closes
        if self._length == 0:
            self._end_body()

    # -- body ---------------------------------------------------------------------------

    def _feed_body(self, data: bytes) -> None:
        if self._chunked is not None:
            pieces: List[bytes] = []
            extra = self._chunked.feed(data, pieces)
            for piece in pieces:
                self._push(piece)
            if self._chunked.done:
                if extra:
                    self._keep_alive = False
                self._end_body()
        elif self._length is not None:
            if len(data) >= self._length:
                if len(data) > self._length:
                    self._keep_alive = False
                self._push(data[: self._length])
                self._length = 0
                self._end_body()
            else:
                self._push(data)
                self._length -= len(data)
        else:
            self._push(data)

    def _push(self, piece: bytes) -> None:
        if not piece:
            return
        self._body.append(piece)
        self._buffered += len(piece)
        if self._buffered > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def _end_body(self) -> None:
        self._complete = True
        self._eof = True
        self._wake()

    def _connection_ended(self, exc: Optional[BaseException]) -> None:
        if self._head_done is None:
            self._discard()
            return
        if self._closed or self._head_failed:
            return
        if not self._head_done.done():
            self._head_failed = True
            error = ServerDisconnected("the server closed the connection")
            if exc is not None:
                error.__cause__ = exc
            self._head_done.set_exception(error)
            return
        if not self._eof:
            # Until-close framing ends here; any other framing was cut short.
            if self._chunked is None and self._length is None:
                self._complete = True
            self._eof = True
            self._keep_alive = False
            self._wake()

    def _fail(self, exc: BaseException) -> None:
        self._keep_alive = False
        if self._closed:
            pass
        elif self._head_done is not None and not self._head_done.done():
            self._head_failed = True
            self._head_done.set_exception(exc)
        else:
            self._exc = exc
            self._wake()
        if self.transport is not None:
            self.transport.abort()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _discard(self) -> None:
        self._pool._forget(self)
        if self.transport is not None:
            self.transport.abort()

    # -- the caller's side ----------------------------------------------------------------

    def _send(self, request: bytes, *, head_only: bool = False) -> None:
        assert self.transport is not None
        self._head_done = self._loop.create_future()
        self._no_body = head_only
        self.transport.write(request)

    async def wait_head(self, timeout: Optional[float] = None) -> None:
        """Wait for the response head; asyncio.TimeoutError after `timeout` seconds (a timer
        on the head itself: no task per request, as `asyncio.wait_for` would make)."""
        head = self._head_done
        assert head is not None
        if timeout is None or head.done():
            await head
            return
        timer = self._loop.call_later(timeout, self._head_timed_out, head)
        try:
            await head
        finally:
            timer.cancel()

    def _head_timed_out(self, head: asyncio.Future[None]) -> None:
        if not head.done():
            self._head_failed = True
            self._keep_alive = False
            head.set_exception(asyncio.TimeoutError())

    @property
    def complete(self) -> bool:
        """The whole body arrived, as its framing says."""
        return self._complete

    async def read_any(self) -> bytes:
        """The body bytes that arrived since the last call, waiting for some; b"" at its end
        (also when the connection was cut mid-body: check `complete`)."""
        while True:
            if self._exc is not None:
                raise self._exc
            if self._body:
                if len(self._body) == 1:
                    data = self._body.popleft()
                else:
                    data = b"".join(self._body)
                    self._body.clear()
                self._buffered = 0
                if self._paused and self.transport is not None:
                    self._paused = False
                    self.transport.resume_reading()
                return data
            if self._eof:
                return b""
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def read(self, limit: int) -> bytes:
        """The body up to `limit` bytes (less only if it ends first)."""
        parts: List[bytes] = []
        size = 0
        while size < limit:
            data = await self.read_any()
            if not data:
                break
            parts.append(data)
            size += len(data)
        return b"".join(parts)[:limit]

    def set_exception(self, exc: BaseException) -> None:
        """End a pending or the next read with `exc` (for timeouts the caller keeps)."""
        self._exc = exc
        self._keep_alive = False
        self._wake()

    def close(self) -> None:
        """Done with this response: a complete keep-alive response returns its connection to
        the pool, anything else closes the connection now (idempotent)."""
        if self._closed:
            return
        self._closed = True
        head = self._head_done
        if head is not None:
            if not head.done():
                head.cancel()
            elif not head.cancelled():
                head.exception()  # retrieved: the caller may have stopped waiting for it
        if (
            self._complete and self._keep_alive and not self._body and self._exc is None
            and not self.lost and self.transport is not None and not self.transport.is_closing()
        ):
            self._pool._release(self)
        else:
            self._pool._forget(self)
            if self.transport is not None:
                self.transport.abort()


class ConnectionPool:
    """Connections to any number of origins, with idle keep-alive connections reused."""

    def __init__(self, *, verify_tls: bool = True):
        self._ssl: Optional[ssl.SSLContext] = None
        self._verify_tls = verify_tls
        self._idle: Dict[Origin, List[ClientResponse]] = {}
        self._busy: set[ClientResponse] = set()
        self.closed = False

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            context = ssl.create_default_context()
            if not self._verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._ssl = context
        return self._ssl

    async def request(
        self,
        method: str,
        url: str,
        headers: Dict[str, str],
        body: bytes = b"",
        *,
        connect_timeout: Optional[float] = None,
    ) -> ClientResponse:
        """Send a request on an idle or a new connection; returns once it is written.

        Wait for the head with `await response.wait_head()`, then read the body, then
        `response.close()`. Raises ConnectFailed or ConnectTimeout; cancelling closes the
        connection.
        """
        origin, request = self._encode(method, url, headers, body)
        response = self._take_idle(origin)
        if response is None:
            response = await self._connect(origin, connect_timeout)
        self._dispatch(response, request, method)
        return response

    def send_if_idle(
        self, method: str, url: str, headers: Dict[str, str], body: bytes = b""
    ) -> Optional[ClientResponse]:
        """Send a request now, without waiting for the loop, if an idle connection to its
        origin is there; None (nothing sent) if not: then use `request`."""
        origin, request = self._encode(method, url, headers, body)
        response = self._take_idle(origin)
        if response is not None:
            self._dispatch(response, request, method)
        return response

    def _encode(
        self, method: str, url: str, headers: Dict[str, str], body: bytes
    ) -> Tuple[Origin, bytes]:
        if self.closed:
            raise HTTPClientError("the connection pool is closed")
        origin, target = split_url(url)
        lines = [f"{method} {target} HTTP/1.1", f"Host: {_host_header(origin)}"]
        for name, value in headers.items():
            _check_header(name, value)
            lines.append(f"{name}: {value}")
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        return origin, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    def _dispatch(self, response: ClientResponse, request: bytes, method: str) -> None:
        self._busy.add(response)
        try:
            response._send(request, head_only=method == "HEAD")
        except BaseException:
            response.close()
            raise

    def _take_idle(self, origin: Origin) -> Optional[ClientResponse]:
        idle = self._idle.get(origin)
        now = asyncio.get_running_loop().time()
        while idle:
            response = idle.pop()
            transport = response.transport
            if (
                not response.lost and transport is not None and not transport.is_closing()
                and now - response.idle_since < KEEPALIVE_SECONDS
            ):
                response._reset()
                return response
            if transport is not None:
                transport.abort()
        return None

    async def _connect(self, origin: Origin, timeout: Optional[float]) -> ClientResponse:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        tls = self._ssl_context() if scheme == "https" else None
        try:
            _transport, response = await asyncio.wait_for(
                loop.create_connection(
                    lambda: ClientResponse(self, origin), host, port,
                    ssl=tls, server_hostname=host if tls is not None else None,
                ),
                timeout,
            )
        except asyncio.TimeoutError:
            raise ConnectTimeout("connecting timed out") from None
        except ssl.SSLError as e:
            raise ConnectFailed("TLS error", e) from None
        except OSError as e:
            raise ConnectFailed(_os_reason(e), e) from None
        return response

    def _release(self, response: ClientResponse) -> None:
        self._busy.discard(response)
        idle = self._idle.setdefault(response.origin, [])
        if self.closed or len(idle) >= MAX_IDLE_PER_ORIGIN:
            if response.transport is not None:
                response.transport.abort()
            return
        response.idle_since = asyncio.get_running_loop().time()
        response._head_done = None  # marks it idle (see data_received)
        idle.append(response)

    def _forget(self, response: ClientResponse) -> None:
        self._busy.discard(response)
        idle = self._idle.get(response.origin)
        if idle and response in idle:
            idle.remove(response)

    def close(self) -> None:
        """Close every connection, idle or in use."""
        self.closed = True
        for response in [*self._busy, *(r for idle in self._idle.values() for r in idle)]:
            if response.transport is not None:
                response.transport.abort()
        self._busy.clear()
        self._idle.clear()


def _os_reason(e: OSError) -> str:
    """A short reason for a failed connection, without the address (TLS errors are
    told apart before this)."""
    if isinstance(e, socket.gaierror):
        return "host name could not be resolved"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    return "connection failed"
