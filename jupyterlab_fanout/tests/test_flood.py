"""Attack suite, floods: a client that sends messages without reading the replies.

Measured on a real Jupyter server in its own process (its resident memory, from
/proc/<pid>/status): before the flood, during it, and after the socket closed. Every message
of the flood gets an `error` (invalid JSON, or a start refused with a fresh 200-character
id), which the client never reads.
"""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Iterator

import pytest

from .processes import JupyterProcess, SimulatorProcess, jupyter_server_process
from .raw_ws import TEXT, RawWebSocket, frame

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")

#: Flood messages (about 9 MB): what took the server from 85 MB to 672 MB in issue 14.
INVALID = frame(b"x")  # not JSON: 7 bytes on the wire, an error of about 100 bytes back
FLOOD_MESSAGES = 600_000


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def jupyter(simulator: SimulatorProcess, tmp_path: Path) -> Iterator[JupyterProcess]:
    """A Jupyter server with the extension in its own process, the simulator its upstream."""
    with jupyter_server_process(tmp_path, {"upstreams": {"sim": {"base_urls": [simulator.base_url]}},
                                           "default_upstream": "sim"}) as server:
        yield server


async def read_until_end(ws: RawWebSocket, rid: str) -> None:
    while True:
        opcode, payload = await asyncio.wait_for(ws.read_frame(), 20)
        if opcode == TEXT:
            message = json.loads(payload)
            if message.get("id") == rid and message["type"] in ("end", "error", "stopped"):
                assert message["type"] == "end", message
                return


def flood() -> bytes:
    parts = []
    for i in range(FLOOD_MESSAGES):
        if i % 30 == 0:  # a start refused for its upstream, with an id never used before
            parts.append(frame(json.dumps({"type": "start", "id": f"{i:0200d}", "upstream": "nope",
                                           "request": {}}).encode()))
        else:
            parts.append(INVALID)
    return b"".join(parts)


async def flood_once(jupyter: JupyterProcess, data: bytes) -> tuple[float, float, int]:
    """Send the flood on a new socket, read nothing for 5 s, close it: (peak RSS, RSS after
    the close, bytes that left the client)."""
    pid = jupyter.proc.pid
    ws = await RawWebSocket.connect(jupyter.port, jupyter.batch_path, rcvbuf=4096)
    ws.send_raw(data)  # never read a reply
    peak = 0.0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        peak = max(peak, rss_mb(pid))
        await asyncio.sleep(0.05)
    sent = len(data) - ws.writer.transport.get_write_buffer_size()
    ws.close()
    await asyncio.sleep(2)
    return peak, rss_mb(pid), sent


async def test_a_flood_of_unread_replies_keeps_memory_bounded(jupyter, simulator):
    simulator.configure(tokens_per_second=500, ttft_ms=0, reasoning_tokens=0, answer_tokens=20)
    pid = jupyter.proc.pid
    # Warm up: one batch streamed and closed, so that the baseline holds what any use loads.
    for rid in ("warm1", "warm2"):
        ws = await RawWebSocket.connect(jupyter.port, jupyter.batch_path)
        await ws.send(json.dumps({"type": "start", "id": rid, "request": {
            "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20}}))
        await read_until_end(ws, rid)
        ws.close()
    await asyncio.sleep(1)
    baseline = rss_mb(pid)

    data = flood()
    figures = []
    for _round in range(3):  # three times: later floods must not add to what the first left
        figures.append(await flood_once(jupyter, data))
    print("\n" + "\n".join(
        f"RSS baseline {baseline:.1f} MB, during the flood {peak:.1f} MB, after close "
        f"{settled:.1f} MB; flood {len(data) / 1e6:.1f} MB, {sent / 1e6:.1f} MB of it left "
        f"the client" for peak, settled, sent in figures))
    for peak, settled, sent in figures:
        # Bounded: the server read what its high-water mark allows, then stopped reading
        # (before the fix: 133 MB and growing, for a baseline of 83 MB).
        assert peak - baseline < 20, (baseline, figures)
        assert sent < len(data), "the server read the whole flood: nothing held it back"
        # Given back once the socket is gone (what stays is the allocator's, reused below;
        # before the fix: 193 MB after close for a baseline of 83 MB).
        assert settled - baseline < 10, (baseline, figures)
    # What stays after the first is the allocator's free memory, reused by the next floods
    # (a leak would add a few MB per flood).
    assert max(settled for _, settled, _ in figures[1:]) - figures[0][1] < 3, (baseline, figures)
    # The server still serves.
    ws = await RawWebSocket.connect(jupyter.port, jupyter.batch_path)
    await ws.send(json.dumps({"type": "start", "id": "after", "request": {
        "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20}}))
    await read_until_end(ws, "after")
    ws.close()
