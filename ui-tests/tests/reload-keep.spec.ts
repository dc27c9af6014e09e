/**
 * A reload at any moment after a change that reached the server shows it (issue 15's promise:
 * never lose a generation). Each test makes one change, waits only for what a user would see
 * (the card ended, the mark shown), then reloads at once: no wait for the workspace to be
 * written. Against the real workspace on the server (not Galata's in-memory one), the real store
 * and the vLLM simulator.
 */
import { expect, test } from '@jupyterlab/galata';
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { APIRequestContext } from '@playwright/test';

import { execute, labReady, reloadLab, RESPONSE, workspaceBatches } from './helpers';
import { resetSimulator } from './simulator';

test.use({ mockState: false, autoGoto: false });

const FAST = { tokens_per_second: 400, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 30 };
const BATCH = '.jp-Fanout-sidebar .jp-Fanout-batch';

let workspace = '';

/** A workspace of this test's own on the server, opened. */
test.beforeEach(async ({ page, request }, testInfo) => {
  workspace = `fanout-keep-${Date.now()}-${testInfo.workerIndex}`;
  await page.goto(`workspaces/${workspace}`);
  await labReady(page);
  await resetSimulator(request, FAST);
});

test.afterEach(async ({ request }) => {
  await request.delete(`/lab/api/workspaces/${workspace}`);
});

/** A plain browser reload, then the Fanout sidebar. */
async function reload(page: IJupyterLabPageFixture): Promise<void> {
  await reloadLab(page);
  await execute(page, 'fanout:open');
}

function card(page: IJupyterLabPageFixture, index: number) {
  return page.locator(`${RESPONSE}[data-response-index="${index}"]`);
}

async function cardText(page: IJupyterLabPageFixture, index: number): Promise<string> {
  return (await card(page, index).locator('.jp-Fanout-response-text').textContent()) ?? '';
}

/** A batch of `n` generated and ended, shown in the sidebar. */
async function batchOf(page: IJupyterLabPageFixture, prompt: string, n: number): Promise<any> {
  const summary = await execute(page, 'fanout:generate', { prompt, n });
  await execute(page, 'fanout:open');
  for (let i = 1; i <= n; i++) {
    await expect(card(page, i)).toHaveAttribute('data-status', 'complete');
  }
  return summary;
}

/**
 * A batch of `n` that the workspace on the server keeps whole (not by reference): as when the
 * store had not recorded its end yet when the page looked (here: the page's reads of the stored
 * batch fail while it is made).
 */
async function batchKeptWhole(
  page: IJupyterLabPageFixture,
  request: APIRequestContext,
  prompt: string,
  n: number
): Promise<any> {
  let failing = true;
  await page.route(/\/fanout\/batches\/[^/?]+(\?.*)?$/, route =>
    failing && route.request().method() === 'GET'
      ? route.fulfill({ status: 503, contentType: 'application/json', body: '{"message": "busy"}' })
      : route.fallback()
  );
  const summary = await batchOf(page, prompt, n);
  await expect
    .poll(
      async () => {
        const saved = await workspaceBatches(request, workspace);
        const whole = saved?.batches?.find((b: any) => b.batchId === summary.batchId);
        return whole?.responses?.map((r: any) => r.status) ?? null;
      },
      { timeout: 20000 }
    )
    .toEqual(Array(n).fill('complete'));
  failing = false;
  return summary;
}

/**
 * From now on the page's workspace saves do not reach the server: JupyterLab sends them a
 * moment after the page saved (`IStateDB.save` has resolved by then), and a reload in that
 * moment cuts them off. `sent(check)` waits until the page has sent a save of its batches for
 * which `check` holds (the last one the change makes: the page has nothing left to save).
 */
async function holdWorkspaceSaves(page: IJupyterLabPageFixture) {
  const held: any[] = [];
  await page.route(
    url => url.pathname.startsWith('/lab/api/workspaces/'),
    async route => {
      if (route.request().method() !== 'PUT') {
        await route.fallback();
        return;
      }
      held.push(route.request().postDataJSON());
      // Never answered: the reload cancels it.
    }
  );
  return {
    sent: async (check: (saved: any) => boolean) => {
      await expect
        .poll(() => held.some(body => check(body?.data?.['jupyterlab-fanout:batches'] ?? {})), { timeout: 20000 })
        .toBe(true);
    }
  };
}

/** Reload at once, with what the page sent last not on the server. */
async function reloadCuttingOff(page: IJupyterLabPageFixture): Promise<void> {
  await page.unrouteAll({ behavior: 'ignoreErrors' });
  await reload(page);
}

test('(a) a re-generate that ended, reloaded at once: the new attempt is there and shown', async ({
  page,
  request
}, testInfo) => {
  const summary = await batchOf(page, `Keep the attempt ${Date.now()}`, 2);
  const second = card(page, 2);
  const position = second.locator('.jp-Fanout-attempt-position');
  await second.locator('.jp-Fanout-regenerate').click();
  await expect(position).toHaveText('2/2');
  await expect(second).toHaveAttribute('data-status', 'complete');
  // The user looks at attempt 1 a while: the workspace on the server holds that.
  await second.getByRole('button', { name: 'Previous attempt' }).click();
  await expect(position).toHaveText('1/2');
  await expect
    .poll(
      async () =>
        (await workspaceBatches(request, workspace))?.refs?.find((r: any) => r.batchId === summary.batchId)?.shown,
      {
        timeout: 20000
      }
    )
    .toEqual({ '2': 1 });

  // Re-generate again: attempt 3 is shown; the reload comes as soon as the page has saved.
  const saves = await holdWorkspaceSaves(page);
  await second.locator('.jp-Fanout-regenerate').click();
  await expect(position).toHaveText('3/3');
  await expect(second).toHaveAttribute('data-status', 'complete');
  const third = await cardText(page, 2);
  expect(third.length).toBeGreaterThan(20);
  // Its last save: a reference, attempt 3 (the latest) shown.
  await saves.sent(saved => saved.refs?.some((r: any) => r.batchId === summary.batchId && r.shown === undefined));
  await reloadCuttingOff(page);

  const again = card(page, 2);
  await expect(again.locator('.jp-Fanout-attempt-position')).toHaveText('3/3');
  await expect(again.locator('.jp-Fanout-response-text')).toHaveText(third);
  const after = await execute(page, 'fanout:get-batch', { batchId: summary.batchId });
  expect(after.responses[1].attempts.map((a: any) => a.attempt)).toEqual([1, 2, 3]);
  // (Galata's theme helper lost its page handle with the reload: JupyterLab's own command.)
  await execute(page, 'apputils:change-theme', { theme: 'JupyterLab Dark' });
  await expect(page.locator('body')).toHaveAttribute('data-jp-theme-light', 'false');
  await page.mouse.move(0, 0);
  await card(page, 2).screenshot({ path: testInfo.outputPath('attempt-after-reload-dark.png') });
  await execute(page, 'apputils:change-theme', { theme: 'JupyterLab Light' });
  await expect(page.locator('body')).toHaveAttribute('data-jp-theme-light', 'true');
});

test('(a) back to an earlier attempt, reloaded at once: that attempt is shown', async ({ page }) => {
  const summary = await batchOf(page, `Keep the attempt shown ${Date.now()}`, 2);
  const second = card(page, 2);
  const position = second.locator('.jp-Fanout-attempt-position');
  await second.locator('.jp-Fanout-regenerate').click();
  await expect(position).toHaveText('2/2');
  await expect(second).toHaveAttribute('data-status', 'complete');
  const saves = await holdWorkspaceSaves(page);
  await second.getByRole('button', { name: 'Previous attempt' }).click();
  await expect(position).toHaveText('1/2');
  const first = await cardText(page, 2);
  await saves.sent(saved => saved.refs?.some((r: any) => r.batchId === summary.batchId && r.shown?.['2'] === 1));
  await reloadCuttingOff(page);

  await expect(card(page, 2).locator('.jp-Fanout-attempt-position')).toHaveText('1/2');
  await expect(card(page, 2).locator('.jp-Fanout-response-text')).toHaveText(first);
});

/** Fuse responses 1 and 2 of `batchId` and wait for the fused card (3) to end; its text. */
async function fuse(page: IJupyterLabPageFixture, batchId: string): Promise<string> {
  const started = await execute(page, 'fanout:fuse', { batchId, responseIds: ['1', '2'] });
  expect(started).toEqual({ batchId, responseId: '3' });
  const fused = card(page, 3);
  await expect(fused.locator('.jp-Fanout-response-status')).toHaveAttribute('data-status', 'complete');
  const text = await cardText(page, 3);
  expect(text.startsWith('Fused answer from 2 drafts.')).toBe(true);
  return text;
}

/** The fused card (3) of the batch shown, with `text`, and the batch's summary saying what it fused. */
async function expectFused(page: IJupyterLabPageFixture, batchId: string, text: string): Promise<void> {
  await expect(card(page, 3).locator('.jp-Fanout-fusedBadge')).toHaveText('Fused');
  await expect(card(page, 3).locator('.jp-Fanout-response-text')).toHaveText(text);
  const after = await execute(page, 'fanout:get-batch', { batchId });
  expect(after.responses.map((r: any) => r.id)).toEqual(['1', '2', '3']);
  expect(after.responses[2].fusion.sources.map((s: any) => s.responseId)).toEqual(['1', '2']);
}

test('(b) a fuse that ended, reloaded at once: the fused response is there', async ({ page, request }, testInfo) => {
  const summary = await batchKeptWhole(page, request, `Keep the fused one ${Date.now()}`, 2);
  const saves = await holdWorkspaceSaves(page);
  const text = await fuse(page, summary.batchId);
  // Its last save: a reference (the store has the fused response).
  await saves.sent(saved => saved.refs?.some((r: any) => r.batchId === summary.batchId));
  await reloadCuttingOff(page);
  await expectFused(page, summary.batchId, text);
  await page.mouse.move(0, 0);
  await card(page, 3).screenshot({ path: testInfo.outputPath('fused-after-reload-light.png') });
});

test('(b) a fuse that ended, the workspace opened at once in another browser: the store has the fused response', async ({
  page,
  request,
  browser
}) => {
  const summary = await batchKeptWhole(page, request, `Fused, another browser ${Date.now()}`, 2);
  const saves = await holdWorkspaceSaves(page);
  const text = await fuse(page, summary.batchId);
  await saves.sent(saved => saved.refs?.some((r: any) => r.batchId === summary.batchId));
  // The workspace on the server still has the batch as it was before the fuse, and another
  // browser has nothing in local storage: only the store has the fused response.
  const elsewhere = await browser.newContext({ baseURL: new URL(page.url()).origin });
  const other = (await elsewhere.newPage()) as IJupyterLabPageFixture;
  await other.goto(`lab/workspaces/${workspace}`);
  await labReady(other);
  await execute(other, 'fanout:open');
  await expectFused(other, summary.batchId, text);
  await elsewhere.close();
});

test('(c) a pick, a rating and a rename, reloaded at once: all kept', async ({ page, request }) => {
  const summary = await batchKeptWhole(page, request, `Keep the verdicts ${Date.now()}`, 2);
  const title = `Renamed ${Date.now()}`;
  const saves = await holdWorkspaceSaves(page);
  await execute(page, 'fanout:pick', { batchId: summary.batchId, responseId: '2' });
  await execute(page, 'fanout:rate', { batchId: summary.batchId, responseId: '1', rating: 4 });
  await execute(page, 'fanout:rename-batch', { batchId: summary.batchId, title });
  await expect(card(page, 2).locator('.jp-Fanout-winner')).toBeVisible();
  await expect(card(page, 1).locator('.jp-Fanout-stars')).toHaveAttribute('data-rating', '4');
  await saves.sent(saved => {
    const whole = saved.batches?.find((b: any) => b.batchId === summary.batchId);
    return whole?.pick?.responseId === '2' && whole?.ratings?.some((r: any) => r.rating === 4);
  });
  await reloadCuttingOff(page);

  await expect(page.locator(`${BATCH}[data-batch-id="${summary.batchId}"]`)).toBeVisible();
  await expect(card(page, 2).locator('.jp-Fanout-winner')).toBeVisible();
  await expect(card(page, 1).locator('.jp-Fanout-winner')).toHaveCount(0);
  await expect(card(page, 1).locator('.jp-Fanout-stars')).toHaveAttribute('data-rating', '4');
  const after = await execute(page, 'fanout:get-batch', { batchId: summary.batchId });
  expect(after.pick).toMatchObject({ responseId: '2', attempt: 1 });
  // The title is the store's (History lists it).
  await execute(page, 'fanout:show-history');
  await expect(page.locator(`.jp-Fanout-historyItem[data-batch-id="${summary.batchId}"]`)).toContainText(title);
});

test('(d) a new batch that ended, reloaded at once: it is there, every response with its text', async ({ page }) => {
  const saves = await holdWorkspaceSaves(page);
  const summary = await batchOf(page, `Keep the new batch ${Date.now()}`, 3);
  const texts = [await cardText(page, 1), await cardText(page, 2), await cardText(page, 3)];
  await saves.sent(saved => saved.refs?.some((r: any) => r.batchId === summary.batchId));
  await reloadCuttingOff(page);

  await expect(page.locator(`${BATCH}[data-batch-id="${summary.batchId}"]`)).toBeVisible();
  for (let i = 1; i <= 3; i++) {
    await expect(card(page, i)).toHaveAttribute('data-status', 'complete');
    await expect(card(page, i).locator('.jp-Fanout-response-text')).toHaveText(texts[i - 1]);
  }
});
