/**
 * The server's upstream listing in the browser: `fanout:list-upstreams` asks the Jupyter server
 * (`GET fanout/upstreams`) and returns what it answers.
 */
import { expect, test } from '@jupyterlab/galata';

import { execute } from './helpers';
import { SIMULATOR_URL } from './simulator';

test('fanout:list-upstreams lists the simulator upstream with the models the simulator serves', async ({
  page,
  request
}) => {
  const served = await request.get(`${SIMULATOR_URL}/v1/models`);
  expect(served.ok()).toBe(true);
  const cards = (await served.json()).data as Array<{ id: string; max_model_len: number }>;
  const models: string[] = cards.map(model => model.id);
  expect(models.length).toBeGreaterThan(0);
  // Each model's context length, as vLLM lists it (the size check before sending reads it).
  const contextLengths = Object.fromEntries(cards.map(model => [model.id, model.max_model_len]));

  const listing = await execute(page, 'fanout:list-upstreams');

  expect(listing.default).toBe('simulator');
  const simulator = listing.upstreams.find((upstream: { name: string }) => upstream.name === 'simulator');
  expect(simulator).toEqual({
    name: 'simulator',
    models,
    default_model: models[0],
    dialect: 'vllm',
    error: null,
    context_lengths: contextLengths
  });
  expect(listing.upstreams.map((upstream: { name: string }) => upstream.name)).toContain('simulator-b');
  expect(listing.limits.max_responses_per_batch).toBeGreaterThan(0);
});

test('the sidebar warns when the model setting names a model the server does not serve', async ({ page }) => {
  await page.evaluate(async () => {
    const registry = await (window as any).galata.getPlugin('@jupyterlab/apputils-extension:settings');
    await registry.set('jupyterlab-fanout:plugin', 'model', 'no-such-model');
  });
  try {
    await execute(page, 'fanout:open');
    await expect(page.locator('.jp-Fanout-sidebar .jp-Fanout-notice')).toContainText(
      'The settings name the model "no-such-model", which the upstream "simulator" does not serve'
    );
  } finally {
    await page.evaluate(async () => {
      const registry = await (window as any).galata.getPlugin('@jupyterlab/apputils-extension:settings');
      await registry.remove('jupyterlab-fanout:plugin', 'model');
    });
  }
});
