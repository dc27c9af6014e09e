"""The vLLM simulator's own CPU per streamed token, and how closely it keeps its pace.

The simulator runs as its own process, as in the demo and the UI benchmarks; N clients on raw
sockets (in this process, not counted) each stream one completion at the simulator's pace and
read every byte. Prints, per repeat and as medians: the simulator's CPU time per token
(/proc/<pid>/schedstat), its share of one core over the batch, and how late the streams ended
against their schedule (ttft + tokens / rate).

    python benchmarks/simulator_cpu.py [N] [tokens_per_second] [tokens] [repeats]
    # defaults: 64 200 1600 3 (Benchmark 2b's batch: 12,800 tokens a second)

The UI benchmarks run the same load on the same two cores as the browser, so what the
simulator spends there is taken from the page being measured.
"""
from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
import urllib.request

from bench_util import cpu_ns, free_port

TTFT_MS = 100


async def one_stream(port: int, body: bytes) -> tuple[int, float]:
    """Stream one completion to its end; returns (bytes read, seconds)."""
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: simulator\r\n"
                 b"Content-Type: application/json\r\nConnection: close\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    size = 0
    while True:
        data = await reader.read(65536)
        if not data:
            break
        size += len(data)
    writer.close()
    return size, time.perf_counter() - start


async def one_batch(port: int, pid: int, n: int, tokens: int, rate: float) -> dict[str, float]:
    body = json.dumps({"model": "fanout-sim", "stream": True, "max_tokens": tokens,
                       # What the extension asks of vLLM: usage in every chunk.
                       "stream_options": {"include_usage": True,
                                          "continuous_usage_stats": True},
                       "messages": [{"role": "user", "content": "benchmark"}]}).encode()
    before, start = cpu_ns(pid), time.perf_counter()
    results = await asyncio.gather(*(one_stream(port, body) for _ in range(n)))
    wall = time.perf_counter() - start
    cpu = cpu_ns(pid) - before
    expected = TTFT_MS / 1000 + tokens / rate
    late = [seconds - expected for _, seconds in results]
    return {"us_per_token": cpu / (n * tokens) * 1e6, "core_share": cpu / wall,
            "late_ms_median": statistics.median(late) * 1000, "late_ms_max": max(late) * 1000,
            "bytes_per_token": sum(size for size, _ in results) / (n * tokens)}


async def main() -> None:
    args = [float(a) for a in sys.argv[1:]]
    n, rate, tokens, repeats = (list(map(int, args[:1])) or [64])[0], \
        (args[1:2] or [200.0])[0], int((args[2:3] or [1600])[0]), int((args[3:4] or [3])[0])
    port = free_port()
    simulator = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab_fanout.simulator", "--port", str(port),
         "--tokens-per-second", str(rate), "--ttft-ms", str(TTFT_MS),
         "--reasoning-tokens", "0", "--answer-tokens", str(tokens)],
        stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/simulator/config", timeout=1)
                break
            except OSError:
                await asyncio.sleep(0.1)
        await one_batch(port, simulator.pid, n, min(tokens, 200), rate)  # warm-up
        rows = []
        for repeat in range(repeats):
            row = await one_batch(port, simulator.pid, n, tokens, rate)
            rows.append(row)
            print(f"  repeat {repeat + 1}: {row['us_per_token']:.1f} µs per token, "
                  f"{row['core_share']:.0%} of a core, streams late by median "
                  f"{row['late_ms_median']:.0f} ms (max {row['late_ms_max']:.0f}), "
                  f"{row['bytes_per_token']:.0f} bytes per token")
        print(f"simulator, {n} streams × {tokens} tokens at {rate:g} tokens/s each: median "
              f"{statistics.median(r['us_per_token'] for r in rows):.1f} µs CPU per token, "
              f"{statistics.median(r['core_share'] for r in rows):.0%} of a core, "
              f"late by {statistics.median(r['late_ms_median'] for r in rows):.0f} ms "
              f"over {repeats} repeats")
    finally:
        simulator.terminate()
        simulator.wait()


if __name__ == "__main__":
    asyncio.run(main())
