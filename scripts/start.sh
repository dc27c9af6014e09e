#!/usr/bin/env bash
# Set everything up, then start JupyterLab with jupyterlab-fanout.
#   FANOUT_PORT          the port (default 8888)
#   FANOUT_NOTEBOOK_DIR  the folder JupyterLab opens (default ~/fanout-notebooks, outside the
#                        checkout); the demo notebook is copied there unless it is there already
#   extra arguments      go to `jupyter lab` (e.g. --ServerApp.ip=0.0.0.0)
# Without an upstream configured (FANOUT_UPSTREAM_URL or c.Fanout.upstreams) the extension
# answers from its bundled vLLM simulator.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate

port=${FANOUT_PORT:-8888}
notebooks=${FANOUT_NOTEBOOK_DIR:-$HOME/fanout-notebooks}
mkdir -p "$notebooks"
notebooks=$(cd "$notebooks" && pwd)
# Never overwrite the user's copy: they may have edited it. Trusting it lets its buttons run
# Fanout's commands without JupyterLab asking first (it asks for an untrusted notebook).
if [ ! -e "$notebooks/fanout-demo.ipynb" ]; then
  cp demo/fanout-demo.ipynb "$notebooks/fanout-demo.ipynb"
  jupyter trust "$notebooks/fanout-demo.ipynb" >/dev/null 2>&1 || true  # untrusted, it only asks
fi

extra=()
[ "$(id -u)" = 0 ] && extra+=(--allow-root)

cat <<EOF

Starting JupyterLab on port $port (or the next free one), in $notebooks (the demo: fanout-demo.ipynb).
  Open the http://localhost:$port/lab?token=… address JupyterLab prints below.
  Find it again later: $repo/.venv/bin/jupyter server list
  Stop: Ctrl+C twice here, or $repo/.venv/bin/jupyter server stop $port

EOF
cd "$notebooks"
exec jupyter lab --port "$port" --no-browser --ServerApp.root_dir="$notebooks" "${extra[@]}" "$@"
