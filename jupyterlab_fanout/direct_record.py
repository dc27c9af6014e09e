"""Batches streamed in direct mode, recorded in the store by the browser (docs/protocol.md §4).

In direct mode the browser calls the model server itself: the Jupyter server never sees the
stream, so the page sends the record, the batch when it starts and each attempt when it starts
and when it ends:

- `PUT fanout/batches/<id>/direct` `{prompt, options, created_at}`;
- `PUT fanout/batches/<id>/direct/<response id>/<attempt>` `{model, request, status, error,
  finish_reason, text, reasoning, usage, metrics, started_at, ended_at}` (a later PUT of the
  same attempt replaces it).

Everything is checked strictly here, field by field, with the field's name in the error: a
closed set of keys at every level (a key or an address has no field to travel in: the request
holds only the chat completion fields the proxy would forward, the upstream is always
`direct`), types, sizes and depth. Only batches created this way can be written this way (a
table `direct_batches` lists them): a batch the proxy recorded answers 409.
"""
from __future__ import annotations

import json
import math
import sqlite3
import time
from typing import Any, Optional

from .store import StoreError
from .validation import ALLOWED_REQUEST_KEYS, MAX_ID_LENGTH

#: The upstream name direct attempts are stored under (never the URL).
DIRECT_UPSTREAM = "direct"
#: Largest body of one PUT (a whole attempt's text and reasoning), bytes.
MAX_BODY_BYTES = 8 * 1024 * 1024
#: Largest prompt, and largest text or reasoning of one attempt, characters.
MAX_TEXT = 4 * 1024 * 1024
#: Largest `options` or `request`, as JSON, bytes; deepest nesting.
MAX_JSON_BYTES = 1024 * 1024
MAX_DEPTH = 16
#: Largest attempt number.
MAX_ATTEMPT = 10_000
#: What the options of a batch may hold (the generate options, less the prompt).
OPTION_KEYS = frozenset({
    "n", "model", "upstream", "maxTokens", "temperature", "systemPrompt", "context", "structured",
    "targets", "thread",
})
#: What the request of an attempt may hold: the proxy's forwarded fields, and what direct mode
#: adds to every request (`directRequestBody`).
REQUEST_KEYS = frozenset(ALLOWED_REQUEST_KEYS) | {"n", "stream", "stream_options"}
ERROR_KEYS = frozenset({"message", "code", "status", "type", "param"})
METRIC_KEYS = frozenset({"ttft", "ttfb", "elapsed", "tokens_per_second", "bytes"})
ATTEMPT_KEYS = frozenset({
    "model", "request", "status", "error", "finish_reason", "text", "reasoning", "usage",
    "metrics", "started_at", "ended_at",
})
BATCH_KEYS = frozenset({"prompt", "options", "created_at", "title"})
STATUSES = ("running", "complete", "stopped", "error", "incomplete")

class DirectRecordError(StoreError):
    """A refused record: the HTTP status and a message naming the field."""


def _bad(message: str) -> DirectRecordError:
    return DirectRecordError(400, message)


def _keys(value: dict, allowed: frozenset, where: str) -> None:
    for key in value:
        if key not in allowed:
            raise _bad(f"{(where + str(key))!r} is not a field the store keeps for a direct-mode batch")


def _text(value: Any, name: str, limit: int, default: Optional[str] = None) -> str:
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise _bad(f"{name!r} must be a string")
    if len(value) > limit:
        raise _bad(f"{name!r} is longer than {limit} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad(f"{name!r} must be valid Unicode (it holds a lone surrogate)") from None
    return value


def _number(value: Any, name: str, default: Optional[float]) -> Optional[float]:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _bad(f"{name!r} must be a finite number")
    return float(value)


def _json(value: Any, name: str, limit: int = MAX_JSON_BYTES) -> str:
    """`value` as JSON, refused when too deep or too large."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                raise _bad(f"{name!r} is nested more than {MAX_DEPTH} levels deep")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    try:
        text = json.dumps(value, allow_nan=False)
    except (ValueError, TypeError):
        raise _bad(f"{name!r} holds a value JSON cannot carry (NaN, Infinity)") from None
    if len(text) > limit:
        raise _bad(f"{name!r} is larger than {limit} bytes")
    return text


def _object(value: Any, name: str, allowed: Optional[frozenset] = None) -> Optional[dict]:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad(f"{name!r} must be an object")
    if allowed is not None:
        _keys(value, allowed, f"{name}.")
    return value


def parse_body(body: bytes) -> Any:
    if len(body) > MAX_BODY_BYTES:
        raise DirectRecordError(413, f"the record is larger than {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(body or b"null")
    except ValueError:
        raise _bad("the body is not JSON") from None


def check_id(value: str, name: str) -> str:
    if not 0 < len(value) <= MAX_ID_LENGTH:
        raise _bad(f"{name} must be 1 to {MAX_ID_LENGTH} characters")
    return _text(value, name, MAX_ID_LENGTH)


def check_batch(data: Any) -> dict[str, Any]:
    """`{prompt, options, created_at, title?}`, checked: (prompt, options JSON, created_at, title)."""
    if not isinstance(data, dict):
        raise _bad("the body must be a JSON object {prompt, options, created_at}")
    _keys(data, BATCH_KEYS, "")
    options = _object(data.get("options"), "options", OPTION_KEYS) or {}
    from . import followups  # not at import: followups.py imports store.py
    thread = followups.thread_of(options)  # a follow-up's thread: 400 naming the field
    title = data.get("title")
    return {
        "thread": thread,
        "prompt": _text(data.get("prompt"), "prompt", MAX_TEXT, ""),
        "options": _json(options, "options"),
        "created_at": _number(data.get("created_at"), "created_at", time.time()),
        "title": _text(title, "title", 1000) if title is not None else None,
    }


def check_attempt(data: Any, attempt: str) -> dict[str, Any]:
    """One attempt's record, checked (JSON fields as text, ready for SQLite)."""
    if not attempt.isdigit() or not 1 <= int(attempt) <= MAX_ATTEMPT:
        raise _bad(f"the attempt must be a whole number from 1 to {MAX_ATTEMPT}")
    if not isinstance(data, dict):
        raise _bad("the body must be a JSON object (an attempt, as GET fanout/batches/<id> lists it)")
    _keys(data, ATTEMPT_KEYS, "")
    status = data.get("status")
    if status not in STATUSES:
        raise _bad(f"'status' must be one of {', '.join(STATUSES)}")
    # Absent: the request recorded earlier stays (the record a closing page sends has no room for it).
    request = _object(data.get("request"), "request", REQUEST_KEYS) or {} if "request" in data else None
    error = _object(data.get("error"), "error", ERROR_KEYS)
    if error is not None:
        _text(error.get("message", ""), "error.message", 4000)
        _text(error.get("code", ""), "error.code", 100)
    metrics = _object(data.get("metrics"), "metrics", METRIC_KEYS)
    for key, value in (metrics or {}).items():
        _number(value, f"metrics.{key}", None)
    usage = _object(data.get("usage"), "usage")
    finish = data.get("finish_reason")
    started = _number(data.get("started_at"), "started_at", time.time())
    return {
        "attempt": int(attempt),
        "model": _text(data.get("model"), "model", 1000, ""),
        "request": _json(request, "request") if request is not None else None,
        "status": status,
        "error": _json(error, "error", 16 * 1024) if error else None,
        "finish_reason": _text(finish, "finish_reason", 100) if finish is not None else None,
        "text": _text(data.get("text"), "text", MAX_TEXT, ""),
        "reasoning": _text(data.get("reasoning"), "reasoning", MAX_TEXT, ""),
        "usage": _json(usage, "usage", 16 * 1024) if usage else None,
        "metrics": _json(metrics, "metrics") if metrics else None,
        "started_at": started,
        "ended_at": _number(data.get("ended_at"), "ended_at", None),
    }


def _is_direct(db: sqlite3.Connection, batch_id: str) -> bool:
    """True for a direct batch; False when absent; 409 for a batch the proxy recorded."""
    if db.execute("SELECT 1 FROM direct_batches WHERE id = ?", (batch_id,)).fetchone():
        return True
    if db.execute("SELECT 1 FROM batches WHERE id = ?", (batch_id,)).fetchone():
        raise DirectRecordError(
            409, f"batch {batch_id!r} was recorded by the proxy: only direct-mode batches are written this way")
    return False


def write_batch(db: sqlite3.Connection, batch_id: str, batch: dict[str, Any], default_title: str) -> bool:
    """Create or update a direct batch (writer thread); True if created."""
    db.execute("BEGIN IMMEDIATE")
    try:
        existed = _is_direct(db, batch_id)
        if existed:
            db.execute("UPDATE batches SET prompt = ?, options = ? WHERE id = ?",
                       (batch["prompt"], batch["options"], batch_id))
            if batch["title"]:
                db.execute("UPDATE batches SET title = ? WHERE id = ?", (batch["title"], batch_id))
        else:
            if batch.get("thread") is not None:
                from . import followups  # the parent it follows up on must be stored, with text
                followups.check_parent(db, batch["thread"])
            db.execute(
                "INSERT INTO batches (id, created_at, updated_at, title, prompt, options)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (batch_id, batch["created_at"], batch["created_at"],
                 batch["title"] or default_title, batch["prompt"], batch["options"]))
            db.execute("INSERT INTO direct_batches (id) VALUES (?)", (batch_id,))
        if batch.get("thread") is not None:
            from . import followups
            followups.record(db, batch_id, {"thread": batch["thread"]})
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return not existed


def write_attempt(db: sqlite3.Connection, batch_id: str, response_id: str, a: dict[str, Any]) -> bool:
    """Insert or replace one attempt of a direct batch (writer thread); True if new."""
    db.execute("BEGIN IMMEDIATE")
    try:
        if not _is_direct(db, batch_id):
            raise DirectRecordError(
                404, f"no direct-mode batch {batch_id!r}: PUT fanout/batches/<id>/direct first")
        row = db.execute("SELECT id, length(request) + length(text) + length(reasoning) FROM attempts"
                         " WHERE batch_id = ? AND response_id = ? AND attempt = ?",
                         (batch_id, response_id, a["attempt"])).fetchone()
        values = (DIRECT_UPSTREAM, a["model"], a["request"] or "{}", a["status"], a["error"],
                  a["finish_reason"], a["text"], a["reasoning"], a["usage"], a["metrics"],
                  a["started_at"], a["ended_at"])
        if row is None:
            db.execute(
                "INSERT INTO attempts (upstream, model, request, status, error, finish_reason, text,"
                " reasoning, usage, metrics, started_at, ended_at, batch_id, response_id, attempt)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, batch_id, response_id, a["attempt"]))
            old_size = 0
        else:
            db.execute(
                "UPDATE attempts SET upstream = ?, model = ?, request = COALESCE(?, request), status = ?,"
                " error = ?, finish_reason = ?, text = ?, reasoning = ?, usage = ?, metrics = ?,"
                " started_at = ?, ended_at = ? WHERE id = ?",
                (values[0], values[1], a["request"], *values[3:], row[0]))
            old_size = (row[1] or 0) + 256
        kept = a["request"] or db.execute("SELECT request FROM attempts WHERE batch_id = ? AND response_id = ?"
                                          " AND attempt = ?", (batch_id, response_id, a["attempt"])).fetchone()[0]
        size = len(kept) + len(a["text"].encode()) + len(a["reasoning"].encode()) + 256
        db.execute("UPDATE batches SET size = size + ?, updated_at = max(updated_at, ?) WHERE id = ?",
                   (size - old_size, a["ended_at"] or a["started_at"], batch_id))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return row is None
