"""The installed package is a prebuilt labextension plus an enabled server extension."""
from __future__ import annotations

import re
import subprocess
import sys


def _jupyter(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "jupyter", *args], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    # Both commands write their listing to stderr; strip the colour codes.
    return re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)


def test_labextension_is_enabled_and_ok():
    listing = _jupyter("labextension", "list")
    assert re.search(r"jupyterlab-fanout v\S+ enabled OK", listing), listing


def test_server_extension_is_enabled_and_ok():
    listing = _jupyter("server", "extension", "list")
    assert re.search(r"jupyterlab_fanout enabled", listing), listing
    assert re.search(r"jupyterlab_fanout \S+ OK", listing), listing
