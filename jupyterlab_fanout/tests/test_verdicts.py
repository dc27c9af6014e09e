"""Verdicts (issue 17): the winner of a batch and ratings, through the REST routes of a real
server and a real store file; the schema step that adds them to an older file."""
from __future__ import annotations

import logging
import shutil
import sqlite3
from pathlib import Path

import pytest
import tornado.httpclient

from .proxy_fixtures import *  # noqa: F403 - fixtures
from .proxy_fixtures import open_batch
from .test_store import STORE, api, api_error
from ..store import SCHEMA_VERSION, BatchStore

V2 = Path(__file__).parent / "data" / "store-v2.sqlite3"


async def stream(jp_ws_fetch, batch_id: str, n: int = 2, retry: str = "") -> None:
    client = await open_batch(jp_ws_fetch)
    await client.send({"type": "batch", "id": batch_id, "prompt": "What is 6 x 7?",
                       "options": {"n": n}})
    wires = [f"{i}.1" for i in range(1, n + 1)] + ([retry] if retry else [])
    for wire in wires[:n]:
        await client.start(wire)
    await client.wait_terminal(*wires[:n])
    if retry:
        await client.start(retry)
        await client.wait_terminal(retry)
    await client.close()


@STORE
async def test_pick_and_rate_round_trip(jp_fetch, jp_ws_fetch, simulator, no_unhandled_errors):
    simulator.configure(answer_tokens=6)
    await stream(jp_ws_fetch, "v", 2, retry="2.2")
    batch = await api(jp_fetch, "batches", "v")
    assert batch["pick"] is None
    assert [r["rating"] for r in batch["responses"]] == [None, None]

    # The latest attempt by default.
    assert await api(jp_fetch, "batches", "v", "pick", method="PUT",
                     body={"responseId": "2"}) == {"batchId": "v", "responseId": "2", "attempt": 2}
    assert await api(jp_fetch, "batches", "v", "pick", method="PUT",
                     body={"responseId": "2", "attempt": 1}) == {
        "batchId": "v", "responseId": "2", "attempt": 1}
    assert await api(jp_fetch, "batches", "v", "responses", "1", "rating", method="PUT",
                     body={"rating": 4}) == {
        "batchId": "v", "responseId": "1", "attempt": 1, "rating": 4}
    assert await api(jp_fetch, "batches", "v", "responses", "2", "rating", method="PUT",
                     body={"rating": 2, "attempt": 1}) == {
        "batchId": "v", "responseId": "2", "attempt": 1, "rating": 2}

    batch = await api(jp_fetch, "batches", "v")
    assert batch["pick"] == {"responseId": "2", "attempt": 1}
    one, two = batch["responses"]
    assert (one["rating"], one["attempts"][0]["rating"]) == (4, 4)
    assert [a["rating"] for a in two["attempts"]] == [2, None]
    assert two["rating"] is None  # the latest attempt's
    [summary] = (await api(jp_fetch, "batches"))["batches"]
    assert summary["pick"]["responseId"] == "2" and summary["pick"]["attempt"] == 1
    assert summary["pick"]["model"] == two["attempts"][0]["model"]
    assert summary["ratings"] == [{"responseId": "1", "attempt": 1, "rating": 4},
                                  {"responseId": "2", "attempt": 1, "rating": 2}]

    # Clearing.
    assert await api(jp_fetch, "batches", "v", "pick", method="PUT",
                     body={"responseId": None}) == {
        "batchId": "v", "responseId": None, "attempt": None}
    await api(jp_fetch, "batches", "v", "responses", "1", "rating", method="PUT",
              body={"rating": None})
    batch = await api(jp_fetch, "batches", "v")
    assert batch["pick"] is None and batch["responses"][0]["rating"] is None
    [summary] = (await api(jp_fetch, "batches"))["batches"]
    assert summary["pick"] is None
    assert summary["ratings"] == [{"responseId": "2", "attempt": 1, "rating": 2}]

    # A rename (and so an export) keeps them.
    await api(jp_fetch, "batches", "v", "pick", method="PUT", body={"responseId": "1"})
    await api(jp_fetch, "batches", "v", method="PATCH", body={"title": "Renamed"})
    assert (await api(jp_fetch, "batches", "v"))["pick"] == {"responseId": "1", "attempt": 1}


@STORE
async def test_bad_verdicts_are_400_naming_the_field(
    jp_fetch, jp_ws_fetch, simulator, no_unhandled_errors
):
    simulator.configure(answer_tokens=3)
    await stream(jp_ws_fetch, "w", 1)

    async def pick(body, batch="w"):
        return await api_error(jp_fetch, "batches", batch, "pick", method="PUT", body=body)

    async def rate(body, response="1", batch="w"):
        return await api_error(jp_fetch, "batches", batch, "responses", response, "rating",
                               method="PUT", body=body)

    for body, field in (({}, "'responseId' is missing"), ({"responseId": 3}, "'responseId'"),
                        ({"responseId": ""}, "'responseId'"),
                        ({"responseId": "1", "attempt": 0}, "'attempt'"),
                        ({"responseId": "1", "attempt": "1"}, "'attempt'"),
                        ({"responseId": "1", "attempt": True}, "'attempt'"),
                        ({"responseId": None, "attempt": 1}, "'attempt'"),
                        ({"responseId": "1", "winner": 1}, "'winner'"),
                        ({"responseId": "9"}, "'responseId': batch 'w' has no response '9'"),
                        ({"responseId": "1", "attempt": 5}, "'attempt': response '1'"),
                        ([1], "JSON object")):
        code, message = await pick(body)
        assert code == 400, body
        assert field in message, (body, message)
    for body, field in (({}, "'rating' is missing"), ({"rating": 0}, "'rating' must be"),
                        ({"rating": 6}, "'rating' must be"), ({"rating": 3.5}, "'rating'"),
                        ({"rating": "3"}, "'rating'"), ({"rating": True}, "'rating'"),
                        ({"rating": 3, "attempt": -1}, "'attempt'"),
                        ({"rating": 3, "stars": 3}, "'stars'")):
        code, message = await rate(body)
        assert code == 400, body
        assert field in message, (body, message)
    assert (await rate({"rating": 3}, response="7"))[0] == 400
    for raw, why in ((b"null", "JSON object"), (b"{", "not JSON")):
        with pytest.raises(tornado.httpclient.HTTPClientError) as info:
            await jp_fetch("fanout", "batches", "w", "pick", method="PUT", body=raw)
        assert info.value.code == 400 and why in info.value.response.body.decode()
    # An unknown batch is 404, cleared or not.
    for code, message in (await pick({"responseId": "1"}, batch="nope"),
                          await pick({"responseId": None}, batch="nope"),
                          await rate({"rating": 2}, batch="nope")):
        assert code == 404 and "no batch 'nope'" in message
    # Nothing was written by the refused requests.
    batch = await api(jp_fetch, "batches", "w")
    assert batch["pick"] is None and batch["responses"][0]["rating"] is None


async def test_a_version_2_file_gains_the_verdict_columns(tmp_path):
    path = tmp_path / "batches.sqlite3"
    shutil.copy(V2, path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (2,)
    assert "rating" not in {r[1] for r in db.execute("PRAGMA table_info(attempts)")}
    db.close()
    store = BatchStore(str(path), log=logging.getLogger("test"), parse_process=False)
    store.open()
    try:
        batch = await store.get("v2-done")
        assert batch["pick"] is None
        assert [(r["id"], r["rating"], r["attempts"][0]["text"]) for r in batch["responses"]] == [
            ("1", None, "Forty-two.\n42"), ("2", None, "41")]
        assert await store.pick("v2-done", "1", None) == {
            "batchId": "v2-done", "responseId": "1", "attempt": 1}
        await store.rate("v2-done", "2", 1, 5)
        [summary] = await store.list()
        assert summary["pick"] == {"responseId": "1", "attempt": 1, "model": "m"}
        assert summary["ratings"] == [{"responseId": "2", "attempt": 1, "rating": 5}]
    finally:
        await store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (3,)
    assert {"pick_response", "pick_attempt"} <= {r[1] for r in db.execute(
        "PRAGMA table_info(batches)")}
    assert db.execute("SELECT pick_response, pick_attempt FROM batches").fetchall() == [("1", 1)]
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
