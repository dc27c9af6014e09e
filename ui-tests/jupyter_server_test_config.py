"""Jupyter server configuration for the Galata end-to-end tests.

A real JupyterLab with jupyterlab-fanout, whose proxy talks over real sockets to a vLLM
simulator that Playwright starts as its own process (see playwright.config.js).
"""
import atexit
import os
import shutil
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
# FANOUT_TEST_STORE (store-states.spec.ts, which starts its own JupyterLab): `off` disables the
# store; `unwritable` puts it under a regular file, where no directory can be made (even root
# cannot), so the store fails to open.
# This run's directory (its store, and its user settings below); gone when the server exits
# (Playwright stops it with SIGTERM: playwright.config.js), so that runs do not leave their
# stores behind (up to 20 MB each).
_run_dir = tempfile.mkdtemp(prefix="fanout-galata-")
atexit.register(shutil.rmtree, _run_dir, ignore_errors=True)
_store_dir = os.path.join(_run_dir, "store")
os.makedirs(_store_dir)
_store_mode = os.environ.get("FANOUT_TEST_STORE", "")
if _store_mode == "off":
    c.Fanout.store_path = ""  # noqa: F821
elif _store_mode == "unwritable":
    _blocker = os.path.join(_store_dir, "not-a-directory")
    with open(_blocker, "w") as _f:
        _f.write("a file where the store's directory should be")
    c.Fanout.store_path = os.path.join(_blocker, "batches.sqlite3")  # noqa: F821
elif _store_mode:
    raise ValueError(f"FANOUT_TEST_STORE must be 'off' or 'unwritable', not {_store_mode!r}")
else:
    c.Fanout.store_path = os.path.join(_store_dir, "batches.sqlite3")  # noqa: F821

# A batch left with no tab is stopped after this many seconds (default 600 in real use): short,
# so that reattach.spec.ts sees it happen. FANOUT_TEST_DETACHED_TIMEOUT sets it (seconds; the
# spec reads the same variable).
c.Fanout.detached_timeout = float(os.environ.get("FANOUT_TEST_DETACHED_TIMEOUT", "15"))  # noqa: F821

# The user's settings in a directory of this run's own. Pages Galata does not mock settings for
# (a second tab opened by a spec) list responses as cards, like the pages playwright.config.js
# gives the cards view (the specs written before the compact view read full cards).
USER_SETTINGS = os.path.join(_run_dir, "settings")
c.LabApp.user_settings_dir = USER_SETTINGS  # noqa: F821
os.makedirs(os.path.join(USER_SETTINGS, "jupyterlab-fanout"))
with open(os.path.join(USER_SETTINGS, "jupyterlab-fanout", "plugin.jupyterlab-settings"), "w") as f:
    f.write('{"responseView": "cards"}')

# Warnings and errors only: the test log stays readable (DEBUG when investigating).
c.ServerApp.log_level = os.environ.get("FANOUT_TEST_LOG_LEVEL", "WARN")  # noqa: F821
