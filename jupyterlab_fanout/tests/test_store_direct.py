"""Direct-mode batches recorded by the browser (direct_record.py): PUT fanout/batches/<id>/direct."""
from __future__ import annotations

import json
from typing import Any

import pytest

from .proxy_fixtures import *  # noqa: F403 - fixtures
from .test_store import STORE, api, api_error, stream_one, the_store

BATCH = {"prompt": "Name a river\nin Europe", "options": {"n": 2, "model": "m", "maxTokens": 64},
         "created_at": 1700000000.5}


def attempt(**over: Any) -> dict[str, Any]:
    record = {
        "model": "m", "status": "complete", "text": "The Danube.", "reasoning": "Rivers…",
        "request": {"model": "m", "messages": [{"role": "user", "content": "Name a river"}],
                    "max_tokens": 64, "seed": 7, "n": 1, "stream": True,
                    "stream_options": {"include_usage": True}},
        "finish_reason": "stop", "usage": {"completion_tokens": 5},
        "metrics": {"ttft": 0.1, "elapsed": 0.5, "tokens_per_second": 12.5},
        "started_at": 1700000001.0, "ended_at": 1700000002.0,
    }
    record.update(over)
    return record


async def put(jp_fetch: Any, *parts: str, body: Any) -> Any:
    return await api(jp_fetch, "batches", *parts, method="PUT", body=body)


@STORE
async def test_a_direct_batch_is_recorded_listed_and_searchable(jp_fetch, jp_serverapp, no_unhandled_errors):
    assert await put(jp_fetch, "d-1", "direct", body=BATCH) == {"id": "d-1", "created": True}
    assert await put(jp_fetch, "d-1", "direct", body=BATCH) == {"id": "d-1", "created": False}
    running = attempt(status="running", text="", reasoning="", finish_reason=None, usage=None,
                      metrics=None, ended_at=None)
    assert (await put(jp_fetch, "d-1", "direct", "1", "1", body=running))["created"] is True
    await put(jp_fetch, "d-1", "direct", "2", "1", body=attempt(text="The Rhine."))
    [summary] = (await api(jp_fetch, "batches"))["batches"]
    assert summary["counts"] == {"running": 1, "complete": 1} and summary["n"] == 2
    assert summary["title"] == "Name a river"
    # The attempt ends: the same PUT replaces it.
    assert (await put(jp_fetch, "d-1", "direct", "1", "1", body=attempt()))["created"] is False
    await put(jp_fetch, "d-1", "direct", "1", "2", body=attempt(status="stopped", text="The",
                                                                   error={"message": "Stopped.", "code": "stopped_by_user"}))
    batch = await api(jp_fetch, "batches", "d-1")
    assert batch["prompt"] == BATCH["prompt"] and batch["options"] == BATCH["options"]
    assert batch["created_at"] == BATCH["created_at"] and batch["transport"] == "direct"
    first = batch["responses"][0]
    assert [a["status"] for a in first["attempts"]] == ["complete", "stopped"]
    a = first["attempts"][0]
    assert a["upstream"] == "direct" and a["text"] == "The Danube." and a["reasoning"] == "Rivers…"
    assert a["request"]["seed"] == 7 and a["usage"] == {"completion_tokens": 5}
    assert a["metrics"]["tokens_per_second"] == 12.5 and a["ended_at"] == 1700000002.0
    assert first["attempts"][1]["error"]["code"] == "stopped_by_user"
    found = (await api(jp_fetch, "batches", params={"query": "danube"}))["batches"]
    assert [b["id"] for b in found] == ["d-1"]
    # Deleted like any stored batch (its direct mark goes with it: the id can be reused).
    await api(jp_fetch, "batches", "d-1", method="DELETE")
    assert (await put(jp_fetch, "d-1", "direct", body=BATCH))["created"] is True


@STORE
async def test_an_attempt_ended_without_a_request_keeps_the_one_recorded_at_its_start(
    jp_fetch, jp_serverapp, no_unhandled_errors
):
    # What a page sends as it closes while the attempt streams: no room for the request.
    await put(jp_fetch, "d-2", "direct", body=BATCH)
    running = attempt(status="running", text="", reasoning="", finish_reason=None, usage=None,
                      metrics=None, ended_at=None)
    await put(jp_fetch, "d-2", "direct", "1", "1", body=running)
    closed = {k: v for k, v in attempt(status="incomplete", text="The Dan", finish_reason=None,
                                       error={"code": "page_closed", "message": "closed"}).items()
              if k != "request"}
    assert (await put(jp_fetch, "d-2", "direct", "1", "1", body=closed))["created"] is False
    a = (await api(jp_fetch, "batches", "d-2"))["responses"][0]["attempts"][0]
    assert a["status"] == "incomplete" and a["text"] == "The Dan" and a["error"]["code"] == "page_closed"
    assert a["request"] == running["request"]
    # A first record without a request is kept with an empty one.
    await put(jp_fetch, "d-2", "direct", "2", "1", body=closed)
    second = (await api(jp_fetch, "batches", "d-2"))["responses"][1]["attempts"][0]
    assert second["request"] == {} and second["text"] == "The Dan"


@STORE
async def test_a_batch_the_proxy_recorded_cannot_be_written_as_direct(
    jp_fetch, jp_ws_fetch, jp_serverapp, simulator, no_unhandled_errors
):
    await stream_one(jp_ws_fetch, "proxied", "p")
    await the_store(jp_serverapp).sync()
    before = await api(jp_fetch, "batches", "proxied")
    assert "transport" not in before
    code, message = await api_error(jp_fetch, "batches", "proxied", "direct", method="PUT", body=BATCH)
    assert code == 409 and "recorded by the proxy" in message
    code, _ = await api_error(jp_fetch, "batches", "proxied", "direct", "1", "1", method="PUT",
                              body=attempt())
    assert code == 409
    assert await api(jp_fetch, "batches", "proxied") == before
    code, message = await api_error(jp_fetch, "batches", "nobatch", "direct", "1", "1", method="PUT",
                                    body=attempt())
    assert code == 404 and "PUT fanout/batches/<id>/direct first" in message


@pytest.mark.parametrize(
    ("parts", "body", "field"),
    [
        (("direct",), [1], "JSON object"),
        (("direct",), {**BATCH, "directUrl": "http://gpu:8000/v1"}, "'directUrl' is not a field"),
        (("direct",), {**BATCH, "options": {"directApiKey": "sk-1"}}, "'options.directApiKey'"),
        (("direct",), {**BATCH, "options": {"transport": "direct"}}, "'options.transport'"),
        (("direct",), {**BATCH, "prompt": 3}, "'prompt' must be a string"),
        (("direct",), {**BATCH, "created_at": "yesterday"}, "'created_at' must be a finite number"),
        (("direct",), {**BATCH, "options": {"targets": [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}},
         "nested more than"),
        (("direct", "1", "1"), attempt(request={"messages": [], "api_key": "sk-1"}), "'request.api_key'"),
        (("direct", "1", "1"), attempt(request={"base_url": "http://gpu:8000/v1"}), "'request.base_url'"),
        (("direct", "1", "1"), {**attempt(), "headers": {"Authorization": "Bearer sk"}}, "'headers'"),
        (("direct", "1", "1"), {**attempt(), "upstream": "http://gpu:8000/v1"}, "'upstream'"),
        (("direct", "1", "1"), attempt(status="done"), "'status' must be one of"),
        (("direct", "1", "1"), attempt(text=None, reasoning=5), "'reasoning' must be a string"),
        (("direct", "1", "1"), attempt(metrics={"ttft": "fast"}), "'metrics.ttft'"),
        (("direct", "1", "1"), attempt(metrics={"url": 1}), "'metrics.url'"),
        (("direct", "1", "1"), attempt(error={"message": "x", "url": "http://h"}), "'error.url'"),
        (("direct", "1", "1"), attempt(error={"message": 5}), "'error.message'"),
        (("direct", "1", "1"), attempt(usage=[1]), "'usage' must be an object"),
        (("direct", "1", "0"), attempt(), "whole number from 1"),
        (("direct", "1", "x"), attempt(), "whole number from 1"),
        (("direct", "1", "1"), attempt(text="x" * (4 * 1024 * 1024 + 1)), "'text' is longer"),
    ],
)
@STORE
async def test_bad_records_are_refused_with_the_field_named(
    jp_fetch, jp_serverapp, parts, body, field, no_unhandled_errors
):
    await put(jp_fetch, "d", "direct", body=BATCH)
    before = await api(jp_fetch, "batches", "d")
    code, message = await api_error(jp_fetch, "batches", "d", *parts, method="PUT", body=body)
    assert code == 400 and field in message, message
    assert await api(jp_fetch, "batches", "d") == before  # nothing of it was kept


@STORE
async def test_a_body_too_large_or_not_json(jp_fetch, jp_serverapp, no_unhandled_errors):
    await put(jp_fetch, "d", "direct", body=BATCH)
    response = None
    import tornado.httpclient

    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("fanout", "batches", "d", "direct", "1", "1", method="PUT",
                       body=json.dumps(attempt(text="x" * (9 * 1024 * 1024))))
    response = info.value.response
    assert info.value.code == 413 and b"larger than" in response.body
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("fanout", "batches", "d", "direct", method="PUT", body="{nope")
    assert info.value.code == 400 and b"not JSON" in info.value.response.body


@pytest.mark.parametrize("fanout_overrides", [{"store_path": ""}], indirect=True)
async def test_direct_records_with_the_store_off(jp_fetch, jp_serverapp, no_unhandled_errors):
    code, message = await api_error(jp_fetch, "batches", "d", "direct", method="PUT", body=BATCH)
    assert code == 404 and "disabled" in message


async def test_direct_records_need_authentication(jp_fetch, jp_serverapp):
    import tornado.httpclient

    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("fanout", "batches", "d", "direct", method="PUT", body=json.dumps(BATCH),
                       headers={"Authorization": ""})
    assert info.value.code in (401, 403)
