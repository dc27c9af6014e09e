"""Blind votes, tags and the leaderboard over REST (votes.py): fanout/votes, fanout/leaderboard,
fanout/batches/<id>/tags, against a real SQLite file."""
from __future__ import annotations

import csv
import io
import sqlite3
from typing import Any

import pytest

from jupyterlab_fanout import votes

from .proxy_fixtures import *  # noqa: F403 - fixtures
from .test_store import STORE, api, api_error, the_store
from .test_store_direct import BATCH, attempt, put


async def two_model_batch(jp_fetch: Any, batch_id: str, models: list[str], *, running: str = "") -> None:
    """A batch with one response per model (recorded as direct-mode: upstream `direct`)."""
    await put(jp_fetch, batch_id, "direct", body=BATCH)
    for k, model in enumerate(models, 1):
        over: dict[str, Any] = {"model": model, "text": f"answer of {model}"}
        if str(k) == running:
            over.update(status="running", finish_reason=None, ended_at=None)
        await put(jp_fetch, batch_id, "direct", str(k), "1", body=attempt(**over))


async def vote(jp_fetch: Any, batch_id: str, a: str, b: str, outcome: str) -> Any:
    return await api(jp_fetch, "votes", method="POST",
                     body={"batchId": batch_id, "a": a, "b": b, "outcome": outcome})


@STORE
async def test_votes_are_stored_listed_and_feed_the_leaderboard(jp_fetch, jp_serverapp, no_unhandled_errors):
    await two_model_batch(jp_fetch, "b1", ["big", "small"])
    created = await vote(jp_fetch, "b1", "1", "2", "a")
    [v] = created["votes"]
    assert v["a"] == {"response": "1", "attempt": 1, "upstream": "direct", "model": "big"}
    assert v["b"]["model"] == "small" and v["outcome"] == "a" and v["same_model"] is False
    for outcome in ("a", "b", "tie"):
        await vote(jp_fetch, "b1", "2", "1", outcome)  # small first: a = small
    listed = (await api(jp_fetch, "votes", params={"batchId": "b1"}))["votes"]
    assert len(listed) == 4 and listed[-1]["id"] == created["id"]
    assert (await api(jp_fetch, "votes", params={"batchId": "nope"}))["votes"] == []
    board = await api(jp_fetch, "leaderboard")
    rows = board["rows"]
    # big: a win, a win (as b), a loss (as b), a tie: 2.5 of 4.
    assert [r["model"] for r in rows] == ["big", "small"]
    big = rows[0]
    assert (big["votes"], big["wins"], big["losses"], big["ties"]) == (4, 2, 1, 1)
    assert big["upstream"] == "direct" and big["rank"] == 1
    assert big["ci_low"] <= big["score"] <= big["ci_high"]
    assert board["comparisons"] == 4 and board["method"]["model"] == "bradley-terry"


@STORE
async def test_bad_votes_get_specific_400s_and_nothing_is_stored(jp_fetch, jp_serverapp, no_unhandled_errors):
    await two_model_batch(jp_fetch, "b1", ["big", "small", "mid"], running="3")
    cases = [
        ({"batchId": "zz", "a": "1", "b": "2", "outcome": "a"}, "no batch 'zz'"),
        ({"batchId": "b1", "a": "1", "b": "9", "outcome": "a"}, "has no response '9'"),
        ({"batchId": "b1", "a": "1", "b": "1", "outcome": "a"}, "same response '1' twice"),
        ({"batchId": "b1", "a": "1", "b": "2", "outcome": "best"}, "'outcome' must be one of"),
        ({"batchId": "b1", "a": "1", "b": "3", "outcome": "a"}, "'3' is still running"),
        ({"batchId": "b1", "a": "1", "outcome": "a"}, "'b' must be a non-empty string"),
        ({"batchId": "b1", "a": "1", "b": "2", "outcome": "a", "x": 1}, "unknown field 'x'"),
        ({"batchId": "b1", "ranking": ["1"]}, "'ranking' must be a list of 2"),
        ({"batchId": "b1", "ranking": ["1", "2", "1"]}, "same response '1' twice"),
        ({"batchId": "b1", "ranking": ["1", "2"], "outcome": "a"}, "not both"),
        ([1, 2], "must be a JSON object"),
    ]
    for body, message in cases:
        code, got = await api_error(jp_fetch, "votes", method="POST", body=body)
        assert code == 400 and message in got, (body, got)
    response = await jp_fetch("fanout", "votes", method="POST", body=b"{", raise_error=False)
    assert response.code == 400
    assert (await api(jp_fetch, "votes"))["votes"] == []


@STORE
async def test_a_ranking_is_stored_as_its_pairs_and_one_model_pairs_are_flagged(
    jp_fetch, jp_serverapp, no_unhandled_errors
):
    await two_model_batch(jp_fetch, "b1", ["big", "small", "big"])
    created = await api(jp_fetch, "votes", method="POST",
                        body={"batchId": "b1", "ranking": ["3", "2", "1"]})
    pairs = {(v["a"]["response"], v["b"]["response"]): v for v in created["votes"]}
    assert set(pairs) == {("3", "2"), ("3", "1"), ("2", "1")}
    assert all(v["outcome"] == "a" and v["id"] == created["id"] for v in pairs.values())
    assert pairs[("3", "1")]["same_model"] is True and pairs[("3", "2")]["same_model"] is False
    board = await api(jp_fetch, "leaderboard")
    # big (3) beat small, small beat big (1): even; the big-big pair is left out.
    assert board["comparisons"] == 2 and board["same_model_skipped"] == 1
    assert {r["model"]: r["votes"] for r in board["rows"]} == {"big": 2, "small": 2}
    assert board["rows"][0]["score"] == pytest.approx(board["rows"][1]["score"])


@STORE
async def test_tags_filter_the_leaderboard_and_csv_exports_it(jp_fetch, jp_serverapp, no_unhandled_errors):
    await two_model_batch(jp_fetch, "math", ["big", "small"])
    await two_model_batch(jp_fetch, "poems", ["big", "small"])
    assert await api(jp_fetch, "batches", "math", "tags", method="PUT",
                     body={"tags": [" math ", "easy", "math"]}) == {"id": "math", "tags": ["math", "easy"]}
    await api(jp_fetch, "batches", "poems", "tags", method="PUT", body={"tags": ["poems", "easy"]})
    assert (await api(jp_fetch, "batches", "math"))["tags"] == ["math", "easy"]
    assert {b["id"]: b["tags"] for b in (await api(jp_fetch, "batches"))["batches"]} == {
        "math": ["math", "easy"], "poems": ["poems", "easy"]}
    for _ in range(3):
        await vote(jp_fetch, "math", "1", "2", "a")  # big wins at math
        await vote(jp_fetch, "poems", "1", "2", "b")  # small wins at poems
    await vote(jp_fetch, "poems", "1", "2", "both-bad")
    top = {}
    for tags in ("math", "poems", "easy", "math,easy", "math,poems"):
        board = await api(jp_fetch, "leaderboard", params={"tags": tags})
        top[tags] = [(r["model"], r["votes"]) for r in board["rows"]]
    assert top == {"math": [("big", 3), ("small", 3)], "poems": [("small", 4), ("big", 4)],
                   "easy": [("big", 7), ("small", 7)], "math,easy": [("big", 3), ("small", 3)],
                   "math,poems": []}
    # easy: 3.5 of 7 each, an even score (equal scores are listed by name).
    even = (await api(jp_fetch, "leaderboard", params={"tags": "easy"}))["rows"]
    assert even[0]["score"] == pytest.approx(even[1]["score"])
    assert (await api(jp_fetch, "leaderboard"))["all_tags"] == ["easy", "math", "poems"]
    response = await jp_fetch("fanout", "leaderboard", params={"tags": "math", "format": "csv"})
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(response.body.decode())))
    assert table[0] == list(votes.CSV_COLUMNS)
    assert [row[:3] for row in table[1:]] == [["1", "big", "direct"], ["2", "small", "direct"]]
    assert [row[6] for row in table[1:]] == ["3", "3"]
    assert float(table[1][4]) <= float(table[1][3]) <= float(table[1][5])
    # Bad tags and formats.
    for body, message in (({"tags": "math"}, "must be a list"), ({"tags": ["a,b"]}, "without commas"),
                          ({"tags": [""]}, "tags[0]"), ({"tags": ["x"] * 33}, "at most 32"),
                          ({}, "the body must be")):
        code, got = await api_error(jp_fetch, "batches", "math", "tags", method="PUT", body=body)
        assert code == 400 and message in got, got
    code, _ = await api_error(jp_fetch, "batches", "nobatch", "tags", method="PUT", body={"tags": []})
    assert code == 404
    code, got = await api_error(jp_fetch, "leaderboard", params={"format": "xml"})
    assert code == 400 and "format" in got
    # Tags and votes go with their batch.
    await api(jp_fetch, "batches", "math", method="DELETE")
    assert len((await api(jp_fetch, "votes"))["votes"]) == 4
    assert (await api(jp_fetch, "leaderboard"))["all_tags"] == ["easy", "poems"]


def test_csv_cells_are_not_formulas():
    text = votes.to_csv([{"rank": 1, "model": "=HYPERLINK(1)", "upstream": "-up", "score": -3.5,
                          "ci_low": None, "ci_high": 2, "votes": 1, "wins": 1, "losses": 0, "ties": 0}])
    row = list(csv.reader(io.StringIO(text)))[1]
    assert row[1] == "'=HYPERLINK(1)" and row[2] == "'-up" and row[3] == "-3.5" and row[4] == ""


@STORE
async def test_an_earlier_store_file_gets_the_votes_tables_at_open(jp_fetch, jp_serverapp, no_unhandled_errors):
    store = the_store(jp_serverapp)
    await store.sync()
    db = sqlite3.connect(store.path)
    tables = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.close()
    assert {"votes", "batch_tags"} <= tables
    # Running the step again is harmless (IF NOT EXISTS).
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE batches (id TEXT PRIMARY KEY)")
    votes.migrate(db)
    votes.migrate(db)
    assert db.execute("SELECT count(*) FROM votes").fetchone() == (0,)
