/**
 * A batch opened anywhere is live while the server runs it, and tabs see each other's
 * re-generates (issue 15): a running batch opened from History in a second page streams on
 * there, and its Stop reaches the simulator; a batch that has ended in one page hears of a
 * re-generate started in another. Two pages of one browser context against the real Jupyter
 * server, its store and the vLLM simulator; texts are compared with what the simulator records.
 */
import { expect, test } from '@jupyterlab/galata';
import type { Page } from '@playwright/test';

import { execute, expectAsSent, labReady, RESPONSE } from './helpers';
import { ISimulatorRequest, resetSimulator, simulatorRequests } from './simulator';

const HISTORY = '#jupyterlab-fanout-history';

/** Wait until JupyterLab (with the extension) is ready in `page`, then open the Fanout sidebar. */
async function labReadyWithSidebar(page: Page): Promise<void> {
  await labReady(page);
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('fanout:open'));
}

/** A second page of the same browser, in a workspace of its own (so it has none of the first's batches). */
async function secondPage(page: Page, name: string): Promise<Page> {
  const second = await page.context().newPage();
  await second.goto(`/lab/workspaces/${name}-${Date.now()}`);
  await labReadyWithSidebar(second);
  return second;
}

async function run(page: Page, id: string, args: Record<string, unknown> = {}): Promise<any> {
  return execute(page as any, id, args);
}

/** Start a batch without waiting for it; its id. */
async function startBatch(page: Page, args: Record<string, unknown>): Promise<string> {
  return page.evaluate(async args => {
    const commands = (window as any).jupyterapp.commands;
    void commands.execute('fanout:generate', args);
    return (await commands.execute('fanout:get-batch', {})).batchId as string;
  }, args);
}

/** The card of response `index` in `page`. */
const card = (page: Page, index: number) => page.locator(`${RESPONSE}[data-response-index="${index}"]`);

/** Wait until the store has `batchId` with at least one response (it writes about once a second). */
async function inStore(page: Page, batchId: string): Promise<void> {
  await expect
    .poll(async () => (await run(page, 'fanout:list-batches', { limit: 50 })).some((b: any) => b.id === batchId), {
      timeout: 15000
    })
    .toBe(true);
}

test.describe('A running batch opened anywhere is live', () => {
  test('opened from History in a second page: live, and it ends with exactly what the simulator sent', async ({
    page,
    request
  }) => {
    await resetSimulator(request, { tokens_per_second: 20, ttft_ms: 20, reasoning_tokens: 10, answer_tokens: 250 });
    await run(page, 'fanout:open');
    const batchId = await startBatch(page, { prompt: `Open me elsewhere ${Date.now()}`, n: 3, maxTokens: 400 });
    await expect(page.locator(`${RESPONSE}[data-status="generating"]`)).toHaveCount(3);
    await inStore(page, batchId);

    const second = await secondPage(page, 'liveopen-history');
    // Its History section, and the batch's Open button there (a notification toast of the new
    // page may cover the sidebar's corner: the click is dispatched to the button itself).
    await run(second, 'fanout:show-history');
    const item = second.locator(`${HISTORY} .jp-Fanout-historyItem[data-batch-id="${batchId}"]`);
    await item.locator('[data-action="open"]').dispatchEvent('click');

    // Live: generating and not reconnecting, the text growing, in the page that opened it.
    await expect(second.locator(`${RESPONSE}[data-status="generating"]:not([data-reconnecting])`)).toHaveCount(3, {
      timeout: 20000
    });
    const live = await run(second, 'fanout:get-batch', { batchId });
    expect(live.responses.map((r: any) => r.status)).toEqual(['generating', 'generating', 'generating']);
    const lengths = live.responses.map((r: any) => r.content.length);
    await expect
      .poll(async () => (await run(second, 'fanout:get-batch', { batchId })).responses[0].content.length)
      .toBeGreaterThan(lengths[0]);

    for (const p of [page, second]) {
      await expect(p.locator(`${RESPONSE}[data-status="complete"]`)).toHaveCount(3, { timeout: 60000 });
    }
    const record = await simulatorRequests(request);
    expect(record.map(entry => [entry.outcome, entry.disconnected])).toEqual(Array(3).fill(['completed', false]));
    const [a, b] = [
      await run(page, 'fanout:get-batch', { batchId }),
      await run(second, 'fanout:get-batch', { batchId })
    ];
    expectAsSent(b, record);
    expect(b.responses.map((r: any) => r.content)).toEqual(a.responses.map((r: any) => r.content));
    expect(await second.locator(`${RESPONSE} .jp-Fanout-response-text`).allTextContents()).toEqual(
      b.responses.map((r: any) => r.content)
    );
    await second.close();
  });

  test('fanout:get-batch in a page without the batch resolves with its live state; Stop there reaches the simulator', async ({
    page,
    request
  }) => {
    await resetSimulator(request, { tokens_per_second: 10, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 2000 });
    await run(page, 'fanout:open');
    const batchId = await startBatch(page, { prompt: `Stop me from afar ${Date.now()}`, n: 2, maxTokens: 2000 });
    await expect(page.locator(`${RESPONSE}[data-status="generating"]`)).toHaveCount(2);
    await inStore(page, batchId);

    const second = await secondPage(page, 'liveopen-stop');
    const got = await run(second, 'fanout:get-batch', { batchId });
    expect(got.responses.map((r: any) => r.status)).toEqual(['generating', 'generating']);
    expect(got.responses.every((r: any) => r.content.length > 0)).toBe(true);
    await run(second, 'fanout:open', { batchId });
    await expect(second.locator(`${RESPONSE}[data-status="generating"]:not([data-reconnecting])`)).toHaveCount(2);

    // Stop response 1 in the page that opened it: the simulator sees its connection closed.
    const stoppedAt = Date.now() / 1000;
    await card(second, 1).locator('.jp-Fanout-stop').click();
    await expect(card(second, 1)).toHaveAttribute('data-status', 'stopped');
    await expect(card(page, 1)).toHaveAttribute('data-status', 'stopped');
    let record: ISimulatorRequest[] = [];
    await expect
      .poll(async () => {
        record = await simulatorRequests(request);
        return record.filter(entry => entry.disconnected).map(entry => entry.seed);
      })
      .toEqual([got.responses[0].seed]);
    const first = record.find(entry => entry.seed === got.responses[0].seed)!;
    expect(first.disconnected_at! - stoppedAt).toBeLessThan(5);
    expect(first.completion_tokens_sent).toBeLessThan(2000);

    // Stop all there: the other one too.
    await second.locator('.jp-Fanout-stop-all').click();
    await expect
      .poll(async () => (await simulatorRequests(request)).filter(entry => entry.disconnected).length)
      .toBe(2);
    await expect(page.locator(`${RESPONSE}[data-status="stopped"]`)).toHaveCount(2);
    const b = await run(second, 'fanout:get-batch', { batchId });
    expectAsSent(b, await simulatorRequests(request));
    await second.close();
  });
});

test.describe('A page that has seen its batch end', () => {
  test('shows a re-generate started in another page live, and its Stop stops it there', async ({ page, request }) => {
    await resetSimulator(request, { tokens_per_second: 400, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 40 });
    await run(page, 'fanout:open');
    const done = await run(page, 'fanout:generate', { prompt: `Ended here ${Date.now()}`, n: 2, maxTokens: 100 });
    const batchId = done.batchId as string;
    await expect(page.locator(`${RESPONSE}[data-status="complete"]`)).toHaveCount(2);
    await inStore(page, batchId);

    // The second page opens it from the store, ended.
    const second = await secondPage(page, 'liveopen-ended');
    await run(second, 'fanout:open-batch', { batchId });
    await expect(second.locator(`${RESPONSE}[data-status="complete"]`)).toHaveCount(2);

    // A slow re-generate of response 1 in the second page: the first page shows attempt 2 live.
    await resetSimulator(request, { tokens_per_second: 10, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 2000 });
    await card(second, 1).locator('.jp-Fanout-regenerate').click();
    await expect(card(second, 1)).toHaveAttribute('data-attempt', '2/2');
    await expect(card(page, 1)).toHaveAttribute('data-attempt', '2/2');
    await expect(card(page, 1)).toHaveAttribute('data-status', 'generating');
    await expect
      .poll(async () => (await run(page, 'fanout:get-batch', { batchId })).responses[0].content.length)
      .toBeGreaterThan(0);

    // Stop it in the first page: the simulator sees it, and the second page shows it stopped.
    await card(page, 1).locator('.jp-Fanout-stop').click();
    await expect.poll(async () => (await simulatorRequests(request)).map(entry => entry.disconnected)).toEqual([true]);
    await expect(card(second, 1)).toHaveAttribute('data-status', 'stopped');

    // And the other way: a re-generate in the first page shows in the second.
    await resetSimulator(request, { tokens_per_second: 100, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 60 });
    await card(page, 2).locator('.jp-Fanout-regenerate').click();
    await expect(card(second, 2)).toHaveAttribute('data-attempt', '2/2');
    for (const p of [page, second]) {
      await expect(card(p, 2)).toHaveAttribute('data-status', 'complete', { timeout: 30000 });
    }
    const [a, b] = [
      await run(page, 'fanout:get-batch', { batchId }),
      await run(second, 'fanout:get-batch', { batchId })
    ];
    const attempts = (batch: any) =>
      batch.responses.map((r: any) => r.attempts.map((t: any) => [t.attempt, t.seed, t.status, t.content]));
    expect(attempts(a)).toEqual(attempts(b));
    expect(a.responses.map((r: any) => r.attempts.map((t: any) => t.status))).toEqual([
      ['complete', 'stopped'],
      ['complete', 'complete']
    ]);
    const record = await simulatorRequests(request);
    expect(record).toHaveLength(1);
    expect(b.responses[1].attempts[1].content).toBe(record[0].content);
    await second.close();
  });
});
