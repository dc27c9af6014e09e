"""Crash safety of the batch store: a Jupyter server in its own process, SIGKILLed in the
middle of a long batch; the store is then reopened."""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest
import tornado.websocket

from ..store import BatchStore, parse_sse
from .processes import SimulatorProcess, jupyter_server_process
from .proxy_fixtures import BatchClient

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


def alive(pid: str) -> bool:
    """A process that has not exited (a zombie, not reaped yet, has)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


async def test_sigkill_mid_batch_loses_at_most_about_a_second(
    simulator: SimulatorProcess, tmp_path: Path
):
    simulator.configure(tokens_per_second=50, ttft_ms=0, reasoning_tokens=10,
                        answer_tokens=2000)
    store_path = tmp_path / "store" / "batches.sqlite3"
    n = 8
    fanout = {"upstreams": {"sim": {"base_urls": [simulator.base_url]}},
              "default_upstream": "sim", "store_path": str(store_path)}
    with jupyter_server_process(tmp_path, fanout) as server:
        port, token, proc = server.port, server.token, server.proc
        ws = await tornado.websocket.websocket_connect(
            f"ws://127.0.0.1:{port}/fanout/batch?token={token}")
        client = BatchClient(ws)
        await client.send({"type": "batch", "id": "long", "prompt": "a long one"})
        for i in range(1, n + 1):
            await client.start(f"{i}.1", max_tokens=4000)
        await client.wait(lambda: all(len(client.body.get(f"{i}.1", b"")) > 0
                                      for i in range(1, n + 1)))
        await asyncio.sleep(3.0)
        # What the browser had 1.5 s before the kill must be in the store.
        before = {rid: bytes(body) for rid, body in client.body.items()}
        await asyncio.sleep(1.5)
        # Children of any of its threads (the store's writer thread starts the reader).
        workers = [pid for task in Path(f"/proc/{proc.pid}/task").glob("*")
                   for pid in (task / "children").read_text().split()]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        at_kill = {rid: bytes(body) for rid, body in client.body.items()}
        await client.close()

    # The store's reader process (a child of the server) ends with it: its stdin closed.
    for _ in range(100):
        if not any(map(alive, workers)):
            break
        await asyncio.sleep(0.1)
    assert workers and not any(map(alive, workers)), workers
    db = sqlite3.connect(store_path)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    store = BatchStore(str(store_path), log=logging.getLogger("test"))
    store.open()
    try:
        batch = await store.get("long")
    finally:
        await store.close()
    assert batch["prompt"] == "a long one" and batch["n"] == n
    for response in batch["responses"]:
        [attempt] = response["attempts"]
        rid = f"{response['id']}.1"
        assert attempt["status"] == "incomplete", attempt["status"]
        # Why, for the browser to show: not left `running` (which it would try to reattach).
        assert attempt["error"]["code"] == "server_died", attempt["error"]
        assert "killed or crashed" in attempt["error"]["message"]
        stored = attempt["text"]
        sent_then = parse_sse(before[rid]).text
        sent_at_kill = parse_sse(at_kill[rid]).text
        # The store holds a prefix of what the browser got, at least what it had 1.5 s before.
        assert sent_at_kill.startswith(stored)
        assert len(stored) >= len(sent_then) > 0, (len(stored), len(sent_then))
        assert attempt["reasoning"]
    assert time.time() - batch["created_at"] < 120
