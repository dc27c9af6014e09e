/**
 * A batch belongs to the server (issue 15): a reload reattaches and every response continues
 * live, a tab closed while its batch runs finds it complete when reopened, a batch left with no
 * tab is stopped after `c.Fanout.detached_timeout` (FANOUT_TEST_DETACHED_TIMEOUT, 15 s here),
 * and two tabs acting on one batch stay consistent. Against the vLLM simulator over real
 * sockets; texts are compared with what the simulator records it sent.
 */
import { expect, test } from '@jupyterlab/galata';
import type { APIRequestContext, Page } from '@playwright/test';

import { execute, expectAsSent, labReady, reloadLab, RESPONSE } from './helpers';
import { ISimulatorRequest, resetSimulator, simulatorRequests } from './simulator';

/** The Galata server's detached timeout (jupyter_server_test_config.py), in seconds. */
const DETACHED_TIMEOUT_S = Number(process.env.FANOUT_TEST_DETACHED_TIMEOUT || '15');

/** Wait until JupyterLab (with the extension) is ready in `page`, then open the Fanout sidebar. */
async function labReadyWithSidebar(page: Page): Promise<void> {
  await labReady(page);
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('fanout:open'));
}

/** A plain browser reload, then the Fanout sidebar. */
async function reload(page: Page): Promise<void> {
  await reloadLab(page);
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('fanout:open'));
}

/**
 * The tab goes away (navigates off JupyterLab: its sockets close, its worker ends) and comes back
 * later through `reopen` (Galata's own goto takes JupyterLab paths only).
 */
async function leave(page: Page): Promise<() => Promise<void>> {
  const url = page.url();
  const left = page.waitForEvent('load');
  await page.evaluate(() => {
    window.location.href = 'about:blank';
  });
  await left;
  return async () => {
    const loaded = page.waitForEvent('load');
    await page.evaluate(u => {
      window.location.href = u;
    }, url);
    await loaded;
    await labReadyWithSidebar(page);
  };
}

/** Start a batch without waiting for it; its id. */
async function startBatch(page: Page, args: Record<string, unknown>): Promise<string> {
  return page.evaluate(async args => {
    const commands = (window as any).jupyterapp.commands;
    void commands.execute('fanout:generate', args);
    return (await commands.execute('fanout:get-batch', {})).batchId as string;
  }, args);
}

async function getBatch(page: Page, batchId: string): Promise<any> {
  return page.evaluate(id => (window as any).jupyterapp.commands.execute('fanout:get-batch', { batchId: id }), batchId);
}

async function cardTexts(page: Page): Promise<string[]> {
  return page.locator(`${RESPONSE} .jp-Fanout-response-text`).allTextContents();
}

/** The detail of the streaming worker's last user-timing mark `name`. */
/**
 * Until the server's batch store has read part of every response of the batch (its reader
 * answers about once a second): an attach from then on replays a digest of what it read.
 */
async function storeHasRead(page: Page, batchId: string, n: number): Promise<void> {
  await expect
    .poll(
      () =>
        page.evaluate(async id => {
          const settings = (window as any).jupyterapp.serviceManager.serverSettings;
          const answer = await fetch(`${settings.baseUrl}fanout/batches/${encodeURIComponent(id)}`, {
            headers: settings.token ? { Authorization: `token ${settings.token}` } : {}
          });
          const batch = answer.ok ? await answer.json() : { responses: [] };
          return batch.responses.filter((r: any) => r.attempts.some((a: any) => a.reasoning || a.text)).length;
        }, batchId),
      { timeout: 15000 }
    )
    .toBe(n);
}

async function workerMark(page: Page, name: string): Promise<any> {
  for (const worker of page.workers()) {
    const detail = await worker.evaluate(n => {
      const marks = performance.getEntriesByName(n);
      return marks.length ? (marks[marks.length - 1] as any).detail : null;
    }, name);
    if (detail) {
      return detail;
    }
  }
  throw new Error(`no worker has the mark ${name}`);
}

async function allCompleted(request: APIRequestContext, n: number): Promise<void> {
  await expect
    .poll(async () => (await simulatorRequests(request)).map(entry => entry.outcome), { timeout: 60000 })
    .toEqual(Array(n).fill('completed'));
}

test.describe('A batch belongs to the server', () => {
  test('reload during a batch: every response continues live, and ends with exactly what the simulator sent', async ({
    page,
    request
  }) => {
    await resetSimulator(request, { tokens_per_second: 25, ttft_ms: 20, reasoning_tokens: 20, answer_tokens: 300 });
    await execute(page, 'fanout:open');
    const batchId = await startBatch(page, { prompt: 'Keep going after a reload', n: 4, maxTokens: 400 });
    await expect(page.locator(`${RESPONSE}[data-status="generating"]`)).toHaveCount(4);
    await storeHasRead(page, batchId, 4);
    const before = await getBatch(page, batchId);

    await reload(page);
    // Live again: generating (not reconnecting), each with at least the text it had before.
    await expect(page.locator(`${RESPONSE}[data-status="generating"]:not([data-reconnecting])`)).toHaveCount(4);
    const live = await getBatch(page, batchId);
    live.responses.forEach((response: any, i: number) => {
      expect(response.status).toBe('generating');
      expect(response.attempt).toBe(1);
      expect(response.content.startsWith(before.responses[i].content)).toBe(true);
      // TTFT counts from the server's first byte, not from the replay.
      expect(response.metrics.ttftMs).toBeLessThan(3000);
    });
    // What the store had read came as digests (docs/protocol.md), the bytes after them as
    // deflate streams inflated in the worker: fewer bytes on the wire than the SSE they held.
    // The checks below find the whole exact.
    const replayed = await workerMark(page, 'jupyterlab-fanout:engine-replayed');
    expect(replayed.digestEvents).toBeGreaterThan(4 * 10);
    expect(replayed.bytes).toBeGreaterThan(0);
    expect(replayed.wireBytes).toBeLessThan(replayed.bytes);

    await expect(page.locator(`${RESPONSE}[data-status="complete"]`)).toHaveCount(4, { timeout: 60000 });
    const after = await getBatch(page, batchId);
    const record = await simulatorRequests(request);
    // Nothing was asked again, nothing was cut.
    expect(record.map(entry => [entry.outcome, entry.disconnected])).toEqual(Array(4).fill(['completed', false]));
    expectAsSent(after, record);
    expect(await cardTexts(page)).toEqual(after.responses.map((r: any) => r.content));
  });

  test('a tab closed while its batch runs, reopened after the batch ended: complete, nothing lost', async ({
    page,
    request
  }) => {
    await resetSimulator(request, { tokens_per_second: 40, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 120 });
    await execute(page, 'fanout:open');
    const batchId = await startBatch(page, { prompt: 'Finish without me', n: 3, maxTokens: 200 });
    await expect(page.locator(`${RESPONSE}[data-status="generating"]`)).toHaveCount(3);

    // The tab goes away while the batch runs.
    const reopen = await leave(page);
    expect(page.url()).toBe('about:blank');
    await allCompleted(request, 3);
    await reopen();
    await expect(page.locator(`${RESPONSE}[data-status="complete"]`)).toHaveCount(3);
    const batch = await getBatch(page, batchId);
    const record = await simulatorRequests(request);
    expect(record.every(entry => !entry.disconnected)).toBe(true);
    expect(batch.responses.map((r: any) => r.status)).toEqual(['complete', 'complete', 'complete']);
    expectAsSent(batch, record);
    expect(await cardTexts(page)).toEqual(batch.responses.map((r: any) => r.content));
  });

  test('a batch with no tab is stopped after the detached timeout; reopened, it shows what had arrived', async ({
    page,
    request
  }) => {
    test.setTimeout(60000 + 4 * DETACHED_TIMEOUT_S * 1000);
    await resetSimulator(request, { tokens_per_second: 10, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 2000 });
    await execute(page, 'fanout:open');
    const batchId = await startBatch(page, { prompt: 'A very long essay', n: 2, maxTokens: 2000 });
    await expect(page.locator(`${RESPONSE}[data-status="generating"]`)).toHaveCount(2);
    const reopen = await leave(page);
    const leftAt = Date.now() / 1000;

    // The simulator sees both upstream connections closed, about detached_timeout after the tab left.
    let record: ISimulatorRequest[] = [];
    await expect
      .poll(
        async () => {
          record = await simulatorRequests(request);
          return record.filter(entry => entry.disconnected).length;
        },
        { timeout: (DETACHED_TIMEOUT_S + 30) * 1000 }
      )
      .toBe(2);
    for (const entry of record) {
      const after = entry.disconnected_at! - leftAt;
      expect(after).toBeGreaterThan(DETACHED_TIMEOUT_S - 1);
      expect(after).toBeLessThan(DETACHED_TIMEOUT_S + 15);
      expect(entry.completion_tokens_sent).toBeLessThan(2000);
    }

    // Reopened: stopped for the detached timeout, with the text the simulator sent before it.
    await reopen();
    await expect(page.locator(`${RESPONSE}[data-status="stopped"]`)).toHaveCount(2);
    const batch = await getBatch(page, batchId);
    for (const response of batch.responses) {
      const sent = record.find(entry => entry.seed === response.seed)!;
      expect(response.content).not.toBe('');
      expect(sent.content.startsWith(response.content)).toBe(true);
    }
  });
});

test.describe('Two tabs on one batch', () => {
  // Both tabs read and write the server's workspace (not Galata's per-page mock), as two real tabs do.
  test.use({ mockState: false });

  test('stop a response in one tab, re-generate it in the other: both end with the same attempts and text', async ({
    page,
    request
  }) => {
    await resetSimulator(request, { tokens_per_second: 20, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 500 });
    await execute(page, 'fanout:open');
    const batchId = await startBatch(page, { prompt: 'Two tabs, one batch', n: 3, maxTokens: 600 });
    // The workspace is saved every 5 s while a batch streams: the second tab opens once it holds the batch.
    await page.waitForResponse(
      r =>
        r.url().includes('/api/workspaces') &&
        r.request().method() === 'PUT' &&
        !!r.request().postData()?.includes(batchId),
      { timeout: 20000 }
    );
    await expect(page.locator(`${RESPONSE}[data-status="generating"]`)).toHaveCount(3);
    const second = await page.context().newPage();
    // Its own workspace, a copy of the first tab's (JupyterLab gives a second tab of a workspace
    // in use such a copy; named here so that the test does not depend on the name it picks).
    const workspace = await page.evaluate(
      () => JSON.parse(document.getElementById('jupyter-config-data')!.textContent!).workspace as string
    );
    await second.goto(`/lab/workspaces/second-tab?clone=${encodeURIComponent(workspace)}`);
    await labReadyWithSidebar(second);
    const one = (p: Page, index: number) => p.locator(`${RESPONSE}[data-response-index="${index}"]`);
    await expect(second.locator(`${RESPONSE}[data-status="generating"]:not([data-reconnecting])`)).toHaveCount(3);

    // Stop response 2 in the first tab: stopped in both.
    await one(page, 2).locator('.jp-Fanout-stop').click();
    await expect(one(page, 2)).toHaveAttribute('data-status', 'stopped');
    await expect(one(second, 2)).toHaveAttribute('data-status', 'stopped');
    // Re-generate it in the second: the first tab shows the new attempt too.
    await one(second, 2).locator('.jp-Fanout-regenerate').click();
    await expect(one(second, 2)).toHaveAttribute('data-attempt', '2/2');
    await expect(one(page, 2)).toHaveAttribute('data-attempt', '2/2');

    for (const p of [page, second]) {
      await expect(p.locator(`${RESPONSE}[data-status="complete"]`)).toHaveCount(3, { timeout: 60000 });
    }
    const [a, b] = [await getBatch(page, batchId), await getBatch(second, batchId)];
    const attempts = (batch: any) =>
      batch.responses.map((r: any) => r.attempts.map((t: any) => [t.attempt, t.seed, t.status, t.content]));
    expect(attempts(a)).toEqual(attempts(b));
    expect(a.responses.map((r: any) => r.attempts.map((t: any) => t.status))).toEqual([
      ['complete'],
      ['stopped', 'complete'],
      ['complete']
    ]);
    const record = await simulatorRequests(request);
    expect(record).toHaveLength(4);
    expectAsSent(a, record);
    await second.close();
  });
});
