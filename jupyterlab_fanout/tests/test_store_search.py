"""Search in the batch store (store.py): FTS5 (schema version 2), the upgrade of a version-1
file, the index kept in step with every write, any string a user types, and LIKE without FTS5.

`data/store-v1.sqlite3` was written by the store of schema version 1 (store.py at commit
6d3e989): batch `v1-done` (2 complete responses, renamed "Harbour notes"), `v1-imported`, and
`v1-running` whose attempt was still running (its text only in `chunks`) when it was closed."""
from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from pathlib import Path

import pytest

from ..store import MAX_SEARCH_WORDS, SCHEMA_VERSION, BatchStore, StoreError

V1 = Path(__file__).parent / "data" / "store-v1.sqlite3"
FTS = pytest.mark.parametrize("fts", [None, False], ids=["fts5", "like"])


def open_store(path: Path, **kwargs) -> BatchStore:
    store = BatchStore(str(path), log=logging.getLogger("test"), **kwargs)
    store.open()
    return store


async def found(store: BatchStore, query: str) -> list[str]:
    return [b["id"] for b in await store.list(query, limit=1000)]


def record(store: BatchStore, batch_id: str, prompt: str, text: str, reasoning: str = "",
           wire: str = "1.1", end: bool = True):
    store.batch(batch_id, prompt, {})
    recording = store.start(batch_id, wire, "sim", {"model": "m"})
    assert recording is not None
    for field, value in (("reasoning", reasoning), ("content", text)):
        if value:
            event = {"choices": [{"delta": {field: value}}]}
            recording.data(b"data: " + json.dumps(event).encode() + b"\n\n")
    if end:
        recording.data(b"data: [DONE]\n\n")
        store.end(recording, "end")
    return recording


def index_ok(path: Path) -> None:
    db = sqlite3.connect(path)
    try:
        db.execute("INSERT INTO attempts_fts (attempts_fts) VALUES ('integrity-check')")
        db.execute("INSERT INTO batches_fts (batches_fts) VALUES ('integrity-check')")
        assert db.execute("SELECT count(*) FROM batches_fts").fetchone() == \
            db.execute("SELECT count(*) FROM batches").fetchone()
    finally:
        db.close()


def triggers(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        return {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    finally:
        db.close()


@FTS
async def test_a_version_1_file_is_upgraded_in_place(tmp_path, fts):
    path = tmp_path / "batches.sqlite3"
    shutil.copy(V1, path)
    before = sqlite3.connect(path)
    assert before.execute("PRAGMA user_version").fetchone() == (1,)
    before.close()
    store = open_store(path, fts=fts)
    try:
        assert sorted(await found(store, "")) == ["v1-done", "v1-imported", "v1-running"]
        assert await found(store, "lighthouse") == ["v1-done"]
        assert await found(store, "Harbour") == ["v1-done"]  # the title, and the prompt
        assert await found(store, "tides") == ["v1-done"]  # reasoning
        assert await found(store, "kraken") == ["v1-imported"]
        # The attempt left running was finished from its chunks at open: found too.
        assert await found(store, "submarine") == ["v1-running"]
        assert await found(store, "cafe") == (["v1-done"] if fts is None else [])
        batch = await store.get("v1-done")
        assert batch["title"] == "Harbour notes"
        assert [r["attempts"][0]["text"] for r in batch["responses"]] == [
            "The lighthouse caf\u00e9 opens at dawn.", "Gulls circle the pier."]
        running = (await store.get("v1-running"))["responses"][0]["attempts"][0]
        assert (running["status"], running["text"]) == ("incomplete", "A yellow submarine")
        record(store, "new", "a new one", "fresh words")
        assert await found(store, "fresh") == ["new"]
    finally:
        await store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    if fts is None:
        index_ok(path)
        assert {"attempts_fts_insert", "batches_fts_delete"} <= triggers(path)
    else:
        assert not triggers(path)


@FTS
async def test_a_search_is_the_words_typed_never_a_query_language(tmp_path, fts):
    store = open_store(tmp_path / "b.sqlite3", fts=fts)
    try:
        record(store, "sea", "Write about the SEA", "The kraken sleeps under 100% of the waves.")
        record(store, "jp", "\u65e5\u672c\u8a9e\u306e\u8cea\u554f", "\u3053\u3093\u306b\u3061\u306f "
               "\U0001F600 caf\u00e9 na\u00efve", "AND OR NOT NEAR")
        record(store, "code", "snake_case and -flags", 'print("hi") # a "quoted" * star')
        await store.sync()
        assert await found(store, "kraken") == ["sea"]
        assert await found(store, "KRAKEN") == ["sea"]
        assert await found(store, "krak") == ["sea"]  # a word begun
        assert await found(store, "waves kraken") == ["sea"]  # every word, in any order
        assert await found(store, "sea waves") == ["sea"]  # prompt and text together
        assert await found(store, "kraken quoted") == []
        assert await found(store, "-kraken") == ["sea"]  # not a NOT
        assert await found(store, "kraken*") == ["sea"]
        assert await found(store, '"kraken"') == ["sea"]
        assert await found(store, "kraken OR quoted") == []  # OR is a word here
        assert await found(store, "AND") == ["code", "jp"]  # "and" in a prompt, AND in reasoning
        assert await found(store, "NEAR") == ["jp"]
        assert await found(store, "100%") == ["sea"]
        assert await found(store, "\u65e5\u672c") == ["jp"]
        assert await found(store, "na\u00efve") == ["jp"]
        assert await found(store, "snake") == ["code"]
        assert await found(store, "quoted") == ["code"]
        # Nothing but punctuation: looked for as it is (a literal %, not a wildcard).
        assert await found(store, "%") == ["sea"]
        assert await found(store, "*") == ["code"]
        assert await found(store, '("') == ["code"]
        assert await found(store, "\U0001F600") == ["jp"]
        assert await found(store, "_") == ["code"]
        for query in ['"', '""', "'", "(", ")", "^", ":", "title:kraken", "NEAR(a b)", "a\"b",
                      "\\", "--", "* *", "\x00", "\ud800", "x" * 5000, "a" * 3 + " " + "b" * 3]:
            assert isinstance(await found(store, query), list), query
        assert sorted(await found(store, "")) == ["code", "jp", "sea"]
        assert sorted(await found(store, "   ")) == ["code", "jp", "sea"]
        with pytest.raises(StoreError) as info:
            await found(store, " ".join(["w"] * (MAX_SEARCH_WORDS + 1)))
        assert info.value.status == 400 and str(MAX_SEARCH_WORDS) in info.value.message
    finally:
        await store.close()


@FTS
async def test_the_index_follows_every_write(tmp_path, fts):
    path = tmp_path / "b.sqlite3"
    store = open_store(path, fts=fts, max_batches=3, flush_interval=0.05)
    try:
        running = record(store, "run", "first prompt", "", end=False)
        running.data(b'data: {"choices":[{"delta":{"content":"an octopus appears"}}]}\n\n')
        await store.sync()
        import asyncio
        await asyncio.sleep(0.2)
        await store.sync()
        # Running: its text is in `chunks`, found as flushed (by substring).
        assert await found(store, "octopus") == ["run"]
        assert await found(store, "topu") == ["run"]
        running.data(b'data: {"choices":[{"delta":{"content":" and a squid"}}]}\n\ndata: [DONE]\n\n')
        store.end(running, "end")
        assert await found(store, "squid") == ["run"]
        assert await found(store, "octopus squid") == ["run"]
        # A second attempt of the same response.
        record(store, "run", "first prompt", "a whale this time", wire="1.2")
        assert await found(store, "whale") == ["run"] and await found(store, "squid") == ["run"]

        await store.rename("run", "Sea creatures")
        assert await found(store, "creatures") == ["run"]
        await store.rename("run", "Renamed")
        assert await found(store, "creatures") == [] and await found(store, "renamed") == ["run"]

        await store.import_batch({"id": "imp", "prompt": "imported prompt", "responses": [
            {"id": "1", "attempts": [{"text": "a narwhal", "reasoning": "pondering"}]}]})
        assert await found(store, "narwhal") == ["imp"] and await found(store, "pondering") == ["imp"]

        record(store, "gone", "to delete", "a walrus")
        assert await found(store, "walrus") == ["gone"]
        await store.delete("gone")
        assert await found(store, "walrus") == [] and await found(store, "delete") == []

        # Retention (3 batches at most) deletes the oldest: "run" goes with its attempts.
        record(store, "c", "third", "a seal")
        record(store, "d", "fourth", "a dolphin")
        assert await found(store, "") == ["d", "c", "imp"]
        assert await found(store, "whale") == [] and await found(store, "renamed") == []
        assert await found(store, "dolphin") == ["d"]
    finally:
        await store.close()
    if fts is None:
        index_ok(path)


async def test_without_fts5_the_index_is_left_and_rebuilt_when_fts5_is_back(tmp_path):
    path = tmp_path / "b.sqlite3"
    store = open_store(path)
    record(store, "a", "first", "caf\u00e9 one")
    assert await found(store, "cafe") == ["a"]
    await store.close()
    assert len([t for t in triggers(path) if "_fts_" in t]) == 6

    store = open_store(path, fts=False)  # as a SQLite without FTS5 would
    record(store, "b", "second", "caf\u00e9 two")
    await store.rename("a", "retitled")
    await store.delete("a")
    assert await found(store, "caf\u00e9") == ["b"] and await found(store, "cafe") == []
    await store.close()
    assert not triggers(path)

    store = open_store(path)
    try:
        assert await found(store, "cafe") == ["b"]
        assert store.fts is True
        assert await found(store, "retitled") == []
    finally:
        await store.close()
    index_ok(path)


async def test_lone_surrogates_from_an_upstream_or_a_user_do_not_break_the_store(tmp_path):
    store = open_store(tmp_path / "b.sqlite3", flush_interval=0.05)
    try:
        recording = record(store, "s", "prompt \ud800 here", "", end=False)
        # JSON escapes of surrogates: a pair split over two events, then a lone one.
        recording.data(b'data: {"model":"m\\udc00","choices":[{"delta":{"content":"a \\ud83d"}}]}'
                       b'\n\ndata: {"choices":[{"delta":{"content":"\\ude00 b \\udfff"}}]}\n\n')
        await store.sync()
        recording.data(b"data: [DONE]\n\n")
        store.end(recording, "end")
        await store.rename("s", "title \udc00")
        record(store, "t", "another", "still written")
        attempt = (await store.get("s"))["responses"][0]["attempts"][0]
        assert attempt["text"] == "a \U0001F600 b \ufffd" and attempt["status"] == "complete"
        assert attempt["model"] == "m"  # the request named it (the event's is bound all the same)
        assert (await store.get("s"))["title"] == "title \ufffd"
        assert await found(store, "still") == ["t"]
        assert await found(store, "\ud83d") == ["s"]  # as U+FFFD, which the text holds
        assert store.ok, store.error
    finally:
        await store.close()
