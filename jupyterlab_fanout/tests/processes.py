"""The processes the tests run (the vLLM simulator here, nginx in nginx_fixture.py) and the one
way they become fixtures: started once per scope, stopped after it, reset before each test.
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Protocol, TypeVar

import pytest


def free_port() -> int:
    """A loopback port nothing listens on (at the moment of asking)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(
    proc: subprocess.Popen, ports: Iterable[int], timeout: float, name: str,
    details: Callable[[], str] = lambda: "",
) -> None:
    """Wait until `proc` accepts connections on every one of `ports` (loopback).

    Raises RuntimeError with what the process wrote to stderr (and `details()`) when it
    exited, or after `timeout` seconds (then it is killed).
    """
    deadline = time.monotonic() + timeout
    for port in ports:
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None:
                    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                    raise RuntimeError(f"{name} exited: {err}{details()}") from None
                if time.monotonic() > deadline:
                    stop_process(proc)
                    raise RuntimeError(
                        f"{name} did not start listening within {timeout:g} s{details()}"
                    ) from None
                time.sleep(0.02)


def stop_process(proc: subprocess.Popen) -> None:
    """End the process (SIGTERM, then SIGKILL after 5 s) and close its stderr pipe."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    if proc.stderr is not None:
        proc.stderr.close()


class Stoppable(Protocol):
    def stop(self) -> None: ...


P = TypeVar("P", bound=Stoppable)


def process_fixtures(
    name: str,
    start: Callable[[pytest.FixtureRequest], P],
    *,
    scope: str = "session",
    reset: Optional[Callable[[P], None]] = None,
    after_stop: Optional[Callable[[P], None]] = None,
) -> Any:
    """Fixtures for a process the tests share.

    With `reset`: a pair, `{name}_process` (started by `start(request)` once per `scope`,
    stopped after it) and `{name}` (that process, `reset` before each test). Without: the
    one fixture `{name}`, the process. `after_stop(process)` runs once it has stopped
    (checks of its logs). Assign the result at module level, e.g.

        simulator_process, simulator = process_fixtures("simulator", ..., reset=...)
    """
    process_name = f"{name}_process" if reset is not None else name

    @pytest.fixture(scope=scope, name=process_name)
    def process(request: pytest.FixtureRequest) -> Iterator[P]:
        proc = start(request)
        yield proc
        proc.stop()
        if after_stop is not None:
            after_stop(proc)

    if reset is None:
        return process

    @pytest.fixture(name=name)
    def fresh(request: pytest.FixtureRequest) -> P:
        proc = request.getfixturevalue(process_name)
        reset(proc)
        return proc

    return process, fresh


# ---------------------------------------------------------------- the simulator


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
        stop_process(self.proc)

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
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab_fanout.simulator", "--host", "127.0.0.1",
         "--port", str(port), *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    wait_listening(proc, [port], 20, "simulator")
    return SimulatorProcess(port, proc, scheme)


def simulator_fixtures(name: str, *args: str, scheme: str = "http", scope: str = "session",
                       reset: Optional[Callable[[SimulatorProcess], None]] = SimulatorProcess.reset
                       ) -> Any:
    """`process_fixtures` for a simulator started with these command-line arguments."""
    return process_fixtures(
        name, lambda _request: start_simulator(*args, scheme=scheme), scope=scope, reset=reset
    )


class JupyterProcess:
    """A Jupyter server with the extension, in its own process (see `jupyter_server_process`)."""

    def __init__(self, proc: subprocess.Popen, port: int, token: str, log: Path):
        self.proc, self.port, self.token, self.log = proc, port, token, log

    @property
    def batch_path(self) -> str:
        return f"/fanout/batch?token={self.token}"


@contextmanager
def jupyter_server_process(tmp_path: Path, fanout: dict[str, Any]) -> Iterator[JupyterProcess]:
    """A Jupyter server with the extension and `c.Fanout` = `fanout`, in its own process with
    its own config, data and runtime directories under `tmp_path`; stopped on exit (a test may
    kill it first)."""
    port, token = free_port(), secrets.token_hex(16)
    config = tmp_path / "config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(json.dumps({
        "ServerApp": {"jpserver_extensions": {"jupyterlab_fanout": True}},
        "Fanout": fanout,
    }))
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config),
               JUPYTER_DATA_DIR=str(tmp_path / "data"), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"))
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1",
             "--allow-root", f"--port={port}", f"--IdentityProvider.token={token}",
             f"--ServerApp.root_dir={tmp_path}"],
            env=env, stdout=subprocess.DEVNULL, stderr=out,
        )
    try:
        wait_listening(proc, [port], 60, "jupyter server", lambda: log.read_text()[-3000:])
        yield JupyterProcess(proc, port, token, log)
    finally:
        stop_process(proc)
