/**
 * The blind vote's "Rank all", tags set where the user works, and blind means blind elsewhere:
 * against the real store of the test server and the vLLM simulator. A batch over three models
 * (two upstreams) is tagged from History, ranked with the keyboard and the move buttons (no model
 * name in the view, nor in the sidebar reopened meanwhile, nor in History), stored as its three
 * pairwise wins, and the leaderboard, filtered by the tag in its UI, says so, as does its CSV;
 * tags are also set from the vote view's header.
 */
import * as fs from 'fs';

import { expect, test } from '@jupyterlab/galata';
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';

import { execute, runFromPalette, showHistory, stored } from './helpers';
import { resetSimulator } from './simulator';

const FAST = { tokens_per_second: 400, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 20 };
const VOTE = '.jp-Fanout-vote';
const BOARD = '.jp-Fanout-leaderboard';
const HISTORY = '#jupyterlab-fanout-history';
const SMALL = 'fanout-sim'; // also a prefix of LARGE
const LARGE = 'fanout-sim-large';
const HIDDEN = 'hidden until you vote';
const TARGETS = [
  { upstream: 'simulator', model: SMALL, n: 1 },
  { upstream: 'simulator-b', model: LARGE, n: 1 },
  { upstream: 'simulator-b', model: SMALL, n: 1 }
];

/** The vote view's whole markup (text and attributes) and its tab's label and caption. */
async function voteMarkup(page: IJupyterLabPageFixture, batchId: string): Promise<string> {
  return page.evaluate(id => {
    const app = (window as any).jupyterapp;
    const widget = Array.from(app.shell.widgets('main')).find(
      (w: any) => w.id === `jupyterlab-fanout-vote-${id}`
    ) as any;
    if (!widget) {
      throw new Error('no vote view');
    }
    return [widget.node.outerHTML, widget.title.label, widget.title.caption].join('\n');
  }, batchId);
}

/** The label of the rank item that has the keyboard ("B, place 1 of 3"), or null. */
async function focusedItem(page: IJupyterLabPageFixture): Promise<string | null> {
  return page.evaluate(() => {
    const active = document.activeElement;
    return active?.classList.contains('jp-Fanout-rank-item') ? active.getAttribute('aria-label') : null;
  });
}

test('rank all with the keyboard: blind everywhere until cast, stored as pairwise wins, on the tagged leaderboard', async ({
  page,
  request
}) => {
  await resetSimulator(request, { ...FAST, models: [LARGE] });
  await page.notebook.createNew();
  const summary = await execute(page, 'fanout:generate', { prompt: 'Name a large mammal', targets: TARGETS });
  const batchId: string = summary.batchId;
  const tag = `mammals-${batchId.slice(0, 8)}`;
  await stored(page, batchId, 3);

  // Tags from History: the row's Tags button, the dialog, the tags shown on the row.
  await showHistory(page);
  const row = page.locator(`${HISTORY} .jp-Fanout-historyItem[data-batch-id="${batchId}"]`);
  await expect(row.locator('.jp-Fanout-historyItem-models')).toContainText(SMALL);
  await row.locator('[data-action="tags"]').click();
  const dialog = page.locator('.jp-Dialog');
  await dialog.locator('input').fill(` ${tag} , animals,`);
  await dialog.locator('.jp-mod-accept').click();
  await expect(row.locator('.jp-Fanout-tag')).toHaveText([tag, 'animals']);
  expect((await execute(page, 'fanout:list-batches', { limit: 50 })).find((b: any) => b.id === batchId).tags).toEqual([
    tag,
    'animals'
  ]);

  // Rank all, from the palette.
  await runFromPalette(page, 'rank all', 'Blind vote: rank all responses of a batch');
  const view = page.locator(VOTE);
  const items = view.locator('.jp-Fanout-rank-item');
  await expect(items).toHaveCount(3);
  await expect(view.locator('.jp-Fanout-vote-tags .jp-Fanout-tag')).toHaveText([tag, 'animals']);
  const labels = await items.locator('.jp-Fanout-vote-label').allTextContents();
  expect(labels).toEqual(['A', 'B', 'C']);
  const before = await voteMarkup(page, batchId);
  expect(before).toContain('Name a large mammal');
  expect(before).not.toContain(SMALL);
  expect(before).not.toContain('simulator');

  // Blind elsewhere: the sidebar reopened during the vote, and History, name no model of it.
  await execute(page, 'fanout:open');
  const responses = page.locator('#jupyterlab-fanout-responses');
  await expect(responses.locator('.jp-Fanout-response')).toHaveCount(3);
  await expect(responses).toContainText(HIDDEN);
  // The batch's cards (the model picker above lists the upstreams' models, not this batch's).
  const cards = responses.locator(`.jp-Fanout-batch[data-batch-id="${batchId}"]`);
  expect(await cards.evaluate(node => node.outerHTML)).not.toContain(SMALL);
  await expect(row.locator('.jp-Fanout-historyItem-models')).toHaveText(HIDDEN);
  await page.evaluate(id => (window as any).jupyterapp.shell.activateById(`jupyterlab-fanout-vote-${id}`), batchId);

  // The keyboard: C (last) up twice with Alt+Up, the focus staying on it.
  await items.nth(2).focus();
  await page.keyboard.press('Alt+ArrowUp');
  expect(await focusedItem(page)).toBe('C, place 2 of 3');
  await page.keyboard.press('Alt+ArrowUp');
  expect(await focusedItem(page)).toBe('C, place 1 of 3');
  await page.keyboard.press('Alt+ArrowUp'); // at the top: stays
  expect(await focusedItem(page)).toBe('C, place 1 of 3');
  await expect(items.locator('.jp-Fanout-vote-label')).toHaveText(['C', 'A', 'B']);
  // A button: B up, the keyboard on B's button still.
  await view.getByRole('button', { name: 'Move B up' }).click();
  await expect(items.locator('.jp-Fanout-vote-label')).toHaveText(['C', 'B', 'A']);
  expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Move B up');
  // Alt+Down on B's button moves B too, and the keyboard stays on that button.
  await page.keyboard.press('Alt+ArrowDown');
  await expect(items.locator('.jp-Fanout-vote-label')).toHaveText(['C', 'A', 'B']);
  expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Move B up');
  await items.nth(0).focus();
  await page.keyboard.press('Alt+ArrowDown');
  expect(await focusedItem(page)).toBe('C, place 2 of 3');
  await page.keyboard.press('Alt+ArrowUp');
  await expect(items.locator('.jp-Fanout-vote-label')).toHaveText(['C', 'A', 'B']);
  expect(await voteMarkup(page, batchId)).not.toContain(SMALL);

  await view.locator('.jp-Fanout-rank-submit').click();
  await expect(view.locator('.jp-Fanout-vote-model')).toHaveCount(3);
  const revealed = (await view.locator('.jp-Fanout-vote-model').allTextContents()).map(t => t.replace(/^ · /, ''));
  expect(revealed.slice().sort()).toEqual(
    [`${LARGE} (simulator-b)`, `${SMALL} (simulator)`, `${SMALL} (simulator-b)`].sort()
  );
  await expect(view.locator('.jp-Fanout-rank-up').first()).toBeDisabled();
  // Shown again elsewhere once cast.
  await expect(cards).not.toContainText(HIDDEN);
  await expect(cards.locator('.jp-Fanout-response-title').first()).toContainText(SMALL);
  await expect(row.locator('.jp-Fanout-historyItem-models')).toContainText(SMALL);

  // Stored as the k(k-1)/2 = 3 pairs the ranking implies, each a win of the higher one.
  const votes = await page.evaluate(async id => {
    const settings = (window as any).jupyterapp.serviceManager.serverSettings;
    const response = await fetch(`${settings.baseUrl}fanout/votes?batchId=${id}`, {
      headers: { Authorization: `token ${settings.token}` }
    });
    return (await response.json()).votes;
  }, batchId);
  const who = (side: any) => `${side.model} (${side.upstream})`;
  expect(votes).toHaveLength(3);
  expect(new Set(votes.map((v: any) => v.id)).size).toBe(1);
  expect(votes.map((v: any) => [who(v.a), who(v.b), v.outcome]).sort()).toEqual(
    [
      [revealed[0], revealed[1], 'a'],
      [revealed[0], revealed[2], 'a'],
      [revealed[1], revealed[2], 'a']
    ].sort()
  );

  // The leaderboard, filtered by the tag in its UI: the ranking's order, 2 votes each.
  await view.locator('button', { hasText: 'Show the leaderboard' }).click();
  const board = page.locator(BOARD);
  await board.locator('.jp-Fanout-leaderboard-tag', { hasText: tag }).locator('input').check();
  await expect(board.locator('.jp-Fanout-leaderboard-row')).toHaveCount(3);
  const name = (text: string) => text.replace(/ \(.*\)$/, '');
  await expect(board.locator('.jp-Fanout-leaderboard-model')).toHaveText(revealed.map(name));
  await expect(board.locator('.jp-Fanout-leaderboard-votes')).toHaveText(['2', '2', '2']);
  const table = await execute(page, 'fanout:leaderboard', { tags: [tag] });
  expect(table.rows.map((r: any) => [`${r.model} (${r.upstream})`, r.wins, r.losses, r.ties])).toEqual([
    [revealed[0], 2, 0, 0],
    [revealed[1], 1, 1, 0],
    [revealed[2], 0, 2, 0]
  ]);
  expect(table.rows[0].score).toBeGreaterThan(table.rows[1].score);
  expect(table.rows[1].score).toBeGreaterThan(table.rows[2].score);

  // Its CSV honours the filter: the Export button's download is the command's CSV for the tag.
  const csv: string = await execute(page, 'fanout:leaderboard', { format: 'csv', tags: [tag] });
  expect(csv.trim().split(/\r?\n/)).toHaveLength(4);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    board.locator('.jp-Fanout-leaderboard-export').click()
  ]);
  expect(fs.readFileSync((await download.path())!, 'utf-8')).toBe(csv);
});

test('a pair vote hides the models in the sidebar, a board and the compare view until it is cast', async ({
  page,
  request
}) => {
  await resetSimulator(request, { ...FAST, models: [LARGE] });
  await page.notebook.createNew();
  const summary = await execute(page, 'fanout:generate', { prompt: 'Name a river', targets: TARGETS.slice(0, 2) });
  const batchId: string = summary.batchId;
  await stored(page, batchId, 2);
  await execute(page, 'fanout:vote', { batchId });
  const view = page.locator(VOTE);
  await expect(view.locator('.jp-Fanout-vote-text')).toHaveCount(2);
  // Tags from the vote view's header: Edit tags…, the dialog, the header and the store updated.
  await expect(view.locator('.jp-Fanout-vote-tags')).toContainText('none');
  await view.locator('.jp-Fanout-vote-edit-tags').click();
  await page.locator('.jp-Dialog input').fill('rivers, geography');
  await page.locator('.jp-Dialog .jp-mod-accept').click();
  await expect(view.locator('.jp-Fanout-vote-tags .jp-Fanout-tag')).toHaveText(['rivers', 'geography']);
  expect((await execute(page, 'fanout:list-batches', { limit: 50 })).find((b: any) => b.id === batchId).tags).toEqual([
    'rivers',
    'geography'
  ]);
  await execute(page, 'fanout:open');
  await execute(page, 'fanout:set-view', { view: 'compact' });
  const responses = page.locator(`#jupyterlab-fanout-responses .jp-Fanout-batch[data-batch-id="${batchId}"]`);
  await expect(responses.locator('.jp-Fanout-row-model')).toHaveText([HIDDEN, HIDDEN]);
  expect(await responses.evaluate(node => node.outerHTML)).not.toContain(SMALL);
  await execute(page, 'fanout:set-view', { view: 'cards' });
  await execute(page, 'fanout:compare', { batchId });
  const compare = page.locator('.jp-Fanout-compare-widget');
  await expect(compare).toContainText(HIDDEN);
  expect(await compare.evaluate(node => node.outerHTML)).not.toContain(SMALL);

  await execute(page, 'fanout:open-board', { batchId });
  const boardView = page.locator('.jp-Fanout-board');
  await expect(boardView).toContainText(HIDDEN);
  expect(await boardView.evaluate(node => node.outerHTML)).not.toContain(SMALL);

  // Closing the vote view with the pair not voted shows the models again; reopening hides them.
  // (A hidden board or sidebar renders when shown: each is shown before it is read.)
  await page.evaluate(id => {
    const app = (window as any).jupyterapp;
    (Array.from(app.shell.widgets('main')) as any[]).find(w => w.id === `jupyterlab-fanout-vote-${id}`).close();
  }, batchId);
  await expect(view).toHaveCount(0);
  await expect(boardView).toContainText(SMALL);
  await expect(responses).toContainText(SMALL);
  await execute(page, 'fanout:vote', { batchId });
  await expect(view.locator('.jp-Fanout-vote-text')).toHaveCount(2);
  await execute(page, 'fanout:open');
  await expect(responses).toContainText(HIDDEN);
  await execute(page, 'fanout:open-board', { batchId });
  await expect(boardView).toContainText(HIDDEN);

  // Cast: shown again everywhere.
  await page.evaluate(id => (window as any).jupyterapp.shell.activateById(`jupyterlab-fanout-vote-${id}`), batchId);
  await view.locator('.jp-Fanout-vote-b').click();
  await expect(view.locator('.jp-Fanout-vote-model')).toHaveCount(2);
  await expect(responses).toContainText(SMALL);
  await expect(responses).not.toContainText(HIDDEN);
  await execute(page, 'fanout:open-board', { batchId });
  await expect(boardView).toContainText(SMALL);
  await execute(page, 'fanout:compare', { batchId });
  await expect(compare).toContainText(SMALL);
});

test.describe('Pictures of Rank all', () => {
  test.use({ viewport: { width: 1400, height: 900 } });

  for (const theme of ['light', 'dark'] as const) {
    test(`the ranking and the tag-filtered leaderboard in the ${theme} theme`, async ({ page, request }, testInfo) => {
      await resetSimulator(request, { ...FAST, answer_tokens: 40, models: [LARGE] });
      if (theme === 'dark') {
        await page.theme.setDarkTheme();
      } else {
        await page.theme.setLightTheme();
      }
      await page.notebook.createNew();
      const summary = await execute(page, 'fanout:generate', {
        prompt: 'Explain in two sentences why the sea is salty.',
        targets: TARGETS
      });
      await stored(page, summary.batchId, 3);
      const tag = `sea-${summary.batchId.slice(0, 8)}`;
      await execute(page, 'fanout:tag-batch', { batchId: summary.batchId, tags: [tag, 'science'] });
      await execute(page, 'fanout:vote', { batchId: summary.batchId, mode: 'rank' });
      const view = page.locator(VOTE);
      await expect(view.locator('.jp-Fanout-rank-item')).toHaveCount(3);
      await view.locator('.jp-Fanout-rank-item').nth(1).focus();
      await page.keyboard.press('Alt+ArrowUp');
      await page.screenshot({ path: testInfo.outputPath(`rank-${theme}.png`) });
      // The sidebar reopened during the vote: no model of this batch, its tags in History.
      await showHistory(page);
      const row = page.locator(`${HISTORY} .jp-Fanout-historyItem[data-batch-id="${summary.batchId}"]`);
      await expect(row.locator('.jp-Fanout-historyItem-models')).toHaveText(HIDDEN);
      await expect(row.locator('.jp-Fanout-tag')).toHaveText([tag, 'science']);
      await page.mouse.move(0, 0);
      await page.screenshot({ path: testInfo.outputPath(`rank-blind-sidebar-${theme}.png`) });
      await view.locator('.jp-Fanout-rank-submit').click();
      await expect(view.locator('.jp-Fanout-vote-model')).toHaveCount(3);
      await expect(row.locator('.jp-Fanout-historyItem-models')).toContainText(SMALL);
      await page.mouse.move(0, 0);
      await page.screenshot({ path: testInfo.outputPath(`rank-revealed-${theme}.png`) });
      await view.locator('button', { hasText: 'Show the leaderboard' }).click();
      const board = page.locator(BOARD);
      await board.locator('.jp-Fanout-leaderboard-tag', { hasText: tag }).locator('input').check();
      await expect(board.locator('.jp-Fanout-leaderboard-votes')).toHaveText(['2', '2', '2']);
      await page.mouse.move(0, 0);
      await page.screenshot({ path: testInfo.outputPath(`leaderboard-tags-${theme}.png`) });
    });
  }
});
