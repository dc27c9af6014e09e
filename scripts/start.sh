#!/usr/bin/env bash
# Set everything up, then start JupyterLab with jupyterlab-fanout on http://localhost:8888.
# Without an upstream configured (FANOUT_UPSTREAM_URL or c.Fanout.upstreams) the extension
# answers from its bundled vLLM simulator.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate
extra=()
[ "$(id -u)" = 0 ] && extra+=(--allow-root)
exec jupyter lab --port "${FANOUT_PORT:-8888}" --no-browser "${extra[@]}" "$@"
