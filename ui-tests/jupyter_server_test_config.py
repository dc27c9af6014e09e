"""Jupyter server configuration for the Galata end-to-end tests.

A real JupyterLab with jupyterlab-fanout, whose proxy talks over real sockets to a vLLM
simulator that Playwright starts as its own process (see playwright.config.js).
"""
import os
import tempfile

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821

c.ServerApp.port = int(os.environ.get("FANOUT_TEST_LAB_PORT", "8890"))  # noqa: F821
SIMULATOR_PORT = os.environ.get("FANOUT_TEST_SIMULATOR_PORT", "8891")
# A second upstream name for the same simulator, for batches that mix models and upstreams.
c.Fanout.upstreams = {  # noqa: F821
    "simulator": {"base_urls": [f"http://127.0.0.1:{SIMULATOR_PORT}/v1"]},
    "simulator-b": {"base_urls": [f"http://127.0.0.1:{SIMULATOR_PORT}/v1"]},
}
c.Fanout.default_upstream = "simulator"  # noqa: F821
# Each run keeps its batches in a store of its own, not in the user's Jupyter data directory.
c.Fanout.store_path = os.path.join(tempfile.mkdtemp(prefix="fanout-galata-"), "batches.sqlite3")  # noqa: F821

# A batch left with no tab is stopped after this many seconds (default 600 in real use): short,
# so that reattach.spec.ts sees it happen. FANOUT_TEST_DETACHED_TIMEOUT sets it (seconds; the
# spec reads the same variable).
c.Fanout.detached_timeout = float(os.environ.get("FANOUT_TEST_DETACHED_TIMEOUT", "15"))  # noqa: F821

# The user's settings in a directory of this run's own. Pages Galata does not mock settings for
# (a second tab opened by a spec) list responses as cards, like the pages playwright.config.js
# gives the cards view (the specs written before the compact view read full cards).
USER_SETTINGS = tempfile.mkdtemp(prefix="fanout-galata-settings-")
c.LabApp.user_settings_dir = USER_SETTINGS  # noqa: F821
os.makedirs(os.path.join(USER_SETTINGS, "jupyterlab-fanout"))
with open(os.path.join(USER_SETTINGS, "jupyterlab-fanout", "plugin.jupyterlab-settings"), "w") as f:
    f.write('{"responseView": "cards"}')

# Warnings and errors only: the test log stays readable (DEBUG when investigating).
c.ServerApp.log_level = os.environ.get("FANOUT_TEST_LOG_LEVEL", "WARN")  # noqa: F821
