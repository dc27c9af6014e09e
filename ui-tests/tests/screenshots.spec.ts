/**
 * Reference images of the sidebar mid-generation, in the light and the dark theme.
 *
 * The streams are held still by a stall after twelve tokens of a fixed answer, so the
 * picture is the same every run; the timers and rates, which are not, are masked.
 */
import { expect, test } from '@jupyterlab/galata';

import { notebookWithPrompt, RESPONSE, runFromPalette } from './helpers';
import { resetSimulator } from './simulator';

const ANSWER =
  'Attention lets each token look at every other token.\n\n```python\nweights = softmax(q @ k.T / d ** 0.5)\n```\n';

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
    await runFromPalette(page, 'Generate responses');
    await expect(page.locator(`${RESPONSE} .jp-Fanout-response-counts`)).toHaveText(
      Array(4).fill('(0 + 12 = 12 / 1024)')
    );
    const sidebar = page.locator('#jupyterlab-fanout-sidebar');
    await expect(sidebar).toHaveScreenshot(`sidebar-${theme}.png`, {
      mask: [page.locator('.jp-Fanout-response-metrics'), page.locator('.jp-Fanout-batch-rate')],
      maxDiffPixelRatio: 0.01
    });
    await page.screenshot({ path: testInfo.outputPath(`lab-${theme}.png`) });
    await page.locator('.jp-Fanout-stop-all').click();
    await expect(page.locator(`${RESPONSE}[data-status="stopped"]`)).toHaveCount(4);
  });
}
