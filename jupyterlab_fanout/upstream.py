"""The client side of the proxy: one connection pool per configured upstream.

Each response is its own streaming POST to `{base_url}/chat/completions`. Closing an
`UpstreamStream` closes its TCP connection for real, which is what makes vLLM abort
the request and free the GPU (see docs/protocol.md and shared/notes/vllm-streaming.md).
Nothing here ever puts a client-supplied value into a URL or a header.
"""
from __future__ import annotations

import asyncio
import html
import json
import logging
import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Callable, Optional

from . import dialects, http_client
from .config import UpstreamSpec
from .dialects import Dialect, StreamRewriter
from .errors import FanoutError
from .scrub import StreamScrubber, scrub_text, stream_scrubber

#: Most bytes of a non-2xx body read to find the upstream's error message.
ERROR_BODY_LIMIT = 64 * 1024
#: Longest error message passed on to the browser.
MESSAGE_LIMIT = 4000
#: Longest excerpt of a 2xx body that is not an event stream shown in its error.
EXCERPT_LIMIT = 200
#: The media type of a streamed chat completion.
EVENT_STREAM = "text/event-stream"
#: Seconds an `auto` upstream whose /models could not be read is treated as `generic`
#: before detection is tried again.
DETECT_RETRY = 30.0


@dataclass
class Replica:
    """One base URL of an upstream and the number of its streams in flight."""

    url: str
    in_flight: int = 0


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_message(
    status: int, body: bytes, upstream: str, scrub: Optional[Callable[[str], str]] = None
) -> str:
    """The upstream's own message from an error body, else a short generic text.

    Understands every shape `dialects.read_error` does (vLLM, SGLang, llama.cpp, Ollama,
    OpenAI, LiteLLM, FastAPI's `detail`). Never returns the body itself when it is not JSON.
    `scrub` (the upstream's key scrubber) runs before the message is cut to
    MESSAGE_LIMIT: a cut first could leave all but the end of a key.
    """
    error = dialects.parse_error_body(body)
    if error is not None and error.message:
        message = error.message if scrub is None else scrub(error.message)
        return message[:MESSAGE_LIMIT]
    return f"HTTP {status} {_phrase(status)} from upstream {upstream!r}"


def http_error(status: int, body: bytes, upstream: Upstream) -> FanoutError:
    """The FanoutError for a non-2xx answer: the upstream's message, and its own code (else its
    type) as `code`, `upstream_http` when it gave neither; `upstream_error` holds both as given."""
    error = dialects.parse_error_body(body)
    message = error_message(status, body, upstream.name, upstream.scrub)
    if error is None or error.kind is None:
        return FanoutError("upstream_http", status, message)
    given = {k: upstream.scrub(v)[:200] for k, v in (("type", error.type), ("code", error.code))
             if v}
    return FanoutError(upstream.scrub(error.kind)[:200], status, message, given)


def protocol_error(e: http_client.BadResponse, upstream: Upstream, *, mid_stream: bool
                   ) -> FanoutError:
    """`upstream_protocol`: the upstream's bytes broke HTTP/1.1 (a malformed chunk, a head over
    the client's limit…); the message says why, as the client found it (no address)."""
    where = " mid-stream" if mid_stream else ""
    reason = upstream.scrub(str(e) or "invalid HTTP response")[:500]
    return FanoutError("upstream_protocol", 502,
                       f"upstream {upstream.name!r} broke the HTTP protocol{where}: {reason}")


_TOKEN = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+(/[a-z0-9!#$%&'*+.^_`|~-]+)?")
_TAG = re.compile(r"<[^>]*>?")
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_LOOKS_HTML = re.compile(rb"\s*(<!doctype\s+html|<html|<head|<body|<!--|<\?xml)", re.IGNORECASE)
#: URLs and IP addresses (with a port) in an excerpt: an upstream's address must not reach
#: the browser, not even from a reverse proxy's error page.
_ADDRESS = re.compile(
    r"[a-z][a-z0-9+.-]*://\S+|\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b|\[[0-9a-f:.]+\](:\d+)?",
    re.IGNORECASE,
)


def _header_token(value: str) -> str:
    """A header value such as a media type or a content coding, if it is one (lower case,
    parameters dropped); else a placeholder: the value is the upstream's, shown in the browser."""
    token = value.split(";", 1)[0].strip().lower()
    if _TOKEN.fullmatch(token) and len(token) <= 80:
        return token
    return "an unreadable value"


def _plain_excerpt(text: str, upstream: Upstream) -> str:
    """`text` as one short line: no markup, no control characters, no address, no key."""
    text = _TAG.sub(" ", html.unescape(text)).replace(">", " ")  # entities hide no tag
    text = upstream.scrub(text)
    text = _ADDRESS.sub("[address]", text)
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= EXCERPT_LIMIT else text[:EXCERPT_LIMIT - 1] + "…"


def _identity(encoding: str) -> bool:
    """A Content-Encoding that leaves the bytes as they are (`identity`, or empty)."""
    return all(part.strip().lower() in ("", "identity") for part in encoding.split(","))


def compressed_error(encoding: str, upstream: Upstream) -> FanoutError:
    """`upstream_not_stream` for a 2xx body with a content coding (the proxy asks for
    `identity`, and relays bytes the browser could not read)."""
    return FanoutError(
        "upstream_not_stream", 502,
        f"upstream {upstream.name!r} compressed its stream (Content-Encoding: "
        f"{_header_token(encoding.split(',')[-1])}) although the proxy asked for none (Accept-Encoding: "
        "identity); turn compression off for this upstream (e.g. in its reverse proxy)",
    )


def not_stream_error(status: int, content_type: str, body: bytes, upstream: Upstream
                     ) -> FanoutError:
    """`upstream_not_stream` for a 2xx answer whose Content-Type is not an event stream: names
    the content type and adds the upstream's own message (a JSON error), what the JSON was (a
    whole completion: `stream: true` ignored), an HTML page's title, or a plain-text excerpt;
    never markup, an address or the key."""
    media = _header_token(content_type)
    name = upstream.name
    looks_html = media in ("text/html", "application/xhtml+xml") or bool(
        _LOOKS_HTML.match(body[:256]))
    if looks_html:
        found = _TITLE.search(body)
        title = _plain_excerpt(found.group(1).decode("utf-8", "replace"), upstream) if found \
            else ""
        page = f"an HTML page titled {title!r}" if title else "an HTML page"
        return FanoutError("upstream_not_stream", 502,
                           f"upstream {name!r} answered HTTP {status} with {page} ({media}), "
                           "not an event stream")
    head = f"upstream {name!r} answered HTTP {status} with {media}, not an event stream"
    error = dialects.parse_error_body(body)
    if error is not None and error.message:
        return FanoutError("upstream_not_stream", 502,
                           f"{head}: {upstream.scrub(error.message)}"[:MESSAGE_LIMIT])
    try:
        obj = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        obj = None
    if isinstance(obj, dict) and (obj.get("object") == "chat.completion" or "choices" in obj):
        return FanoutError("upstream_not_stream", 502,
                           f"{head}: a whole chat completion at once (it ignored `stream: true`)")
    if obj is None and body:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        excerpt = _plain_excerpt(text, upstream) if text else ""
        if excerpt:
            return FanoutError("upstream_not_stream", 502, f"{head}: {excerpt}")
    return FanoutError("upstream_not_stream", 502, head)


async def _read_some(response: http_client.ClientResponse, limit: int, timeout: float) -> bytes:
    """Up to `limit` bytes of a body; what arrived when it failed or `timeout` passed."""
    parts: list[bytes] = []
    size = 0

    async def collect() -> None:
        nonlocal size
        while size < limit:
            data = await response.read_any()
            if not data:
                return
            parts.append(data)
            size += len(data)

    try:
        await asyncio.wait_for(collect(), timeout)
    except (http_client.HTTPClientError, asyncio.TimeoutError, OSError):
        pass
    return b"".join(parts)[:limit]


def _connect_failure(e: BaseException, upstream: Upstream) -> FanoutError:
    """Translate a failure before the response head into an FanoutError.

    The messages never include the upstream's address (the browser must not learn it).
    """
    name = upstream.name
    if isinstance(e, http_client.ConnectTimeout):
        return FanoutError("upstream_timeout", 504, f"connecting to upstream {name!r} timed out")
    if isinstance(e, asyncio.TimeoutError):
        return FanoutError(
            "upstream_timeout", 504, f"upstream {name!r} did not answer in time"
        )
    if isinstance(e, http_client.ConnectFailed):
        return FanoutError("upstream_unreachable", 502, f"upstream {name!r}: {e.reason}")
    if isinstance(e, http_client.ServerDisconnected):
        return FanoutError(
            "upstream_unreachable", 502, f"upstream {name!r} closed the connection"
        )
    if isinstance(e, http_client.BadResponse):
        return protocol_error(e, upstream, mid_stream=False)
    return FanoutError(
        "upstream_unreachable", 502, f"upstream {name!r}: request failed ({type(e).__name__})"
    )


class IdleTimeout(Exception):
    """Set on a stream's body by the idle watch: nothing arrived for `idle_timeout` seconds."""


class UpstreamStream:
    """One open streaming response from an upstream (status 2xx, body not yet read)."""

    def __init__(
        self,
        upstream: Upstream,
        replica: Replica,
        response: http_client.ClientResponse,
        idle: IdleWatch,
        rewriter: StreamRewriter | None = None,
    ):
        self._upstream = upstream
        self._replica = replica
        self._response = response
        self._idle = idle
        #: The dialect's rewriting of the body (llama.cpp, LiteLLM); None: bytes pass as they are.
        self._rewriter = rewriter
        self._closed = False
        self.status = response.status
        self._loop = asyncio.get_running_loop()
        #: True while a `read` waits for the upstream, and since when (loop time): what the
        #: idle watch looks at. A stream held back by a slow browser is not idle.
        self.reading = False
        self.reading_since = self._loop.time()
        #: Removes the upstream's API key from the relayed bytes (None: no key configured).
        self._scrubber = stream_scrubber(upstream.spec.api_key)
        #: The body broke HTTP (a BadResponse): what the filters held back is being flushed.
        self._broken = False

    async def read(self) -> bytes:
        """The next bytes of the body as soon as they arrive; b"" at the end.

        A connection the upstream cut mid-body counts as the end (the browser sees
        that [DONE] never came); bytes that break HTTP (a malformed chunk) raise
        FanoutError('upstream_protocol') once the bytes before them were returned. No byte
        for `idle_timeout` seconds raises FanoutError('upstream_timeout'). The upstream's API key is replaced, even one
        split across two reads: bytes that may begin it wait for the next read (or the end).
        """
        self.reading = True
        self.reading_since = self._loop.time()
        scrubber = self._scrubber
        try:
            if self._rewriter is None and scrubber is None:
                return await self._response.read_any()
            return await self._read_filtered(self._rewriter, scrubber)
        except IdleTimeout:
            raise FanoutError(
                "upstream_timeout",
                504,
                f"upstream {self._upstream.name!r} sent nothing for "
                f"{self._upstream.idle_timeout:g} s (idle_timeout)",
            ) from None
        except http_client.BadResponse as e:
            self._upstream.log.warning("fanout: upstream %r broke HTTP mid-stream: %s",
                                       self._upstream.name, self._upstream.scrub(str(e)))
            raise protocol_error(e, self._upstream, mid_stream=True) from None
        finally:
            self.reading = False

    async def _read_filtered(
        self, rewriter: StreamRewriter | None, scrubber: StreamScrubber | None
    ) -> bytes:
        """The next bytes as the dialect rewrites them (first) and with the key scrubbed (then);
        what either held back comes out at the end, followed by b"" on the next call. After
        a BadResponse, what they held back comes out first, then the next call raises it."""
        while True:
            try:
                data = await self._response.read_any()
            except http_client.BadResponse:
                if self._broken:
                    raise
                self._broken = True  # the response raises it again on the next read
                data = b""
            end = not data
            if rewriter is not None:
                data = rewriter.flush() if end else rewriter.feed(data)
            if scrubber is not None:
                data = scrubber.feed(data) if data else b""
                if end:
                    data += scrubber.end()
            if data:
                return data
            if end:
                if self._broken:
                    continue  # nothing was held back: raise now
                return data

    def time_out(self) -> None:
        """End a pending or the next `read` with the idle timeout (called by the idle watch)."""
        self._response.set_exception(IdleTimeout())

    def close(self) -> None:
        """Done with the stream (idempotent): a body read to its end returns the connection
        to the pool; otherwise the TCP connection is closed now, so the upstream sees the
        disconnect at once.
        """
        if self._closed:
            return
        self._closed = True
        self._replica.in_flight -= 1
        self._idle.unwatch(self)
        self._response.close()


class IdleWatch:
    """Fails the streams of one upstream that received nothing for `idle_timeout` seconds.

    One timer per upstream checks every open stream four times per `idle_timeout`, instead
    of a read timeout re-armed on every chunk (a timer cancelled and created per chunk:
    about 8% more CPU per token with 64 streams, `benchmarks/proxy_cpu.py`). A stream times out between `idle_timeout` and
    1.25 × `idle_timeout` after it began waiting for its next bytes; a stream waiting for a
    slow browser, not for the upstream, is not idle.
    """

    def __init__(self, idle_timeout: float):
        self.idle_timeout = idle_timeout
        self._streams: set[UpstreamStream] = set()
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, stream: UpstreamStream) -> None:
        self._streams.add(stream)
        if self._timer is None:
            self._arm()

    def unwatch(self, stream: UpstreamStream) -> None:
        self._streams.discard(stream)
        if not self._streams and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self.idle_timeout / 4, self._check)

    def _check(self) -> None:
        self._timer = None
        deadline = asyncio.get_running_loop().time() - self.idle_timeout
        for stream in [s for s in self._streams if s.reading and s.reading_since <= deadline]:
            self._streams.discard(stream)
            stream.time_out()
        if self._streams:
            self._arm()


class Opening:
    """A chat completion request from `Upstream.begin` until its stream is open."""

    def __init__(self, upstream: Upstream, replica: Replica, headers: dict[str, str],
                 body: dict[str, Any], payload: bytes | None):
        self.upstream = upstream
        self.replica = replica
        self.url = replica.url + "/chat/completions"
        self.headers = headers
        self.body = body
        #: The dialect the request is shaped for (None until an `auto` upstream is detected).
        self.dialect: Dialect | None = upstream.dialect if payload is not None else None
        self.payload = payload if payload is not None else b""
        #: Set when the request was sent at once on an idle connection.
        self.response: http_client.ClientResponse | None = None
        #: What sending at once raised; `open` raises it.
        self.error: BaseException | None = None
        #: The replica's count and the connection now belong to a stream, or were let go.
        self._settled = False

    async def open(self) -> UpstreamStream:
        """The upstream's 2xx answer as a stream (sending the request first if `begin`
        could not). Raises FanoutError for non-2xx answers (with the upstream's message)
        and for connection failures and timeouts; cancelling closes the connection. Waiting
        for the head is bounded by `idle_timeout`; the body by the idle watch."""
        upstream = self.upstream
        try:
            if self.error is not None:
                raise self.error
            if self.dialect is None:
                # Bounded like the wait for a head: past it, this request goes as `generic`
                # (the detection goes on for the next ones).
                try:
                    self.dialect = await asyncio.wait_for(
                        asyncio.shield(upstream.resolve_dialect()),
                        min(upstream.models_timeout, upstream.idle_timeout),
                    )
                except asyncio.TimeoutError:
                    self.dialect = dialects.GENERIC
                self.payload = self.dialect.encode(self.body)
            if self.response is None:
                self.response = await upstream.pool.request(
                    "POST", self.url, self.headers, self.payload,
                    connect_timeout=upstream.connect_timeout,
                )
            await self.response.wait_head(upstream.idle_timeout)
        except BaseException as e:
            self.discard()
            if isinstance(e, (http_client.HTTPClientError, asyncio.TimeoutError, OSError)):
                upstream.log.warning("fanout: upstream %r (%s): %s", upstream.name,
                                     self.replica.url, upstream.scrub(repr(e)))
                raise _connect_failure(e, upstream) from None
            raise
        response = self.response
        self._settled = True
        assert self.dialect is not None
        stream = UpstreamStream(upstream, self.replica, response, upstream._idle,
                                self.dialect.rewriter())
        if 200 <= response.status < 300:
            headers = response.headers
            encoding = headers.get("content-encoding")
            content_type = headers.get("content-type")
            if (encoding is None or _identity(encoding)) and (
                content_type is None
                or content_type.split(";", 1)[0].strip().lower() == EVENT_STREAM
            ):
                upstream._idle.watch(stream)
                return stream
            # Not a stream the browser can read: that response fails with what it was.
            if encoding is not None and not _identity(encoding):
                stream.close()
                error = compressed_error(encoding, upstream)
            else:
                try:
                    raw = await _read_some(response, ERROR_BODY_LIMIT, upstream.idle_timeout)
                finally:
                    stream.close()
                error = not_stream_error(response.status, content_type or "", raw, upstream)
            upstream.log.warning("fanout: %s", error.message)
            raise error
        try:
            raw = await asyncio.wait_for(response.read(ERROR_BODY_LIMIT), upstream.idle_timeout)
        except (http_client.HTTPClientError, asyncio.TimeoutError, OSError):
            raw = b""
        finally:
            stream.close()
        upstream.log.info("fanout: upstream %r answered HTTP %s", upstream.name, response.status)
        raise http_error(response.status, raw, upstream)

    def discard(self) -> None:
        """Give up before the stream opened (idempotent; nothing once it has): a request
        already sent is closed, so the upstream sees the disconnect."""
        if self._settled:
            return
        self._settled = True
        self.replica.in_flight -= 1
        if self.response is not None:
            self.response.close()


class Upstream:
    """A configured upstream: its replicas and its own connection pool."""

    def __init__(
        self,
        spec: UpstreamSpec,
        *,
        idle_timeout: float,
        connect_timeout: float,
        models_timeout: float,
        log: logging.Logger | logging.LoggerAdapter,
    ):
        self.spec = spec
        self.name = spec.name
        self.idle_timeout = idle_timeout
        self.connect_timeout = connect_timeout
        self.models_timeout = models_timeout
        self.replicas = [Replica(url) for url in spec.base_urls]
        self.log = log
        self._pool: http_client.ConnectionPool | None = None
        self._next = 0
        self._idle = IdleWatch(idle_timeout)
        #: The upstream's dialect: the configured one, or the detected one once known.
        self.dialect: Dialect | None = (
            None if spec.dialect == "auto" else dialects.get(spec.dialect)
        )
        self._detecting: asyncio.Future[Dialect] | None = None
        self._detect_failed_at: float | None = None
        #: Each model's context length, as the last /models listing reported it (vLLM's
        #: `max_model_len`); a model the listing gives none for is absent.
        self.context_lengths: dict[str, int] = {}

    @property
    def pool(self) -> http_client.ConnectionPool:
        """The upstream's connections, created on first use (inside the running loop)."""
        if self._pool is None or self._pool.closed:
            # The pool's own connect timeout also bounds the connection of a retried request.
            self._pool = http_client.ConnectionPool(
                verify_tls=self.spec.verify_tls, connect_timeout=self.connect_timeout
            )
        return self._pool

    def _headers(self, accept: str) -> dict[str, str]:
        headers = {"Accept": accept, "Accept-Encoding": "identity"}
        if self.spec.api_key:
            headers["Authorization"] = f"Bearer {self.spec.api_key}"
        return headers

    def scrub(self, message: str) -> str:
        """Remove the API key from a message meant for the browser or a log."""
        return scrub_text(message, self.spec.api_key)

    def pick_replica(self) -> Replica:
        """The replica with the fewest streams in flight (ties rotate)."""
        n = len(self.replicas)
        order = [self.replicas[(self._next + i) % n] for i in range(n)]
        best = min(order, key=lambda r: r.in_flight)
        self._next = (self.replicas.index(best) + 1) % n
        return best

    def begin(self, body: dict[str, Any]) -> Opening:
        """Start one streaming chat completion: pick the replica now and, if it has an idle
        connection, send the request now, without waiting for the loop (a batch's N starts
        arrive together; each request leaves as its start is read). `await opening.open()`
        for the stream; `opening.discard()` if it will never be awaited."""
        # Encoded before anything is counted, so a body that cannot be encoded leaks nothing;
        # for an upstream whose dialect is still unknown, only checked (shaped once it is known).
        if self.dialect is not None:
            payload: bytes | None = self.dialect.encode(body)
        else:
            json.dumps(body)
            payload = None
        replica = self.pick_replica()
        replica.in_flight += 1
        headers = self._headers("text/event-stream")
        headers["Content-Type"] = "application/json"
        opening = Opening(self, replica, headers, body, payload)
        if opening.dialect is None:
            return opening  # `open` detects the dialect, then sends
        try:
            opening.response = self.pool.send_if_idle(
                "POST", opening.url, headers, opening.payload
            )
        except Exception as e:  # noqa: BLE001 - raised by `open`, where the caller waits
            opening.error = e
        return opening

    async def resolve_dialect(self) -> Dialect:
        """The dialect: configured, detected earlier, or detected now from `GET /models` (one
        detection at a time per upstream). An upstream whose /models cannot be read counts as
        `generic` for DETECT_RETRY seconds, then detection is tried again."""
        if self.dialect is not None:
            return self.dialect
        if not self.detect_due(asyncio.get_running_loop().time()):
            return dialects.GENERIC
        return await asyncio.shield(self.start_detection())

    def detect_due(self, now: float) -> bool:
        """False for DETECT_RETRY seconds after a detection failed."""
        failed = self._detect_failed_at
        return failed is None or now - failed >= DETECT_RETRY

    def start_detection(self) -> asyncio.Future[Dialect]:
        """Begin detecting the dialect if it is unknown and no detection runs (the socket's
        handshake calls this, so that the first request seldom waits for it)."""
        if self._detecting is None or self._detecting.done():
            self._detecting = asyncio.ensure_future(self._detect())
        return self._detecting

    async def _detect(self) -> Dialect:
        """Never raises: nobody may be waiting for it (a detection started by a handshake)."""
        try:
            await self.list_models()
        except FanoutError:
            pass
        except Exception:  # noqa: BLE001 - e.g. the pool closed at shutdown
            self.log.debug("fanout: detecting the dialect of %r failed", self.name, exc_info=True)
        if self.dialect is not None:
            return self.dialect
        self._detect_failed_at = asyncio.get_running_loop().time()
        self.log.warning("fanout: upstream %r: could not detect its dialect; using 'generic' "
                         "(set its 'dialect' to skip detection)", self.name)
        return dialects.GENERIC

    def _detected(self, replica: Replica, headers: dict[str, str], raw: bytes) -> None:
        """Learn the dialect from a /models answer (for an `auto` upstream not yet known)."""
        if self.dialect is None:
            self.dialect = dialects.detect(replica.url, headers, raw)
            self._detect_failed_at = None
            self.log.info("fanout: upstream %r speaks the %r dialect (detected)", self.name,
                          self.dialect.name)

    async def list_models(self) -> list[str]:
        """Model ids the upstream serves (`GET {base_url}/models`), first replica that answers.

        Raises FanoutError when none answers usefully.
        """
        error: FanoutError | None = None
        for replica in self.replicas:
            try:
                raw, status, headers = await asyncio.wait_for(
                    self._get(replica.url + "/models"), self.models_timeout
                )
                if not 200 <= status < 300:
                    error = http_error(status, raw, self)
                    continue
                ids = [self.scrub(m) for m in _model_ids(raw, self.name)]
                self.context_lengths = {self.scrub(k): v for k, v in _context_lengths(raw).items()}
                self._detected(replica, headers, raw)
                return ids
            except FanoutError as e:
                error = e
            except (http_client.HTTPClientError, asyncio.TimeoutError, OSError) as e:
                self.log.warning("fanout: listing models of %r (%s): %s", self.name, replica.url,
                                 self.scrub(repr(e)))
                error = _connect_failure(e, self)
        assert error is not None
        raise error

    async def _get(self, url: str) -> tuple[bytes, int, dict[str, str]]:
        response = await self.pool.request(
            "GET", url, self._headers("application/json"), connect_timeout=self.connect_timeout
        )
        try:
            await response.wait_head()
            raw = await response.read(ERROR_BODY_LIMIT * 16)
            return raw, response.status, dict(response.headers)
        finally:
            response.close()

    async def close(self) -> None:
        """Close every connection of the upstream."""
        if self._pool is not None:
            self._pool.close()


def _model_ids(raw: bytes, name: str) -> list[str]:
    """Ids of an OpenAI `/models` answer."""
    try:
        data = json.loads(raw.decode("utf-8")).get("data")
        ids = [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]
    except (UnicodeDecodeError, ValueError, AttributeError, TypeError, KeyError):
        raise FanoutError(
            "upstream_http", 502, f"upstream {name!r} sent an invalid /models answer"
        ) from None
    return ids


def _context_lengths(raw: bytes) -> dict[str, int]:
    """Each model's context length in an OpenAI `/models` answer where the server gives one
    (vLLM's and SGLang's `max_model_len`); models without one are left out."""
    try:
        data = json.loads(raw.decode("utf-8")).get("data")
        return {
            m["id"]: m["max_model_len"] for m in data
            if isinstance(m, dict) and isinstance(m.get("id"), str)
            and isinstance(m.get("max_model_len"), int) and not isinstance(m["max_model_len"], bool)
            and m["max_model_len"] > 0
        }
    except (UnicodeDecodeError, ValueError, AttributeError, TypeError, KeyError):
        return {}
