"""A small HTTP/1.1 client for the proxy's upstream requests, on asyncio's protocol layer.

What the proxy needs and nothing more: a request with a body, the response's status and
headers, then its body piece by piece as the bytes arrive (chunked, `Content-Length` or
until the server closes), keep-alive connections reused per origin, TLS, and a way to close
a request in flight at once. Closing a response before its body ended closes its TCP
connection, which is how vLLM learns that nobody reads and aborts the request.

The framing is llhttp's (through `httptools`, the binding uvicorn uses), in its strict
mode: a chunk size such as `0x1f` or `1_f`, a second `Content-Length`, both `Content-Length`
and `Transfer-Encoding`, a bare LF are protocol errors. This module bounds what llhttp does
not: the response head (`MAX_HEAD`), the trailers (`MAX_TRAILERS`) and the bytes that carry
no body at all (`MAX_FRAMING`).

Each request has its own `ClientResponse` (the parser's callbacks); a `_Connection` is the
asyncio protocol of one TCP connection and carries one request at a time. Written for the
hot path: each upstream chunk goes from `data_received` through llhttp to the reader's
queue, no stream reader in between. A request sent on a reused keep-alive connection that
the server closed before any byte of the response arrived is sent once more, on a new
connection (the server closed an idle connection as the request reached it). New
connections race IPv6 and IPv4 (Happy Eyeballs, RFC 8305). No redirects, no cookies, no
proxies from the environment, no content decoding (requests ask for `identity`).
"""
from __future__ import annotations

import asyncio
import functools
import socket
import ssl
from collections import deque
from typing import Deque, Dict, List, Optional, Set, Tuple
from urllib.parse import quote, urlsplit

import httptools

#: Most bytes of a response head (status line and headers).
MAX_HEAD = 64 * 1024
#: Most bytes of the trailer fields after a chunked body (read, then dropped).
MAX_TRAILERS = 16 * 1024
#: Most bytes in a row, after the head, that carry no body (chunk framing and extensions,
#: trailers): a server that sends only those is not sending a response.
MAX_FRAMING = 64 * 1024
#: Body bytes held for a reader that does not keep up before the socket is paused.
HIGH_WATER = 256 * 1024
#: An idle keep-alive connection is not reused after this many seconds (uvicorn, which
#: serves vLLM, closes idle connections after 5 s; reusing one it is closing loses a request).
KEEPALIVE_SECONDS = 4.0
#: Idle connections kept per origin.
MAX_IDLE_PER_ORIGIN = 128
#: Happy Eyeballs: the next address of a host is tried this many seconds after the attempt
#: before it began, without waiting for that one to fail (RFC 8305 recommends 250 ms).
HAPPY_EYEBALLS_DELAY = 0.25


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


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection. It carries one request at a time (`response`); between
    requests it waits in the pool, idle."""

    def __init__(self, pool: ConnectionPool, origin: Origin):
        self._pool = pool
        self.origin = origin
        self.transport: Optional[asyncio.Transport] = None
        #: The request in flight on this connection, None while idle.
        self.response: Optional[ClientResponse] = None
        #: Requests sent on this connection so far (more than one: it was reused).
        self.requests = 0
        #: A byte arrived since the current request was sent.
        self.received = False
        self.lost = False
        #: False once the server closed its side or sent bytes nobody asked for.
        self.reusable = True
        self.idle_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        response = self.response
        if response is None:
            # Bytes on an idle keep-alive connection: it cannot be reused.
            self.reusable = False
            self._pool._drop(self)
            return
        self.received = True
        try:
            response._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as e:
            response._parse_failed(e)
            return
        if response._progress:
            response._progress = False
            response._framing = 0
        else:
            response._no_progress(len(data))

    def eof_received(self) -> Optional[bool]:
        self.reusable = False
        self._ended(None)
        return False

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.lost = True
        self.reusable = False
        self._ended(exc)

    def _ended(self, exc: Optional[BaseException]) -> None:
        response = self.response
        if response is None:
            self._pool._drop(self)
        else:
            response._connection_ended(self, exc)


class ClientResponse:
    """One request and its response, from the moment it is sent until `close()`.

    Also the protocol of its llhttp parser (the `on_*` methods). A request has its own
    response object even when its connection served others before: closing it twice never
    touches the request that uses the connection next.
    """

    def __init__(self, pool: ConnectionPool, origin: Origin, request: bytes, head_only: bool,
                 connect_timeout: Optional[float]):
        self._pool = pool
        self.origin = origin
        self._request = request
        self._head_only = head_only
        self._connect_timeout = connect_timeout
        self._loop = asyncio.get_running_loop()
        self.status = 0
        self.reason = ""
        self.headers: Dict[str, str] = {}
        self._head_done: asyncio.Future[None] = self._loop.create_future()
        self._final = False  # the final (not 1xx) head arrived
        self._head_size = 0
        self._trailer_size = 0
        self._framing = 0  # bytes in a row that carried no body
        self._progress = False  # body bytes arrived during the current `feed_data`
        self._error: Optional[BadResponse] = None  # raised by a parser callback
        self._body: Deque[bytes] = deque()
        self._buffered = 0
        self._waiter: Optional[asyncio.Future[None]] = None
        self._exc: Optional[BaseException] = None
        self._complete = False  # the body ended as its framing says
        self._eof = False  # no more body bytes will come (complete, or cut)
        self._until_close = False  # the body ends when the server closes
        self._keep_alive = False
        self._paused = False
        self._closed = False
        self._connection: Optional[_Connection] = None
        self._retried = False
        self._retry_task: Optional[asyncio.Task[None]] = None
        self._parser = httptools.HttpResponseParser(self)

    # -- llhttp's callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._final:
            # A second response to one request: bytes nobody asked for.
            self._keep_alive = False
            raise BadResponse("bytes after the response")
        self.reason = ""  # after an interim response (100 Continue, 103 Early Hints)
        self.headers = {}
        self._head_size = 0

    def on_status(self, status: bytes) -> None:
        self._head_size += len(status)
        self.reason += status.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        size = len(name) + len(value) + 4
        if self._final:
            self._trailer_size += size
            if self._trailer_size > MAX_TRAILERS:
                self._raise(f"the response's trailers are larger than {MAX_TRAILERS // 1024} KiB")
            return  # trailers are read and dropped
        self._head_size += size
        if self._head_size > MAX_HEAD:
            self._raise(f"the response head is larger than {MAX_HEAD // 1024} KiB")
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1").strip()
        headers = self.headers
        headers[key] = f"{headers[key]}, {text}" if key in headers else text

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:
            return  # interim: the final head follows (101 ends in HttpParserUpgrade)
        self._final = True
        self.status = status
        headers = self.headers
        encoding = headers.get("transfer-encoding")
        if encoding is not None and encoding.split(",")[-1].strip().lower() != "chunked":
            self._raise(f"unsupported transfer encoding {encoding[:40]!r}")
        if self._head_only:
            # The answer to HEAD has no body, whatever its head says; llhttp (through
            # httptools) cannot be told so: stop it here and do not reuse the connection.
            self._complete = self._eof = True
            self._keep_alive = False
            if not self._head_done.done():
                self._head_done.set_result(None)
            raise BadResponse("the response to HEAD ends with its head")
        if encoding is None and "content-length" not in headers and status not in (204, 304):
            self._until_close = True
        if not self._head_done.done():
            self._head_done.set_result(None)

    def on_body(self, body: bytes) -> None:
        self._progress = True
        self._body.append(body)
        self._buffered += len(body)
        if self._buffered > HIGH_WATER and not self._paused:
            connection = self._connection
            if connection is not None and connection.transport is not None:
                self._paused = True
                connection.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if not self._final:
            return  # an interim response ended
        self._keep_alive = self._parser.should_keep_alive() and not self._head_only
        self._complete = True
        self._eof = True
        self._wake()

    def _raise(self, message: str) -> None:
        self._error = BadResponse(message)
        raise self._error

    # -- the connection's events ----------------------------------------------------------

    def _parse_failed(self, e: Exception) -> None:
        self._keep_alive = False
        if self._complete:
            return  # bytes after a complete response: the connection is not reused
        if self._error is not None:
            error = self._error
        elif isinstance(e, httptools.HttpParserUpgrade):
            error = BadResponse("the server switched protocols")
        else:
            # llhttp's reason, e.g. "Invalid character in chunk size" (never the server's bytes).
            reason = str(e).strip()
            error = BadResponse(reason[:1].lower() + reason[1:] if reason
                                else "invalid HTTP response")
        self._fail(error)

    def _no_progress(self, size: int) -> None:
        """`size` bytes arrived and gave no body bytes."""
        self._framing += size
        if self._eof:
            return
        if not self._final:
            if self._framing > MAX_HEAD:
                self._fail(BadResponse(f"the response head is larger than {MAX_HEAD // 1024} KiB"))
        elif self._framing > MAX_FRAMING:
            self._fail(BadResponse(
                f"more than {MAX_FRAMING // 1024} KiB of chunk framing or trailers without data"
            ))

    def _connection_ended(self, connection: _Connection, exc: Optional[BaseException]) -> None:
        if self._closed:
            return
        if not self._head_done.done():
            if connection.requests > 1 and not connection.received and not self._retried:
                self._retry()
                return
            error = ServerDisconnected("the server closed the connection")
            if exc is not None:
                error.__cause__ = exc
            self._head_done.set_exception(error)
            return
        if not self._eof:
            # Until-close framing ends here; any other framing was cut short.
            self._complete = self._until_close and self._exc is None
            self._eof = True
            self._keep_alive = False
            self._wake()

    def _fail(self, exc: BaseException) -> None:
        self._keep_alive = False
        if not self._head_done.done():
            self._head_done.set_exception(exc)
        else:
            self._exc = exc
            self._wake()
        connection = self._connection
        if connection is not None and connection.transport is not None:
            connection.transport.abort()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # -- the one retry --------------------------------------------------------------------

    def _retry(self) -> None:
        """Send the request again on a new connection: the reused one was closed before any
        byte of the response arrived (the server never began to answer it)."""
        self._retried = True
        self._detach(reuse=False)
        self._parser = httptools.HttpResponseParser(self)
        self._retry_task = self._loop.create_task(self._resend())
        self._pool._retrying.add(self)

    async def _resend(self) -> None:
        try:
            connection = await self._pool._connect(self.origin, self._connect_timeout)
        except Exception as e:  # noqa: BLE001 - the caller learns it from `wait_head`
            if not self._head_done.done():
                self._head_done.set_exception(e)
            return
        finally:
            self._retry_task = None
            self._pool._retrying.discard(self)
        if self._closed or self._pool.closed:
            if connection.transport is not None:
                connection.transport.abort()
            return
        self._pool._dispatch(self, connection)

    # -- the caller's side ----------------------------------------------------------------

    async def wait_head(self, timeout: Optional[float] = None) -> None:
        """Wait for the response head; asyncio.TimeoutError after `timeout` seconds (a timer
        on the head itself: no task per request, as `asyncio.wait_for` would make)."""
        head = self._head_done
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
            self._keep_alive = False
            head.set_exception(asyncio.TimeoutError())

    @property
    def complete(self) -> bool:
        """The whole body arrived, as its framing says."""
        return self._complete

    async def read_any(self) -> bytes:
        """The body bytes that arrived since the last call, waiting for some; b"" at its end
        (also when the connection was cut mid-body: check `complete`). A failure (a
        BadResponse mid-body, the caller's `set_exception`) is raised once the bytes that
        arrived before it were returned."""
        while True:
            if self._body:
                if len(self._body) == 1:
                    data = self._body.popleft()
                else:
                    data = b"".join(self._body)
                    self._body.clear()
                self._buffered = 0
                if self._paused:
                    self._paused = False
                    connection = self._connection
                    if connection is not None and connection.transport is not None:
                        connection.transport.resume_reading()
                return data
            if self._exc is not None:
                raise self._exc
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
        if not head.done():
            head.cancel()
        elif not head.cancelled():
            head.exception()  # retrieved: the caller may have stopped waiting for it
        if self._retry_task is not None:
            self._retry_task.cancel()
            self._retry_task = None
            self._pool._retrying.discard(self)
        self._detach(
            reuse=self._complete and self._keep_alive and not self._body and self._exc is None
        )

    def _detach(self, *, reuse: bool) -> None:
        """Let go of the connection: back to the pool if `reuse` and it is fit, else closed."""
        connection = self._connection
        if connection is None:
            return
        self._connection = None
        connection.response = None
        transport = connection.transport
        if (
            reuse and connection.reusable and not connection.lost
            and transport is not None and not transport.is_closing()
        ):
            if self._paused:
                transport.resume_reading()
            self._pool._release(connection)
        else:
            self._pool._drop(connection)


class ConnectionPool:
    """Connections to any number of origins, with idle keep-alive connections reused.

    `connect_timeout` bounds connecting where a request names none (the retry of a request
    sent by `send_if_idle`)."""

    def __init__(self, *, verify_tls: bool = True, connect_timeout: Optional[float] = None):
        self._ssl: Optional[ssl.SSLContext] = None
        self._verify_tls = verify_tls
        self.connect_timeout = connect_timeout
        self._idle: Dict[Origin, List[_Connection]] = {}
        self._busy: Set[_Connection] = set()
        self._retrying: Set[ClientResponse] = set()  # waiting for a new connection
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
        timeout = self.connect_timeout if connect_timeout is None else connect_timeout
        connection = self._take_idle(origin)
        if connection is None:
            connection = await self._connect(origin, timeout)
        response = ClientResponse(self, origin, request, method == "HEAD", timeout)
        self._dispatch(response, connection)
        return response

    def send_if_idle(
        self, method: str, url: str, headers: Dict[str, str], body: bytes = b"", *,
        connect_timeout: Optional[float] = None,
    ) -> Optional[ClientResponse]:
        """Send a request now, without waiting for the loop, if an idle connection to its
        origin is there; None (nothing sent) if not: then use `request`. `connect_timeout`
        bounds connecting again should that connection turn out closed."""
        origin, request = self._encode(method, url, headers, body)
        connection = self._take_idle(origin)
        if connection is None:
            return None
        timeout = self.connect_timeout if connect_timeout is None else connect_timeout
        response = ClientResponse(self, origin, request, method == "HEAD", timeout)
        self._dispatch(response, connection)
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

    def _dispatch(self, response: ClientResponse, connection: _Connection) -> None:
        self._busy.add(connection)
        connection.response = response
        connection.requests += 1
        connection.received = False
        response._connection = connection
        try:
            assert connection.transport is not None
            connection.transport.write(response._request)
        except BaseException:
            response.close()
            raise

    def _take_idle(self, origin: Origin) -> Optional[_Connection]:
        idle = self._idle.get(origin)
        now = asyncio.get_running_loop().time()
        while idle:
            connection = idle.pop()
            transport = connection.transport
            if (
                connection.reusable and not connection.lost and transport is not None
                and not transport.is_closing() and now - connection.idle_since < KEEPALIVE_SECONDS
            ):
                return connection
            if transport is not None:
                transport.abort()
        return None

    async def _connect(self, origin: Origin, timeout: Optional[float]) -> _Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        tls = self._ssl_context() if scheme == "https" else None
        try:
            _transport, connection = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Connection(self, origin), host, port,
                    ssl=tls, server_hostname=host if tls is not None else None,
                    happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY, interleave=1,
                ),
                timeout,
            )
        except asyncio.TimeoutError:
            raise ConnectTimeout("connecting timed out") from None
        except ssl.SSLError as e:
            raise ConnectFailed("TLS error", e) from None
        except OSError as e:
            raise ConnectFailed(_os_reason(e), e) from None
        return connection

    def _release(self, connection: _Connection) -> None:
        self._busy.discard(connection)
        idle = self._idle.setdefault(connection.origin, [])
        if self.closed or len(idle) >= MAX_IDLE_PER_ORIGIN:
            if connection.transport is not None:
                connection.transport.abort()
            return
        connection.idle_since = asyncio.get_running_loop().time()
        idle.append(connection)

    def _drop(self, connection: _Connection) -> None:
        """Forget a connection and close it now."""
        self._busy.discard(connection)
        idle = self._idle.get(connection.origin)
        if idle and connection in idle:
            idle.remove(connection)
        if connection.transport is not None:
            connection.transport.abort()

    def close(self) -> None:
        """Close every connection, idle or in use (a request being retried stops too)."""
        self.closed = True
        for response in self._retrying:
            if response._retry_task is not None:
                response._retry_task.cancel()
            if not response._head_done.done():
                response._head_done.set_exception(ServerDisconnected("the connection pool was closed"))
        for connection in [*self._busy, *(c for idle in self._idle.values() for c in idle)]:
            if connection.transport is not None:
                connection.transport.abort()
        self._retrying.clear()
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
