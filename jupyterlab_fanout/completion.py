"""One non-streamed chat completion through a configured upstream (the judge, judge.py, and the
guided merge's checklist, fusions.py).

The same client as the proxy's streams (upstream.py: the upstream's pool, replicas, headers
with its key, errors read by dialects.py), but the request asks for `stream: false` and the
answer is read whole. Bounded by `timeout` seconds in all (connect, head and body); cancelling
(the browser went away) closes the connection, so the upstream aborts the request.
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Optional

from . import dialects, http_client
from .dialects import Dialect
from .errors import FanoutError
from .upstream import Upstream, _connect_failure, http_error

#: Largest answer read (a judgement is a few KiB).
MAX_ANSWER_BYTES = 4 * 1024 * 1024


@dataclass
class Completion:
    content: str
    reasoning: str
    finish_reason: Optional[str]
    usage: Optional[dict[str, Any]]
    model: Optional[str] = None


async def dialect_of(upstream: Upstream) -> Dialect:
    """The upstream's dialect, detecting it if needed (bounded; `generic` past the bound)."""
    if upstream.dialect is not None:
        return upstream.dialect
    try:
        return await asyncio.wait_for(asyncio.shield(upstream.resolve_dialect()),
                                      min(upstream.models_timeout, upstream.idle_timeout))
    except asyncio.TimeoutError:
        return dialects.GENERIC


async def complete(upstream: Upstream, dialect: Dialect, body: dict[str, Any],
                   timeout: float) -> Completion:
    """Send `body` (shaped by `dialect`, not streamed) and read the whole answer. Raises
    FanoutError: the upstream's own error, unreachable, `upstream_timeout` after `timeout`
    seconds, or an answer that is not a chat completion."""
    payload = json.dumps(dialect.shape_once(body)).encode("utf-8")
    replica = upstream.pick_replica()
    replica.in_flight += 1
    headers = upstream._headers("application/json")
    headers["Content-Type"] = "application/json"
    response: Optional[http_client.ClientResponse] = None

    async def exchange() -> tuple[int, bytes, bool]:
        nonlocal response
        response = await upstream.pool.request("POST", replica.url + "/chat/completions",
                                               headers, payload,
                                               connect_timeout=upstream.connect_timeout)
        await response.wait_head()
        raw = await response.read(MAX_ANSWER_BYTES + 1)
        return response.status, raw, response.complete

    try:
        status, raw, whole = await asyncio.wait_for(exchange(), timeout)
    except asyncio.TimeoutError:
        raise FanoutError("upstream_timeout", 504, f"upstream {upstream.name!r} did not answer"
                          f" within {timeout:g} s (c.Fanout.judge_timeout)") from None
    except (http_client.HTTPClientError, OSError) as e:
        upstream.log.warning("fanout: judge request to %r: %s", upstream.name,
                             upstream.scrub(repr(e)))
        raise _connect_failure(e, upstream) from None
    finally:
        replica.in_flight -= 1
        if response is not None:
            response.close()
    if not 200 <= status < 300:
        raise http_error(status, raw, upstream)
    if len(raw) > MAX_ANSWER_BYTES:
        raise FanoutError("upstream_http", 502, f"upstream {upstream.name!r} answered more than"
                          f" {MAX_ANSWER_BYTES // (1024 * 1024)} MiB")
    return parse_completion(raw, upstream, whole)


def parse_completion(raw: bytes, upstream: Upstream, whole: bool = True) -> Completion:
    """The message of a chat completion body (`choices[0].message`)."""
    try:
        obj = json.loads(raw.decode("utf-8"))
        choice = obj["choices"][0]
        message = choice.get("message") or {}
        content = message.get("content")
    except (UnicodeDecodeError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        cut = "" if whole else " (the connection closed mid-answer)"
        raise FanoutError("upstream_http", 502, f"upstream {upstream.name!r} did not answer with"
                          f" a chat completion{cut}") from None
    if isinstance(content, list):  # content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
    usage = obj.get("usage") if isinstance(obj.get("usage"), dict) else None
    finish = choice.get("finish_reason")
    return Completion(
        content=upstream.scrub(content if isinstance(content, str) else ""),
        reasoning=upstream.scrub(reasoning if isinstance(reasoning, str) else ""),
        finish_reason=finish if isinstance(finish, str) else None,
        usage=usage,
        model=obj.get("model") if isinstance(obj.get("model"), str) else None,
    )


#: Whose stream budget (`max_streams_per_user`) a one-shot request draws from: the same one as
#: every batch socket of this server (handlers._budget_key).
BUDGET_KEY = "server-user"


async def complete_counted(state: Any, upstream: Upstream, dialect: Dialect,
                           body: dict[str, Any]) -> Completion:
    """`complete`, holding one of the server's streams (`max_streams_per_user`, 429 when none
    is left) while it runs, bounded by `c.Fanout.judge_timeout`."""
    limit = state.fanout.max_streams_per_user
    if not state.user_streams.acquire(BUDGET_KEY, limit):
        raise FanoutError("limit", 429, f"the server already has {limit} upstream requests in"
                          " flight (c.Fanout.max_streams_per_user): try again when some have ended")
    try:
        return await complete(upstream, dialect, body,
                              float(state.fanout.judge_timeout))
    finally:
        state.user_streams.release(BUDGET_KEY)
