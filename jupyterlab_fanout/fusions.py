"""Fused responses (`fanout:fuse`) and the guided merge's checklist (`fanout:fuse-checklist`).

**A fused response** is one more response of an existing batch: its request asks a model to
merge some of the batch's responses (drafts) following an instruction. It streams like any
other response: the browser sends an ordinary `start` on the batch's socket with a response id
the batch has not used (docs/protocol.md, "Adding a response to a batch"), so it has the same
progress, Stop, re-generate, compare and insert, and the store keeps its attempts. What makes
it *fused* is kept here, in a table of its own (created at open when missing, like votes.py):
which responses and attempts it merged, the instruction, the checklist points it followed,
the model and upstream asked. The browser records it before it sends the `start`:

- `PUT fanout/batches/<id>/responses/<response id>/fusion`
  `{sources: [{responseId, attempt}], instruction, checklist: [str] | null, model, upstream}`:
  400 naming the field for a bad body, a source the store does not hold (response or
  attempt), or a response id the batch already uses for a response that is not fused (the
  page checks that each source has ended: the store may still have it as running for a
  second); 404 for a batch the store does not hold. Answers the record.
- `GET fanout/batches/<id>` gives each fused response a `fusion` field with that record
  (`annotate`, called by the store's reader).

**The checklist** (`POST fanout/fuse/checklist`) is a short JSON answer the user never reads as
a response: the distinct points across the drafts, which the user ticks before the merge. It
is one non-streamed call made by the server (`checklist_call`), not a hidden response of the
batch: it must not appear in the batch, the store, History or the leaderboard, it needs
`response_format` (structured output), which the batch socket deliberately does not forward,
and the browser needs only its whole text. The server checks it like a `start`
(`validation.build_body`: a configured upstream only, the model allow-list, the messages, the
token limits), keeps the key server-side, asks for a `json_schema` `response_format` where the
dialect takes one (`Dialect.json_schema`: vLLM, SGLang, llama.cpp, OpenAI), sends it through the
judge's one-shot client (completion.py), and answers the text the model wrote, unparsed: the
browser reads it
defensively (src/fuse/checklist.ts), so that a bad answer is shown with its raw text.
"""
from __future__ import annotations

import json
import sqlite3
import time
from typing import Any, Optional

from . import completion
from .dialects import Dialect
from .errors import FanoutError
from .store import StoreError
from .validation import build_body, check_depth, check_upstream

MIGRATION = (
    """CREATE TABLE IF NOT EXISTS fusions (
    batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    response_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    sources TEXT NOT NULL,
    instruction TEXT NOT NULL,
    checklist TEXT,
    model TEXT NOT NULL,
    upstream TEXT NOT NULL,
    PRIMARY KEY (batch_id, response_id)
)""",
)

MAX_SOURCES = 64
MAX_INSTRUCTION = 20000
MAX_POINTS = 64
MAX_POINT = 2000
MAX_NAME = 200
#: The JSON schema of the checklist's answer.
CHECKLIST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "points": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "text": {"type": "string"},
                    "drafts": {"type": "array", "items": {"type": "integer"}},
                },
                "required": ["text", "drafts"],
            },
        }
    },
    "required": ["points"],
}


def migrate(db: sqlite3.Connection) -> None:
    """The fusions' table (inside the store's opening transaction)."""
    for statement in MIGRATION:
        db.execute(statement)


def _bad(message: str) -> StoreError:
    return StoreError(400, message)


def _name(body: dict, key: str) -> str:
    value = body.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str) or len(value) > MAX_NAME:
        raise _bad(f"{key!r} must be a string of at most {MAX_NAME} characters")
    return value


def check(body: Any) -> dict[str, Any]:
    """The fusion record a PUT sends, checked (400 naming the field)."""
    if not isinstance(body, dict):
        raise _bad("the body must be a JSON object")
    unknown = set(body) - {"sources", "instruction", "checklist", "model", "upstream"}
    if unknown:
        raise _bad(f"unknown field {sorted(unknown)[0]!r}")
    sources = body.get("sources")
    if not isinstance(sources, list) or not 1 <= len(sources) <= MAX_SOURCES:
        raise _bad(f"'sources' must be a list of 1 to {MAX_SOURCES} responses")
    checked: list[dict[str, Any]] = []
    for k, source in enumerate(sources):
        if not isinstance(source, dict) or set(source) != {"responseId", "attempt"}:
            raise _bad(f"sources[{k}] must be {{\"responseId\", \"attempt\"}}")
        rid, attempt = source["responseId"], source["attempt"]
        if not isinstance(rid, str) or not 1 <= len(rid) <= 256:
            raise _bad(f"sources[{k}].responseId must be a string of 1 to 256 characters")
        if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
            raise _bad(f"sources[{k}].attempt must be a positive whole number")
        if any(c["responseId"] == rid for c in checked):
            raise _bad(f"sources[{k}]: response {rid!r} is named twice")
        checked.append({"responseId": rid, "attempt": attempt})
    instruction = body.get("instruction")
    if not isinstance(instruction, str) or not instruction.strip() \
            or len(instruction) > MAX_INSTRUCTION:
        raise _bad(f"'instruction' must be a non-empty string of at most {MAX_INSTRUCTION}"
                   " characters")
    checklist = body.get("checklist")
    if checklist is not None:
        if not isinstance(checklist, list) or not 1 <= len(checklist) <= MAX_POINTS:
            raise _bad(f"'checklist' must be null or a list of 1 to {MAX_POINTS} points")
        for k, point in enumerate(checklist):
            if not isinstance(point, str) or not point.strip() or len(point) > MAX_POINT:
                raise _bad(f"checklist[{k}] must be a non-empty string of at most {MAX_POINT}"
                           " characters")
    return {"sources": checked, "instruction": instruction, "checklist": checklist,
            "model": _name(body, "model"), "upstream": _name(body, "upstream")}


def record(db: sqlite3.Connection, batch_id: str, response_id: str, body: Any) -> dict[str, Any]:
    """Check and keep what response `response_id` of batch `batch_id` fuses (module note)."""
    fusion = check(body)
    if not 1 <= len(response_id) <= 256:
        raise _bad("the response id must be 1 to 256 characters")
    db.execute("BEGIN IMMEDIATE")
    try:
        if not db.execute("SELECT 1 FROM batches WHERE id = ?", (batch_id,)).fetchone():
            raise StoreError(404, f"no batch {batch_id!r}")
        fused_before = db.execute(
            "SELECT 1 FROM fusions WHERE batch_id = ? AND response_id = ?",
            (batch_id, response_id)).fetchone()
        used = db.execute("SELECT 1 FROM attempts WHERE batch_id = ? AND response_id = ?",
                          (batch_id, response_id)).fetchone()
        if used and not fused_before:
            raise _bad(f"batch {batch_id!r} already has a response {response_id!r} that is"
                       " not fused: a fused response needs an id of its own")
        for k, source in enumerate(fusion["sources"]):
            if source["responseId"] == response_id:
                raise _bad(f"sources[{k}]: a fused response cannot fuse itself")
            # Its status is not checked: the store writes about once a second, so an attempt
            # the page has seen end may still be `running` here (the page checks it ended).
            row = db.execute(
                "SELECT 1 FROM attempts WHERE batch_id = ? AND response_id = ?"
                " AND attempt = ?", (batch_id, source["responseId"], source["attempt"])).fetchone()
            if row is None:
                raise _bad(f"sources[{k}]: batch {batch_id!r} has no attempt"
                           f" {source['attempt']} of response {source['responseId']!r}")
        db.execute(
            "INSERT OR REPLACE INTO fusions (batch_id, response_id, created_at, sources,"
            " instruction, checklist, model, upstream) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (batch_id, response_id, time.time(), json.dumps(fusion["sources"]),
             fusion["instruction"],
             None if fusion["checklist"] is None else json.dumps(fusion["checklist"]),
             fusion["model"], fusion["upstream"]))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return {"batchId": batch_id, "responseId": response_id, **fusion}


def fusions_of(db: sqlite3.Connection, batch_id: str) -> dict[str, dict[str, Any]]:
    """The fused responses of a batch: `{response id: record}`."""
    try:
        rows = db.execute(
            "SELECT response_id, sources, instruction, checklist, model, upstream, created_at"
            " FROM fusions WHERE batch_id = ?", (batch_id,)).fetchall()
    except sqlite3.OperationalError:  # a store file opened before this table existed
        return {}
    return {r[0]: {"sources": json.loads(r[1]), "instruction": r[2],
                   "checklist": json.loads(r[3]) if r[3] is not None else None,
                   "model": r[4], "upstream": r[5], "created_at": r[6]} for r in rows}


def annotate(db: sqlite3.Connection, batch: dict[str, Any]) -> None:
    """Give each fused response of a stored batch (the store's `get`) its `fusion` record."""
    found = fusions_of(db, batch["id"])
    for response in batch["responses"]:
        if response["id"] in found:
            response["fusion"] = found[response["id"]]


# -- the checklist call ------------------------------------------------------------------------


def checklist_body(request: Any, upstream: Any, max_tokens_limit: int,
                   default_max_tokens: Optional[int], dialect: Dialect) -> dict[str, Any]:
    """The upstream body of a checklist call: checked like a `start` (build_body), and with
    `response_format` (a json_schema) where the dialect takes it (`Dialect.json_schema`)."""
    check_depth(request)
    body = build_body(request, upstream, max_tokens_limit, default_max_tokens)
    body.pop("continue_final_message", None)
    body.pop("add_generation_prompt", None)
    if dialect.json_schema:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "fanout_checklist", "schema": CHECKLIST_SCHEMA},
        }
    return body


async def checklist_call(state: Any, body: Any) -> dict[str, Any]:
    """`POST fanout/fuse/checklist` `{upstream, request}` (request as a `start`'s):
    `{text, finishReason, model, structured, dialect}`. One non-streamed completion through the
    judge's client (completion.py: a stream of the server's budget, `c.Fanout.judge_timeout`,
    the upstream request closed when cancelled). Raises FanoutError (its status and message go
    to the browser)."""
    if not isinstance(body, dict):
        raise FanoutError("bad_request", 400, "the body must be a JSON object")
    unknown = set(body) - {"upstream", "request"}
    if unknown:
        raise FanoutError("bad_request", 400, f"unknown field {sorted(unknown)[0]!r}")
    await state.ensure_started()
    upstream = check_upstream(body.get("upstream"), state.lookup)
    fanout = state.fanout
    dialect = await completion.dialect_of(upstream)
    request = checklist_body(body.get("request"), upstream, fanout.max_tokens_limit,
                             fanout.default_max_tokens, dialect)
    try:
        answer = await completion.complete_counted(state, upstream, dialect, request)
    except FanoutError as e:
        if e.status in (400, 429):
            raise
        raise FanoutError(e.code, e.status, upstream.scrub(
            f"upstream {upstream.name!r} failed the checklist: {e.message}"[:2000])) from None
    return {"text": answer.content, "finishReason": answer.finish_reason, "model": answer.model,
            "structured": "response_format" in request, "dialect": dialect.name}


__all__ = ["annotate", "check", "checklist_call", "fusions_of", "migrate", "record"]
