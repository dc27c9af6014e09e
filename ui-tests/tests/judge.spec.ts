/**
 * Judge (issue 17, item 4) in Chromium against the real store of the test server and the vLLM
 * simulator: "Judge…" on the batch header opens the dialog (model from the server's list, the
 * rubric typed), the judgement shows beside the compare view, and its scores are the ones the
 * simulator's deterministic judge gives (jupyterlab_fanout/simulator/judge.py: for Response k
 * with W words and the i-th criterion, 1 + (W + 3i) % 10). A malformed answer (the simulator's
 * `[[judge: partial, html]]` directive) shows its problems and the raw text, and a rationale
 * that is markup shows as text.
 */
import { expect, test } from '@jupyterlab/galata';

import { execute, rejection, stored } from './helpers';
import { resetSimulator, simulatorRequests } from './simulator';

const PANE = '.jp-Fanout-judge-pane';
const BATCH = '.jp-Fanout-sidebar .jp-Fanout-batch';

function words(text: string): number {
  const trimmed = text.trim();
  return trimmed ? trimmed.split(/\s+/).length : 0;
}

/** The simulator judge's score of a text on the `criterion`-th criterion (0-based). */
function score(text: string, criterion: number): number {
  return 1 + ((words(text) + 3 * criterion) % 10);
}

test.describe('Judge', () => {
  test('judge from the dialog; the table beside the compare view holds the simulator judge’s scores', async ({
    page,
    request
  }, testInfo) => {
    const errors: string[] = [];
    page.on('pageerror', error => errors.push(error.message));
    await page.setViewportSize({ width: 1400, height: 900 });
    await resetSimulator(request, { tokens_per_second: 600, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 40 });
    const batch = await execute(page, 'fanout:generate', { prompt: `Explain a loop ${Date.now()}`, n: 3 });
    await stored(page, batch.batchId, 3);
    await execute(page, 'fanout:open', { batchId: batch.batchId });

    // "Judge…" on the batch's header: the dialog, the model chosen from the server's list.
    await page.locator(`${BATCH} .jp-Fanout-judge-open`).click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.locator('.jp-Fanout-judge-dialog')).toBeVisible();
    const select = dialog.locator('.jp-Fanout-judge-model-select');
    await expect(select.locator('option', { hasText: 'fanout-sim' }).first()).toBeAttached();
    await expect(dialog.locator('.jp-Fanout-judge-dialog-note')).toContainText('3 responses');
    // Typed as a person would: Enter in the rubric starts a new line, it does not send.
    const rubric = dialog.locator('.jp-Fanout-judge-rubric');
    await expect(rubric).toHaveValue(/^overall: /);
    await rubric.fill('');
    await rubric.pressSequentially('accuracy: is it right');
    await rubric.press('Enter');
    await rubric.pressSequentially('clarity: is it easy to read');
    await expect(rubric).toHaveValue('accuracy: is it right\nclarity: is it easy to read');
    await dialog.screenshot({ path: testInfo.outputPath('judge-dialog-light.png') });
    await page.theme.setDarkTheme();
    await dialog.screenshot({ path: testInfo.outputPath('judge-dialog-dark.png') });
    await page.theme.setLightTheme();
    await expect(dialog.locator('.jp-Fanout-judge-dialog')).toBeVisible();
    await dialog.locator('.jp-mod-accept').click();

    // The judgement, beside the compare view.
    const compare = page.locator(`#jupyterlab-fanout-compare-${batch.batchId}`);
    const pane = compare.locator(PANE);
    await expect(pane.locator('.jp-Fanout-judge-row')).toHaveCount(3, { timeout: 30000 });
    await expect(compare.locator('.jp-Fanout-compare-toolbar .jp-Fanout-judge-open')).toBeVisible();
    await expect(pane.locator('thead th')).toHaveText(['Response · model', 'accuracy', 'clarity', 'Total']);

    const summary = await execute(page, 'fanout:get-batch', { batchId: batch.batchId });
    const rows = pane.locator('.jp-Fanout-judge-row');
    const totals: number[] = [];
    for (let i = 0; i < 3; i++) {
      const row = rows.nth(i);
      const id = await row.getAttribute('data-response-id');
      const response = summary.responses.find((r: any) => r.id === id);
      const a = score(response.content, 0);
      const c = score(response.content, 1);
      await expect(row.locator('[data-criterion="accuracy"]')).toHaveText(String(a));
      await expect(row.locator('[data-criterion="clarity"]')).toHaveText(String(c));
      await expect(row.locator('.jp-Fanout-judge-total')).toHaveText(String(a + c));
      await expect(row.locator('.jp-Fanout-judge-model')).toHaveText(response.model);
      // Responses are labelled in the batch's order: response k is "Response k" to the judge.
      await expect(row.locator('.jp-Fanout-judge-rationale')).toHaveText(
        `Response ${id} has ${words(response.content)} words.`
      );
      totals.push(a + c);
    }
    expect([...totals].sort((x, y) => y - x)).toEqual(totals); // best first
    await expect(pane.locator('.jp-Fanout-judge-problems')).toHaveCount(0);

    // Judge… in the compare view's toolbar opens the same dialog, the last rubric kept; Cancel sends nothing.
    await compare.locator('.jp-Fanout-compare-toolbar .jp-Fanout-judge-open').click();
    await expect(dialog.locator('.jp-Fanout-judge-rubric')).toHaveValue(
      'accuracy: is it right\nclarity: is it easy to read'
    );
    await dialog.locator('.jp-mod-reject').click();
    await expect(dialog).toHaveCount(0);

    // The judge got structured output (the simulator speaks vLLM), no stream, temperature 0.
    const judged = (await simulatorRequests(request)).filter(r =>
      (r.messages ?? []).some(m => String(m.content).startsWith('[fanout:judge v1]'))
    );
    expect(judged).toHaveLength(1);
    expect((judged[0] as any).keys).toContain('response_format');
    expect(judged[0].stream).toBe(false);
    expect(judged[0].temperature).toBe(0);

    // The store lists it.
    const listed = await (await page.request.get(`/fanout/batches/${batch.batchId}/judgements`)).json();
    expect(listed.judgements).toHaveLength(1);
    expect(listed.judgements[0].rows.map((r: any) => r.total)).toEqual(totals);

    await page.screenshot({ path: testInfo.outputPath('judge-light.png') });
    await page.theme.setDarkTheme();
    await page.screenshot({ path: testInfo.outputPath('judge-dark.png') });
    await page.theme.setLightTheme();

    // Bad input: a specific error naming the field (and the pane says the last request failed).
    expect(await rejection(page, 'fanout:judge', { batchId: batch.batchId, rubric: 'a\nA' })).toMatch(
      /names the criterion 'A' twice/
    );
    expect(await rejection(page, 'fanout:judge', { batchId: batch.batchId, upstream: 'nowhere' })).toMatch(
      /'upstream': there is no configured upstream 'nowhere'/
    );

    await expect(pane.locator('.jp-Fanout-judge-error')).toContainText("no configured upstream 'nowhere'");
    expect(errors).toEqual([]);
  });

  test('a malformed answer shows its problems and the raw text', async ({ page, request }, testInfo) => {
    const errors: string[] = [];
    page.on('pageerror', error => errors.push(error.message));
    await page.setViewportSize({ width: 1400, height: 900 });
    await resetSimulator(request, { tokens_per_second: 600, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 30 });
    // The directive is in the batch's prompt, which the judge's request quotes.
    const batch = await execute(page, 'fanout:generate', {
      prompt: `Name a sea [[judge: partial, html]] ${Date.now()}`,
      n: 3
    });
    await stored(page, batch.batchId, 3);
    await execute(page, 'fanout:open', { batchId: batch.batchId });

    // Run from code as a person would from the palette (interactive): it shows the table too.
    const judgement = await execute(page, 'fanout:judge', { batchId: batch.batchId, interactive: true });
    expect(judgement.problems.map((p: any) => p.code)).toEqual(['partial', 'missing_response', 'missing_response']);
    const pane = page.locator(`#jupyterlab-fanout-compare-${batch.batchId} ${PANE}`);
    await expect(pane.locator('.jp-Fanout-judge-problem[data-code="partial"]')).toContainText(
      'The JSON ends early (cut off?): read the 1 complete judgement before the break.'
    );
    await expect(pane.locator('.jp-Fanout-judge-problem[data-code="missing_response"]')).toHaveCount(2);
    const raw = pane.locator('.jp-Fanout-judge-raw');
    await expect(raw).toHaveAttribute('open', '');
    await expect(raw.locator('pre')).toContainText('{"judgements": [{"response": 1');
    // Response 1 was read; the others have no score ("—") and no total.
    await expect(pane.locator('.jp-Fanout-judge-row[data-response-id="1"] .jp-Fanout-judge-total')).not.toHaveText('—');
    await expect(pane.locator('.jp-Fanout-judge-row[data-response-id="2"] .jp-Fanout-judge-total')).toHaveText('—');
    await expect(pane.locator('.jp-Fanout-judge-row[data-response-id="3"] [data-criterion="overall"]')).toHaveText('—');

    // The rationale is model output: shown as the text it is, never as HTML.
    const rationale = pane.locator('.jp-Fanout-judge-row[data-response-id="1"] .jp-Fanout-judge-rationale');
    await expect(rationale).toHaveText('<img src="x" onerror="window.__fanoutJudgeXss = 1"><b>bold</b>');
    await expect(pane.locator('img, b')).toHaveCount(0);
    expect(await page.evaluate(() => (window as any).__fanoutJudgeXss)).toBeUndefined();

    await page.screenshot({ path: testInfo.outputPath('judge-problems-light.png') });
    await page.theme.setDarkTheme();
    await page.screenshot({ path: testInfo.outputPath('judge-problems-dark.png') });
    await page.theme.setLightTheme();

    // Kept in the store: after a reload, the compare view reads the batch's judgements again.
    // As soon as the command is there, before JupyterLab has restored the workspace's layout: the
    // command waits for it (a view added before would be dropped from the dock as it is restored).
    const loaded = page.waitForEvent('load');
    await page.evaluate(() => window.location.reload());
    await loaded;
    await page.waitForFunction(() => (window as any).jupyterapp?.commands.hasCommand('fanout:compare'));
    await execute(page, 'fanout:open', { batchId: batch.batchId });
    await execute(page, 'fanout:compare', { batchId: batch.batchId });
    const again = page.locator(`#jupyterlab-fanout-compare-${batch.batchId} ${PANE}`);
    await expect(again.locator('.jp-Fanout-judgement')).toHaveAttribute('data-judgement-id', judgement.id);
    await expect(again.locator('.jp-Fanout-judge-problem')).toHaveCount(3);
    await expect(again.locator('.jp-Fanout-judge-row[data-response-id="1"] .jp-Fanout-judge-total')).toHaveText(
      String(judgement.rows.find((r: any) => r.responseId === '1').total)
    );
    expect(errors).toEqual([]);
  });
});
