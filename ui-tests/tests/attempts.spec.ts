/**
 * Attempts are versions: re-generate keeps every earlier attempt, a card switches between them
 * with `‹ 2/2 ›`, and insert uses the attempt shown. Against the vLLM simulator, whose answers
 * depend on the seed (so two attempts differ) and whose fault rules make a re-generate fail.
 */
import { expect, test } from '@jupyterlab/galata';
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { APIRequestContext } from '@playwright/test';

import { execute, notebookCells, notebookWithPrompt, reloadLab, RESPONSE } from './helpers';
import { resetSimulator, SIMULATOR_URL, simulatorRequests } from './simulator';

const FAST = { tokens_per_second: 400, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 40 };

/** Every later request fails at once with an HTTP 503 (the upstream is down). */
async function upstreamDown(request: APIRequestContext): Promise<void> {
  const response = await request.post(`${SIMULATOR_URL}/simulator/config`, {
    data: { faults: [{ kind: 'http_error', status: 503, message: 'upstream is down' }] }
  });
  expect(response.ok()).toBe(true);
}

function card(page: IJupyterLabPageFixture, index: number) {
  return page.locator(`${RESPONSE}[data-response-index="${index}"]`);
}

async function cardText(page: IJupyterLabPageFixture, index: number): Promise<string> {
  return (await card(page, index).locator('.jp-Fanout-response-text').textContent()) ?? '';
}

test.describe('Attempts are versions', () => {
  test('re-generate one of two responses: the card shows 2/2, ‹ shows attempt 1, insert inserts the shown attempt', async ({
    page,
    request
  }) => {
    await resetSimulator(request, FAST);
    await notebookWithPrompt(page, 'Explain attention briefly.');
    const first = await execute(page, 'fanout:generate', { n: 2 });
    const second = card(page, 2);
    await expect(second).toHaveAttribute('data-status', 'complete');
    // One attempt: no switch.
    await expect(second.locator('.jp-Fanout-attempts')).toHaveCount(0);

    await second.locator('.jp-Fanout-regenerate').click();
    await expect(second.locator('.jp-Fanout-attempt-position')).toHaveText('2/2');
    await expect(second).toHaveAttribute('data-status', 'complete');
    const record = await simulatorRequests(request);
    expect(record).toHaveLength(3);
    const latest = await execute(page, 'fanout:get-batch', { batchId: first.batchId });
    const attempts = latest.responses[1].attempts;
    expect(attempts.map((a: any) => [a.attempt, a.status])).toEqual([
      [1, 'complete'],
      [2, 'complete']
    ]);
    expect(attempts[0].content).toBe(first.responses[1].content);
    expect(attempts[1].content).toBe(record[2].content);
    expect(attempts[1].content).not.toBe(attempts[0].content);
    // The top-level fields are the latest attempt's, as before.
    expect(latest.responses[1]).toMatchObject({ attempt: 2, content: record[2].content, seed: record[2].seed });
    expect(await cardText(page, 2)).toBe(attempts[1].content);

    await second.getByRole('button', { name: 'Previous attempt' }).click();
    await expect(second.locator('.jp-Fanout-attempt-position')).toHaveText('1/2');
    await expect(second.locator('.jp-Fanout-response-text')).toHaveText(attempts[0].content);
    // The other card is untouched.
    expect(await cardText(page, 1)).toBe(first.responses[0].content);

    // Insert puts the shown attempt (1) into the notebook, parsed into cells.
    const parsed = await execute(page, 'fanout:parse', { batchId: first.batchId, responseId: '2' });
    expect(parsed.attempt).toBe(1);
    await second.locator('.jp-Fanout-insert').click();
    await expect.poll(async () => (await notebookCells(page)).length).toBe(1 + parsed.cells.length);
    const cells = await notebookCells(page);
    expect(cells.slice(1)).toEqual(parsed.cells.map((c: any) => ({ type: c.type, source: c.source })));

    // And the command can name an attempt: the latest, as text.
    const inserted = await execute(page, 'fanout:insert', {
      batchId: first.batchId,
      responseId: '2',
      attempt: 2,
      format: 'text'
    });
    expect(inserted.attempt).toBe(2);
    const after = await notebookCells(page);
    expect(after[inserted.index]).toEqual({ type: 'markdown', source: attempts[1].content });
  });

  test('the issue: a re-generate against a dead upstream keeps the earlier text, one ‹ away', async ({
    page,
    request
  }) => {
    await resetSimulator(request, FAST);
    await notebookWithPrompt(page, 'Explain attention briefly.');
    const first = await execute(page, 'fanout:generate', { n: 2 });
    const before = first.responses[1].content;
    expect(before.length).toBeGreaterThan(50);

    await upstreamDown(request);
    const failed = await execute(page, 'fanout:regenerate', { batchId: first.batchId, responseId: '2' });
    expect(failed).toMatchObject({ attempt: 2, status: 'error', content: '' });
    const second = card(page, 2);
    await expect(second.locator('.jp-Fanout-attempt-position')).toHaveText('2/2');
    await expect(second).toHaveAttribute('data-status', 'error');
    await expect(second.locator('.jp-Fanout-response-error')).toContainText('503');

    // Back to attempt 1 from the keyboard: its text, status and figures.
    await second.getByRole('button', { name: 'Previous attempt' }).focus();
    await page.keyboard.press('Enter');
    await expect(second.locator('.jp-Fanout-attempt-position')).toHaveText('1/2');
    await expect(second).toHaveAttribute('data-status', 'complete');
    await expect(second.locator('.jp-Fanout-response-text')).toHaveText(before);
    await expect(second.locator('.jp-Fanout-response-error')).toHaveCount(0);
    // At the first attempt, ‹ says why it does nothing and keeps the focus; → goes forward.
    const previous = second.getByRole('button', { name: 'Previous attempt' });
    await expect(previous).toHaveAttribute('aria-disabled', 'true');
    await expect(previous).toHaveAttribute('title', 'This is the first attempt');
    await page.keyboard.press('ArrowRight');
    await expect(second.locator('.jp-Fanout-attempt-position')).toHaveText('2/2');
    await page.keyboard.press('ArrowLeft');
    await expect(second.locator('.jp-Fanout-attempt-position')).toHaveText('1/2');

    // The batch's summary holds both attempts; the response's fields stay the latest's.
    const summary = await execute(page, 'fanout:get-batch', { batchId: first.batchId });
    expect(summary.responses[1]).toMatchObject({ attempt: 2, status: 'error', content: '', shownAttempt: 1 });
    expect(summary.responses[1].attempts.map((a: any) => [a.attempt, a.status, a.content])).toEqual([
      [1, 'complete', before],
      [2, 'error', '']
    ]);

    // Kept across a reload at once, with the attempt shown (reload-keep.spec.ts: at any moment).
    await reloadLab(page);
    await execute(page, 'fanout:open');
    await expect(card(page, 2).locator('.jp-Fanout-attempt-position')).toHaveText('1/2');
    await expect(card(page, 2).locator('.jp-Fanout-response-text')).toHaveText(before);
  });

  test('show-attempt says why it cannot show an attempt that does not exist', async ({ page, request }) => {
    await resetSimulator(request, FAST);
    await page.notebook.createNew();
    const first = await execute(page, 'fanout:generate', { prompt: 'Hi', n: 1 });
    const error = await page.evaluate(async batchId => {
      const app = (window as any).jupyterapp;
      try {
        await app.commands.execute('fanout:show-attempt', { batchId, responseId: '1', attempt: 2 });
        return null;
      } catch (e) {
        return (e as Error).message;
      }
    }, first.batchId);
    expect(error).toBe('Response 1 has no attempt 2 (its attempts: 1).');
  });
});

/** Pictures of a card with `‹ 2/3 ›` among sixteen, at the sidebar's default width. */
for (const theme of ['light', 'dark'] as const) {
  test(`a card with three attempts in the ${theme} theme`, async ({ page, request }, testInfo) => {
    await resetSimulator(request, FAST);
    if (theme === 'dark') {
      await page.theme.setDarkTheme();
    } else {
      await page.theme.setLightTheme();
    }
    await notebookWithPrompt(page, 'Explain attention in two sentences.');
    const first = await execute(page, 'fanout:generate', { n: 16 });
    await execute(page, 'fanout:regenerate', { batchId: first.batchId, responseId: '1' });
    await upstreamDown(request);
    await execute(page, 'fanout:regenerate', { batchId: first.batchId, responseId: '1' });
    await execute(page, 'fanout:show-attempt', { batchId: first.batchId, responseId: '1', attempt: 2 });
    const one = card(page, 1);
    await expect(one.locator('.jp-Fanout-attempt-position')).toHaveText('2/3');
    await page.mouse.move(0, 0);
    await one.screenshot({ path: testInfo.outputPath(`attempts-card-${theme}.png`) });
    await page.locator('#jupyterlab-fanout-sidebar').screenshot({
      path: testInfo.outputPath(`attempts-sidebar-${theme}.png`)
    });
    await card(page, 1).getByRole('button', { name: 'Next attempt' }).click();
    await expect(one.locator('.jp-Fanout-attempt-position')).toHaveText('3/3');
    await one.screenshot({ path: testInfo.outputPath(`attempts-card-error-${theme}.png`) });
  });
}

test('insert says why it cannot insert a failed attempt with no text', async ({ page, request }) => {
  await resetSimulator(request, FAST);
  await notebookWithPrompt(page, 'Explain attention briefly.');
  const first = await execute(page, 'fanout:generate', { n: 1 });
  await upstreamDown(request);
  await execute(page, 'fanout:regenerate', { batchId: first.batchId, responseId: '1' });
  // Insert inserts the attempt the card shows: under load the card may still show attempt 1 for
  // a moment after the command resolved (and would rightly insert that one).
  await expect(card(page, 1).locator('.jp-Fanout-attempt-position')).toHaveText('2/2');
  await card(page, 1).locator('.jp-Fanout-insert').click();
  await expect(page.locator('.Toastify__toast').last()).toContainText(
    'Attempt 2 of response 1 has no text to insert (error: upstream is down)'
  );
  expect(await notebookCells(page)).toHaveLength(1);
});
