"""A real nginx in a subprocess, configured with the example blocks of docs/nginx.md.

The blocks are read verbatim out of the document; only the `listen` ports and the
`proxy_pass` addresses are replaced (each exactly once), so the doc and the test cannot
drift apart. Everything nginx writes (pid, logs, temporary files) stays in a temporary
directory; nginx listens on free loopback ports only.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .processes import free_port, stop_process, wait_listening
from .sse import count_events

DOC = Path(__file__).resolve().parents[2] / "docs" / "nginx.md"
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
)

#: what the test replaces in each documented block: anchor -> name of the value put there
ANCHORS = {
    "jupyter": {
        "listen 80;": "listen 127.0.0.1:{jupyter_listen};",
        "proxy_pass http://127.0.0.1:8888;": "proxy_pass http://127.0.0.1:{jupyter_port};",
    },
    "vllm": {
        "listen 8000;": "listen 127.0.0.1:{vllm_listen};",
        "proxy_pass http://127.0.0.1:8001;": "proxy_pass http://127.0.0.1:{vllm_port};",
    },
}
#: the base_url the documented Jupyter block serves
BASE_URL = "/user/alice/"


def doc_blocks(doc: Path = DOC) -> dict[str, str]:
    """The fenced ```nginx blocks that follow `<!-- nginx-example: NAME -->` markers."""
    text = doc.read_text(encoding="utf-8")
    found = re.findall(r"<!-- nginx-example: (\w+) -->\s*```nginx\n(.*?)```", text, re.S)
    blocks = dict(found)
    assert len(blocks) == len(found), "duplicate nginx-example markers in docs/nginx.md"
    return blocks


def render(name: str, **values: int) -> str:
    """The documented block `name` with its ports replaced by `values`."""
    block = doc_blocks()[name]
    for anchor, replacement in ANCHORS[name].items():
        count = block.count(anchor)
        assert count == 1, (
            f"docs/nginx.md, block {name!r}: expected {anchor!r} exactly once, found {count}; "
            "update nginx_fixture.ANCHORS along with the document"
        )
        block = block.replace(anchor, replacement.format(**values))
    return block


def nginx_conf(prefix: Path, *blocks: str) -> str:
    """A whole nginx.conf around the documented blocks, writing only inside `prefix`."""
    # Workers would switch to `nobody`, which may not read `prefix`; as root, stay root.
    # (`user` only makes sense, and is only accepted quietly, when the master is root.)
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / (kind + '_temp')};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    body = "\n".join(blocks)
    return (
        f"{user}worker_processes 1;\n"
        f"error_log {prefix / 'error.log'} info;\n"
        f"pid {prefix / 'nginx.pid'};\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"    access_log {prefix / 'access.log'};\n"
        f"{temp}\n"
        f"{body}\n"
        "}\n"
    )


@dataclass
class NginxProcess:
    proc: subprocess.Popen
    prefix: Path
    jupyter_listen: int  # nginx in front of Jupyter
    vllm_listen: int  # nginx in front of the simulator (the "vLLM" block)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.jupyter_listen}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.jupyter_listen}"

    @property
    def vllm_base_url(self) -> str:
        return f"http://127.0.0.1:{self.vllm_listen}/v1"

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        stop_process(self.proc)  # SIGTERM: fast shutdown of master and worker

    def assert_no_serious_errors(self) -> None:
        """Nothing in nginx's error log at the levels emerg, alert or crit."""
        log = self.error_log()
        assert not re.search(r"\[(emerg|alert|crit)\]", log), log


def start_nginx(prefix: Path, jupyter_port: int, vllm_port: int) -> NginxProcess:
    """Run nginx in the foreground with the documented blocks; wait until it listens."""
    assert NGINX, "nginx is not installed"
    prefix.mkdir(parents=True, exist_ok=True)
    jupyter_listen, vllm_listen = free_port(), free_port()
    conf = nginx_conf(
        prefix,
        render("jupyter", jupyter_listen=jupyter_listen, jupyter_port=jupyter_port),
        render("vllm", vllm_listen=vllm_listen, vllm_port=vllm_port),
    )
    (prefix / "nginx.conf").write_text(conf)
    check = subprocess.run(
        [NGINX, "-t", "-p", str(prefix), "-e", str(prefix / "error.log"),
         "-c", str(prefix / "nginx.conf")],
        capture_output=True, text=True,
    )
    assert check.returncode == 0, f"nginx -t refused the configuration:\n{check.stderr}\n{conf}"
    proc = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-e", str(prefix / "error.log"),
         "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    nginx = NginxProcess(proc, prefix, jupyter_listen, vllm_listen)
    wait_listening(proc, (jupyter_listen, vllm_listen), 10, "nginx",
                   details=lambda: "\n" + nginx.error_log())
    return nginx


# ---------------------------------------------------------------- streaming checks

#: a paced stream: 40 events at 20 per second, so about 2 s from first to last byte
PACED = {"tokens_per_second": 20, "ttft_ms": 0, "reasoning_tokens": 0, "answer_tokens": 40}


def assert_incremental(client, rid: str, started_at: float) -> dict[str, float]:
    """The body of `rid` reached the client as the upstream paced it, not in one burst.

    With PACED (about 2 s of stream): the first binary frame arrives within 1 s of the
    `open` message, the frames are many and spread over the stream's duration, and around
    half of the SSE events have arrived by the stream's midpoint.
    """
    opened = [t for t, m in client.messages
              if isinstance(m, dict) and m.get("id") == rid and m["type"] == "open"]
    ended = [t for t, m in client.messages
             if isinstance(m, dict) and m.get("id") == rid and m["type"] == "end"]
    frames = [(t, m[1]) for t, m in client.messages if isinstance(m, tuple) and m[0] == rid]
    assert opened and ended and frames, client.json_messages(rid)
    first, last = frames[0][0], frames[-1][0]
    duration = ended[0] - started_at
    midpoint = started_at + duration / 2
    events = sum(count_events(chunk) for _, chunk in frames)
    early = sum(count_events(chunk) for t, chunk in frames if t < midpoint)
    timing = {"first_after_open": first - opened[0], "first_after_start": first - started_at,
              "spread": last - first, "duration": duration, "frames": len(frames),
              "events": events, "events_by_midpoint": early}
    assert first - opened[0] < 1.0, timing
    assert duration > 1.6, timing  # the stream really was paced (~2 s)
    assert last - first > 1.2, timing  # bytes kept coming over the stream's lifetime
    assert len(frames) >= 20, timing  # about one frame per upstream chunk, not a few bursts
    assert 0.25 * events <= early <= 0.75 * events, timing
    return timing
