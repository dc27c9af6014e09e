/**
 * The History section when the server's store is off or failing (tests/store-states.spec.ts):
 * the spec starts and stops its own JupyterLab for each state, on the usual lab port, so this
 * runs after the main configuration (whose JupyterLab holds that port). Only the simulator is a
 * web server here.
 */
const main = require('./playwright.config');

module.exports = {
  ...main,
  testIgnore: [],
  testMatch: ['**/store-states.spec.ts'],
  // Its own output folder: Playwright empties the output folder when a run starts, and the main
  // run's report is in test-results/.
  outputDir: 'test-results-store',
  reporter: [['list'], ['json', { outputFile: 'test-results-store/results.json' }]],
  webServer: main.webServer.filter(server => server.command.includes('jupyterlab_fanout.simulator'))
};
