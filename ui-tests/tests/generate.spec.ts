/**
 * Generate responses end to end: a real JupyterLab in Chromium, the extension's proxy, and the
 * vLLM simulator over real sockets.
 */
import { expect, test } from '@jupyterlab/galata';
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';

import { execute, notebookWithPrompt, runFromPalette } from './helpers';
import { resetSimulator, simulatorRequests } from './simulator';

const RESPONSE = '.jp-Fanout-sidebar .jp-Fanout-response';

async function responseTexts(page: IJupyterLabPageFixture): Promise<string[]> {
  return page
    .locator(`${RESPONSE} .jp-Fanout-response-text`)
    .evaluateAll(nodes => nodes.map(node => node.textContent ?? ''));
}

test.describe('Generate responses', () => {
  test('four responses stream from the simulator through the proxy, each exactly its text', async ({
    page,
    request
  }) => {
    await resetSimulator(request, { tokens_per_second: 80, ttft_ms: 100, answer_tokens: 80, reasoning_tokens: 20 });
    await notebookWithPrompt(page, 'Explain attention in one paragraph, with a code example.');

    await runFromPalette(page, 'Generate responses');

    await expect(page.locator(RESPONSE)).toHaveCount(4);
    await expect(page.locator(`${RESPONSE}[data-status="complete"]`)).toHaveCount(4);
    await expect(page.locator('.jp-Fanout-batch-progress')).toHaveText('4/4 complete');

    const record = await simulatorRequests(request);
    expect(record).toHaveLength(4);
    for (const entry of record) {
      expect(entry.stream).toBe(true);
      expect(entry.n).toBe(1);
      expect(entry.outcome).toBe('completed');
      expect(entry.content.length).toBeGreaterThan(0);
    }
    const shown = (await responseTexts(page)).sort();
    const sent = record.map(entry => entry.content).sort();
    expect(shown).toEqual(sent);
  });

  test('stopping one response mid-stream closes its upstream connection; the other three complete', async ({
    page,
    request
  }) => {
    // 160 answer tokens at 20 tokens/s: about eight seconds per response.
    await resetSimulator(request, { tokens_per_second: 20, ttft_ms: 100, answer_tokens: 160, reasoning_tokens: 0 });
    await notebookWithPrompt(page, 'Write a short story about a GPU.');

    await runFromPalette(page, 'Generate responses');

    const second = page.locator(`${RESPONSE}[data-response-index="2"]`);
    await expect(second).toHaveAttribute('data-status', 'generating');
    await expect(second.locator('.jp-Fanout-response-text')).not.toBeEmpty();
    await second.locator('.jp-Fanout-stop').click();
    await expect(second).toHaveAttribute('data-status', 'stopped');
    const kept = (await second.locator('.jp-Fanout-response-text').textContent()) ?? '';
    expect(kept.length).toBeGreaterThan(0);

    await expect(page.locator(`${RESPONSE}[data-status="complete"]`)).toHaveCount(3);

    const record = await simulatorRequests(request);
    expect(record).toHaveLength(4);
    const disconnected = record.filter(entry => entry.disconnected);
    expect(disconnected).toHaveLength(1);
    expect(disconnected[0].outcome).toBe('disconnected');
    // The text the user keeps is what the simulator had sent before the stop.
    expect(disconnected[0].content.startsWith(kept)).toBe(true);
    expect(record.filter(entry => entry.outcome === 'completed')).toHaveLength(3);
  });

  test('the generate command resolves with a summary matching the simulator exactly', async ({ page, request }) => {
    await resetSimulator(request, { tokens_per_second: 200, ttft_ms: 50, answer_tokens: 40, reasoning_tokens: 10 });
    await page.notebook.createNew();
    const summary = await page.evaluate(async () => {
      const app = (window as any).jupyterapp;
      return app.commands.execute('fanout:generate', { prompt: 'Say hello', n: 3, maxTokens: 200 });
    });
    expect(summary.responses).toHaveLength(3);
    const record = await simulatorRequests(request);
    for (const response of summary.responses) {
      expect(response.status).toBe('complete');
      const entry = record.find(r => r.seed === response.seed);
      expect(entry).toBeDefined();
      expect(response.content).toBe(entry!.content);
      expect(response.reasoning).toBe(entry!.reasoning);
      expect(entry!.max_tokens).toBe(200);
    }
  });

  test('an upstream error ends only its own response, with the upstream message and the text so far', async ({
    page,
    request
  }) => {
    await resetSimulator(request, {
      tokens_per_second: 100,
      ttft_ms: 50,
      answer_tokens: 60,
      reasoning_tokens: 0,
      faults: [{ kind: 'error', after_tokens: 10, times: 1, message: 'simulated engine failure' }]
    });
    await page.notebook.createNew();
    const summary = await page.evaluate(async () => {
      const app = (window as any).jupyterapp;
      return app.commands.execute('fanout:generate', { prompt: 'Hello', n: 4 });
    });
    const failed = summary.responses.filter((r: any) => r.status === 'error');
    expect(failed).toHaveLength(1);
    expect(failed[0].error.message).toContain('simulated engine failure');
    expect(failed[0].content.length).toBeGreaterThan(0);
    expect(summary.responses.filter((r: any) => r.status === 'complete')).toHaveLength(3);
    await expect(page.locator(`${RESPONSE}[data-status="error"] .jp-Fanout-response-error`)).toContainText(
      'simulated engine failure'
    );
  });
});

test('Generate shows the batch it started, even after an older batch was chosen', async ({ page, request }) => {
  await resetSimulator(request, { tokens_per_second: 400, ttft_ms: 20, answer_tokens: 10, reasoning_tokens: 0 });
  const generate = (prompt: string) =>
    page.evaluate(
      prompt =>
        (window as any).jupyterapp.commands
          .execute('fanout:generate', { prompt, n: 1 })
          .then((summary: any) => summary.batchId as string),
      prompt
    );
  const shown = page.locator('.jp-Fanout-sidebar .jp-Fanout-batch[data-batch-id]');
  const first = await generate('The first batch.');
  const second = await generate('The second batch.');
  await expect(shown).toHaveAttribute('data-batch-id', second);
  // An older batch chosen (as History's Open does): shown, and kept while nothing is generated.
  await execute(page, 'fanout:open', { batchId: first });
  await expect(shown).toHaveAttribute('data-batch-id', first);
  await execute(page, 'fanout:remove-batch', { batchId: second });
  await expect(shown).toHaveAttribute('data-batch-id', first);
  // The next Generate shows its own batch (before, the sidebar stayed on the chosen one).
  const third = await generate('The third batch.');
  await expect(shown).toHaveAttribute('data-batch-id', third);
  await expect(page.locator('.jp-Fanout-sidebar .jp-Fanout-history-select')).toHaveValue(third);
});

test('responses stream and are parsed in a Web Worker, not on the page’s main thread', async ({ page, request }) => {
  await resetSimulator(request, { tokens_per_second: 200, ttft_ms: 50, answer_tokens: 40 });
  const warnings: string[] = [];
  page.on('console', message => {
    if (message.type() === 'warning' || message.type() === 'error') {
      warnings.push(message.text());
    }
  });
  // Record every WebSocket the page's own scripts open (Playwright's `websocket` event also
  // reports the worker's).
  await page.addInitScript(() => {
    const Native = window.WebSocket;
    const opened: string[] = ((window as any).__socketsOpenedByPage = []);
    window.WebSocket = class extends Native {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        opened.push(String(url));
      }
    } as typeof WebSocket;
  });
  await page.reload();

  const summary = await execute(page, 'fanout:generate', { prompt: 'Say something.', n: 3 });

  expect(summary.responses.map((r: { status: string }) => r.status)).toEqual(['complete', 'complete', 'complete']);
  const record = await simulatorRequests(request);
  expect(summary.responses.map((r: { content: string }) => r.content).sort()).toEqual(
    record.map(entry => entry.content).sort()
  );
  const worker = page.workers().find(w => w.url().includes('jupyterlab-fanout-streams'));
  expect(worker).toBeDefined();
  expect(warnings.filter(text => text.includes('jupyterlab-fanout'))).toEqual([]);
  // The worker opened the batch WebSocket; the page opened JupyterLab's own sockets, not that one.
  const pageSockets: string[] = await page.evaluate(() => (window as any).__socketsOpenedByPage);
  expect(pageSockets.some(url => url.includes('/api/events/subscribe') || url.includes('/api/kernels'))).toBe(true);
  expect(pageSockets.filter(url => url.includes('fanout/batch'))).toEqual([]);
});
