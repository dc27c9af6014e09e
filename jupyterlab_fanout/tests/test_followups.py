"""Follow-ups (followups.py): a batch that continues from one response of another, through a
real server's batch socket and REST routes and a real store file."""
from __future__ import annotations

import json
from typing import Any

from .proxy_fixtures import *  # noqa: F403 - fixtures
from .proxy_fixtures import open_batch
from .test_store import STORE, api, api_error, stream_one

PARENT_PROMPT = "Name a river in Europe"


def thread_of(parent: dict[str, Any], response: str = "1", attempt: int = 1) -> dict[str, Any]:
    """The thread the browser builds (src/model/thread.ts) from a stored parent batch."""
    chosen = next(a for r in parent["responses"] if r["id"] == response
                  for a in r["attempts"] if a["attempt"] == attempt)
    earlier = (parent.get("followup") or {}).get("messages") or []
    own = [{"role": "user", "content": parent["prompt"]}] if not earlier else \
        earlier + [{"role": "user", "content": parent["prompt"]}]
    return {"parent": {"batchId": parent["id"], "responseId": response, "attempt": attempt},
            "messages": own + [{"role": "assistant", "content": chosen["text"]}]}


async def stream_followup(jp_ws_fetch: Any, batch_id: str, prompt: str, thread: dict[str, Any],
                          n: int = 1) -> list[dict]:
    """A follow-up batch as the browser streams it: the thread in its options, and every
    request the thread's messages, then the new prompt. The error messages it got, if any."""
    client = await open_batch(jp_ws_fetch)
    await client.send({"type": "batch", "id": batch_id, "prompt": prompt,
                       "options": {"n": n, "thread": thread}})
    messages = thread["messages"] + [{"role": "user", "content": prompt}]
    for i in range(1, n + 1):
        await client.start(f"{i}.1", messages=messages)
    await client.wait_terminal(*(f"{i}.1" for i in range(1, n + 1)))
    errors = [m for m in client.json_messages() if m.get("type") == "error"]
    await client.close()
    return errors


@STORE
async def test_a_followup_is_stored_listed_and_exported_with_its_thread(
    jp_fetch, jp_ws_fetch, simulator, no_unhandled_errors
):
    simulator.configure(answer_tokens=6)
    await stream_one(jp_ws_fetch, "p", PARENT_PROMPT, n=2)
    parent = await api(jp_fetch, "batches", "p")
    assert parent["followup"] is None
    answer = parent["responses"][1]["attempts"][0]["text"]
    assert answer.strip()

    thread = thread_of(parent, "2", 1)
    assert await stream_followup(jp_ws_fetch, "f1", "And in Asia?", thread, n=2) == []
    child = await api(jp_fetch, "batches", "f1")
    assert child["followup"] == thread
    assert child["followup"]["messages"][-1] == {"role": "assistant", "content": answer}
    # Every attempt sent the thread, then the new prompt.
    for response in child["responses"]:
        sent = response["attempts"][0]["request"]["messages"]
        assert sent == thread["messages"] + [{"role": "user", "content": "And in Asia?"}]

    # A second level: the thread's messages accumulate.
    thread2 = thread_of(child, "1", 1)
    assert [m["role"] for m in thread2["messages"]] == ["user", "assistant", "user", "assistant"]
    await stream_followup(jp_ws_fetch, "f2", "And in Africa?", thread2)
    assert (await api(jp_fetch, "batches", "f2"))["followup"] == thread2

    # The list says which batches are follow-ups, of what (with the parent's title).
    listed = {b["id"]: b for b in (await api(jp_fetch, "batches"))["batches"]}
    assert "followup" not in listed["p"]  # only follow-ups have one
    assert listed["f1"]["followup"] == {"batchId": "p", "responseId": "2", "attempt": 1,
                                        "title": PARENT_PROMPT}
    assert listed["f2"]["followup"]["batchId"] == "f1"

    # Exports hold the thread's earlier turns before the batch's own prompt.
    exported = json.loads((await jp_fetch("fanout", "batches", "f2", "export",
                                          params={"format": "json"})).body)
    assert exported["followup"] == thread2
    markdown = (await jp_fetch("fanout", "batches", "f2", "export",
                               params={"format": "markdown"})).body.decode()
    turns = markdown.index("## Earlier turns")
    assert turns < markdown.index(PARENT_PROMPT, turns) < markdown.index("And in Asia?", turns) \
        < markdown.index("## Prompt\n\nAnd in Africa?")
    assert answer in markdown
    notebook = json.loads((await jp_fetch("fanout", "batches", "f1", "export",
                                          params={"format": "notebook"})).body)
    sources = [c["source"] for c in notebook["cells"]]
    assert sources[1].startswith("## Earlier turns") and answer in sources[1]
    assert sources[2].startswith("## Prompt\n\nAnd in Asia?")

    # Deleting the parent keeps the follow-up's thread; the list says the parent is gone.
    await api(jp_fetch, "batches", "p", method="DELETE")
    assert (await api(jp_fetch, "batches", "f1"))["followup"] == thread
    listed = {b["id"]: b for b in (await api(jp_fetch, "batches"))["batches"]}
    assert listed["f1"]["followup"]["title"] is None
    # Deleting a follow-up deletes its row with it.
    await api(jp_fetch, "batches", "f2", method="DELETE")
    assert (await api_error(jp_fetch, "batches", "f2"))[0] == 404


@STORE
async def test_a_bad_thread_is_refused_on_the_batch_socket(
    jp_fetch, jp_ws_fetch, simulator, no_unhandled_errors
):
    client = await open_batch(jp_ws_fetch)
    # Ends with the user, not the answer it follows up on.
    await client.send({"type": "batch", "id": "bad", "prompt": "x", "options": {"thread": {
        "parent": {"batchId": "p", "responseId": "1", "attempt": 1},
        "messages": [{"role": "user", "content": "hi"}]}}})
    await client.wait(lambda: any(m.get("type") == "error" for m in client.json_messages()))
    [error] = [m for m in client.json_messages() if m.get("type") == "error"]
    assert "must end with the assistant's answer" in error["message"]
    await client.close()


DIRECT = {"prompt": "And in Asia?", "created_at": 1700000000.5}


def direct_attempt(text: str, status: str = "complete") -> dict[str, Any]:
    return {"model": "m", "status": status, "text": text, "reasoning": "thinking…",
            "request": {"model": "m", "messages": [{"role": "user", "content": PARENT_PROMPT}]},
            "finish_reason": "stop", "started_at": 1700000001.0, "ended_at": 1700000002.0}


@STORE
async def test_a_direct_followup_needs_a_stored_parent_with_answer_text(
    jp_fetch, jp_serverapp, no_unhandled_errors
):
    await api(jp_fetch, "batches", "dp", "direct", method="PUT",
              body={"prompt": PARENT_PROMPT, "options": {"n": 2}, "created_at": 1700000000.0})
    await api(jp_fetch, "batches", "dp", "direct", "1", "1", method="PUT",
              body=direct_attempt("The Danube."))
    await api(jp_fetch, "batches", "dp", "direct", "2", "1", method="PUT",
              body=direct_attempt("", status="stopped"))

    def body(batch: str, response: str, attempt: int, answer: str = "The Danube.") -> dict:
        thread = {"parent": {"batchId": batch, "responseId": response, "attempt": attempt},
                  "messages": [{"role": "user", "content": PARENT_PROMPT},
                               {"role": "assistant", "content": answer}]}
        return {**DIRECT, "options": {"n": 1, "thread": thread}}

    code, message = await api_error(jp_fetch, "batches", "d1", "direct", method="PUT",
                                    body=body("nope", "1", 1))
    assert code == 400 and "no batch 'nope' in the store" in message
    code, message = await api_error(jp_fetch, "batches", "d1", "direct", method="PUT",
                                    body=body("dp", "9", 1))
    assert code == 400 and "has no response '9'" in message
    code, message = await api_error(jp_fetch, "batches", "d1", "direct", method="PUT",
                                    body=body("dp", "1", 3))
    assert code == 400 and "has no attempt 3" in message
    code, message = await api_error(jp_fetch, "batches", "d1", "direct", method="PUT",
                                    body=body("dp", "2", 1))
    assert code == 400 and "has no answer text to follow up on (it ended stopped)" in message
    code, message = await api_error(jp_fetch, "batches", "d1", "direct", method="PUT",
                                    body=body("dp", "1", 1, answer=" "))
    assert code == 400 and "the answer it follows up on is empty" in message
    bad_role = {**DIRECT, "options": {"thread": {
        "parent": {"batchId": "dp", "responseId": "1", "attempt": 1},
        "messages": [{"role": "tool", "content": "x"}, {"role": "assistant", "content": "y"}]}}}
    code, message = await api_error(jp_fetch, "batches", "d1", "direct", method="PUT", body=bad_role)
    assert code == 400 and "messages[0]" in message
    # Nothing of the refused ones was kept.
    assert (await api_error(jp_fetch, "batches", "d1"))[0] == 404

    good = body("dp", "1", 1)
    assert (await api(jp_fetch, "batches", "d1", "direct", method="PUT", body=good))["created"]
    stored = await api(jp_fetch, "batches", "d1")
    assert stored["followup"] == good["options"]["thread"] and stored["transport"] == "direct"
    assert stored["options"]["thread"] == good["options"]["thread"]
    listed = {b["id"]: b for b in (await api(jp_fetch, "batches"))["batches"]}
    assert listed["d1"]["followup"]["batchId"] == "dp"


@STORE
async def test_an_imported_followup_keeps_its_thread(jp_fetch, jp_serverapp, no_unhandled_errors):
    thread = {"parent": {"batchId": "gone", "responseId": "1", "attempt": 2},
              "messages": [{"role": "system", "content": "Be brief."},
                           {"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A1"}]}
    batch = {"id": "imp", "prompt": "Q2", "options": {"n": 1, "thread": thread},
             "responses": [{"id": "1", "attempts": [{"attempt": 1, "status": "complete",
                                                      "text": "A2"}]}]}
    await api(jp_fetch, "batches", method="POST", body=batch)
    assert (await api(jp_fetch, "batches", "imp"))["followup"] == thread
