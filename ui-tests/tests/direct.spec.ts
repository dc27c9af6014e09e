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

const DIRECT_KEY = 'sk-galata-direct-key-0123456789';

/** The stored batch `batchId` (GET fanout/batches/<id>) once `ready` holds for it. */
async function storedWhen(request: any, batchId: string, ready: (batch: any) => boolean): Promise<any> {
  let batch: any = null;
  await expect
    .poll(
      async () => {
        const response = await request.get(`/fanout/batches/${encodeURIComponent(batchId)}`);
        batch = response.ok() ? await response.json() : null;
        return batch !== null && ready(batch);
      },
      { timeout: 20000 }
    )
    .toBe(true);
  return batch;
}

test('a direct-mode batch is recorded in the server store, without the direct URL or key', async ({
  page,
  request
}) => {
  const stamp = Date.now();
  await resetSimulator(request, {
    tokens_per_second: 400,
    ttft_ms: 20,
    reasoning_tokens: 0,
    answer_text: `Capybaras ${stamp} are calm.`
  });
  await setFanoutSetting(page, 'directUrl', `${SIMULATOR_URL}/v1`);
  await setFanoutSetting(page, 'directApiKey', DIRECT_KEY);
  await setFanoutSetting(page, 'transport', 'direct');
  const summary = await execute(page, 'fanout:generate', { prompt: `Direct and stored ${stamp}`, n: 2 });
  expect(summary.transport).toBe('direct');
  expect(summary.responses.map((r: any) => r.status)).toEqual(['complete', 'complete']);
  // The requests went straight from the page, with the key.
  const record = await simulatorRequests(request);
  expect(record.map(e => e.headers['authorization'])).toEqual([`Bearer ${DIRECT_KEY}`, `Bearer ${DIRECT_KEY}`]);

  const stored = await storedWhen(
    request,
    summary.batchId,
    b => b.responses.length === 2 && b.responses.every((r: any) => r.status === 'complete')
  );
  expect(stored.prompt).toBe(`Direct and stored ${stamp}`);
  expect(stored.responses.map((r: any) => r.attempts[0].text)).toEqual(summary.responses.map((r: any) => r.content));
  expect(stored.responses.map((r: any) => r.upstream)).toEqual(['direct', 'direct']);
  expect(stored.responses[0].attempts[0].request.seed).toBe(summary.responses[0].seed);
  const text = JSON.stringify(stored);
  expect(text).not.toContain(DIRECT_KEY);
  expect(text).not.toContain(SIMULATOR_URL.replace(/^http:\/\//, ''));
  // Listed (and found) in History, as every other batch.
  const listed = await execute(page, 'fanout:list-batches', { query: `capybaras ${stamp}` });
  expect(listed.map((b: any) => [b.id, b.counts])).toEqual([[summary.batchId, { complete: 2 }]]);
});

test('a reload stops a direct-mode batch: its responses say so, keep their text, and the store records that', async ({
  page,
  request
}) => {
  await resetSimulator(request, { tokens_per_second: 15, ttft_ms: 50, reasoning_tokens: 0, answer_tokens: 600 });
  await setFanoutSetting(page, 'directUrl', `${SIMULATOR_URL}/v1`);
  await setFanoutSetting(page, 'transport', 'direct');
  await notebookWithPrompt(page, 'A long direct answer.');
  // The reload ends the page this call waits in: its promise goes with it.
  const generating = execute(page, 'fanout:generate', { n: 2 }).catch(error => String(error));
  const first = page.locator(`${RESPONSE}[data-response-index="1"]`);
  await expect(first).toHaveAttribute('data-status', 'generating');
  const batchId = await page.evaluate(() =>
    (window as any).jupyterapp.commands.execute('fanout:get-batch').then((b: any) => b.batchId)
  );
  // The store has the batch, its responses running.
  await storedWhen(
    request,
    batchId,
    b => b.responses.length === 2 && b.responses.every((r: any) => r.status === 'running')
  );
  await expect
    .poll(async () => (await first.locator('.jp-Fanout-response-text').textContent())?.length ?? 0)
    .toBeGreaterThan(20);

  const loaded = page.waitForEvent('load');
  await page.evaluate(() => window.location.reload());
  await loaded;
  expect(await generating).toContain('Execution context was destroyed');
  await page.waitForFunction(() => (window as any).jupyterapp?.commands.hasCommand('fanout:get-batch'));
  // The page's fetches went with it: the model server saw both clients go.
  await expect.poll(async () => (await simulatorRequests(request)).filter(e => e.disconnected).length).toBe(2);

  const after = await page.evaluate(
    (id: string) => (window as any).jupyterapp.commands.execute('fanout:get-batch', { batchId: id }),
    batchId
  );
  for (const response of after.responses) {
    expect(response.status).toBe('incomplete');
    expect(response.error.message).toContain('direct mode');
    expect(response.error.message).toContain('cannot be reattached');
  }
  expect(after.responses[0].content.length).toBeGreaterThan(20);
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('fanout:open'));
  await expect(page.locator(`${RESPONSE}[data-response-index="1"]`)).toContainText('cannot be reattached');

  // The store keeps what the page had, as incomplete (not running forever).
  // (The closing page recorded them first, as page_closed; the page that came back records what it shows.)
  const stored = await storedWhen(request, batchId, b =>
    b.responses.every((r: any) => r.status === 'incomplete' && r.attempts[0].error?.code === 'interrupted')
  );
  expect(stored.responses.map((r: any) => r.attempts[0].text)).toEqual(after.responses.map((r: any) => r.content));
  expect(stored.responses[0].attempts[0].error.code).toBe('interrupted');
});

test('a page closed while its direct-mode batch streams leaves it incomplete in the store, with its text, not running', async ({
  page,
  request
}) => {
  await resetSimulator(request, { tokens_per_second: 15, ttft_ms: 50, reasoning_tokens: 0, answer_tokens: 600 });
  await setFanoutSetting(page, 'directUrl', `${SIMULATOR_URL}/v1`);
  await setFanoutSetting(page, 'directApiKey', DIRECT_KEY);
  await setFanoutSetting(page, 'transport', 'direct');
  await notebookWithPrompt(page, 'A long direct answer, then the tab is closed.');
  // Closing the page ends the call this waits in.
  const generating = execute(page, 'fanout:generate', { n: 2 }).catch(error => String(error));
  const first = page.locator(`${RESPONSE}[data-response-index="1"]`);
  await expect(first).toHaveAttribute('data-status', 'generating');
  const batchId = await page.evaluate(() =>
    (window as any).jupyterapp.commands.execute('fanout:get-batch').then((b: any) => b.batchId)
  );
  await storedWhen(
    request,
    batchId,
    b => b.responses.length === 2 && b.responses.every((r: any) => r.status === 'running')
  );
  await expect
    .poll(async () => (await first.locator('.jp-Fanout-response-text').textContent())?.length ?? 0)
    .toBeGreaterThan(20);
  const shown = (await first.locator('.jp-Fanout-response-text').textContent()) ?? '';

  await page.close();
  await generating;
  const stored = await storedWhen(request, batchId, b => b.responses.every((r: any) => r.status === 'incomplete'));
  for (const response of stored.responses) {
    const attempt = response.attempts[0];
    expect(attempt.error.code).toBe('page_closed');
    expect(attempt.error.message).toContain('was closed');
    // The request recorded at the start is kept.
    expect(attempt.request.stream).toBe(true);
  }
  // At least what was on screen a moment before the close (the close sends what had arrived by then).
  expect(stored.responses[0].attempts[0].text.startsWith(shown)).toBe(true);
  expect(JSON.stringify(stored)).not.toContain(DIRECT_KEY);
});
