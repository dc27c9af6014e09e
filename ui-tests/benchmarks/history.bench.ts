/**
 * Benchmark (issue 15): the sidebar's History section with 1,000 stored batches, in Debian's
 * Chromium against JupyterLab and its real store: how long from expanding the section until its
 * first page of batches is on screen (budget: 200 ms), one Show more, the last Show more (1,000
 * listed), and a search (after its debounce). Medians over repeats, the measurements alternated.
 * Prints a markdown table and writes it to benchmarks/results/history.md. Asserts only that the
 * runs worked.
 */
import { expect, test } from '@jupyterlab/galata';
import type { Page } from '@playwright/test';

import { fmt, machineLine, median, passMiss, quantile, report, table } from './helpers';

const BATCHES = 1000;
const REPEATS = 7;
const BUDGET_MS = 200;
/** src/components/HistoryPanel.tsx */
const PAGE = 50;
const DEBOUNCE_MS = 300;

function batch(i: number) {
  const created = Date.UTC(2098, 0, 1) / 1000 + i * 60;
  return {
    id: `bench-history-${String(i).padStart(4, '0')}`,
    prompt: `Benchmark question ${i}: explain something in a few lines.\nWith a second line.`,
    created_at: created,
    options: { n: 4 },
    responses: [1, 2, 3, 4].map(j => ({
      id: String(j),
      attempts: [
        {
          attempt: 1,
          upstream: 'simulator',
          model: j % 2 ? 'Qwen/Qwen3-8B' : 'gpt-oss-20b',
          status: j === 4 && i % 3 === 0 ? 'stopped' : 'complete',
          text: `Answer ${j} to question ${i}. ${'Some words of a response. '.repeat(20)}${i === 500 ? 'okapi' : ''}`,
          started_at: created,
          ended_at: created + 5
        }
      ]
    }))
  };
}

/** In the page: run `act`, then resolve with the ms until `done()` holds at a frame. */
async function timed(page: Page, act: string, done: string): Promise<number> {
  return page.evaluate(
    ({ act, done }) =>
      new Promise<number>((resolve, reject) => {
        const check = new Function(`return (${done})`) as () => boolean;
        const start = performance.now();
        new Function(act)();
        const poll = () => {
          if (check()) {
            (window as any).__shownAt = performance.now();
            resolve(performance.now() - start);
          } else if (performance.now() - start > 20000) {
            reject(new Error(`not done after 20 s: ${done}`));
          } else {
            requestAnimationFrame(poll);
          }
        };
        poll();
      }),
    { act, done }
  );
}

const ITEMS = "document.querySelectorAll('#jupyterlab-fanout-history .jp-Fanout-historyItem')";

test('the History section with 1,000 stored batches', async ({ page, request }) => {
  test.setTimeout(10 * 60 * 1000);
  for (let i = 0; i < BATCHES; i++) {
    const response = await request.post('/fanout/batches', { data: batch(i) });
    expect([201, 409]).toContain(response.status());
  }
  expect((await request.get('/fanout/batches?limit=10000')).ok()).toBe(true);
  const open: number[] = [];
  const more: number[] = [];
  const search: number[] = [];
  const all: number[] = [];
  const items = page.locator('#jupyterlab-fanout-history .jp-Fanout-historyItem');
  for (let r = 0; r < REPEATS; r++) {
    // A fresh page each time: the section starts collapsed and has listed nothing yet.
    const title = page.locator('#jupyterlab-fanout-sidebar .jp-AccordionPanel-title', { hasText: 'History' });
    await page.reload();
    await page.evaluate(() => (window as any).jupyterapp.commands.execute('fanout:open'));
    if ((await title.getAttribute('aria-expanded')) === 'true') {
      // JupyterLab restored it expanded (the workspace keeps the sections' state): collapsed, and
      // a fresh page again, so that nothing is listed before the click.
      await title.click();
      await expect(title).toHaveAttribute('aria-expanded', 'false');
      await page.waitForTimeout(1500); // The workspace is saved a moment after a layout change.
      await page.reload();
      await page.evaluate(() => (window as any).jupyterapp.commands.execute('fanout:open'));
      await expect(title).toHaveAttribute('aria-expanded', 'false');
    }
    // Expand (a click on its title) → the first page of batches on screen, from the click event.
    await title.evaluate(node =>
      node.addEventListener('click', () => ((window as any).__clickAt = performance.now()), {
        capture: true,
        once: true
      })
    );
    await title.click();
    await timed(page, '', `${ITEMS}.length >= ${PAGE} && ${ITEMS}[0].offsetHeight > 0`);
    open.push(await page.evaluate(() => (window as any).__shownAt - (window as any).__clickAt));
    more.push(
      await timed(
        page,
        "document.querySelector('#jupyterlab-fanout-history .jp-Fanout-history-more').click()",
        `${ITEMS}.length >= ${2 * PAGE}`
      )
    );
    // A search through every response's text: from the keystrokes to the one batch, minus the debounce.
    const input = page.locator('#jupyterlab-fanout-history .jp-Fanout-history-search');
    const started = await page.evaluate(() => performance.now());
    await input.fill('okapi');
    await timed(page, '', `${ITEMS}.length === 1`);
    search.push((await page.evaluate(() => performance.now())) - started - DEBOUNCE_MS);
    await input.fill('');
    await expect(items).toHaveCount(PAGE);
    if (r % 3 === 0) {
      // All 1,000 through Show more; the last one timed.
      for (let shown = PAGE; shown < BATCHES - PAGE; shown += PAGE) {
        await page.locator('#jupyterlab-fanout-history .jp-Fanout-history-more').click();
        await expect(items).toHaveCount(shown + PAGE);
      }
      all.push(
        await timed(
          page,
          "document.querySelector('#jupyterlab-fanout-history .jp-Fanout-history-more').click()",
          `${ITEMS}.length >= ${BATCHES}`
        )
      );
    }
  }

  const row = (what: string, values: number[], budget: number | null) => [
    what,
    values.length,
    fmt(median(values), 0),
    fmt(quantile(values, 0.9), 0),
    budget === null ? '—' : `${budget} ms ${passMiss(median(values) < budget)}`
  ];
  const text = [
    `History section, ${BATCHES} stored batches (${PAGE} listed per page). ${machineLine()}`,
    '',
    table(
      ['measure', 'runs', 'median ms', 'p90 ms', 'budget'],
      [
        row('expand → first page on screen', open, BUDGET_MS),
        row(`Show more (${PAGE} → ${2 * PAGE})`, more, null),
        row(`search "okapi" (after the ${DEBOUNCE_MS} ms debounce)`, search, null),
        row(`the last Show more (${BATCHES} listed)`, all, null)
      ]
    )
  ].join('\n');
  report('history', text);
});
