import { expect, galata, test } from '@jupyterlab/galata';
import { notebookWithPrompt } from './helpers';
import { resetSimulator } from './simulator';
test.use({ mockSettings: { ...galata.DEFAULT_SETTINGS }, viewport: { width: 1400, height: 900 } });
for (const theme of ['light', 'dark'] as const) {
  test(`look ${theme}`, async ({ page, request }) => {
    await resetSimulator(request, { tokens_per_second: 30, ttft_ms: 20, reasoning_tokens: 40, answer_tokens: 400,
      faults: [{ kind: 'stall', after_tokens: 60 }] });
    if (theme === 'dark') { await page.theme.setDarkTheme(); }
    await notebookWithPrompt(page, 'Explain attention in two sentences and one line of code.');
    await page.evaluate(() => { (window as any).jupyterapp.commands.execute('fanout:generate', { prompt: 'Explain attention in two sentences and one line of code.', n: 32, maxTokens: 1024 }); });
    await expect(page.locator('.jp-Fanout-row')).toHaveCount(32);
    await page.waitForTimeout(2500);
    await page.screenshot({ path: `/tmp/compact-look-${theme}.png` });
    await page.locator('.jp-Fanout-row[data-response-index="3"]').click();
    await page.waitForTimeout(500);
    await page.locator('#jupyterlab-fanout-sidebar').screenshot({ path: `/tmp/compact-look-${theme}-exp.png` });
    await page.evaluate(() => (window as any).jupyterapp.commands.execute('fanout:open-board', {}));
    await page.waitForTimeout(1500);
    await page.screenshot({ path: `/tmp/compact-look-${theme}-board.png` });
    await page.locator('.jp-Fanout-stop-all').first().click();
  });
}
