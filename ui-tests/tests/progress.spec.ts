/**
 * Live progress, stop, re-generate and fill the gaps, against the simulator over real sockets.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

import { execute, notebookWithPrompt, reloadLab, RESPONSE, runFromPalette } from './helpers';
import { resetSimulator, simulatorRequests } from './simulator';

/**
 * A plain browser reload (Galata's own would wait for a launcher the restored layout does not
 * show), then the Fanout sidebar.
 */
async function reloadAndOpenSidebar(page: IJupyterLabPageFixture): Promise<void> {
  await reloadLab(page);
  await execute(page, 'fanout:open');
}

test.describe('Live progress', () => {
  test('four responses with reasoning complete with the exact thinking and answer counts', async ({
    page,
    request
  }) => {
    await resetSimulator(request, { tokens_per_second: 100, ttft_ms: 50, reasoning_tokens: 20, answer_tokens: 40 });
    await notebookWithPrompt(page, 'Think, then answer.');
    await runFromPalette(page, 'Generate responses');
    await expect(page.locator(`${RESPONSE}[data-status="complete"]`)).toHaveCount(4);
    const counts = await page.locator(`${RESPONSE} .jp-Fanout-response-counts`).allTextContents();
    expect(counts).toEqual(Array(4).fill('(20 + 40 = 60 / 1024)'));
    const bars = page.locator(`${RESPONSE} [role="progressbar"]`);
    await expect(bars).toHaveCount(4);
    for (const bar of await bars.all()) {
      await expect(bar).toHaveAttribute('aria-valuenow', '60');
      await expect(bar).toHaveAttribute('aria-valuemax', '1024');
    }
    const record = await simulatorRequests(request);
    const reasoning = (await page.locator(`${RESPONSE} .jp-Fanout-response-reasoning pre`).allTextContents()).sort();
    expect(reasoning).toEqual(record.map(entry => entry.reasoning).sort());
    await expect(page.locator('.jp-Fanout-batch-progress')).toHaveText('4/4 complete');
  });

  test('a stopped response can be re-generated: a new request with a new seed', async ({ page, request }) => {
    await resetSimulator(request, { tokens_per_second: 25, ttft_ms: 50, reasoning_tokens: 0, answer_tokens: 100 });
    await notebookWithPrompt(page, 'Tell me about tensors.');
    await runFromPalette(page, 'Generate responses');
    const third = page.locator(`${RESPONSE}[data-response-index="3"]`);
    await expect(third).toHaveAttribute('data-status', 'generating');
    await third.locator('.jp-Fanout-stop').click();
    await expect(third).toHaveAttribute('data-status', 'stopped');
    await expect(page.locator(`${RESPONSE}[data-status="complete"]`)).toHaveCount(3);

    await resetSimulator(request, { tokens_per_second: 200, ttft_ms: 50, reasoning_tokens: 0, answer_tokens: 30 });
    await third.locator('.jp-Fanout-regenerate').click();
    await expect(third).toHaveAttribute('data-status', 'complete');
    await expect(page.locator(`${RESPONSE}[data-status="complete"]`)).toHaveCount(4);
    const record = await simulatorRequests(request);
    expect(record).toHaveLength(1);
    expect(record[0].outcome).toBe('completed');
    await expect(third.locator('.jp-Fanout-response-text')).toHaveText(record[0].content);
  });

  test('fill the gaps re-generates the response a mid-stream error ended, and only it', async ({ page, request }) => {
    await resetSimulator(request, {
      tokens_per_second: 200,
      ttft_ms: 50,
      reasoning_tokens: 0,
      answer_tokens: 40,
      faults: [{ kind: 'error', after_tokens: 5, times: 1, message: 'the engine fell over' }]
    });
    await page.notebook.createNew();
    const summary = await execute(page, 'fanout:generate', { prompt: 'Hello', n: 4 });
    expect(summary.responses.map((r: any) => r.status).sort()).toEqual(['complete', 'complete', 'complete', 'error']);
    const failed = summary.responses.find((r: any) => r.status === 'error');
    await expect(page.locator(`${RESPONSE}[data-status="error"] .jp-Fanout-response-error`)).toContainText(
      'the engine fell over'
    );

    await page.locator('.jp-Fanout-fill-gaps').click();
    await expect(page.locator(`${RESPONSE}[data-status="complete"]`)).toHaveCount(4);
    const record = await simulatorRequests(request);
    expect(record).toHaveLength(5);
    expect(record[4].outcome).toBe('completed');
    expect(record[4].seed).not.toBe(failed.seed);
    await expect(page.locator('.jp-Fanout-fill-gaps')).toHaveCount(0);
  });

  test('Stop all stops every running response, and the simulator sees every disconnect', async ({ page, request }) => {
    await resetSimulator(request, { tokens_per_second: 10, ttft_ms: 50, reasoning_tokens: 0, answer_tokens: 200 });
    await notebookWithPrompt(page, 'A long essay, please.');
    await runFromPalette(page, 'Generate responses');
    await expect(page.locator(`${RESPONSE}[data-status="generating"]`)).toHaveCount(4);
    await page.locator('.jp-Fanout-stop-all').click();
    await expect(page.locator(`${RESPONSE}[data-status="stopped"]`)).toHaveCount(4);
    await expect
      .poll(async () => (await simulatorRequests(request)).filter(entry => entry.disconnected).length)
      .toBe(4);
  });

  test('batches survive a page reload, with their text', async ({ page, request }) => {
    await resetSimulator(request, { tokens_per_second: 300, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 30 });
    await page.notebook.createNew();
    const summary = await execute(page, 'fanout:generate', { prompt: 'Remember me', n: 2 });
    // The state is saved at most a second after the last change.
    await page.waitForTimeout(1500);
    await reloadAndOpenSidebar(page);
    await expect(page.locator(`${RESPONSE}[data-status="complete"]`)).toHaveCount(2);
    const texts = await page.locator(`${RESPONSE} .jp-Fanout-response-text`).allTextContents();
    expect(texts).toEqual(summary.responses.map((r: any) => r.content));
  });
  // A reload in the middle of a batch reattaches to it: reattach.spec.ts.
});

test('the cells above can be sent as context, with the budget shown before sending', async ({ page, request }) => {
  await resetSimulator(request, { tokens_per_second: 300, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 20 });
  await page.notebook.createNew();
  await page.notebook.setCell(0, 'code', 'x = 41');
  await page.notebook.addCell('markdown', 'What is x + 1?');
  await page.notebook.selectCells(1);
  await execute(page, 'fanout:open');
  const context = page.locator('.jp-Fanout-context');
  await expect(context).toHaveText('Include the cells above as context');
  // The box reflects the setting, which changes a moment after the click.
  await context.locator('input').click();
  // "```python\nx = 41\n```" is 20 characters: 5 tokens at four characters a token.
  await expect(context).toHaveText('Context: 1 cells above, ≈ 5 / 2000 tokens');
  await page.notebook.selectCells(1);
  await execute(page, 'fanout:generate', { n: 1 });
  const record = await simulatorRequests(request);
  expect((record[0] as any).messages).toEqual([
    {
      role: 'user',
      content: 'Context: the notebook cells above my question.\n\n```python\nx = 41\n```\n\n---\n\nWhat is x + 1?'
    }
  ]);
  await context.locator('input').click();
  await expect(context).toHaveText('Include the cells above as context');
});
