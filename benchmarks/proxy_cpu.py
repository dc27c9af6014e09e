"""The proxy's own CPU per forwarded token, without a browser or Tornado's WebSocket.

One `Batch` (jupyterlab_fanout/batch.py, in a `BatchRegistry`) with its real upstream client
streams N responses from the simulator, run as its own process as a real upstream would be; the
browser's socket is one `Subscriber` (subscriber.py) whose send is a function that only counts
frames. Prints the proxy process's CPU time per token
(`time.process_time`), median over repeats, and the simulator's own CPU per token beside it
(not counted in the proxy's).

    python benchmarks/proxy_cpu.py [N] [repeats] [--key] [--no-store] [--rate=R]
    # defaults: 64, 5, 50 tokens/s a stream

With `--key` the upstream is configured with an API key (the simulator requires it), so the
key scrubber of the relayed stream runs on every chunk.

Each repeat runs the batch twice, alternated: without the batch store and with it (a
`BatchStore` on a SQLite file in a temporary directory, its writer thread's CPU counted: it
is the same process; the CPU of the store's reader process, which reads the SSE bytes, is
printed apart and added in the total). Per token it also prints the event loop thread's and
the writer thread's CPU (`time.thread_time`, the thread's CPU clock). Prints both medians, their ratio (budget: 1.25) and the bytes the store
keeps on disk per generated token (after the batches ended: parsed text, requests, metadata;
the raw SSE bytes are dropped once an attempt is parsed). `--no-store` skips the store runs.

It also prints the memory the batch keeps per token for a later `attach` once it has ended
(each response's replay, deflate-compressed: jupyterlab_fanout/replay.py; while a response
runs, its compressor's state, about 330 KB, comes on top).
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from jupyterlab_fanout.batch import UserStreams
from jupyterlab_fanout.config import Fanout, UpstreamSpec
from jupyterlab_fanout.registry import BatchRegistry
from jupyterlab_fanout.store import BatchStore
from jupyterlab_fanout.subscriber import Subscriber
from jupyterlab_fanout.upstream import Upstream

from bench_util import cpu_ns, cpu_seconds, free_port

TOKENS = 200
RATE = 50
for _flag in sys.argv[1:]:  # --rate=R: each stream's pace in tokens a second (Benchmark 2b: 200)
    if _flag.startswith("--rate="):
        RATE = float(_flag.split("=", 1)[1])
#: Bytes the last batch kept for replay once ended (its responses' compressed replays).
KEPT: list[int] = []
#: The API key used with `--key`.
KEY = "sk-proxy-cpu-benchmark-0123456789abcdef"


def thread_cpu(thread: threading.Thread | None) -> float:
    """CPU seconds a thread of this process has used (0 for none)."""
    if thread is None or thread.ident is None:
        return 0.0
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


async def one_batch(upstream: Upstream, n: int, store: BatchStore | None = None
                    ) -> tuple[float, float, int, float, float, float]:
    """(process CPU, wall time, frames, event loop thread CPU, store writer thread CPU, the
    store's reader process CPU)."""
    ended: set[str] = set()
    frames = 0

    async def send(message: str | bytes) -> None:
        nonlocal frames
        if isinstance(message, bytes):
            frames += 1
        elif json.loads(message)["type"] in ("end", "error", "stopped"):
            ended.add(json.loads(message)["id"])

    log = logging.getLogger("proxy_cpu")
    fanout = Fanout()
    registry = BatchRegistry(fanout=fanout, lookup=lambda _: upstream,
                             user_streams=UserStreams(), log=log, store=store)
    batch = Subscriber(registry=registry, fanout=fanout, user="u", send=send, log=log)
    writer = store._thread if store is not None else None
    reader = store.reader_pid if store is not None else None
    reader_cpu = cpu_ns(reader) if reader else 0.0
    cpu, wall = time.process_time(), time.perf_counter()
    loop_cpu, writer_cpu = time.thread_time(), thread_cpu(writer)
    batch.handle_message(json.dumps({"type": "batch", "id": f"bench-{time.time_ns()}",
                                     "prompt": "question", "options": {"n": n}}))
    for i in range(n):
        batch.handle_message(json.dumps({
            "type": "start", "id": str(i),
            "request": {"messages": [{"role": "user", "content": f"question {i}"}],
                        "max_tokens": TOKENS * 2},
        }))
    while len(ended) < n:
        await asyncio.sleep(0.01)
    if store is not None:
        await store.sync()  # the parse of every ended attempt is counted
    elapsed = (time.process_time() - cpu, time.perf_counter() - wall, frames,
               time.thread_time() - loop_cpu, thread_cpu(writer) - writer_cpu,
               (cpu_ns(reader) - reader_cpu) if reader else 0.0)
    assert batch.batch is not None
    KEPT.append(batch.batch.kept_bytes())
    batch.close()
    await registry.close()
    return elapsed


def disk_bytes(path: str) -> int:
    return sum(os.path.getsize(path + s) for s in ("", "-wal") if os.path.exists(path + s))


async def main(n: int, repeats: int, base_url: str, key: str | None, with_store: bool) -> None:
    spec = UpstreamSpec(name="sim", base_urls=(base_url,), api_key=key)
    upstream = Upstream(spec, idle_timeout=60,
                        connect_timeout=5, models_timeout=5, log=logging.getLogger("proxy_cpu"))
    directory = tempfile.mkdtemp(prefix="proxy_cpu_store-")
    path = os.path.join(directory, "batches.sqlite3")
    store = None
    if with_store:
        store = BatchStore(path, log=logging.getLogger("proxy_cpu"))
        store.open()
    await one_batch(upstream, n)  # warm-up
    if store is not None:
        await one_batch(upstream, n, store)
    results: dict[str, list[float]] = {"off": [], "on": []}
    loop: dict[str, list[float]] = {"off": [], "on": []}
    writer: list[float] = []
    reader: list[float] = []
    total: list[float] = []
    tokens = n * TOKENS
    for _ in range(repeats):
        for mode in ("off", "on") if store is not None else ("off",):
            cpu, wall, frames, loop_cpu, writer_cpu, reader_cpu = await one_batch(
                upstream, n, store if mode == "on" else None)
            results[mode].append(cpu / tokens * 1e6)
            loop[mode].append(loop_cpu / tokens * 1e6)
            if mode == "on":
                writer.append(writer_cpu / tokens * 1e6)
                reader.append(reader_cpu / tokens * 1e6)
                total.append((cpu + reader_cpu) / tokens * 1e6)
            print(f"  store {mode:3}: {cpu:.3f} s CPU over {wall:.2f} s, {frames} frames: "
                  f"{results[mode][-1]:.1f} µs per token (event loop thread "
                  f"{loop[mode][-1]:.1f}" + (f", store writer thread {writer[-1]:.1f}; the"
                                              f" store's reader process {reader[-1]:.1f}"
                                              if mode == "on" else "") + ")")
            await asyncio.sleep(0.3)
    await upstream.close()
    print(f"kept for attach: {KEPT[-1] / (n * TOKENS):.0f} bytes per token"
          f" ({KEPT[-1]} bytes for {n} × {TOKENS} tokens, released when the batch is dropped)")
    off = statistics.median(results["off"])
    print(f"proxy CPU per token, {n} streams × {TOKENS} tokens at {RATE} tokens/s"
          f"{' with an API key' if key else ''}: "
          f"median {off:.1f} µs over {repeats} repeats (store off)")
    if store is not None:
        on = statistics.median(results["on"])
        await store.close()
        stored_tokens = (repeats + 1) * n * TOKENS
        paired = statistics.median(b / a for a, b in zip(results["off"], results["on"]))
        print(f"  with the batch store: median {on:.1f} µs; ratio on/off {on / off:.2f} of the"
              f" medians, {paired:.2f} median of each repeat's pair (budget 1.25)")
        print(f"  per token, medians: event loop thread {statistics.median(loop['off']):.1f} µs"
              f" (store off) / {statistics.median(loop['on']):.1f} µs (store on); the store's"
              f" writer thread {statistics.median(writer):.1f} µs")
        if any(reader):
            both = statistics.median(total)
            print(f"  the store's reader process (not in the proxy's CPU above): median"
                  f" {statistics.median(reader):.1f} µs per token; proxy and reader process"
                  f" together {both:.1f} µs, {both / off:.2f} × store off")
        print(f"  bytes on disk per generated token: {disk_bytes(path) / stored_tokens:.1f}"
              f" ({disk_bytes(path)} bytes for {repeats + 1} batches of {n} × {TOKENS} tokens)")
        for name in os.listdir(directory):
            os.remove(os.path.join(directory, name))
        os.rmdir(directory)


if __name__ == "__main__":
    key = KEY if "--key" in sys.argv else None
    with_store = "--no-store" not in sys.argv
    args = [a for a in sys.argv[1:] if a not in ("--key", "--no-store")
            and not a.startswith("--rate=")]
    n = int(args[0]) if len(args) > 0 else 64
    repeats = int(args[1]) if len(args) > 1 else 5
    port = free_port()
    simulator = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab_fanout.simulator", "--port", str(port),
         "--ttft-ms", "100", "--reasoning-tokens", "0", "--answer-tokens", str(TOKENS),
         "--tokens-per-second", str(RATE), *(["--api-key", key] if key else [])],
        stdout=subprocess.DEVNULL,
    )
    try:
        base_url = f"http://127.0.0.1:{port}/v1"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/simulator/config", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        before = cpu_seconds(simulator.pid)
        runs = 1 + (repeats * 2 + 1 if with_store else repeats)
        asyncio.run(main(n, repeats, base_url, key, with_store))
        print(f"simulator CPU per token (the warm-up and every repeat; reference): "
              f"{(cpu_seconds(simulator.pid) - before) / (runs * n * TOKENS) * 1e6:.0f} µs")
    finally:
        simulator.terminate()
        simulator.wait()
