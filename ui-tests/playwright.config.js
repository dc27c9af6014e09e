/**
 * Galata in Debian's Chromium (no downloaded browser), against a real JupyterLab whose
 * fanout proxy talks to a real vLLM simulator process.
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');
const { galata } = require('@jupyterlab/galata');

const labPort = process.env.FANOUT_TEST_LAB_PORT || '8890';
const simulatorPort = process.env.FANOUT_TEST_SIMULATOR_PORT || '8891';
const python = process.env.FANOUT_PYTHON || 'python';

module.exports = {
  ...baseConfig,
  testDir: 'tests',
  // Starts JupyterLabs of its own (store off, store failing): playwright.store.config.js.
  testIgnore: ['**/store-states.spec.ts'],
  reporter: [['list'], ['json', { outputFile: 'test-results/results.json' }]],
  workers: 1,
  retries: 0,
  timeout: 90000,
  expect: { timeout: 30000 },
  use: {
    ...baseConfig.use,
    // The specs written before the compact view read every response's full card: they run with
    // the cards view. compact.spec.ts (and screenshots.spec.ts) use the default, the rows.
    mockSettings: { ...galata.DEFAULT_SETTINGS, 'jupyterlab-fanout:plugin': { responseView: 'cards' } },
    baseURL: `http://localhost:${labPort}`,
    video: 'off',
    trace: 'off',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run'
      ]
    }
  },
  webServer: [
    {
      command: `${python} -m jupyterlab_fanout.simulator --host 127.0.0.1 --port ${simulatorPort}`,
      url: `http://127.0.0.1:${simulatorPort}/v1/models`,
      timeout: 60000,
      reuseExistingServer: false,
      gracefulShutdown: { signal: 'SIGTERM', timeout: 30000 }
    },
    {
      command: `${python} -m jupyter lab --allow-root --config jupyter_server_test_config.py`,
      url: `http://localhost:${labPort}/lab`,
      timeout: 120000,
      reuseExistingServer: false,
      // Stopped as a user stops it (Ctrl+C's SIGTERM), not killed: its shutdown runs, and the
      // test configuration's temporary directories are removed (jupyter_server_test_config.py).
      // Its shutdown may take up to 15 s (the store's writer 10 s, kernels 5 s).
      gracefulShutdown: { signal: 'SIGTERM', timeout: 30000 }
    }
  ]
};
