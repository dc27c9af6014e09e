#!/usr/bin/env bash
# Set everything up, then run every test: jest (TypeScript core and model), pytest (simulator,
# proxy, security, installation), the release test (python -m build, the wheel in a fresh venv
# without Node) and Galata (a real JupyterLab in Debian's Chromium).
# Every suite runs even when an earlier one fails; the exit code is non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests || { echo "setup failed"; exit 1; }
# shellcheck disable=SC1091
. .venv/bin/activate
mkdir -p test-reports
# No report of an earlier run may stand in for a suite that does not run this time.
rm -f test-reports/*.json test-reports/*.xml ui-tests/test-results/results.json ui-tests/test-results-store/results.json
status=0
failed_steps=()
# Run one step; a step that fails is named again at the end, under the counts, so a failed
# check (formatting, types, lint) cannot hide behind a line of passed tests.
step() {
  local name=$1
  shift
  "$@" || { status=1; failed_steps+=("$name"); }
}

printf '\n== formatting, types and lint (prettier, tsc, ruff)\n'
step prettier jlpm prettier:check
step 'tsc (src)' jlpm tsc --noEmit -p tsconfig.json
step 'tsc (ui-tests)' bash -c 'cd ui-tests && ../node_modules/.bin/tsc --noEmit -p tsconfig.json'
step ruff python -m ruff check jupyterlab_fanout ui-tests release_tests

printf '\n== jest\n'
step jest jlpm jest --ci --json --outputFile=test-reports/jest.json

printf '\n== pytest\n'
step pytest python -m pytest -q --junitxml=test-reports/pytest.xml

printf '\n== release: wheel in a fresh venv without Node\n'
step release python -m pytest -v -p no:cacheprovider --durations=6 release_tests --junitxml=test-reports/release.xml

printf '\n== Galata (Chromium)\n'
step galata bash -c 'cd ui-tests && FANOUT_PYTHON="$PWD/../.venv/bin/python" CI=1 jlpm playwright test'
# The History section with the store off and failing: JupyterLabs the spec starts itself, on the
# lab port the main run has freed by now.
step 'galata (store off, failing)' bash -c 'cd ui-tests && FANOUT_PYTHON="$PWD/../.venv/bin/python" CI=1 jlpm playwright test -c playwright.store.config.js'

printf '\n== summary\n'
python scripts/summarize_tests.py test-reports/jest.json test-reports/pytest.xml \
  ui-tests/test-results/results.json test-reports/release.xml \
  ui-tests/test-results-store/results.json || status=1
if ((${#failed_steps[@]})); then
  printf 'failed steps: %s\n' "$(IFS=,; echo "${failed_steps[*]}" | sed 's/,/, /g')"
fi
exit $status
