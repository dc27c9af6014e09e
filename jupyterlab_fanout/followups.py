"""Follow-ups (`fanout:follow-up`): a batch that continues from one response of another.

A follow-up batch's requests carry the thread's earlier turns (the parent's messages, then the
chosen attempt's answer as the assistant's message) before its own prompt. The browser
describes the thread in the batch's options (`options.thread = {parent: {batchId, responseId,
attempt}, messages: [{role, content}, ...]}`); the store keeps it in a table of its own,
`followups`, created at open when missing (like votes.py's tables: a file an earlier version
wrote needs no upgrade, and an earlier version opening this file ignores it). Deleting a batch
deletes its row; deleting its parent leaves it (the thread's text is the follow-up's own).

- `GET fanout/batches/<id>` gives `followup: {parent, messages}` (null for a batch that is none);
- `GET fanout/batches` gives each follow-up's `followup: {batchId, responseId, attempt, title}`
  (`title`: the parent's, null when the parent is no longer stored); other batches have none;
- the exports (JSON, Markdown, notebook) hold the thread's earlier turns before the prompt.

Checks (400s naming the field): a thread that is not `{parent, messages}`, a message that is
not `{role: system|user|assistant, content: str}`, a thread not ending with the assistant's
answer, or an empty answer; where a batch is recorded over REST (direct mode's `PUT
fanout/batches/<id>/direct`), also a parent batch the store does not hold, a response or
attempt it does not have, or an ended attempt without answer text.
"""
from __future__ import annotations

import json
import sqlite3
from typing import Any, Optional

from .store import StoreError

MIGRATION = (
    """CREATE TABLE IF NOT EXISTS followups (
    batch_id TEXT PRIMARY KEY REFERENCES batches (id) ON DELETE CASCADE,
    parent_batch TEXT NOT NULL,
    parent_response TEXT NOT NULL,
    parent_attempt INTEGER NOT NULL,
    messages TEXT NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS followups_parent ON followups (parent_batch)",
)

ROLES = ("system", "user", "assistant")
#: Most messages a thread may hold (src/model/thread.ts says the same).
MAX_MESSAGES = 200
MAX_ID_LENGTH = 256


def migrate(db: sqlite3.Connection) -> None:
    """The follow-ups' table (inside the store's opening transaction)."""
    for statement in MIGRATION:
        db.execute(statement)


def _bad(message: str) -> StoreError:
    return StoreError(400, message)


def check_thread(value: Any, where: str = "options.thread") -> dict[str, Any]:
    """A thread, checked: `{"parent": {batchId, responseId, attempt}, "messages": [...]}`."""
    if not isinstance(value, dict):
        raise _bad(f"{where!r} must be an object {{parent, messages}}")
    parent = value.get("parent")
    if not isinstance(parent, dict):
        raise _bad(f"'{where}.parent' must be an object {{batchId, responseId, attempt}}")
    for key in ("batchId", "responseId"):
        item = parent.get(key)
        if not isinstance(item, str) or not 0 < len(item) <= MAX_ID_LENGTH:
            raise _bad(f"'{where}.parent.{key}' must be a string of 1 to {MAX_ID_LENGTH} characters")
    attempt = parent.get("attempt")
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise _bad(f"'{where}.parent.attempt' must be a whole number of at least 1")
    messages = value.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad(f"'{where}.messages' must be a non-empty list")
    if len(messages) > MAX_MESSAGES:
        raise _bad(f"'{where}.messages' may hold at most {MAX_MESSAGES} messages")
    checked = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES \
                or not isinstance(message.get("content"), str):
            raise _bad(f"'{where}.messages[{i}]' must be {{role: system, user or assistant,"
                       " content: a string}")
        checked.append({"role": message["role"], "content": message["content"]})
    if checked[-1]["role"] != "assistant":
        raise _bad(f"'{where}.messages' must end with the assistant's answer it follows up on")
    if not checked[-1]["content"].strip():
        raise _bad(f"'{where}.messages': the answer it follows up on is empty")
    return {"parent": {"batchId": parent["batchId"], "responseId": parent["responseId"],
                       "attempt": attempt}, "messages": checked}


def thread_of(options: Any) -> Optional[dict[str, Any]]:
    """The checked thread of a batch's options, or None when it has none."""
    if not isinstance(options, dict) or options.get("thread") is None:
        return None
    return check_thread(options["thread"])


def check_parent(db: sqlite3.Connection, thread: dict[str, Any]) -> None:
    """400 unless the store holds the parent's response and attempt, and that attempt (once
    ended) has answer text. A running attempt passes: its end record may still be on its way."""
    parent = thread["parent"]
    batch_id, response_id, attempt = parent["batchId"], parent["responseId"], parent["attempt"]
    if db.execute("SELECT 1 FROM batches WHERE id = ?", (batch_id,)).fetchone() is None:
        raise _bad(f"'options.thread.parent.batchId': no batch {batch_id!r} in the store to follow"
                   " up on")
    row = db.execute("SELECT status, text FROM attempts WHERE batch_id = ? AND response_id = ? AND"
                     " attempt = ?", (batch_id, response_id, attempt)).fetchone()
    if row is None:
        if db.execute("SELECT 1 FROM attempts WHERE batch_id = ? AND response_id = ?",
                      (batch_id, response_id)).fetchone() is None:
            raise _bad(f"'options.thread.parent.responseId': batch {batch_id!r} has no response"
                       f" {response_id!r}")
        raise _bad(f"'options.thread.parent.attempt': response {response_id!r} of batch"
                   f" {batch_id!r} has no attempt {attempt}")
    status, text = row
    if status != "running" and not (text or "").strip():
        raise _bad(f"'options.thread.parent.attempt': attempt {attempt} of response"
                   f" {response_id!r} of batch {batch_id!r} has no answer text to follow up on"
                   f" (it ended {status})")


def record(db: sqlite3.Connection, batch_id: str, options: Any) -> None:
    """Keep the thread of a batch's options (nothing for a batch that is no follow-up). Called
    where the batch's row is written, in the same transaction."""
    thread = thread_of(options)
    if thread is None:
        return
    parent = thread["parent"]
    db.execute(
        "INSERT INTO followups (batch_id, parent_batch, parent_response, parent_attempt, messages)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (batch_id) DO UPDATE SET parent_batch ="
        " excluded.parent_batch, parent_response = excluded.parent_response, parent_attempt ="
        " excluded.parent_attempt, messages = excluded.messages",
        (batch_id, parent["batchId"], parent["responseId"], parent["attempt"],
         json.dumps(thread["messages"])))


def record_safely(db: sqlite3.Connection, batch_id: str, options: Any, log: Any = None) -> None:
    """`record`, where a bad thread must not lose the batch (the proxy's batches: the browser's
    description was checked when it came, validation.py): a bad one is logged and left out."""
    try:
        record(db, batch_id, options)
    except StoreError as e:
        if log is not None:
            log.warning("fanout: batch %s: its follow-up thread is not kept: %s", batch_id, e)


def get(db: sqlite3.Connection, batch_id: str) -> Optional[dict[str, Any]]:
    """`{parent, messages}` of a follow-up batch; None for a batch that is none."""
    row = db.execute("SELECT parent_batch, parent_response, parent_attempt, messages FROM followups"
                     " WHERE batch_id = ?", (batch_id,)).fetchone()
    if row is None:
        return None
    return {"parent": {"batchId": row[0], "responseId": row[1], "attempt": row[2]},
            "messages": json.loads(row[3])}


def marks(db: sqlite3.Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Of the batches `ids`, the follow-ups: `{id: {batchId, responseId, attempt, title}}`."""
    if not ids:
        return {}
    rows = db.execute(
        "SELECT f.batch_id, f.parent_batch, f.parent_response, f.parent_attempt, b.title FROM"
        " followups f LEFT JOIN batches b ON b.id = f.parent_batch WHERE f.batch_id IN ("
        + ",".join("?" * len(ids)) + ")", ids).fetchall()
    return {r[0]: {"batchId": r[1], "responseId": r[2], "attempt": r[3], "title": r[4]}
            for r in rows}


def turns_markdown(thread: dict[str, Any]) -> str:
    """The earlier turns, as Markdown for the exports (before the batch's own prompt)."""
    parts = ["## Earlier turns",
             f"Follow-up of response {thread['parent']['responseId']} (attempt"
             f" {thread['parent']['attempt']}) of batch {thread['parent']['batchId']}."]
    turn = 0
    for message in thread["messages"]:
        if message["role"] == "system":
            parts.append(f"### System\n\n{message['content']}")
        elif message["role"] == "user":
            turn += 1
            parts.append(f"### Turn {turn}: prompt\n\n{message['content']}")
        else:
            parts.append(f"### Turn {turn}: answer\n\n{message['content']}")
    return "\n\n".join(parts)
