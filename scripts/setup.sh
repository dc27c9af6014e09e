#!/usr/bin/env bash
# Set up everything jupyterlab-fanout needs on a fresh machine; safe to run again.
#   scripts/setup.sh            Python venv, JavaScript packages, built and enabled extension
#   scripts/setup.sh --tests    the same, plus what the tests use: Debian's Chromium (Galata)
#                               and nginx (the reverse-proxy tests), and the UI-test packages
set -euo pipefail
cd "$(dirname "$0")/.."

for_tests=no
[ "${1:-}" = "--tests" ] && for_tests=yes

step() { printf '\n== %s\n' "$*"; }

if [ "$for_tests" = yes ]; then
  missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
  if [ ${#missing[@]} -gt 0 ]; then
    step "Installing Debian's ${missing[*]} for the tests"
    sudo_cmd=""
    [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

if [ ! -x .venv/bin/python ]; then
  step "Creating the Python virtual environment in .venv"
  python3 -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate

step "Installing Python packages"
python -m pip install -q --upgrade pip
# The build tools first, so that the package can be built without isolation (and quickly).
python -m pip install -q "hatchling>=1.5.0" editables "hatch-nodejs-version>=0.3.2" "hatch-jupyter-builder>=0.9" \
  "jupyterlab>=4.6.0,<4.7" "jupyter_builder>=1.2"

step "Installing JavaScript packages and building the extension"
jlpm install
jlpm build

step "Installing jupyterlab_fanout (editable) and enabling it"
python -m pip install -q --no-build-isolation -e ".[test]"
jupyter-builder develop --overwrite . >/dev/null
jupyter server extension enable --sys-prefix jupyterlab_fanout >/dev/null

if [ "$for_tests" = yes ]; then
  step "Installing the UI-test packages (Galata, Playwright; no browser download)"
  (cd ui-tests && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 jlpm install)
fi
