#!/usr/bin/env bash
# Set up everything jupyterlab-fanout needs on a fresh machine; safe to run again.
#   scripts/setup.sh            Python venv, JavaScript packages, built and enabled extension
#   scripts/setup.sh --tests    the same, plus what the tests use: Debian's Chromium (Galata)
#                               and nginx (the reverse-proxy tests), and the UI-test packages
# Prints one line per step. A step's own output goes to a log file; when a step fails, that
# log is printed in full and setup exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

for_tests=no
[ "${1:-}" = "--tests" ] && for_tests=yes

log_dir=$(mktemp -d "${TMPDIR:-/tmp}/fanout-setup.XXXXXX")
trap 'rm -rf "$log_dir"' EXIT
step_count=0

# step LABEL COMMAND...: run COMMAND with its output captured; one line on success, the whole
# captured output on failure.
step() {
  local label=$1 log start status
  shift
  step_count=$((step_count + 1))
  log="$log_dir/step-$step_count.log"
  start=$SECONDS
  printf '  %s … ' "$label"
  set +e
  (set -e; "$@") >"$log" 2>&1 </dev/null
  status=$?
  set -e
  if [ "$status" -eq 0 ]; then
    printf '✓ (%ss)\n' "$((SECONDS - start))"
  else
    printf '✗ failed (exit %s)\n' "$status"
    printf -- '----- output of: %s\n' "$*"
    cat "$log"
    printf -- '----- end of output (%s failed)\n' "$label"
    exit "$status"
  fi
}

# skip LABEL: say that a step had nothing to do.
skip() { printf '  %s … ✓ (up to date)\n' "$1"; }

install_debian_packages() {
  local sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "$@"
}

install_build_tools() {
  python -m pip install --upgrade pip
  # The build tools first, so that the package can be built without isolation (and quickly).
  python -m pip install "hatchling>=1.5.0" editables "hatch-nodejs-version>=0.3.2" \
    "hatch-jupyter-builder>=0.9" "jupyterlab>=4.6.0,<4.7" "jupyter_builder>=1.2"
}

install_extension() {
  python -m pip install --no-build-isolation -e ".[test]"
  jupyter-builder develop --overwrite .
  jupyter server extension enable --sys-prefix jupyterlab_fanout
}

# A stamp per step records the inputs it was last run with; a second run skips what is current.
stamp_of() { cat "$@" scripts/setup.sh 2>/dev/null | sha256sum | cut -d' ' -f1; }
is_current() { [ -f ".venv/.fanout-$1" ] && [ "$(cat ".venv/.fanout-$1")" = "$2" ]; }
mark_current() { printf '%s\n' "$2" >".venv/.fanout-$1"; }

echo "Setting up jupyterlab-fanout (step output is kept back unless a step fails)"

if [ "$for_tests" = yes ]; then
  missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
  if [ ${#missing[@]} -gt 0 ]; then
    step "Installing Debian's ${missing[*]} for the tests" install_debian_packages "${missing[@]}"
  fi
fi

if [ ! -x .venv/bin/python ]; then
  step "Creating the Python virtual environment in .venv" python3 -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate

tools_stamp=$(stamp_of)
if is_current tools "$tools_stamp"; then
  skip "Python build tools and JupyterLab"
else
  step "Installing the Python build tools and JupyterLab" install_build_tools
  mark_current tools "$tools_stamp"
fi

js_stamp=$(stamp_of package.json yarn.lock .yarnrc.yml)
if [ -d node_modules ] && is_current js "$js_stamp"; then
  skip "JavaScript packages"
else
  step "Installing the JavaScript packages (jlpm install)" jlpm install
  mark_current js "$js_stamp"
fi

step "Building the extension (jlpm build)" jlpm build

py_stamp=$(stamp_of pyproject.toml package.json)
if [ -f jupyterlab_fanout/_version.py ] && is_current extension "$py_stamp"; then
  skip "jupyterlab_fanout installed (editable) and enabled"
else
  step "Installing jupyterlab_fanout (editable) and enabling it" install_extension
  mark_current extension "$py_stamp"
fi

if [ "$for_tests" = yes ]; then
  ui_stamp=$(stamp_of ui-tests/package.json ui-tests/yarn.lock)
  if [ -d ui-tests/node_modules ] && is_current ui-tests "$ui_stamp"; then
    skip "UI-test packages"
  else
    step "Installing the UI-test packages (Galata, Playwright, configurable-http-proxy; no browser download)" \
      bash -c 'cd ui-tests && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 jlpm install'
    mark_current ui-tests "$ui_stamp"
  fi
fi

echo "Setup done."
