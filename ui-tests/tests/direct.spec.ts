/**
 * Direct mode in a real Chromium: the page calls the simulator itself (CORS), one fetch per
 * response, and a Stop aborts that fetch so the simulator sees its client go.
 */
import { expect, test } from '@jupyterlab/galata';

import { execute, notebookWithPrompt, RESPONSE } from './helpers';
import { resetSimulator, SIMULATOR_URL, simulatorRequests } from './simulator';

async function setFanoutSetting(page: any, key: string, value: unknown): Promise<void> {
  await page.evaluate(
    async ({ key, value }: { key: string; value: unknown }) => {
      const registry = await (window as any).galata.getPlugin('@jupyterlab/apputils-extension:settings');
      await registry.set('jupyterlab-fanout:plugin', key, value);
    },
    { key, value }
  );
}

test('direct mode streams from the model server straight to the page, and Stop reaches it', async ({
  page,
  request
}) => {
  await resetSimulator(request, { tokens_per_second: 20, ttft_ms: 50, reasoning_tokens: 0, answer_tokens: 120 });
  await setFanoutSetting(page, 'directUrl', `${SIMULATOR_URL}/v1`);
  await setFanoutSetting(page, 'transport', 'direct');
  await notebookWithPrompt(page, 'Straight to the server.');
  void execute(page, 'fanout:generate', { n: 3 });
  const first = page.locator(`${RESPONSE}[data-response-index="1"]`);
  await expect(first).toHaveAttribute('data-status', 'generating');
  await first.locator('.jp-Fanout-stop').click();
  await expect(first).toHaveAttribute('data-status', 'stopped');
  await expect(page.locator(`${RESPONSE}[data-status="complete"]`)).toHaveCount(2);

  const record = await simulatorRequests(request);
  expect(record).toHaveLength(3);
  // The page itself made the requests: they carry its Origin, not the Jupyter server's headers.
  for (const entry of record) {
    expect(entry.headers['origin']).toMatch(/^http:\/\/localhost:\d+$/);
    expect(entry.stream).toBe(true);
    expect(entry.n).toBe(1);
  }
  await expect.poll(async () => (await simulatorRequests(request)).filter(e => e.disconnected).length).toBe(1);
  const shown = (
    await page.locator(`${RESPONSE}[data-status="complete"] .jp-Fanout-response-text`).allTextContents()
  ).sort();
  const completed = (await simulatorRequests(request))
    .filter(e => e.outcome === 'completed')
    .map(e => e.content)
    .sort();
  expect(shown).toEqual(completed);
});

test('the sidebar warns when direct mode over plain HTTP asks for more than six responses', async ({ page }) => {
  await setFanoutSetting(page, 'directUrl', `${SIMULATOR_URL}/v1`);
  await setFanoutSetting(page, 'transport', 'direct');
  await setFanoutSetting(page, 'responses', 8);
  await execute(page, 'fanout:open');
  await expect(page.locator('.jp-Fanout-notice')).toContainText('at most 6 responses at once; the other 2 wait');
  await setFanoutSetting(page, 'transport', 'proxy');
  await expect(page.locator('.jp-Fanout-notice')).toHaveCount(0);
});
