/**
 * With a working store, the workspace keeps only references to the ended batches the store
 * holds; a reload reads them back from the store, with the attempt shown of each response. A
 * batch running on the server is kept by reference too while it streams (its text is the
 * store's and the server's): a page of the workspace with no snapshot of its own reattaches to
 * it from the reference and follows it live to its end.
 */
import { expect, test } from '@jupyterlab/galata';

import { execute, expectAsSent, labReady, RESPONSE, workspaceBatches } from './helpers';
import { resetSimulator, simulatorRequests } from './simulator';

// The real workspace on the server (not Galata's in-memory one): it is what is checked.
test.use({ mockState: false, autoGoto: false });

test('ended batches are kept in the workspace by reference and come back from the store after a reload', async ({
  page,
  request
}) => {
  const stamp = Date.now();
  const workspace = `fanout-refs-${stamp}`;
  await page.goto(`workspaces/${workspace}`);
  await page.waitForFunction(() => (window as any).jupyterapp?.commands.hasCommand('fanout:generate'));
  await resetSimulator(request, {
    tokens_per_second: 400,
    ttft_ms: 20,
    reasoning_tokens: 0,
    answer_text: `Wombats ${stamp} dig burrows.`
  });
  const summary = await execute(page, 'fanout:generate', { prompt: `By reference ${stamp}`, n: 2 });
  await resetSimulator(request, {
    tokens_per_second: 400,
    ttft_ms: 20,
    reasoning_tokens: 0,
    answer_text: 'Second try.'
  });
  await execute(page, 'fanout:regenerate', { batchId: summary.batchId, responseId: '1' });
  await execute(page, 'fanout:show-attempt', { batchId: summary.batchId, responseId: '1', attempt: 1 });
  const before = await execute(page, 'fanout:get-batch', { batchId: summary.batchId });

  // The workspace keeps a reference (id, time, attempt shown), not the text.
  let saved: any = null;
  await expect
    .poll(
      async () => {
        const data = (await (await request.get(`/lab/api/workspaces/${workspace}`)).json()).data;
        saved = data['jupyterlab-fanout:batches'];
        return (saved?.refs ?? []).map((r: any) => [r.batchId, r.shown]);
      },
      { timeout: 20000 }
    )
    .toEqual([[summary.batchId, { '1': 1 }]]);
  expect(saved.batches).toEqual([]);
  expect(JSON.stringify(saved)).not.toContain(`Wombats ${stamp}`);

  // A reload: read back from the store, every attempt, the one shown.
  const loaded = page.waitForEvent('load');
  await page.evaluate(() => window.location.reload());
  await loaded;
  await page.waitForFunction(() => (window as any).jupyterapp?.commands.hasCommand('fanout:get-batch'));
  // Opened in this page (from the store, if the page has not read its references yet: the page
  // then still shows the attempt the workspace had shown).
  await expect
    .poll(
      () =>
        page.evaluate(
          (id: string) =>
            (window as any).jupyterapp.commands.execute('fanout:open', { batchId: id }).then(
              () => true,
              () => false
            ),
          summary.batchId
        ),
      { timeout: 20000 }
    )
    .toBe(true);
  await expect(page.locator('.jp-Fanout-sidebar .jp-Fanout-response').first()).toContainText(`Wombats ${stamp}`);
  const after = await execute(page, 'fanout:get-batch', { batchId: summary.batchId });
  expect(after.responses.map((r: any) => [r.id, r.attempt, r.shownAttempt ?? null, r.status, r.content])).toEqual(
    before.responses.map((r: any) => [r.id, r.attempt, r.shownAttempt ?? null, r.status, r.content])
  );
  expect(after.responses[0].attempts.map((a: any) => a.content)).toEqual([
    `Wombats ${stamp} dig burrows.`,
    'Second try.'
  ]);
  await request.delete(`/lab/api/workspaces/${workspace}`);
});

test('a running batch is kept by reference while it streams; a page without its snapshot reattaches to it and follows it live to the end', async ({
  page,
  browser,
  baseURL,
  request
}) => {
  const stamp = Date.now();
  const workspace = `fanout-running-refs-${stamp}`;
  await page.goto(`workspaces/${workspace}`);
  await labReady(page);
  // 14 s of streaming: the test looks at the workspace while it runs, then reattaches.
  await resetSimulator(request, { tokens_per_second: 20, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 280 });
  const batchId: string = await page.evaluate(async prompt => {
    const commands = (window as any).jupyterapp.commands;
    void commands.execute('fanout:generate', { prompt, n: 3, maxTokens: 400 });
    return (await commands.execute('fanout:get-batch', {})).batchId;
  }, `Kept by reference ${stamp}`);

  // While it streams: a reference in the workspace, none of its text.
  await expect
    .poll(async () => (await workspaceBatches(request, workspace))?.refs?.map((r: any) => r.batchId) ?? [], {
      timeout: 10000
    })
    .toEqual([batchId]);
  await expect
    .poll(async () => (await execute(page, 'fanout:get-batch', { batchId })).responses[0].answerTokens)
    .toBeGreaterThan(40);
  const running = await execute(page, 'fanout:get-batch', { batchId });
  expect(running.responses.map((r: any) => r.status)).toEqual(['generating', 'generating', 'generating']);
  const saved = await workspaceBatches(request, workspace);
  expect(saved.batches).toEqual([]);
  for (const response of running.responses) {
    expect(JSON.stringify(saved)).not.toContain(response.content.slice(0, 40));
  }

  // The tab goes away; a browser with nothing of this page (no snapshot in its local storage)
  // opens the workspace: the reference brings the batch back from the store, reattached.
  const left = page.waitForEvent('load');
  await page.evaluate(() => {
    window.location.href = 'about:blank';
  });
  await left;
  const other = await browser.newContext({ baseURL });
  try {
    const second = await other.newPage();
    await second.goto(`lab/workspaces/${workspace}`);
    await labReady(second);
    await execute(second, 'fanout:open');
    const cards = second.locator(`${RESPONSE}[data-status="generating"]:not([data-reconnecting])`);
    await expect(cards).toHaveCount(3, { timeout: 20000 });
    await expect(second.locator(`${RESPONSE}[data-status="complete"]`)).toHaveCount(3, { timeout: 60000 });
    const ended = await execute(second, 'fanout:get-batch', { batchId });
    const record = await simulatorRequests(request);
    // Nothing asked again, nothing cut: the batch ran on without a tab and was followed to its end.
    expect(record.map(entry => [entry.outcome, entry.disconnected])).toEqual(Array(3).fill(['completed', false]));
    expectAsSent(ended, record);
    expect(await second.locator(`${RESPONSE} .jp-Fanout-response-text`).allTextContents()).toEqual(
      ended.responses.map((r: any) => r.content)
    );
  } finally {
    await other.close();
    await request.delete(`/lab/api/workspaces/${workspace}`);
  }
});
