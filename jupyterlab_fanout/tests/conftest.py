"""Shared fixtures: a real vLLM simulator in its own process, on a free loopback port."""
from __future__ import annotations

from .processes import simulator_fixtures

pytest_plugins = ["pytest_jupyter.jupyter_server"]

#: `simulator`: one simulator process for the whole session, its record and settings reset
#: before each test (`simulator_process`: the same process, not reset).
simulator_process, simulator = simulator_fixtures("simulator")
