/**
 * Keyboard and menus: the shortcut, Escape in the sidebar, the cell context menu, sorting.
 */
import { expect, test } from '@jupyterlab/galata';

import { execute, notebookWithPrompt, RESPONSE } from './helpers';
import { resetSimulator, simulatorRequests } from './simulator';

test('Ctrl+Alt+G in a notebook generates responses from the active cell', async ({ page, request }) => {
  await resetSimulator(request, { tokens_per_second: 300, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 20 });
  await notebookWithPrompt(page, 'From the keyboard.');
  await page.keyboard.press('Control+Alt+g');
  await expect(page.locator(`${RESPONSE}[data-status="complete"]`)).toHaveCount(4);
  const record = await simulatorRequests(request);
  expect(record.map(entry => (entry as any).messages.at(-1).content)).toEqual(Array(4).fill('From the keyboard.'));
});

test('Escape in the sidebar stops every running response', async ({ page, request }) => {
  await resetSimulator(request, { tokens_per_second: 10, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 200 });
  await notebookWithPrompt(page, 'Something long.');
  void execute(page, 'fanout:generate', {});
  await expect(page.locator(`${RESPONSE}[data-status="generating"]`)).toHaveCount(4);
  await page.locator('.jp-Fanout-batch-prompt').click();
  await page.keyboard.press('Escape');
  await expect(page.locator(`${RESPONSE}[data-status="stopped"]`)).toHaveCount(4);
  await expect.poll(async () => (await simulatorRequests(request)).filter(entry => entry.disconnected).length).toBe(4);
});

test("the cell context menu's item generates from that cell", async ({ page, request }) => {
  await resetSimulator(request, { tokens_per_second: 300, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 20 });
  await notebookWithPrompt(page, 'From the menu.');
  await page.notebook.getCellLocator(0).then(cell => cell!.click({ button: 'right' }));
  await page.locator('.lm-Menu-item', { hasText: 'Generate responses from this cell' }).click();
  await expect(page.locator(`${RESPONSE}[data-status="complete"]`)).toHaveCount(4);
  const record = await simulatorRequests(request);
  expect((record[0] as any).messages.at(-1).content).toBe('From the menu.');
});

test('responses can be sorted by answer tokens', async ({ page, request }) => {
  await resetSimulator(request, { tokens_per_second: 300, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 60 });
  await page.notebook.createNew();
  const summary = await execute(page, 'fanout:generate', { prompt: 'Sort us', n: 3, maxTokens: 1024 });
  // Stop lengths differ: re-generate two of them with smaller answers.
  await resetSimulator(request, { tokens_per_second: 300, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 10 });
  await execute(page, 'fanout:regenerate', { batchId: summary.batchId, responseId: '1' });
  await resetSimulator(request, { tokens_per_second: 300, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 30 });
  await execute(page, 'fanout:regenerate', { batchId: summary.batchId, responseId: '2' });
  const order = () =>
    page.locator(RESPONSE).evaluateAll(nodes => nodes.map(n => n.getAttribute('data-response-index')));
  expect(await order()).toEqual(['1', '2', '3']);
  await page.locator('.jp-Fanout-batch-order select').selectOption('answer');
  await expect.poll(order).toEqual(['3', '2', '1']);
});
