"""What starting a batch costs the Jupyter server: CPU per response, through the real path.

A Jupyter server with jupyterlab-fanout (its own process, the simulator as its upstream,
itself a process) receives N `start` messages on one batch WebSocket, sent at once by a
client that does no more than the browser's worker would. Each response asks for one token,
so the server's work is almost all start-up: the WebSocket message, checks, the upstream
connection and request, the response head, `open` and `end`. Prints the server process's
CPU per response (median over repeats) and how long after the first `start` every response
was open and every one had ended; the simulator's share of that wait is its own.

    python benchmarks/proxy_starts.py [N] [repeats]      # defaults: 64 responses, 20 repeats
"""
from __future__ import annotations

import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from tornado.websocket import websocket_connect

from bench_util import cpu_seconds, free_port


def wait_for(url: str) -> None:
    for _ in range(300):
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


async def one_batch(ws_url: str, n: int) -> tuple[float, float]:
    """Milliseconds from the first start until all were open, and until all had ended."""
    ws = await websocket_connect(ws_url)
    start = time.perf_counter()
    for i in range(n):
        ws.write_message(json.dumps({
            "type": "start", "id": f"r{i}",
            "request": {"messages": [{"role": "user", "content": "Explain attention."}],
                        "max_tokens": 1, "seed": random.randrange(10**9)},
        }))
    opened = ended = 0
    all_open = float("nan")
    while ended < n:
        message = await ws.read_message()
        if message is None:
            raise RuntimeError("the server closed the batch socket")
        if isinstance(message, str):
            kind = json.loads(message)["type"]
            if kind == "open":
                opened += 1
                if opened == n:
                    all_open = time.perf_counter()
            elif kind in ("end", "error", "stopped"):
                if kind == "error":
                    raise RuntimeError(f"a response failed: {message}")
                ended += 1
    all_ended = time.perf_counter()
    ws.close()
    return (all_open - start) * 1000, (all_ended - start) * 1000


async def main(n: int, repeats: int, server_pid: int, ws_url: str) -> None:
    await one_batch(ws_url, n)  # warm-up (and the upstream connections)
    opens, ends = [], []
    cpu = 0.0  # summed over the batches only, not the pauses between them
    for _ in range(repeats):
        await asyncio.sleep(0.3)
        before = cpu_seconds(server_pid)
        all_open, all_ended = await one_batch(ws_url, n)
        await asyncio.sleep(0.05)  # the server's own clean-up after the last `end`
        cpu += cpu_seconds(server_pid) - before
        opens.append(all_open)
        ends.append(all_ended)
    per_response = cpu / (repeats * n) * 1e6
    print(f"{n} responses of 1 token on one batch socket, {repeats} repeats: "
          f"Jupyter server CPU {per_response:.0f} µs per response; all open after "
          f"{statistics.median(opens):.1f} ms, all ended after {statistics.median(ends):.1f} ms "
          f"(medians)")


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    sim_port, lab_port = free_port(), free_port()
    upstreams = json.dumps({"simulator": {"base_urls": [f"http://127.0.0.1:{sim_port}/v1"]}})
    with tempfile.TemporaryDirectory() as root:
        simulator = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab_fanout.simulator", "--port", str(sim_port),
             "--ttft-ms", "100", "--reasoning-tokens", "0", "--answer-tokens", "200"],
            stdout=subprocess.DEVNULL,
        )
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={lab_port}",
             f"--ServerApp.root_dir={root}", "--IdentityProvider.token=",
             "--ServerApp.password=", "--ServerApp.log_level=WARN", "--allow-root",
             f"--Fanout.upstreams={upstreams}", "--Fanout.default_upstream=simulator"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(f"http://127.0.0.1:{sim_port}/v1/models")
            wait_for(f"http://127.0.0.1:{lab_port}/fanout/upstreams")
            asyncio.run(main(n, repeats, server.pid, f"ws://127.0.0.1:{lab_port}/fanout/batch"))
        finally:
            for process in (server, simulator):
                process.terminate()
                process.wait()
