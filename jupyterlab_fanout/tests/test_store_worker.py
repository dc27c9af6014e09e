"""The batch store's reader process (store.py `ParseWorker`, store_worker.py): the same text
as reading in the server, replaced by reading in the server when it dies, gone with the store."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ..store import BatchStore

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


def events(i: int) -> list[bytes]:
    out = []
    for k in range(40):
        field = "reasoning_content" if k < 10 else "content"
        event = {"id": f"c{i}", "model": "m", "choices": [
            {"index": 0, "delta": {field: f" w{k} caf\u00e9 \"q\"\n"}, "finish_reason": None}],
            "usage": {"prompt_tokens": 3, "completion_tokens": k + 1}}
        out.append(b"data: " + json.dumps(event).encode() + b"\n\n")
    out.append(b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}\n\n'
               b"data: [DONE]\n\n")
    return out


async def record_some(store: BatchStore) -> None:
    store.batch("b", "prompt", {})
    recordings = [store.start("b", f"{i}.1", "sim", {"model": "m"}) for i in range(1, 4)]
    for k in range(41):
        for i, recording in enumerate(recordings, 1):
            data = events(i)[k]
            recording.data(data[:7])  # cut anywhere: lines wait for their end
            recording.data(data[7:])
        if k % 10 == 0:
            await asyncio.sleep(0.06)  # a few flushes
    for recording in recordings:
        store.end(recording, "end")
    await store.sync()


async def test_the_reader_process_reads_what_the_server_reads(tmp_path: Path):
    got = {}
    for parse_process in (True, False):
        store = BatchStore(str(tmp_path / f"{parse_process}.sqlite3"), log=logging.getLogger("t"),
                           flush_interval=0.05, parse_process=parse_process)
        store.open()
        try:
            await record_some(store)
            assert (store.reader_pid is not None) == parse_process
            batch = await store.get("b")
        finally:
            await store.close()
        got[parse_process] = [
            {k: a[k] for k in ("text", "reasoning", "usage", "finish_reason", "status", "model")}
            | {"bytes": a["metrics"]["bytes"]}
            for r in batch["responses"] for a in r["attempts"]]
    assert got[True] == got[False]
    first = got[True][0]
    assert first["status"] == "complete" and first["finish_reason"] == "length"
    assert first["text"].count("caf\u00e9 \"q\"\n") == 30 and first["reasoning"].count(" w") == 10
    assert first["usage"] == {"prompt_tokens": 3, "completion_tokens": 40}


async def test_a_reader_process_that_dies_is_replaced_by_reading_here(tmp_path: Path, caplog):
    store = BatchStore(str(tmp_path / "b.sqlite3"), log=logging.getLogger("t"),
                       flush_interval=0.05)
    store.open()
    try:
        store.batch("b", "prompt", {})
        recording = store.start("b", "1.1", "sim", {"model": "m"})
        recording.data(b'data: {"choices":[{"delta":{"content":"before "}}]}\n\n')
        await asyncio.sleep(0.2)
        await store.sync()
        pid = store.reader_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await asyncio.sleep(0.1)
        recording.data(b'data: {"choices":[{"delta":{"content":"after"}}]}\n\ndata: [DONE]\n\n')
        store.end(recording, "end")
        await store.sync()
        attempt = (await store.get("b"))["responses"][0]["attempts"][0]
        assert attempt["text"] == "before after" and attempt["status"] == "complete"
        assert store.ok and store.reader_pid is None
        assert "reader process failed" in caplog.text
    finally:
        await store.close()


async def test_the_reader_process_ends_with_the_store(tmp_path: Path):
    store = BatchStore(str(tmp_path / "b.sqlite3"), log=logging.getLogger("t"))
    store.open()
    await store.sync()
    worker = store._worker
    assert worker is not None and worker.proc.poll() is None
    await store.close()
    assert worker.proc.poll() is not None


async def test_hostile_bytes_neither_stop_the_reader_process_nor_the_store(tmp_path: Path):
    import random
    rng = random.Random(7)
    store = BatchStore(str(tmp_path / "b.sqlite3"), log=logging.getLogger("t"),
                       flush_interval=0.02)
    store.open()
    try:
        store.batch("h", "hostile", {})
        recording = store.start("h", "1.1", "sim", {"model": "m"})
        junk = [b"data: " + b"[" * 100000 + b"\n\n",  # too deep for json
                b"data: {\"choices\":[{\"delta\":{\"content\":\"\\ud800 ok\"}}]}\n\n",
                b"data: \xff\xfe{}\n\n", b"data: " + bytes(rng.randrange(256) for _ in range(5000)),
                b"\n\n" + b"x" * 200000 + b"\n", b"data: {\"error\": 3}\n\n"]
        for piece in junk:
            recording.data(piece)
            await asyncio.sleep(0.05)
        recording.data(b'data: {"choices":[{"delta":{"content":" end"}}]}\n\ndata: [DONE]\n\n')
        pid = store.reader_pid
        store.end(recording, "end")
        await store.sync()
        attempt = (await store.get("h"))["responses"][0]["attempts"][0]
        assert attempt["text"] == "\ufffd ok end"
        assert attempt["status"] == "error" and attempt["error"] == {"message": "3"}
        assert store.ok and store.reader_pid == pid is not None
    finally:
        await store.close()


SHUTDOWN_SCRIPT = """
import asyncio, logging, os, signal, sys
from jupyterlab_fanout.store import BatchStore

async def main():
    signal.signal(signal.SIGTERM, lambda *_: None)  # a server shutting down on SIGTERM
    logging.basicConfig(level=logging.ERROR, stream=sys.stdout)
    store = BatchStore(sys.argv[1], log=logging.getLogger("t"), flush_interval=0.05)
    store.open()
    store.batch("b", "prompt", {})
    recording = store.start("b", "1.1", "sim", {"model": "m"})
    recording.data(b'data: {"choices":[{"delta":{"content":"before "}}]}\\n\\n')
    await store.sync()
    assert store.reader_pid is not None
    os.killpg(os.getpgid(0), signal.SIGTERM)  # to the whole group, as a supervisor does
    await asyncio.sleep(0.2)
    recording.data(b'data: {"choices":[{"delta":{"content":"after"}}]}\\n\\ndata: [DONE]\\n\\n')
    store.end(recording, "end")
    await store.sync()
    attempt = (await store.get("b"))["responses"][0]["attempts"][0]
    print("TEXT", repr(attempt["text"]), attempt["status"], store.reader_pid is not None)
    await store.close()

asyncio.run(main())
"""


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs process groups")
def test_a_signal_to_the_servers_process_group_leaves_the_reader_process_to_the_end(
        tmp_path: Path):
    """A supervisor's SIGTERM (or Ctrl-C) reaches every process of the server's group; the
    reader process is in a session of its own, so the server's shutdown still reads its last
    bytes there, with no error logged."""
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", SHUTDOWN_SCRIPT, str(tmp_path / "b.sqlite3")],
        cwd=root, capture_output=True, text=True, timeout=60, start_new_session=True)
    assert result.returncode == 0, result.stderr
    assert "TEXT 'before after' complete True" in result.stdout
    assert "reader process failed" not in result.stdout + result.stderr
