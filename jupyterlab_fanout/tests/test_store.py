"""The batch store (store.py): recording through the real proxy, REST, faults, retention."""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
import tornado.httpclient

from .proxy_fixtures import *  # noqa: F403 - fixtures
from .proxy_fixtures import entry_for, open_batch, wait_record
from .sse import sse_text
from ..store import BatchStore, SSEReader, parse_sse, split_wire_id


def store_in_tmp(request: pytest.FixtureRequest) -> dict[str, Any]:
    path = request.getfixturevalue("tmp_path") / "store" / "batches.sqlite3"
    return {"store_path": str(path)}


STORE = pytest.mark.parametrize("fanout_overrides", [store_in_tmp], indirect=True)


def the_store(jp_serverapp: Any) -> BatchStore:
    return jp_serverapp.web_app.settings["fanout_state"].store


async def api(jp_fetch: Any, *parts: str, method: str = "GET", body: Any = None,
              params: dict | None = None) -> Any:
    kwargs: dict[str, Any] = {"method": method, "params": params or {}}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    response = await jp_fetch("fanout", *parts, **kwargs)
    return json.loads(response.body) if response.body else None


async def api_error(jp_fetch: Any, *parts: str, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await api(jp_fetch, *parts, **kwargs)
    body = info.value.response.body if info.value.response is not None else b"{}"
    return info.value.code, json.loads(body or b"{}").get("message", "")


def finished(entry: dict) -> bool:
    return entry.get("outcome") not in (None, "", "streaming", "pending", "running")


# ------------------------------------------------------------------------ the SSE reader


def test_parse_sse_is_tolerant():
    data = (
        b'data: {"choices":[{"delta":{"role":"assistant","reasoning_content":"th"}}]}\n\n'
        b'data: {"choices":[{"delta":{"reasoning":"ink","reasoning_content":"ink"}}]}\r\n\r\n'
        b"data: not json\n\n: a comment\n\nevent: x\n"
        b'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n'
        b'data: {"choices":[{"delta":{"content":"lo"},"finish_reason":"stop"}],'
        b'"usage":{"completion_tokens":3}}\n\n'
        b"data: [DONE]\n\n"
        b'data: {"choices":[{"delta":{"content":"cut'
    )
    parsed = parse_sse(data)
    assert (parsed.reasoning, parsed.text, parsed.finish_reason) == ("think", "Hello", "stop")
    assert parsed.usage == {"completion_tokens": 3} and parsed.done and parsed.error is None
    error = parse_sse(b'data: {"choices":[{"delta":{"content":"a"}}]}\n\n'
                      b'data: {"error": {"message": "boom", "code": 500}}\n\n')
    assert error.text == "a" and error.error == {"message": "boom", "code": 500}
    assert not error.done


def test_the_reader_is_incremental_wherever_the_bytes_are_cut():
    data = ('data: {"choices":[{"delta":{"reasoning":"hm"}}]}\r\n\r\n'
            'data: {"choices":[{"delta":{"content":"caf\u00e9 \u2603"}}]}\n\n'
            'data: {"choices":[{"delta":{"content":"!"},"finish_reason":"stop"}]}\n\n'
            'data: [DONE]').encode()
    for cut in range(len(data) + 1):
        reader = SSEReader()
        added = [reader.feed(data[:cut]), reader.feed(data[cut:], final=True)]
        assert "".join(a[0] for a in added) == "caf\u00e9 \u2603!", cut
        assert "".join(a[1] for a in added) == "hm", cut
        assert reader.done and reader.finish_reason == "stop" and reader.bytes == len(data)


def test_split_wire_id():
    assert split_wire_id("3.2") == ("3", 2)
    assert split_wire_id("a.b.10") == ("a.b", 10)
    assert split_wire_id("r1") == ("r1", 1)
    assert split_wire_id(".2") == (".2", 1)


# ------------------------------------------------------------------------ recording


@STORE
async def test_a_batch_is_stored_with_every_attempt(
    jp_fetch, jp_ws_fetch, jp_serverapp, simulator, faulty, no_unhandled_errors
):
    simulator.configure(tokens_per_second=200, answer_tokens=60, reasoning_tokens=5)
    faulty.configure(faults=[{"kind": "error", "after_tokens": 3}])
    client = await open_batch(jp_ws_fetch)
    await client.send({"type": "batch", "id": "b-1", "prompt": "Write a poem\nabout the sea",
                       "options": {"n": 3, "temperature": 0.7}})
    await client.start("1.1", messages=[{"role": "user", "content": "Write a poem"}],
                       api_key="sk-not-kept", base_url="http://10.0.0.1/v1")
    await client.start("2.1")
    await client.start("3.1", upstream="faulty")
    await client.wait_bytes("2.1", 200)
    await client.stop("2.1")
    terminals = await client.wait_terminal("1.1", "2.1", "3.1")
    assert [terminals[r]["type"] for r in ("1.1", "2.1")] == ["end", "stopped"]
    await client.close()
    # A re-generate of response 2 on a new socket of the same batch.
    again = await open_batch(jp_ws_fetch)
    await again.send({"type": "batch", "id": "b-1", "prompt": "Write a poem\nabout the sea"})
    await again.start("2.2")
    await again.wait_terminal("2.2")
    await again.close()
    record = await wait_record(simulator, lambda r: len(r) == 3 and all(finished(e) for e in r))

    batch = await api(jp_fetch, "batches", "b-1")
    assert batch["title"] == "Write a poem" and batch["prompt"] == "Write a poem\nabout the sea"
    assert batch["options"] == {"n": 3, "temperature": 0.7}
    assert batch["n"] == 3 and [r["id"] for r in batch["responses"]] == ["1", "2", "3"]
    one, two, three = batch["responses"]
    first = one["attempts"][0]
    assert first["status"] == "complete" and one["status"] == "complete"
    assert first["text"] == entry_for(record, "1.1")["content"]
    assert first["reasoning"] == entry_for(record, "1.1")["reasoning"]
    assert first["finish_reason"] == "length" or first["finish_reason"] == "stop"
    assert first["usage"]["completion_tokens"] > 0
    assert first["upstream"] == "sim" and first["request"]["messages"][0]["content"] == "Write a poem"
    assert {"ttft", "elapsed", "tokens_per_second"} <= set(first["metrics"])
    assert [a["attempt"] for a in two["attempts"]] == [1, 2]
    stopped, redone = two["attempts"]
    assert stopped["status"] == "stopped"
    reasoning, content = sse_text(bytes(client.body["2.1"]))
    assert stopped["text"] == content and stopped["reasoning"] == reasoning
    assert redone["status"] == "complete" and two["status"] == "complete"
    assert redone["text"] == entry_for(record, "2.2")["content"]
    assert three["status"] == "error" and three["attempts"][0]["error"]
    text = json.dumps(batch)
    assert "sk-fanout" not in text and "127.0.0.1" not in text  # no key, no upstream address
    assert "sk-not-kept" not in text and "10.0.0.1" not in text  # only forwarded keys are kept

    listed = (await api(jp_fetch, "batches"))["batches"]
    assert listed == [{"id": "b-1", "title": "Write a poem", "created_at": batch["created_at"],
                       "updated_at": listed[0]["updated_at"], "tags": [], "models": ["fanout-sim"],
                       "n": 3, "counts": {"complete": 2, "error": 1}, "pick": None, "ratings": []}]
    state = await api(jp_fetch, "upstreams")
    assert state["store"] == {"ok": True, "error": None, "path": "batches.sqlite3"}


@STORE
async def test_a_socket_without_batch_message_is_stored_under_its_own_id(
    jp_fetch, jp_ws_fetch, no_unhandled_errors
):
    client = await open_batch(jp_ws_fetch)
    await client.start("r1", messages=[{"role": "system", "content": "be brief"},
                                       {"role": "user", "content": "first question"},
                                       {"role": "assistant", "content": "an answer"},
                                       {"role": "user", "content": "Second question\nmore"}])
    await client.wait_terminal("r1")
    await client.close()
    [summary] = (await api(jp_fetch, "batches"))["batches"]
    assert summary["id"].startswith("s-") and summary["title"] == "Second question"
    batch = await api(jp_fetch, "batches", summary["id"])
    assert batch["prompt"] == "Second question\nmore"
    assert batch["responses"][0]["id"] == "r1" and batch["responses"][0]["status"] == "complete"


@STORE
async def test_batch_message_errors(jp_ws_fetch, no_unhandled_errors):
    client = await open_batch(jp_ws_fetch)
    await client.send({"type": "batch", "id": 5})
    await client.send({"type": "batch", "id": "b", "options": []})
    await client.send({"type": "batch", "id": "b", "prompt": "p"})
    await client.send({"type": "batch", "id": "b", "prompt": "p"})
    await client.wait(lambda: len(client.json_messages(None)) == 3)
    messages = [m["message"] for m in client.json_messages(None)]
    assert "batch 'id' must be a string" in messages[0]
    assert "'options' must be an object" in messages[1]
    assert "'batch' must come once" in messages[2]
    await client.close()


async def test_the_store_is_on_by_default_in_the_data_directory(jp_serverapp):
    """By default the store is a file in the Jupyter data directory (pytest-jupyter's, here)."""
    store = the_store(jp_serverapp)
    assert store is not None and store.path.endswith(os.path.join("fanout", "batches.sqlite3"))
    from jupyter_core.paths import jupyter_data_dir

    assert store.path.startswith(jupyter_data_dir())


@pytest.mark.parametrize("fanout_overrides", [{"store_path": ""}], indirect=True)
async def test_store_disabled(jp_fetch, jp_ws_fetch, jp_serverapp, no_unhandled_errors):
    assert the_store(jp_serverapp) is None
    client = await open_batch(jp_ws_fetch)
    await client.send({"type": "batch", "id": "b", "prompt": "p"})
    await client.start("1.1")
    assert (await client.wait_terminal("1.1"))["1.1"]["type"] == "end"
    await client.close()
    assert (await api(jp_fetch, "upstreams"))["store"] is None
    # The store's own route answers the same without listing the upstreams' models.
    assert await api(jp_fetch, "store") == {"store": None}
    code, message = await api_error(jp_fetch, "batches")
    assert code == 404 and "disabled" in message


# ------------------------------------------------------------------------ REST


async def stream_one(jp_ws_fetch: Any, batch_id: str, prompt: str, n: int = 1) -> None:
    client = await open_batch(jp_ws_fetch)
    await client.send({"type": "batch", "id": batch_id, "prompt": prompt, "options": {"n": n}})
    for i in range(1, n + 1):
        await client.start(f"{i}.1")
    await client.wait_terminal(*(f"{i}.1" for i in range(1, n + 1)))
    await client.close()


@STORE
async def test_list_search_rename_delete_export(
    jp_fetch, jp_ws_fetch, jp_serverapp, simulator, no_unhandled_errors
):
    simulator.configure(answer_tokens=12)
    await stream_one(jp_ws_fetch, "a", "Tell me about <b>cats</b> & dogs", 2)
    await stream_one(jp_ws_fetch, "b", "Second 100% prompt")
    listed = (await api(jp_fetch, "batches"))["batches"]
    assert [b["id"] for b in listed] == ["b", "a"]  # newest first
    assert [b["id"] for b in (await api(jp_fetch, "batches", params={"limit": 1}))["batches"]] == ["b"]
    search = lambda q: api(jp_fetch, "batches", params={"query": q})  # noqa: E731
    assert [b["id"] for b in (await search("cats"))["batches"]] == ["a"]
    assert [b["id"] for b in (await search("100%"))["batches"]] == ["b"]
    assert (await search("%"))["batches"][0]["id"] == "b"  # a literal %, not a wildcard
    assert (await search("no such words"))["batches"] == []
    # The responses' text is searched too.
    text = (await api(jp_fetch, "batches", "a"))["responses"][0]["attempts"][0]["text"]
    word = max(text.split(), key=len)
    assert "a" in [b["id"] for b in (await search(word))["batches"]]

    assert await api(jp_fetch, "batches", "a", method="PATCH", body={"title": " Pets "}) == {
        "id": "a", "title": "Pets"}
    assert (await api(jp_fetch, "batches", "a"))["title"] == "Pets"
    assert (await search("Pets"))["batches"][0]["id"] == "a"
    assert (await api_error(jp_fetch, "batches", "a", method="PATCH", body={"title": ""}))[0] == 400
    assert (await api_error(jp_fetch, "batches", "zz", method="PATCH", body={"title": "x"}))[0] == 404
    assert (await api_error(jp_fetch, "batches", "zz"))[0] == 404
    assert (await api_error(jp_fetch, "batches", params={"limit": "x"}))[0] == 400

    exported = await jp_fetch("fanout", "batches", "a", "export", params={"format": "json"})
    assert json.loads(exported.body) == await api(jp_fetch, "batches", "a")
    assert "attachment" in exported.headers["Content-Disposition"]
    markdown = (await jp_fetch("fanout", "batches", "a", "export",
                               params={"format": "markdown"})).body.decode()
    assert markdown.startswith("# Pets\n") and "Tell me about <b>cats</b> & dogs" in markdown
    assert markdown.count("## Response ") == 2 and text in markdown
    notebook = json.loads((await jp_fetch("fanout", "batches", "a", "export",
                                          params={"format": "notebook"})).body)
    assert notebook["nbformat"] == 4 and len(notebook["cells"]) == 3
    assert all(c["cell_type"] == "markdown" for c in notebook["cells"])
    assert text in notebook["cells"][1]["source"]
    try:
        import nbformat
    except ImportError:
        pass
    else:
        nbformat.validate(nbformat.reads(json.dumps(notebook), as_version=4))
    code, message = await api_error(jp_fetch, "batches", "a", "export", params={"format": "pdf"})
    assert code == 400 and "pdf" in message
    assert (await api_error(jp_fetch, "batches", "zz", "export"))[0] == 404

    await api(jp_fetch, "batches", "a", method="DELETE")
    assert [b["id"] for b in (await api(jp_fetch, "batches"))["batches"]] == ["b"]
    assert (await api_error(jp_fetch, "batches", "a", method="DELETE"))[0] == 404
    db = sqlite3.connect(the_store(jp_serverapp).path)
    assert db.execute("SELECT count(*) FROM attempts WHERE batch_id = 'a'").fetchone() == (0,)
    db.close()


async def test_rest_requires_authentication(jp_fetch, jp_serverapp):
    port = jp_serverapp.port
    client = tornado.httpclient.AsyncHTTPClient()
    for path in ("batches", "batches/x", "batches/x/export"):
        with pytest.raises(tornado.httpclient.HTTPClientError) as info:
            await client.fetch(f"http://127.0.0.1:{port}{jp_serverapp.base_url}fanout/{path}")
        assert info.value.code in (302, 403), path


# ------------------------------------------------------------------------ retention


def fill(store: BatchStore, count: int, text_size: int = 1000) -> None:
    for i in range(count):
        store.batch(f"b{i}", f"prompt {i}", {})
        recording = store.start(f"b{i}", "1.1", "sim", {"model": "m"})
        recording.data(b'data: {"choices":[{"delta":{"content":"%s"}}]}\n\ndata: [DONE]\n\n'
                       % (b"x" * text_size))
        store.end(recording, "end")


async def test_retention_by_count_and_size(tmp_path):
    log = logging.getLogger("test")
    store = BatchStore(str(tmp_path / "count.sqlite3"), log=log, max_batches=3)
    store.open()
    fill(store, 5)
    assert [b["id"] for b in await store.list()] == ["b4", "b3", "b2"]
    await store.close()
    store = BatchStore(str(tmp_path / "size.sqlite3"), log=log, max_bytes=5000)
    store.open()
    fill(store, 10, text_size=1000)  # about 1,300 bytes per batch
    kept = [b["id"] for b in await store.list()]
    assert kept == ["b9", "b8", "b7"], kept
    assert all(b["counts"] == {"complete": 1} for b in await store.list())
    await store.close()


async def test_list_of_a_thousand_batches_is_fast(tmp_path):
    store = BatchStore(str(tmp_path / "many.sqlite3"), log=logging.getLogger("test"))
    store.open()
    fill(store, 1000, text_size=200)
    await store.list()
    t0 = time.perf_counter()
    listed = await store.list(limit=1000)
    assert len(listed) == 1000
    assert time.perf_counter() - t0 < 1.0  # the benchmark holds the 200 ms budget
    await store.close()


# ------------------------------------------------------------------------ faults


def make_unwritable(request: pytest.FixtureRequest) -> dict[str, Any]:
    tmp = request.getfixturevalue("tmp_path")
    blocker = tmp / "not-a-directory"
    blocker.write_text("a file where the store's directory should be")
    return {"store_path": str(blocker / "batches.sqlite3")}


def make_corrupt(request: pytest.FixtureRequest) -> dict[str, Any]:
    tmp = request.getfixturevalue("tmp_path")
    path = tmp / "corrupt" / "batches.sqlite3"
    path.parent.mkdir()
    path.write_bytes(os.urandom(4096) * 3)
    return {"store_path": str(path)}


def make_readonly(request: pytest.FixtureRequest) -> dict[str, Any]:
    tmp = request.getfixturevalue("tmp_path")
    directory = tmp / "readonly"
    directory.mkdir()
    directory.chmod(0o500)
    request.addfinalizer(lambda: directory.chmod(0o700))
    return {"store_path": str(directory / "batches.sqlite3")}


async def streams_fine(jp_ws_fetch: Any) -> None:
    client = await open_batch(jp_ws_fetch)
    await client.send({"type": "batch", "id": "f", "prompt": "p"})
    await client.start("1.1")
    assert (await client.wait_terminal("1.1"))["1.1"]["type"] == "end"
    assert client.body["1.1"]
    await client.close()


@pytest.mark.parametrize(
    "fanout_overrides",
    [make_unwritable,
     pytest.param(make_readonly, marks=pytest.mark.skipif(
         hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes anywhere"))],
    indirect=True,
)
async def test_a_store_that_cannot_be_opened_does_not_break_streaming(
    jp_fetch, jp_ws_fetch, jp_serverapp
):
    await streams_fine(jp_ws_fetch)
    store = the_store(jp_serverapp)
    await store.sync()
    state = (await api(jp_fetch, "upstreams"))["store"]
    assert state["ok"] is False and "cannot be opened" in state["error"]
    assert await api(jp_fetch, "store") == {"store": state}
    assert len(store._logged) == 1  # one error logged, not one per batch
    code, message = await api_error(jp_fetch, "batches")
    assert code == 503 and "unavailable" in message


@pytest.mark.parametrize("fanout_overrides", [make_corrupt], indirect=True)
async def test_a_corrupt_file_is_moved_aside(jp_fetch, jp_ws_fetch, jp_serverapp):
    await streams_fine(jp_ws_fetch)
    store = the_store(jp_serverapp)
    state = (await api(jp_fetch, "upstreams"))["store"]
    assert state["ok"] is True and "moved to batches.sqlite3.corrupt-" in state["error"]
    aside = [p.name for p in Path(store.path).parent.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1
    assert [b["id"] for b in (await api(jp_fetch, "batches"))["batches"]] == ["f"]


@STORE
async def test_a_full_disk_does_not_break_streaming(jp_fetch, jp_ws_fetch, jp_serverapp):
    store = the_store(jp_serverapp)
    await stream_one(jp_ws_fetch, "kept", "already stored")
    await store.call_in_writer(
        lambda db: db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}"))
    client = await open_batch(jp_ws_fetch)
    await client.send({"type": "batch", "id": "lost", "prompt": "x" * 400_000})
    await client.start("1.1", messages=[{"role": "user", "content": "y" * 400_000}])
    assert (await client.wait_terminal("1.1"))["1.1"]["type"] == "end"
    await client.close()
    await store.sync()
    state = (await api(jp_fetch, "upstreams"))["store"]
    assert state["ok"] is False and "full" in state["error"]
    # What was stored before is still there.
    await store.call_in_writer(lambda db: db.execute("PRAGMA max_page_count = 1073741823"))
    ids = [b["id"] for b in (await api(jp_fetch, "batches"))["batches"]]
    assert "kept" in ids
    assert (await api(jp_fetch, "batches", "kept"))["responses"][0]["status"] == "complete"
    # Once there is room again, writing resumes; the state still reports the loss.
    await stream_one(jp_ws_fetch, "later", "after the disk had room")
    assert (await api(jp_fetch, "batches", "later"))["responses"][0]["status"] == "complete"
    assert (await api(jp_fetch, "upstreams"))["store"]["ok"] is False


@STORE
async def test_import_a_batch_in_the_shape_get_answers(jp_fetch, jp_ws_fetch, no_unhandled_errors):
    await stream_one(jp_ws_fetch, "round", "Round trip", 2)
    original = await api(jp_fetch, "batches", "round")
    await api(jp_fetch, "batches", "round", method="DELETE")
    assert await api(jp_fetch, "batches", method="POST", body=original) == {"id": "round"}
    assert await api(jp_fetch, "batches", "round") == original
    code, message = await api_error(jp_fetch, "batches", method="POST", body=original)
    assert code == 409 and "already exists" in message
    # What an earlier version kept in the workspace: only some fields.
    minimal = {"id": "old-1", "prompt": "From the workspace\nsecond line", "created_at": 1000.0,
               "responses": [{"id": "1", "attempts": [{"text": "kept", "status": "running",
                                                       "model": "m"}]}]}
    await api(jp_fetch, "batches", method="POST", body=minimal)
    old = await api(jp_fetch, "batches", "old-1")
    assert old["title"] == "From the workspace" and old["created_at"] == 1000.0
    [attempt] = old["responses"][0]["attempts"]
    assert attempt["text"] == "kept" and attempt["status"] == "incomplete"
    assert [b["id"] for b in (await api(jp_fetch, "batches"))["batches"]][-1] == "old-1"
    for body, where in (([], "JSON object"), ({"id": ""}, "'id'"),
                        ({"id": "x", "responses": [{"attempts": []}]}, "attempts"),
                        ({"id": "x", "responses": [{"attempts": [{"text": 5}]}]}, "text")):
        code, message = await api_error(jp_fetch, "batches", method="POST", body=body)
        assert code == 400 and where in message, (body, message)


async def test_an_import_sqlite_refuses_fails_alone(tmp_path):
    from ..store import StoreError

    store = BatchStore(str(tmp_path / "imp.sqlite3"), log=logging.getLogger("test"))
    store.open()
    bad = {"id": "bad", "prompt": "p", "responses": [{"id": "1", "attempts": [{"text": "\ud800"}]}]}
    with pytest.raises(StoreError) as info:
        await store.import_batch(bad)
    assert info.value.status == 400
    fill(store, 1)
    assert [b["id"] for b in await store.list()] == ["b0"] and store.ok
    await store.close()


async def test_close_flushes_what_is_pending(tmp_path):
    """stop_extension closes the store: bytes not flushed yet are written, nothing is lost."""
    path = str(tmp_path / "close.sqlite3")
    store = BatchStore(path, log=logging.getLogger("test"), flush_interval=60)
    store.open()
    store.batch("c", "p", {})
    recording = store.start("c", "1.1", "sim", {})
    recording.data(b'data: {"choices":[{"delta":{"content":"not yet flushed"}}]}\n\n')
    await store.close()
    again = BatchStore(path, log=logging.getLogger("test"))
    again.open()
    [attempt] = (await again.get("c"))["responses"][0]["attempts"]
    assert attempt["text"] == "not yet flushed" and attempt["status"] == "incomplete"
    await again.close()


# ------------------------------------------------------------------------ options


def store_without_process_or_index(request: pytest.FixtureRequest) -> dict[str, Any]:
    return {**store_in_tmp(request), "store_reader_process": False, "store_search_index": False}


@pytest.mark.parametrize("fanout_overrides", [store_without_process_or_index], indirect=True)
async def test_reader_process_and_search_index_can_be_turned_off(
    jp_fetch, jp_ws_fetch, jp_serverapp, simulator, no_unhandled_errors
):
    """`c.Fanout.store_reader_process = False`: no reader process, the writer reads the bytes;
    `c.Fanout.store_search_index = False`: no FTS5 table, search by substrings still works."""
    store = the_store(jp_serverapp)
    await stream_one(jp_ws_fetch, "opts", "Tell me about otters")
    await store.sync()
    assert store.parse_process is False and store.reader_pid is None
    assert store.fts is False
    tables = await store.call_in_writer(lambda db: [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE name LIKE '%fts%'")])
    assert tables == []
    text = (await api(jp_fetch, "batches", "opts"))["responses"][0]["attempts"][0]["text"]
    assert text  # read by the writer thread
    word = text.split()[0].strip(".,;:!?")[1:]  # a substring (LIKE finds it; FTS5 prefixes would not)
    found = (await api(jp_fetch, "batches", params={"query": word}))["batches"]
    assert [b["id"] for b in found] == ["opts"]


@STORE
async def test_reader_process_and_search_index_are_on_by_default(
    jp_fetch, jp_ws_fetch, jp_serverapp, simulator, no_unhandled_errors
):
    store = the_store(jp_serverapp)
    await stream_one(jp_ws_fetch, "defaults", "p")
    await store.sync()
    assert store.parse_process is True and store.reader_pid is not None
    assert store.fts is True
