/**
 * Benchmarks (not pass/fail timing tests): Galata in Debian's Chromium against a real
 * JupyterLab (port 8892) whose fanout proxy talks to a real vLLM simulator (port 8893).
 * Separate ports from playwright.config.js so that the benchmarks can run beside the tests.
 *
 *   cd ui-tests && PATH=/work/main/.venv/bin:$PATH FANOUT_PYTHON=/work/main/.venv/bin/python \
 *     npx playwright test --config playwright.bench.config.js
 *
 * JupyterLab also loads the bench-only server extension `fanout_bench_baseline`
 * (benchmarks/fanout_bench_baseline.py): `POST /fanout-bench/stream` relays one upstream SSE
 * stream per HTTP request, the "one fetch per response" design the project rejected, so that
 * benchmark 1 can measure it side by side with the WebSocket proxy through the same server.
 */
const path = require('path');

// Set before anything reads them: jupyter_server_test_config.py and tests/simulator.ts
// (and benchmarks/*.ts, which run in this process's workers) read these.
process.env.FANOUT_TEST_LAB_PORT = process.env.FANOUT_BENCH_LAB_PORT || '8892';
process.env.FANOUT_TEST_SIMULATOR_PORT = process.env.FANOUT_BENCH_SIMULATOR_PORT || '8893';

// The end-to-end tests' configuration (Debian Chromium, the simulator and JupyterLab as web
// servers), with the ports above, a longer leash and the baseline extension loaded.
const testConfig = require('./playwright.config.js');

const python = process.env.FANOUT_PYTHON || 'python';
const benchDir = path.join(__dirname, 'benchmarks');
const pythonPath = [benchDir, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter);
const [simulatorServer, labServer] = testConfig.webServer;

module.exports = {
  ...testConfig,
  testDir: 'benchmarks',
  testMatch: '**/*.bench.ts',
  outputDir: 'test-results/bench',
  reporter: [['list']],
  fullyParallel: false,
  // A benchmark is a few minutes of streaming; a whole test may take up to 10 minutes.
  timeout: 10 * 60 * 1000,
  expect: { timeout: 120000 },
  use: {
    ...testConfig.use,
    screenshot: 'off',
    actionTimeout: 60000,
    navigationTimeout: 120000
  },
  webServer: [
    simulatorServer,
    {
      ...labServer,
      command:
        `env PYTHONPATH=${pythonPath} ${python} -m jupyter lab --allow-root --config jupyter_server_test_config.py ` +
        `--ServerApp.jpserver_extensions="{'jupyterlab_fanout': True, 'fanout_bench_baseline': True}"`
    }
  ]
};
