/**
 * With a working store, the workspace keeps only references to the ended batches the store
 * holds; a reload reads them back from the store, with the attempt shown of each response.
 */
import { expect, test } from '@jupyterlab/galata';

import { execute } from './helpers';
import { resetSimulator } from './simulator';

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
  // In this page again, read from the store by the workspace's restore (the sidebar shows the
  // newest batch). Not through fanout:open first: since a batch not in the page is opened from
  // the store by it, it would race the restore, which then leaves the attempt shown alone.
  await expect(page.locator(`.jp-Fanout-sidebar .jp-Fanout-batch[data-batch-id="${summary.batchId}"]`)).toHaveCount(1, {
    timeout: 20000
  });
  await execute(page, 'fanout:open', { batchId: summary.batchId });
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
