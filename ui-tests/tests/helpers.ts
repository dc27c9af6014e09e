/** Shared steps of the end-to-end tests. */
import { expect } from '@jupyterlab/galata';
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { APIRequestContext, Page } from '@playwright/test';

import type { ISimulatorRequest } from './simulator';

/** A Galata page or a plain one (a second tab): what the steps below use of either. */
export type AnyPage = Pick<Page, 'evaluate' | 'waitForEvent' | 'waitForFunction' | 'locator'>;

/**
 * Wait until JupyterLab is ready in `page`: the extension's commands registered, the workspace's
 * layout restored (a main-area view opened before that would be dropped from the dock), and
 * the splash gone.
 */
export async function labReady(page: AnyPage): Promise<void> {
  await page.waitForFunction(() => (window as any).jupyterapp?.commands.hasCommand('fanout:open'));
  await page.evaluate(() => (window as any).jupyterapp.restored);
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
}

/**
 * A plain browser reload, then {@link labReady} (Galata's own reload waits for a launcher the
 * restored layout may not show).
 */
export async function reloadLab(page: AnyPage): Promise<void> {
  const loaded = page.waitForEvent('load');
  await page.evaluate(() => window.location.reload());
  await loaded;
  await labReady(page);
}

export const RESPONSE = '.jp-Fanout-sidebar .jp-Fanout-response';

/** A new notebook whose first cell holds `prompt` (markdown), selected. */
export async function notebookWithPrompt(page: IJupyterLabPageFixture, prompt: string): Promise<void> {
  await page.notebook.createNew();
  await page.notebook.setCell(0, 'markdown', prompt);
  await page.notebook.selectCells(0);
}

/**
 * Run a command through the command palette, as a user would: Ctrl+Shift+C, `search` typed,
 * then the item labelled `label` (default: `search`) clicked. A key press the page missed while
 * busy is pressed again (it had left the test waiting, with no palette, until its timeout), and
 * so is one whose palette closed before the search was typed (the palette closes when focus
 * leaves it: a notebook just created took the focus back once, 1 run in 46).
 */
export async function runFromPalette(page: IJupyterLabPageFixture, search: string, label = search): Promise<void> {
  const palette = page.locator('#command-palette');
  const input = palette.locator('.lm-CommandPalette-input');
  await expect(async () => {
    if (!(await input.isVisible())) {
      await page.keyboard.press('Control+Shift+C');
    }
    await input.fill(search, { timeout: 2000 });
    await expect(input).toHaveValue(search, { timeout: 1000 });
  }).toPass({ timeout: 20000 });
  await palette.locator('.lm-CommandPalette-item', { hasText: label }).first().click({ timeout: 10000 });
}

/** Run a command through the app's command registry (the public API) and return its result. */
export async function execute(page: AnyPage, id: string, args: Record<string, unknown> = {}): Promise<any> {
  return page.evaluate(
    async ({ id, args }) => {
      const app = (window as any).jupyterapp;
      return app.commands.execute(id, args);
    },
    { id, args }
  );
}

/** The cells of the (only) open notebook: type and source. */
export async function notebookCells(page: IJupyterLabPageFixture): Promise<Array<{ type: string; source: string }>> {
  return page.evaluate(() => {
    const app = (window as any).jupyterapp;
    const panels = Array.from(app.shell.widgets('main')).filter((w: any) => w.hasClass('jp-NotebookPanel'));
    if (panels.length !== 1) {
      throw new Error(`expected one open notebook, found ${panels.length}`);
    }
    const cells = (panels[0] as any).content.model.sharedModel.cells;
    return cells.map((cell: any) => ({ type: cell.cell_type, source: cell.getSource() }));
  });
}

/**
 * Wait until the store lists `batchId` with `n` complete responses (it writes about once a
 * second); the listing's entry for it.
 */
export async function stored(page: IJupyterLabPageFixture, batchId: string, n: number): Promise<any> {
  let found: any = null;
  await expect
    .poll(
      async () => {
        const listed = await execute(page, 'fanout:list-batches', { limit: 50 });
        found = listed.find((b: any) => b.id === batchId) ?? null;
        return found?.counts?.complete ?? 0;
      },
      { timeout: 15000 }
    )
    .toBe(n);
  return found;
}

/** What a command rejects with (its message), or null when it resolves. */
export async function rejection(
  page: IJupyterLabPageFixture,
  id: string,
  args: Record<string, unknown>
): Promise<string | null> {
  return page.evaluate(
    async ({ id, args }) => {
      try {
        await (window as any).jupyterapp.commands.execute(id, args);
        return null;
      } catch (error) {
        return String((error as Error).message);
      }
    },
    { id, args }
  );
}

/** Expand the sidebar's History section, as a user would: its title in the accordion. */
export async function showHistory(page: IJupyterLabPageFixture): Promise<void> {
  await execute(page, 'fanout:open');
  const title = page.locator('#jupyterlab-fanout-sidebar .jp-AccordionPanel-title', { hasText: 'History' });
  if ((await title.getAttribute('aria-expanded')) !== 'true') {
    await title.click();
  }
  await expect(page.locator('#jupyterlab-fanout-history .jp-Fanout-history-search')).toBeVisible();
}

/**
 * Every complete attempt's text and reasoning equals what the simulator sent for its seed; a
 * stopped one's is the start of it.
 */
export function expectAsSent(batch: any, record: ISimulatorRequest[]): void {
  for (const response of batch.responses) {
    for (const attempt of response.attempts) {
      const sent = record.filter(entry => entry.seed === attempt.seed);
      expect(sent, `one request for seed ${attempt.seed}`).toHaveLength(1);
      if (attempt.status === 'complete') {
        expect(attempt.content).toBe(sent[0].content);
        expect(attempt.reasoning).toBe(sent[0].reasoning);
      } else {
        expect(attempt.status).toBe('stopped');
        expect(sent[0].content.startsWith(attempt.content)).toBe(true);
      }
    }
  }
}

/** What the workspace `workspace` on the server keeps of the batches (null: nothing yet). */
export async function workspaceBatches(request: APIRequestContext, workspace: string): Promise<any> {
  const answer = await request.get(`/lab/api/workspaces/${workspace}`);
  return (await answer.json()).data?.['jupyterlab-fanout:batches'] ?? null;
}
