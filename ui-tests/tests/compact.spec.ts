/**
 * The compact view (one dense row per response), its pinned header, its keyboard, its live
 * region, and the board: in a 1400 × 900 window at the default sidebar width, against the
 * simulator over real sockets.
 */
import { expect, galata, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

import { execute, notebookWithPrompt, reloadLab } from './helpers';
import { resetSimulator } from './simulator';

// The default settings: the compact view (playwright.config.js sets cards for the older specs).
test.use({ mockSettings: { ...galata.DEFAULT_SETTINGS }, viewport: { width: 1400, height: 900 } });

const ROW = '.jp-Fanout-sidebar .jp-Fanout-row';
const SECTION = '#jupyterlab-fanout-responses';

/** Start a batch of `n` through the command (the sidebar shows it) and wait for its rows. */
async function generate(page: IJupyterLabPageFixture, n: number, maxTokens = 1024): Promise<void> {
  await page.evaluate(
    ({ n, maxTokens }) => {
      const w = window as any;
      w.__done = w.jupyterapp.commands.execute('fanout:generate', { prompt: 'Explain attention.', n, maxTokens });
    },
    { n, maxTokens }
  );
  await expect(page.locator(ROW)).toHaveCount(n);
}

/** How many rows lie wholly in the visible part of the list (below the pinned header). */
async function rowsInView(page: IJupyterLabPageFixture): Promise<number> {
  return page.evaluate(
    ({ ROW, SECTION }) => {
      const section = document.querySelector(SECTION)!.getBoundingClientRect();
      const header = document.querySelector(`${SECTION} .jp-Fanout-batch-header`)!.getBoundingClientRect();
      const top = Math.max(section.top, header.bottom);
      return Array.from(document.querySelectorAll(ROW)).filter(row => {
        const box = row.getBoundingClientRect();
        return box.height > 0 && box.top >= top - 0.5 && box.bottom <= section.bottom + 0.5;
      }).length;
    },
    { ROW, SECTION }
  );
}

test.describe('The compact view', () => {
  test('16 or more of 32 responses in view with their figures; the header stays pinned', async ({ page, request }) => {
    await resetSimulator(request, { tokens_per_second: 200, ttft_ms: 20, reasoning_tokens: 10, answer_tokens: 40 });
    await notebookWithPrompt(page, 'Explain attention.');
    await generate(page, 32);
    await expect(page.locator(`${ROW}[data-status="complete"]`)).toHaveCount(32);
    const inView = await rowsInView(page);
    console.log(`rows wholly in view at 1400 × 900: ${inView} of 32`);
    expect(inView).toBeGreaterThanOrEqual(16);
    // Each row shows status, model, tokens and tokens per second.
    const first = page.locator(`${ROW}[data-response-index="1"]`);
    await expect(first.locator('.jp-Fanout-row-status')).toHaveAttribute('data-status', 'complete');
    await expect(first.locator('.jp-Fanout-row-status')).toHaveAttribute('title', 'Complete');
    await expect(first.locator('.jp-Fanout-row-glyph')).toHaveText('✓');
    await expect(first.locator('.jp-Fanout-row-status-label')).toHaveText('Complete');
    await expect(first.locator('.jp-Fanout-row-model')).not.toBeEmpty();
    await expect(first.locator('.jp-Fanout-row-tokens')).toHaveText('50');
    await expect(first.locator('.jp-Fanout-row-rate')).toHaveText(/^\d+\.\d\/s$/);
    await expect(page.locator('.jp-Fanout-batch-progress')).toHaveText('32/32 complete');

    // Scrolled to the bottom: the header is still wholly in view, the last row too.
    await page.locator(`${ROW}[data-response-index="32"]`).scrollIntoViewIfNeeded();
    await page.evaluate(SECTION => {
      const section = document.querySelector(SECTION)!;
      section.scrollTop = section.scrollHeight;
    }, SECTION);
    const boxes = await page.evaluate(SECTION => {
      const section = document.querySelector(SECTION)!;
      const header = section.querySelector('.jp-Fanout-batch-header')!.getBoundingClientRect();
      return {
        scrolled: section.scrollTop,
        section: section.getBoundingClientRect().toJSON(),
        header: header.toJSON()
      };
    }, SECTION);
    expect(boxes.scrolled).toBeGreaterThan(0);
    expect(boxes.header.top).toBeGreaterThanOrEqual(boxes.section.top - 0.5);
    expect(boxes.header.bottom).toBeLessThanOrEqual(boxes.section.bottom);
    await expect(page.locator('.jp-Fanout-batch-progress')).toBeInViewport();
  });

  test('progress bars say thinking and answer tokens; the live region says the batch ended', async ({
    page,
    request
  }) => {
    await resetSimulator(request, { tokens_per_second: 200, ttft_ms: 20, reasoning_tokens: 12, answer_tokens: 30 });
    await notebookWithPrompt(page, 'Explain attention.');
    await generate(page, 3, 4096);
    await expect(page.locator(`${ROW}[data-status="complete"]`)).toHaveCount(3);
    const row = page.locator(`${ROW}[data-response-index="2"]`);
    await expect(row.locator('.jp-Fanout-row-bar-thinking')).toHaveAttribute(
      'aria-valuetext',
      'Thinking: 12 of 4,096 tokens'
    );
    await expect(row.locator('.jp-Fanout-row-bar-answer')).toHaveAttribute(
      'aria-valuetext',
      'Answer: 30 of 4,096 tokens'
    );
    // One live region for the sidebar, polite; the batch's end said once.
    const live = page.locator('.jp-Fanout-sidebar [aria-live="polite"].jp-Fanout-live');
    await expect(live).toHaveCount(1);
    await expect(live).toHaveAttribute('role', 'status');
    await expect(live).toContainText('Batch ended: 3 of 3 complete.');
  });

  test('one tab stop, arrow keys between rows, Enter and a click expand and collapse', async ({ page, request }) => {
    await resetSimulator(request, { tokens_per_second: 400, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 20 });
    await notebookWithPrompt(page, 'Explain attention.');
    await generate(page, 6);
    await expect(page.locator(`${ROW}[data-status="complete"]`)).toHaveCount(6);
    // One tab stop in the list: the first row.
    await expect(page.locator(`${ROW}[tabindex="0"]`)).toHaveCount(1);
    await expect(page.locator(`${ROW}[tabindex="-1"]`)).toHaveCount(5);

    // "Show Fanout" moves the keyboard into the sidebar, to the list's tab stop, and resolves
    // once it is there (a script's next focus is not taken back a frame later).
    await page.locator('.jp-NotebookPanel').first().click();
    await execute(page, 'fanout:open');
    const focused = () => page.evaluate(() => (document.activeElement as HTMLElement)?.dataset.responseIndex ?? null);
    expect(await focused()).toBe('1');

    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await expect.poll(focused).toBe('3');
    await page.keyboard.press('End');
    await expect.poll(focused).toBe('6');
    await page.keyboard.press('ArrowUp');
    await expect.poll(focused).toBe('5');
    await page.keyboard.press('Home');
    await expect.poll(focused).toBe('1');
    await page.keyboard.press('ArrowDown');
    // The tab stop moved with the focus.
    await expect(page.locator(`${ROW}[tabindex="0"]`)).toHaveAttribute('data-response-index', '2');

    // Enter expands the row into its card; Tab reaches the card's buttons; Enter again collapses.
    const second = page.locator(`${ROW}[data-response-index="2"]`);
    await page.keyboard.press('Enter');
    await expect(second).toHaveAttribute('aria-expanded', 'true');
    const card = page.locator('.jp-Fanout-sidebar .jp-Fanout-row-card .jp-Fanout-response[data-response-index="2"]');
    await expect(card).toBeVisible();
    await expect(card.locator('.jp-Fanout-response-text')).not.toBeEmpty();
    await page.keyboard.press('Tab');
    const tabbed = await page.evaluate(() => document.activeElement?.closest('.jp-Fanout-row-card') !== null);
    expect(tabbed).toBe(true);
    await page.keyboard.press('Shift+Tab');
    await expect.poll(focused).toBe('2');
    await page.keyboard.press('Enter');
    await expect(second).toHaveAttribute('aria-expanded', 'false');
    await expect(card).toHaveCount(0);

    // A click expands and collapses too.
    const fourth = page.locator(`${ROW}[data-response-index="4"]`);
    await fourth.click();
    await expect(fourth).toHaveAttribute('aria-expanded', 'true');
    await expect(page.locator('.jp-Fanout-sidebar .jp-Fanout-row-card .jp-Fanout-response')).toHaveCount(1);
    await fourth.click();
    await expect(fourth).toHaveAttribute('aria-expanded', 'false');
    await expect(page.locator('.jp-Fanout-sidebar .jp-Fanout-row-card')).toHaveCount(0);
  });

  test('typing in a cell while rows stream: the rows still move, and Stop all shows', async ({ page, request }) => {
    // 8 responses at 40 tokens/s: about 12 s of answer, typed through for 3 s.
    await resetSimulator(request, { tokens_per_second: 40, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 480 });
    await notebookWithPrompt(page, 'Explain attention.');
    await page.notebook.addCell('code', '');
    await generate(page, 8);
    const tokens = page.locator(`${ROW}[data-response-index="1"] .jp-Fanout-row-tokens`);
    await expect(tokens).not.toHaveText('0');
    await page.locator('.jp-NotebookPanel .jp-Cell .cm-content').last().click();
    // Count the distinct token counts row 1 shows while a key goes down every 150 ms (the
    // sidebar then renders in pauses or once a second, never less).
    await page.evaluate(() => {
      const w = window as any;
      const seen = new Set<string>();
      const cell = document.querySelector(
        '.jp-Fanout-sidebar .jp-Fanout-row[data-response-index="1"] .jp-Fanout-row-tokens'
      )!;
      w.__shown = seen;
      w.__watch = new MutationObserver(() => seen.add(cell.textContent ?? ''));
      w.__watch.observe(cell, { characterData: true, childList: true, subtree: true });
    });
    for (let i = 0; i < 20; i++) {
      await page.keyboard.type('x');
      await page.waitForTimeout(150);
    }
    const shown = await page.evaluate(() => {
      const w = window as any;
      w.__watch.disconnect();
      return [...w.__shown];
    });
    expect(shown.length).toBeGreaterThanOrEqual(2);
    await expect(page.locator('.jp-NotebookPanel .jp-Cell .cm-content').last()).toHaveText('x'.repeat(20));
    // Stop all while a key has just gone down in the cell.
    await page.keyboard.type('y');
    await execute(page, 'fanout:stop');
    await expect(page.locator(`${ROW}[data-status="stopped"]`)).toHaveCount(8);
  });

  test('rows out of view are empty boxes of a row’s height that fill in as they come near; rows in view render at every change', async ({
    page,
    request
  }) => {
    // 64 responses at 40 tokens/s (16 s): row 64 is far below the sidebar's visible rows.
    await resetSimulator(request, { tokens_per_second: 40, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 640 });
    await notebookWithPrompt(page, 'Explain attention.');
    await generate(page, 64);
    await expect(page.locator(`${ROW}[data-status="generating"]`)).toHaveCount(64);
    const last = page.locator(`${ROW}[data-response-index="64"]`);
    await expect(last).not.toBeInViewport();
    // Out of view: no cells, no bars; its name and status on the row itself; a row's height.
    await expect(last).toHaveClass(/jp-Fanout-row-away/);
    await expect(last.locator('*')).toHaveCount(0);
    await expect(last).toHaveAttribute('aria-label', /^Response 64/);
    const first = page.locator(`${ROW}[data-response-index="1"]`);
    const heights = await Promise.all(
      [first, last].map(row => row.evaluate(node => node.getBoundingClientRect().height))
    );
    expect(heights[1]).toBe(heights[0]);
    // The rows in view and near it are whole: at least the 16 of the view, not the far ones.
    const away = await page.locator(`${ROW}.jp-Fanout-row-away`).count();
    console.log(`rows out of view, as empty boxes: ${away} of 64`);
    expect(away).toBeGreaterThanOrEqual(20);
    expect(away).toBeLessThanOrEqual(64 - 16);
    await expect(first).not.toHaveClass(/jp-Fanout-row-away/);
    // Row 1 (in view) shows new counts at every render while it streams.
    const changes = await page.evaluate(async ROW => {
      const cell = document.querySelector(`${ROW}[data-response-index="1"] .jp-Fanout-row-tokens`)!;
      const shown = new Set<string>([cell.textContent ?? '']);
      const watch = new MutationObserver(() => shown.add(cell.textContent ?? ''));
      watch.observe(cell, { characterData: true, childList: true, subtree: true });
      await new Promise(resolve => setTimeout(resolve, 2000));
      watch.disconnect();
      return shown.size - 1;
    }, ROW);
    expect(changes).toBeGreaterThanOrEqual(4);
    // Reached by the keyboard while it streams (End from row 1), row 64 is focused, scrolled in
    // and filled, with a count; Home goes back to row 1, whole.
    await first.focus();
    await page.keyboard.press('End');
    await expect(last).toBeFocused();
    await expect(last).toBeInViewport();
    await expect(last).not.toHaveClass(/jp-Fanout-row-away/);
    await expect(last.locator('.jp-Fanout-row-tokens')).toHaveText(/^[1-9][\d,]*$/);
    await page.keyboard.press('Home');
    await expect(first).toBeFocused();
    await expect(first).toBeInViewport();
    await expect(first.locator('.jp-Fanout-row-tokens')).toHaveText(/^[1-9][\d,]*$/);
    // A fling: the list thrown to its end in one jump, then back to its top; each time the rows in
    // view fill in (none of them stays an empty box), and rows left far behind become boxes.
    // The rows in view of what the list scrolls in, and of them the empty boxes; first thrown
    // to the list's end or top in one jump when `to` is given.
    const boxesInView = (to?: 'end' | 'top') =>
      page.evaluate(
        ({ ROW, to }) => {
          const rows = Array.from(document.querySelectorAll<HTMLElement>(ROW));
          let root = rows[0].parentElement!;
          while (!['auto', 'scroll'].includes(getComputedStyle(root).overflowY)) {
            root = root.parentElement!;
          }
          if (to) {
            root.scrollTop = to === 'end' ? root.scrollHeight : 0;
          }
          const view = root.getBoundingClientRect();
          const inView = rows.filter(row => {
            const box = row.getBoundingClientRect();
            return box.bottom > view.top && box.top < view.bottom;
          });
          return {
            inView: inView.length,
            boxes: inView.filter(row => row.classList.contains('jp-Fanout-row-away')).length
          };
        },
        { ROW, to }
      );
    for (const to of ['end', 'top'] as const) {
      await boxesInView(to);
      await expect
        .poll(() => boxesInView(), { message: `rows in view after a fling to the ${to}` })
        .toMatchObject({ boxes: 0 });
      expect((await boxesInView()).inView).toBeGreaterThanOrEqual(14);
    }
    await expect(page.locator(`${ROW}.jp-Fanout-row-away`).first()).toBeAttached();
    await expect(last).toHaveClass(/jp-Fanout-row-away/); // (back at the top, row 64 is far again)
    // The sidebar collapsed and shown again: the rows in view are whole all along.
    await page.evaluate(() => (window as any).jupyterapp.shell.collapseRight());
    await page.waitForTimeout(500);
    await page.evaluate(() => (window as any).jupyterapp.shell.expandRight());
    expect((await boxesInView()).boxes).toBe(0);
    // Stopped, every row has its status, and a row scrolled to then shows its response's last count.
    await execute(page, 'fanout:stop');
    await expect(page.locator(`${ROW}[data-status="stopped"]`)).toHaveCount(64);
    const totals = await page.evaluate(async () => {
      const summary = await (window as any).__done;
      return summary.responses.map((response: { totalTokens: number }) => response.totalTokens) as number[];
    });
    for (const index of [64, 40]) {
      const row = page.locator(`${ROW}[data-response-index="${index}"]`);
      await row.scrollIntoViewIfNeeded();
      await expect(row.locator('.jp-Fanout-row-tokens')).toHaveText(totals[index - 1].toLocaleString('en-US'));
    }
  });

  test('the sidebar has its own icon', async ({ page }) => {
    const tab = page.locator('.jp-SideBar.jp-mod-right .lm-TabBar-tab[data-id="jupyterlab-fanout-sidebar"]');
    await expect(tab.locator('svg[data-icon="jupyterlab-fanout:fanout"]')).toHaveCount(1);
  });
});

test.describe('The board', () => {
  test('opens with live cards, follows the batch and closes', async ({ page, request }) => {
    await resetSimulator(request, { tokens_per_second: 40, ttft_ms: 50, reasoning_tokens: 0, answer_tokens: 80 });
    await notebookWithPrompt(page, 'Explain attention.');
    await generate(page, 8);
    const result = await execute(page, 'fanout:open-board', {});
    const board = page.locator('.jp-Fanout-board-widget');
    await expect(board).toBeVisible();
    expect(result.batchId).toBe(
      await page.locator('.jp-Fanout-sidebar .jp-Fanout-batch').getAttribute('data-batch-id')
    );
    const cards = board.locator('.jp-Fanout-response');
    await expect(cards).toHaveCount(8);
    // Live: the cards are seen streaming, then complete, with their text.
    await expect(board.locator('.jp-Fanout-response[data-status="generating"]').first()).toBeVisible();
    await expect(board.locator('.jp-Fanout-response[data-status="complete"]')).toHaveCount(8, { timeout: 30000 });
    await expect(board.locator('.jp-Fanout-response-text').first()).not.toBeEmpty();
    await expect(board.locator('.jp-Fanout-batch-progress')).toHaveText('8/8 complete');
    // Several cards side by side: a grid.
    const tops = await cards.evaluateAll(nodes => nodes.slice(0, 2).map(n => n.getBoundingClientRect().top));
    expect(tops[0]).toBe(tops[1]);
    // Opening it again shows the same board.
    await execute(page, 'fanout:open-board', {});
    await expect(board).toHaveCount(1);
    // Closing it: gone from the shell.
    await page
      .locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'Board:' })
      .locator('.lm-TabBar-tabCloseIcon')
      .click();
    await expect(board).toHaveCount(0);
    const boards = await page.evaluate(
      () =>
        Array.from((window as any).jupyterapp.shell.widgets('main')).filter((w: any) =>
          w.id.startsWith('jupyterlab-fanout-board-')
        ).length
    );
    expect(boards).toBe(0);
    // A bad batch id gets a specific error.
    const error = await page.evaluate(async () => {
      try {
        await (window as any).jupyterapp.commands.execute('fanout:open-board', { batchId: 'no-such-batch' });
        return 'no error';
      } catch (e) {
        return (e as Error).message;
      }
    });
    expect(error).toMatch(/no-such-batch/);
  });

  test('a removed batch closes its board', async ({ page, request }) => {
    await resetSimulator(request, { tokens_per_second: 400, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 10 });
    await notebookWithPrompt(page, 'Explain attention.');
    await generate(page, 2);
    await expect(page.locator(`${ROW}[data-status="complete"]`)).toHaveCount(2);
    const { batchId } = await execute(page, 'fanout:open-board', {});
    await expect(page.locator('.jp-Fanout-board-widget .jp-Fanout-response')).toHaveCount(2);
    await execute(page, 'fanout:remove-batch', { batchId });
    await expect(page.locator('.jp-Fanout-board-widget')).toHaveCount(0);
  });

  test('a board is restored after a reload', async ({ page, request }) => {
    await resetSimulator(request, { tokens_per_second: 400, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 10 });
    await notebookWithPrompt(page, 'Explain attention.');
    await generate(page, 3);
    await expect(page.locator(`${ROW}[data-status="complete"]`)).toHaveCount(3);
    const { batchId } = await execute(page, 'fanout:open-board', {});
    await expect(page.locator('.jp-Fanout-board-widget .jp-Fanout-response[data-status="complete"]')).toHaveCount(3);
    // Wait for the workspace to hold the board before reloading.
    await expect
      .poll(async () => {
        const workspace = await page.evaluate(async () => {
          const response = await fetch('/lab/api/workspaces/default', { credentials: 'same-origin' });
          return response.ok ? JSON.stringify(await response.json()) : '';
        });
        return workspace.includes(`jupyterlab-fanout-board:${batchId}`);
      })
      .toBe(true);
    const loaded = page.waitForEvent('load');
    await page.evaluate(() => window.location.reload());
    await loaded;
    await page.waitForFunction(() => (window as any).jupyterapp?.commands.hasCommand('fanout:open-board'));
    const board = page.locator('.jp-Fanout-board-widget');
    await expect(board.locator('.jp-Fanout-response[data-status="complete"]')).toHaveCount(3);
    await expect(board).toHaveAttribute('id', `jupyterlab-fanout-board-${batchId}`);
  });

  test('a board opened by a script before the layout is restored stays open', async ({ page, request }) => {
    await resetSimulator(request, { tokens_per_second: 400, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 10 });
    await notebookWithPrompt(page, 'Explain attention.');
    await generate(page, 2);
    await expect(page.locator(`${ROW}[data-status="complete"]`)).toHaveCount(2);
    const batchId = await page.locator('.jp-Fanout-sidebar .jp-Fanout-batch').getAttribute('data-batch-id');
    // After the reload, a script opens the board as soon as the command exists: before
    // JupyterLab has restored the workspace's layout (which has no board), as it records. The
    // workspace comes 3 s late, so that the board is surely added before the restore.
    await page.route(/\/lab\/api\/workspaces/, async route => {
      if (route.request().method() === 'GET') {
        await new Promise(resolve => setTimeout(resolve, 3000));
      }
      await route.fallback();
    });
    await page.addInitScript(id => {
      const w = window as any;
      const poll = setInterval(() => {
        if (!w.jupyterapp?.commands.hasCommand('fanout:open-board')) {
          return;
        }
        clearInterval(poll);
        let restored = false;
        void w.jupyterapp.restored.then(() => (restored = true));
        w.__boardCall = Promise.resolve().then(() => {
          const restoredAtCall = restored;
          return w.jupyterapp.commands.execute('fanout:open-board', { batchId: id }).then(
            () => ({ restoredAtCall, restoredWhenOpen: restored, error: null }),
            (e: Error) => ({ restoredAtCall, restoredWhenOpen: restored, error: e.message })
          );
        });
      }, 5);
    }, batchId);
    await reloadLab(page);
    const call = await page.evaluate(() => (window as any).__boardCall);
    expect(call).toEqual({ restoredAtCall: false, restoredWhenOpen: false, error: null });
    const board = page.locator('.jp-Fanout-board-widget');
    await expect(board).toBeVisible();
    await expect(board.locator('.jp-Fanout-response[data-status="complete"]')).toHaveCount(2);
    const inDock = await page.evaluate(
      id =>
        Array.from((window as any).jupyterapp.shell.widgets('main')).some(
          (w: any) => w.id === `jupyterlab-fanout-board-${id}`
        ),
      batchId
    );
    expect(inDock).toBe(true);
  });
});
