"""The proxy's own CPU per forwarded token, without a browser or Tornado's WebSocket.

One `Batch` (jupyterlab_fanout/batch.py) with its real upstream client streams N responses
from the simulator, run as its own process as a real upstream would be; the browser's socket
is a function that only counts frames. Prints the proxy process's CPU time per token
(`time.process_time`), median over repeats, and the simulator's own CPU per token beside it
(not counted in the proxy's).

    python benchmarks/proxy_cpu.py [N] [repeats] [--key]  # defaults: 64 responses, 5 repeats

With `--key` the upstream is configured with an API key (the simulator requires it), so the
key scrubber of the relayed stream runs on every chunk.
"""
from __future__ import annotations

import asyncio
import json
import logging
import statistics
import subprocess
import sys
import time
import urllib.request

from jupyterlab_fanout.batch import Batch, UserStreams
from jupyterlab_fanout.config import Fanout, UpstreamSpec
from jupyterlab_fanout.upstream import Upstream

from bench_util import cpu_seconds, free_port

TOKENS = 200
RATE = 50
#: The API key used with `--key`.
KEY = "sk-proxy-cpu-benchmark-0123456789abcdef"


async def one_batch(upstream: Upstream, n: int) -> tuple[float, float, int]:
    ended: set[str] = set()
    frames = 0

    async def send(message: str | bytes) -> None:
        nonlocal frames
        if isinstance(message, bytes):
            frames += 1
        elif json.loads(message)["type"] in ("end", "error", "stopped"):
            ended.add(json.loads(message)["id"])

    log = logging.getLogger("proxy_cpu")
    batch = Batch(fanout=Fanout(), lookup=lambda _: upstream, user="u",
                  user_streams=UserStreams(), send=send, log=log)
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(n):
        batch.handle_message(json.dumps({
            "type": "start", "id": str(i),
            "request": {"messages": [{"role": "user", "content": f"question {i}"}],
                        "max_tokens": TOKENS * 2},
        }))
    while len(ended) < n:
        await asyncio.sleep(0.01)
    return time.process_time() - cpu, time.perf_counter() - wall, frames


async def main(n: int, repeats: int, base_url: str, key: str | None) -> None:
    spec = UpstreamSpec(name="sim", base_urls=(base_url,), api_key=key)
    upstream = Upstream(spec, idle_timeout=60,
                        connect_timeout=5, models_timeout=5, log=logging.getLogger("proxy_cpu"))
    await one_batch(upstream, n)  # warm-up
    per_token = []
    for _ in range(repeats):
        cpu, wall, frames = await one_batch(upstream, n)
        per_token.append(cpu / (n * TOKENS) * 1e6)
        print(f"  {cpu:.3f} s CPU over {wall:.2f} s, {frames} frames: "
              f"{per_token[-1]:.0f} µs per token")
        await asyncio.sleep(0.3)
    await upstream.close()
    print(f"proxy CPU per token, {n} streams × {TOKENS} tokens at {RATE} tokens/s"
          f"{' with an API key' if key else ''}: "
          f"median {statistics.median(per_token):.0f} µs over {repeats} repeats")


if __name__ == "__main__":
    key = KEY if "--key" in sys.argv else None
    args = [a for a in sys.argv[1:] if a != "--key"]
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
        asyncio.run(main(n, repeats, base_url, key))
        print(f"simulator CPU per token (the warm-up and every repeat; reference): "
              f"{(cpu_seconds(simulator.pid) - before) / ((repeats + 1) * n * TOKENS) * 1e6:.0f} µs")
    finally:
        simulator.terminate()
        simulator.wait()
