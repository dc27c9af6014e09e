/**
 * Reference images of the sidebar mid-generation (the compact view: 20 rows, one expanded into
 * its card), in the light and the dark theme, and of the History section.
 *
 * The streams are held still by a stall after twelve tokens of a fixed answer, so the
 * picture is the same every run; the timers and rates, which are not, are masked.
 */
import { expect, galata, test } from '@jupyterlab/galata';

import { notebookWithPrompt, RESPONSE } from './helpers';
import { resetSimulator } from './simulator';

const ANSWER =
  'Attention lets each token look at every other token.\n\n```python\nweights = softmax(q @ k.T / d ** 0.5)\n```\n';

test.describe('The compact view', () => {
  // The default settings (the compact view), in a 1400 × 900 window.
  test.use({ mockSettings: { ...galata.DEFAULT_SETTINGS }, viewport: { width: 1400, height: 900 } });

  for (const theme of ['light', 'dark'] as const) {
    test(`the sidebar mid-generation in the ${theme} theme`, async ({ page, request }, testInfo) => {
      await resetSimulator(request, {
        tokens_per_second: 200,
        ttft_ms: 20,
        reasoning_tokens: 0,
        answer_text: ANSWER,
        faults: [{ kind: 'stall', after_tokens: 12 }]
      });
      if (theme === 'dark') {
        await page.theme.setDarkTheme();
      } else {
        await page.theme.setLightTheme();
      }
      await notebookWithPrompt(page, 'Explain attention in two sentences and one line of code.');
      // Not awaited: the command resolves when the batch ends, and these streams stall.
      await page.evaluate(() => {
        void (window as any).jupyterapp.commands.execute('fanout:generate', { n: 20 });
      });
      const rows = page.locator('.jp-Fanout-sidebar .jp-Fanout-row');
      await expect(rows.locator('.jp-Fanout-row-tokens')).toHaveText(Array(20).fill('12'));
      // The second response expanded into its card: both forms in one picture.
      await rows.nth(1).click();
      await expect(page.locator(`${RESPONSE} .jp-Fanout-response-counts`)).toHaveText('(0 + 12 = 12 / 1024)');
      await page.mouse.move(0, 0);
      const sidebar = page.locator('#jupyterlab-fanout-sidebar');
      await expect(sidebar).toHaveScreenshot(`sidebar-${theme}.png`, {
        mask: [
          page.locator('.jp-Fanout-response-metrics'),
          page.locator('.jp-Fanout-batch-rate'),
          page.locator('.jp-Fanout-row-rate')
        ],
        maxDiffPixelRatio: 0.01
      });
      await page.screenshot({ path: testInfo.outputPath(`lab-${theme}.png`) });
      await page.locator('.jp-Fanout-stop-all').click();
      await expect(page.locator('.jp-Fanout-sidebar .jp-Fanout-row[data-status="stopped"]')).toHaveCount(20);
    });
  }
});

/** A stored batch to import (POST fanout/batches): fixed times far ahead, so it lists first. */
function storedBatch(i: number) {
  const statuses = [
    ['complete', 'complete', 'complete', 'complete'],
    ['complete', 'stopped', 'error', 'complete'],
    ['complete', 'incomplete'],
    ['complete', 'complete', 'complete', 'complete', 'complete', 'complete', 'complete', 'complete']
  ][i % 4];
  const models = ['Qwen/Qwen3-8B', 'meta-llama/Llama-3.1-8B-Instruct', 'gpt-oss-20b'];
  const prompts = [
    'Explain attention in two sentences and one line of code.',
    'Write a haiku about gradient descent',
    'Summarise the differences between a list and a tuple in Python, with an example of when each is the better choice, and mention immutability',
    'Refactor this function to avoid the nested loops'
  ];
  const created = Date.UTC(2099, 0, 1, 9, 0, 0) / 1000 - i * 3600;
  return {
    id: `screenshot-${String(i).padStart(2, '0')}`,
    prompt: `${prompts[i % 4]}\n\nSecond line.`,
    created_at: created,
    options: { n: statuses.length },
    responses: statuses.map((status, j) => ({
      id: String(j + 1),
      attempts: [
        {
          attempt: 1,
          upstream: 'simulator',
          model: models[(i + (j % 2)) % 3],
          status,
          text: `Answer ${j + 1}.`,
          started_at: created,
          ended_at: created + 3
        }
      ]
    }))
  };
}

for (const theme of ['light', 'dark'] as const) {
  test(`the History section with 18 stored batches in the ${theme} theme`, async ({ page, request }, testInfo) => {
    for (let i = 0; i < 18; i++) {
      const response = await request.post('/fanout/batches', { data: storedBatch(i) });
      // 409: the other theme's run imported it already.
      expect([201, 409]).toContain(response.status());
    }
    if (theme === 'dark') {
      await page.theme.setDarkTheme();
    } else {
      await page.theme.setLightTheme();
    }
    await page.evaluate(() => (window as any).jupyterapp.commands.execute('fanout:show-history'));
    const history = page.locator('#jupyterlab-fanout-history');
    await expect(history.locator('.jp-Fanout-historyItem').first()).toHaveAttribute('data-batch-id', 'screenshot-00');
    // History alone, then beside the Responses section (both expanded, as after a click on its title).
    const responsesTitle = page.locator('#jupyterlab-fanout-sidebar .jp-AccordionPanel-title', {
      hasText: 'Responses'
    });
    await responsesTitle.click();
    await expect(responsesTitle).toHaveAttribute('aria-expanded', 'false');
    const sidebar = page.locator('#jupyterlab-fanout-sidebar');
    await expect(sidebar).toHaveScreenshot(`history-${theme}.png`, { maxDiffPixelRatio: 0.01 });
    await responsesTitle.click();
    await expect(responsesTitle).toHaveAttribute('aria-expanded', 'true');
    await page.screenshot({ path: testInfo.outputPath(`lab-history-${theme}.png`) });
    // Keyboard: Tab from the search box reaches the first batch's title, then its actions.
    await history.locator('.jp-Fanout-history-search').focus();
    await page.keyboard.press('Tab');
    await expect(history.locator('.jp-Fanout-historyItem-title').first()).toBeFocused();
    await page.keyboard.press('Tab');
    await expect(history.locator('[data-action="edit-prompt"]').first()).toBeFocused();
    await page.keyboard.press('Tab');
    await expect(history.locator('[data-action="rename"]').first()).toBeFocused();
  });
}
