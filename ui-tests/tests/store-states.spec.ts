/**
 * The History section when the server's batch store is off (`c.Fanout.store_path = ""`) or
 * failing (a path where it cannot be opened): a JupyterLab of this spec's own for each state
 * (`lab-process.ts`; run with playwright.store.config.js, after the main run frees the lab
 * port), the real simulator. In both: one clear message (the History section's notice; a single
 * notification when the store fails), streaming through the proxy works, and the batches the
 * page had are still there after a reload (the workspace keeps them).
 */
import { expect, test } from '@jupyterlab/galata';
import type { Page } from '@playwright/test';

import { execute, reloadLab } from './helpers';
import { ILab, startLab, stopLab } from './lab-process';
import { resetSimulator, simulatorRequests } from './simulator';

const HISTORY = '#jupyterlab-fanout-history';
const TOAST = '.Toastify__toast';
const STORE_WARNING = 'Fanout could not keep batches in its store';

/** Show the History section (its command: the store's warning, a toast, may cover its title). */
async function showHistory(page: Page): Promise<void> {
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('fanout:show-history'));
  await expect(page.locator(`${HISTORY} .jp-Fanout-notice`)).toBeVisible();
}

/** `fanout:list-batches`'s rejection message (it must reject). */
async function listError(page: Page): Promise<string> {
  return page.evaluate(async () => {
    try {
      await (window as any).jupyterapp.commands.execute('fanout:list-batches', {});
    } catch (error) {
      return (error as Error).message;
    }
    return 'it resolved';
  });
}

const MODES = [
  {
    mode: 'off',
    title: 'The store is off',
    notice: 'The batch store is off on this server (c.Fanout.store_path is empty): batches are not kept.',
    toasts: 0,
    listError: /disabled/
  },
  {
    mode: 'unwritable',
    title: 'The store cannot be opened',
    notice:
      /^The batch store cannot keep batches: cannot be opened: .+\. Streaming still works; what was stored before is listed below\.$/,
    toasts: 1,
    listError: /unavailable/
  }
] as const;

for (const state of MODES) {
  test.describe(state.title, () => {
    let lab: ILab | null = null;
    test.beforeAll(async () => {
      test.setTimeout(180000);
      lab = await startLab({ FANOUT_TEST_STORE: state.mode });
    });
    test.afterAll(async () => {
      await stopLab(lab);
    });

    test('one clear message; streaming works; the batch is still there after a reload', async ({ page, request }) => {
      const stamp = Date.now();
      await resetSimulator(request, {
        tokens_per_second: 400,
        ttft_ms: 20,
        reasoning_tokens: 0,
        answer_text: `Otters ${stamp} hold hands while they sleep.`
      });
      const storeState = await (await request.get('/fanout/store')).json();
      if (state.mode === 'off') {
        expect(storeState).toEqual({ store: null });
      } else {
        expect(storeState.store.ok).toBe(false);
        expect(storeState.store.error).toContain('cannot be opened');
      }

      // Streaming through the proxy works.
      const summary = await execute(page, 'fanout:generate', { prompt: `Store ${state.mode} ${stamp}`, n: 2 });
      expect(summary.responses.map((r: any) => r.status)).toEqual(['complete', 'complete']);
      const sent = (await simulatorRequests(request)).map(e => e.content).sort();
      expect(summary.responses.map((r: any) => r.content).sort()).toEqual(sent);
      expect(sent[0]).toContain(`Otters ${stamp}`);

      // One clear message: the History section's notice, and at most the one start-up warning.
      await showHistory(page);
      const notice = page.locator(`${HISTORY} .jp-Fanout-notice`);
      await expect(notice).toHaveText(state.notice);
      await expect(page.locator(TOAST, { hasText: STORE_WARNING })).toHaveCount(state.toasts);
      await expect(page.locator(TOAST)).toHaveCount(state.toasts);
      expect(await listError(page)).toMatch(state.listError);

      // The page's batches survive a reload (kept in the workspace), with their text.
      await reloadLab(page);
      const again = await execute(page, 'fanout:get-batch', { batchId: summary.batchId });
      expect(again.responses.map((r: any) => [r.status, r.content])).toEqual(
        summary.responses.map((r: any) => [r.status, r.content])
      );
      await page.waitForTimeout(1000); // the start-up check has run
      await expect(page.locator(TOAST)).toHaveCount(state.toasts);
    });
  });
}
