"""Shared fixtures: a real vLLM simulator in its own process, on a free loopback port."""
from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from typing import Any, Iterator

import pytest

pytest_plugins = ["pytest_jupyter.jupyter_server"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SimulatorProcess:
    """Handle on a running `python -m jupyterlab_fanout.simulator` process."""

    def __init__(self, port: int, proc: subprocess.Popen, scheme: str = "http"):
        self.port = port
        self.proc = proc
        self.url = f"{scheme}://127.0.0.1:{port}"
        self.base_url = f"{self.url}/v1"
        # The tests' own calls trust any certificate (a TLS simulator's is self-signed).
        self._tls = ssl._create_unverified_context() if scheme == "https" else None

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10, context=self._tls) as resp:
            return json.loads(resp.read())

    def configure(self, **settings: Any) -> dict:
        """Merge settings into the simulator's configuration (POST /simulator/config)."""
        return self._call("POST", "/simulator/config", settings)

    def reset(self) -> None:
        self._call("POST", "/simulator/reset", {})

    def requests(self) -> list[dict]:
        """The simulator's record of chat completion requests, in arrival order."""
        return self._call("GET", "/simulator/requests")

    def stop(self) -> None:
        """End the process (and close its stderr pipe)."""
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    def wait_for(self, predicate, timeout: float = 10.0, interval: float = 0.02) -> list[dict]:
        """Poll the record until predicate(record) is true; returns the record."""
        deadline = time.monotonic() + timeout
        record = self.requests()
        while not predicate(record):
            if time.monotonic() > deadline:
                raise AssertionError(f"simulator record never matched: {json.dumps(record)[:2000]}")
            time.sleep(interval)
            record = self.requests()
        return record


def start_simulator(*args: str, scheme: str = "http") -> SimulatorProcess:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab_fanout.simulator", "--host", "127.0.0.1",
         "--port", str(port), *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(
                    "simulator exited: " + proc.stderr.read().decode(errors="replace")
                )
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("simulator did not start listening within 20 s")
            time.sleep(0.05)
    return SimulatorProcess(port, proc, scheme)


@pytest.fixture(scope="session")
def simulator_process() -> Iterator[SimulatorProcess]:
    sim = start_simulator()
    yield sim
    sim.stop()


@pytest.fixture
def simulator(simulator_process: SimulatorProcess) -> SimulatorProcess:
    """A simulator whose record and settings are fresh for each test."""
    simulator_process.reset()
    return simulator_process
