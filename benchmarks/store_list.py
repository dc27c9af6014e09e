"""How long `GET fanout/batches` takes on a store of 1,000 batches, through a real Jupyter server.

Fills a store (`jupyterlab_fanout/store.py`, a SQLite file in a temporary directory) with
1,000 batches of 8 responses (about 2,000 characters of text and 500 of reasoning each), starts
a Jupyter server with the extension on it (its own process), and times the listing over HTTP:
every batch (`limit=1000`), the first page (the default `limit`, 100), and searches over all
1,000 (`limit=1000`): a word that is nowhere, a word in every batch's text, a word in 10
batches, the beginning of that word, two words. Medians over repeats; budget 200 ms.
Search is FTS5 where the store has it (schema version 2), LIKE before it.

    python benchmarks/store_list.py [batches] [repeats]   # defaults: 1000, 20
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from jupyterlab_fanout.store import BatchStore

from bench_util import free_port

RESPONSES = 8
WORDS = ["tide", "harbour", "gull", "salt", "wave", "anchor", "mist", "shore", "keel", "sail"]


def chunk(field: str, text: str) -> bytes:
    event = {"model": "bench-model", "choices": [{"index": 0, "delta": {field: text}}]}
    return f"data: {json.dumps(event)}\n\n".encode()


async def fill(path: str, batches: int) -> None:
    store = BatchStore(path, log=logging.getLogger("store_list"), max_batches=0, max_bytes=0)
    store.open()
    for b in range(batches):
        batch_id = f"bench-{b:05d}"
        store.batch(batch_id, f"Prompt number {b}: write about the sea\nin detail",
                    {"n": RESPONSES, "temperature": 0.7})
        for r in range(1, RESPONSES + 1):
            recording = store.start(batch_id, f"{r}.1", "sim", {
                "model": "bench-model", "max_tokens": 512,
                "messages": [{"role": "user", "content": f"Prompt number {b}"}]})
            assert recording is not None
            text = " ".join(WORDS[(b + r + i) % len(WORDS)] for i in range(400))
            if b % 100 == 0 and r == RESPONSES:
                text += " narwhal"
            recording.data(chunk("reasoning", "thinking " * 55))
            recording.data(chunk("content", text))
            recording.data(b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],'
                           b'"usage":{"completion_tokens":512}}\n\ndata: [DONE]\n\n')
            store.end(recording, "end")
        if b % 100 == 99:
            await store.sync()
    await store.close()


def main(batches: int, repeats: int) -> None:
    directory = tempfile.mkdtemp(prefix="store_list-")
    path = os.path.join(directory, "batches.sqlite3")
    t0 = time.perf_counter()
    asyncio.run(fill(path, batches))
    print(f"filled {batches} batches × {RESPONSES} responses in {time.perf_counter() - t0:.1f} s;"
          f" file {os.path.getsize(path) / 1e6:.1f} MB")
    port, token = free_port(), secrets.token_hex(16)
    config = os.path.join(directory, "config")
    os.mkdir(config)
    with open(os.path.join(config, "jupyter_server_config.json"), "w") as f:
        json.dump({"ServerApp": {"jpserver_extensions": {"jupyterlab_fanout": True}},
                   "Fanout": {"store_path": path, "store_max_batches": 0,
                              "store_max_bytes": 0}}, f)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=config,
               JUPYTER_DATA_DIR=os.path.join(directory, "data"),
               JUPYTER_RUNTIME_DIR=os.path.join(directory, "rt"))
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1", "--allow-root",
         f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={directory}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}/fanout/batches"
        headers = {"Authorization": f"token {token}"}
        for _ in range(200):
            try:
                urllib.request.urlopen(urllib.request.Request(base + "?limit=1", headers=headers),
                                       timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)
        cases = {"every batch (limit=1000)": "?limit=1000", "first page (default limit 100)": "",
                 "search, a word nowhere": "?limit=1000&query=kraken",
                 "search, a word in every batch": "?limit=1000&query=harbour",
                 "search, a word in 10 batches": "?limit=1000&query=narwhal",
                 "search, its beginning": "?limit=1000&query=narwh",
                 "search, two words": "?limit=1000&query=sea%20narwhal"}
        for name, query in cases.items():
            times, count = [], 0
            for _ in range(repeats):
                t = time.perf_counter()
                body = urllib.request.urlopen(
                    urllib.request.Request(base + query, headers=headers), timeout=30).read()
                times.append((time.perf_counter() - t) * 1000)
                count = len(json.loads(body)["batches"])
            print(f"GET fanout/batches, {name}: {count} summaries, median"
                  f" {statistics.median(times):.1f} ms (min {min(times):.1f}, max"
                  f" {max(times):.1f}) over {repeats} repeats; budget 200 ms")
    finally:
        server.terminate()
        server.wait(20)
        for root, dirs, files in os.walk(directory, topdown=False):
            for name in files:
                os.remove(os.path.join(root, name))
            for name in dirs:
                os.rmdir(os.path.join(root, name))
        os.rmdir(directory)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else 1000, int(args[1]) if len(args) > 1 else 20)
