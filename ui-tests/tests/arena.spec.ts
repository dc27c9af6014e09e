/**
 * The blind vote and the leaderboard, against the real store of the test server and the vLLM
 * simulator: a batch over two models (two upstreams), voted on in the blind view (no model name
 * anywhere in the view or its tab before the vote, both after), then the leaderboard (the votes
 * per model, the winner on top, the tag filter) and its CSV (the command and the Export button).
 */
import * as fs from 'fs';

import { expect, test } from '@jupyterlab/galata';
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';

import { execute, runFromPalette, stored } from './helpers';
import { resetSimulator } from './simulator';

const FAST = { tokens_per_second: 400, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 20 };
const VOTE = '.jp-Fanout-vote';
const BOARD = '.jp-Fanout-leaderboard';
const SMALL = 'fanout-sim';
const LARGE = 'fanout-sim-large';

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
    const tab = document.querySelector(`.lm-TabBar-tab[data-id="${id}"]`);
    return [widget.node.outerHTML, widget.title.label, widget.title.caption, tab?.outerHTML ?? ''].join('\n');
  }, batchId);
}

test('a blind vote between two models feeds the leaderboard, filtered by tags and exported as CSV', async ({
  page,
  request
}) => {
  await resetSimulator(request, { ...FAST, models: [LARGE] });
  await page.notebook.createNew();
  const summary = await execute(page, 'fanout:generate', {
    prompt: 'Name a prime number',
    targets: [
      { upstream: 'simulator', model: SMALL, n: 1 },
      { upstream: 'simulator-b', model: LARGE, n: 2 }
    ]
  });
  const batchId = summary.batchId;
  // A tag of this run's own: the leaderboard is read over this batch's votes only (other tests
  // of the same server vote too).
  const tag = `primes-${batchId.slice(0, 8)}`;
  expect(summary.responses.map((r: any) => r.model)).toEqual([SMALL, LARGE, LARGE]);
  await stored(page, batchId, 3);
  await execute(page, 'fanout:tag-batch', { batchId, tags: [tag, 'easy'] });

  // Opened the way a person does: the palette's item votes on the newest batch of the page.
  await runFromPalette(page, 'Blind vote', 'Blind vote on a batch');
  const view = page.locator(VOTE);
  await expect(view.locator('.jp-Fanout-vote-progress')).toHaveText('Pair 1 of 2');
  await expect(view.locator('.jp-Fanout-vote-text')).toHaveCount(2);
  await expect(view.locator('.jp-Fanout-vote-text').first()).not.toBeEmpty();
  // Blind: no model name in the view's markup (text, titles, aria) nor in its tab.
  const before = await voteMarkup(page, batchId);
  expect(before).toContain('Name a prime number');
  expect(before).not.toContain(SMALL); // also a prefix of LARGE
  expect(before).not.toContain('simulator');
  await view.locator('.jp-Fanout-vote-a').click();
  // Revealed after the vote.
  await expect(view.locator('.jp-Fanout-vote-model')).toHaveCount(2);
  const revealed = await view.locator('.jp-Fanout-vote-model').allTextContents();
  expect(revealed.map(t => t.replace(/^ · /, '')).sort()).toEqual(
    [`${LARGE} (simulator-b)`, `${SMALL} (simulator)`].sort()
  );
  const winner = revealed[0].includes(LARGE) ? LARGE : SMALL;
  const after = await voteMarkup(page, batchId);
  expect(after).toContain(SMALL);
  expect(after).toContain(LARGE);
  await expect(view.locator('.jp-Fanout-vote-b')).toBeDisabled();

  // The next pair is blind again; a tie.
  await view.locator('.jp-Fanout-vote-next').click();
  await expect(view.locator('.jp-Fanout-vote-progress')).toHaveText('Pair 2 of 2');
  expect(await voteMarkup(page, batchId)).not.toContain(SMALL);
  await view.locator('.jp-Fanout-vote-tie').click();
  await expect(view.locator('.jp-Fanout-vote-model')).toHaveCount(2);
  await view.locator('.jp-Fanout-vote-next').click();
  await expect(view).toContainText('That was the last pair');
  const votes = await page.evaluate(async id => {
    const response = await fetch(
      `${(window as any).jupyterapp.serviceManager.serverSettings.baseUrl}fanout/votes?batchId=${id}`,
      {
        headers: { Authorization: `token ${(window as any).jupyterapp.serviceManager.serverSettings.token}` }
      }
    );
    return (await response.json()).votes;
  }, batchId);
  expect(votes.map((v: any) => v.outcome).sort()).toEqual(['a', 'tie']);

  // The leaderboard: the winner of the first pair on top (a win and a tie, against a loss and
  // a tie), 2 votes each.
  await view.locator('button', { hasText: 'Show the leaderboard' }).click();
  const board = page.locator(BOARD);
  await expect(board.locator('.jp-Fanout-leaderboard-row').first()).toBeVisible();
  await board.locator('.jp-Fanout-leaderboard-tag', { hasText: tag }).locator('input').check();
  await expect(board.locator('.jp-Fanout-leaderboard-row')).toHaveCount(2);
  await expect(board.locator('.jp-Fanout-leaderboard-model').first()).toHaveText(winner);
  await expect(board.locator('.jp-Fanout-leaderboard-votes')).toHaveText(['2', '2']);
  const table = await execute(page, 'fanout:leaderboard', { tags: [tag] });
  expect(table.rows.map((r: any) => [r.model, r.votes, r.wins, r.losses, r.ties])).toEqual([
    [winner, 2, 1, 0, 1],
    [winner === LARGE ? SMALL : LARGE, 2, 0, 1, 1]
  ]);
  expect(table.rows[0].ci_low).toBeLessThanOrEqual(table.rows[0].score);

  // Tags filter it: both tags of this batch keep the rows, another tag has none.
  expect((await execute(page, 'fanout:leaderboard', { tags: [tag, 'easy'] })).rows).toHaveLength(2);
  expect((await execute(page, 'fanout:leaderboard', { tags: [tag, 'poems'] })).rows).toHaveLength(0);

  // CSV: from the command, and the Export CSV button's download.
  const csv: string = await execute(page, 'fanout:leaderboard', { format: 'csv', tags: [tag] });
  const lines = csv.trim().split(/\r?\n/);
  expect(lines[0]).toBe('rank,model,upstream,score,ci_low,ci_high,votes,wins,losses,ties');
  expect(lines).toHaveLength(3);
  expect(lines[1].split(',').slice(0, 3)).toEqual(['1', winner, winner === LARGE ? 'simulator-b' : 'simulator']);
  expect(lines[1].split(',')[6]).toBe('2');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    board.locator('.jp-Fanout-leaderboard-export').click()
  ]);
  expect(download.suggestedFilename()).toBe('fanout-leaderboard.csv');
  expect(fs.readFileSync((await download.path())!, 'utf-8')).toBe(csv);

  // A bad vote is refused with the server's reason.
  await expect(execute(page, 'fanout:vote', { batchId, a: '1', b: '1', outcome: 'a' })).rejects.toThrow(
    /same response '1' twice/
  );
});

test('the vote view says so for a batch of one model', async ({ page, request }) => {
  await resetSimulator(request, FAST);
  await page.notebook.createNew();
  const summary = await execute(page, 'fanout:generate', { prompt: 'One model only', n: 2 });
  await stored(page, summary.batchId, 2);
  expect(await execute(page, 'fanout:vote', { batchId: summary.batchId })).toEqual({ batchId: summary.batchId });
  await expect(page.locator(VOTE)).toContainText('at least two models');
});

test.describe('Pictures of the vote', () => {
  test.use({ viewport: { width: 1400, height: 900 } });

  for (const theme of ['light', 'dark'] as const) {
    test(`the blind vote and its reveal in the ${theme} theme`, async ({ page, request }, testInfo) => {
      await resetSimulator(request, { ...FAST, answer_tokens: 60, models: [LARGE] });
      if (theme === 'dark') {
        await page.theme.setDarkTheme();
      } else {
        await page.theme.setLightTheme();
      }
      await page.notebook.createNew();
      const summary = await execute(page, 'fanout:generate', {
        prompt: 'Explain in two sentences why the sky is blue.',
        targets: [
          { upstream: 'simulator', model: SMALL, n: 1 },
          { upstream: 'simulator-b', model: LARGE, n: 1 }
        ]
      });
      await stored(page, summary.batchId, 2);
      await execute(page, 'fanout:vote', { batchId: summary.batchId });
      const view = page.locator(VOTE);
      await expect(view.locator('.jp-Fanout-vote-text')).toHaveCount(2);
      await page.mouse.move(0, 0);
      await page.screenshot({ path: testInfo.outputPath(`vote-${theme}.png`) });
      await view.locator('.jp-Fanout-vote-b').click();
      await expect(view.locator('.jp-Fanout-vote-model')).toHaveCount(2);
      await page.mouse.move(0, 0);
      await page.screenshot({ path: testInfo.outputPath(`vote-revealed-${theme}.png`) });
      await view.locator('.jp-Fanout-vote-next').click();
      await view.locator('button', { hasText: 'Show the leaderboard' }).click();
      await expect(page.locator('.jp-Fanout-leaderboard-row').first()).toBeVisible();
      await page.screenshot({ path: testInfo.outputPath(`leaderboard-${theme}.png`) });
    });
  }
});
