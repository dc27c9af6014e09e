/**
 * Follow-up (issue 17, item 6) against the real store of the test server and the vLLM
 * simulator: follow up from a response card (the prompt box's follow-up chip, Ctrl+Enter), the
 * request the simulator records ([user, assistant = the chosen answer, user = the follow-up]),
 * a two-level chain, the thread view (collapsed, expanded, its link to the parent) before and
 * after a reload, History's thread mark, and the command path (`fanout:follow-up`) with its
 * errors. Screenshots in the light and dark themes.
 */
import { expect, test } from '@jupyterlab/galata';
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';

import { execute, rejection, reloadLab, stored } from './helpers';
import { resetSimulator, simulatorRequests } from './simulator';

const SIDEBAR = '#jupyterlab-fanout-sidebar';
const HISTORY = '#jupyterlab-fanout-history';
const BATCH = `${SIDEBAR} .jp-Fanout-batch`;
const CHIP = `${SIDEBAR} .jp-Fanout-follow-up-chip`;
const PROMPT_BOX = `${SIDEBAR} .jp-Fanout-prompt-input`;
const FAST = { tokens_per_second: 400, ttft_ms: 20, reasoning_tokens: 8, answer_tokens: 24 };

/** The id of the batch the sidebar shows once it differs from `other`. */
async function shownBatchOtherThan(page: IJupyterLabPageFixture, other: string): Promise<string> {
  const batch = page.locator(BATCH);
  await expect(batch).not.toHaveAttribute('data-batch-id', other);
  return (await batch.getAttribute('data-batch-id'))!;
}

/** The batch's summary once every response has ended. */
async function ended(page: IJupyterLabPageFixture, batchId: string): Promise<any> {
  let summary: any = null;
  await expect
    .poll(
      async () => {
        summary = await execute(page, 'fanout:get-batch', { batchId });
        return summary.responses.every(
          (r: any) => !['pending', 'connecting', 'thinking', 'generating'].includes(r.status)
        );
      },
      { timeout: 20000 }
    )
    .toBe(true);
  return summary;
}

test.describe('Follow-up', () => {
  test('from a card: the chip, the thread sent, a second level, the thread view after a reload', async ({
    page,
    request
  }, testInfo) => {
    const errors: string[] = [];
    page.on('pageerror', error => errors.push(error.message));
    await resetSimulator(request, FAST);
    const stamp = Date.now();
    const parentPrompt = `Name a river ${stamp}`;
    const parent = await execute(page, 'fanout:generate', { prompt: parentPrompt, n: 2 });
    const chosen = parent.responses[1];
    expect(chosen.content.length).toBeGreaterThan(0);
    expect(chosen.reasoning.length).toBeGreaterThan(0);
    await execute(page, 'fanout:open', { batchId: parent.batchId });

    // Follow up on response 2: the prompt box says so, and × dismisses it.
    const card = page.locator(
      `${BATCH}[data-batch-id="${parent.batchId}"] .jp-Fanout-response[data-response-index="2"]`
    );
    await card.locator('.jp-Fanout-follow-up').click();
    await expect(page.locator(CHIP)).toHaveText(new RegExp(`Following up on ${chosen.model} · response 2`));
    await expect(page.locator(CHIP)).toHaveAttribute('data-batch-id', parent.batchId);
    await expect(page.locator(PROMPT_BOX)).toBeFocused();
    await expect(page.locator(PROMPT_BOX)).toHaveAttribute('placeholder', /Follow-up prompt/);
    await page.locator(`${CHIP} .jp-Fanout-follow-up-dismiss`).click();
    await expect(page.locator(CHIP)).toHaveCount(0);
    await card.locator('.jp-Fanout-follow-up').click();
    await expect(page.locator(CHIP)).toBeVisible();

    // Ctrl+Enter sends the follow-up: a new batch, whose every request is the thread.
    await resetSimulator(request, FAST);
    const followUp = `How long is it? ${stamp}`;
    await page.locator(PROMPT_BOX).fill(followUp);
    await page.locator(PROMPT_BOX).press('Control+Enter');
    const childId = await shownBatchOtherThan(page, parent.batchId);
    const child = await ended(page, childId);
    await expect(page.locator(CHIP)).toHaveCount(0);
    expect(child.options.thread.parent).toEqual({ batchId: parent.batchId, responseId: '2', attempt: 1 });
    const sent = await simulatorRequests(request);
    expect(sent.length).toBe(child.responses.length);
    for (const one of sent) {
      expect(one.messages).toEqual([
        { role: 'user', content: parentPrompt },
        { role: 'assistant', content: chosen.content },
        { role: 'user', content: followUp }
      ]);
    }
    // Never the thinking.
    expect(JSON.stringify(sent.map(s => s.messages))).not.toContain(chosen.reasoning);

    // The thread view: collapsed above the responses, expanded on a click.
    const thread = page.locator(`${BATCH}[data-batch-id="${childId}"] .jp-Fanout-thread`);
    await expect(thread).toBeVisible();
    await expect(thread.locator('.jp-Fanout-thread-toggle')).toHaveText(/Follow-up · 1 earlier turn/);
    await expect(thread.locator('.jp-Fanout-thread-toggle')).toHaveAttribute('aria-expanded', 'false');
    await expect(thread.locator('.jp-Fanout-thread-prompt .jp-Fanout-thread-text')).toHaveText(parentPrompt);
    await thread.locator('.jp-Fanout-thread-toggle').click();
    await expect(thread).toHaveClass(/jp-mod-expanded/);
    await expect(thread.locator('.jp-Fanout-thread-answer .jp-Fanout-thread-text')).toHaveText(chosen.content);

    // A second level: follow up on response 1 of the follow-up.
    const childAnswer = child.responses[0].content;
    await page
      .locator(`${BATCH}[data-batch-id="${childId}"] .jp-Fanout-response[data-response-index="1"] .jp-Fanout-follow-up`)
      .click();
    await expect(page.locator(CHIP)).toHaveText(/response 1/);
    await resetSimulator(request, FAST);
    const second = `In miles? ${stamp}`;
    await page.locator(PROMPT_BOX).fill(second);
    await page.locator(`${SIDEBAR} .jp-Fanout-generate`).click();
    const grandchildId = await shownBatchOtherThan(page, childId);
    const grandchild = await ended(page, grandchildId);
    expect(grandchild.options.thread.parent).toEqual({ batchId: childId, responseId: '1', attempt: 1 });
    for (const one of await simulatorRequests(request)) {
      expect(one.messages).toEqual([
        { role: 'user', content: parentPrompt },
        { role: 'assistant', content: chosen.content },
        { role: 'user', content: followUp },
        { role: 'assistant', content: childAnswer },
        { role: 'user', content: second }
      ]);
    }
    const chain = page.locator(`${BATCH}[data-batch-id="${grandchildId}"] .jp-Fanout-thread`);
    await expect(chain.locator('.jp-Fanout-thread-toggle')).toHaveText(/2 earlier turns/);
    await expect(chain.locator('.jp-Fanout-thread-turn')).toHaveCount(2);

    // The link goes to the parent batch.
    await chain.locator('.jp-Fanout-thread-parent').click();
    await expect(page.locator(BATCH)).toHaveAttribute('data-batch-id', childId);

    // After a reload (read back from the store): the thread view and History's mark.
    await stored(page, grandchildId, grandchild.responses.length);
    await reloadLab(page);
    await execute(page, 'fanout:open', { batchId: grandchildId });
    const reloaded = page.locator(`${BATCH}[data-batch-id="${grandchildId}"] .jp-Fanout-thread`);
    await expect(reloaded.locator('.jp-Fanout-thread-toggle')).toHaveText(/2 earlier turns/);
    await reloaded.locator('.jp-Fanout-thread-toggle').click();
    await expect(reloaded.locator('.jp-Fanout-thread-answer .jp-Fanout-thread-text').last()).toHaveText(childAnswer);
    expect((await execute(page, 'fanout:get-batch', { batchId: grandchildId })).options.thread.parent.batchId).toBe(
      childId
    );
    // Re-generate in the reloaded follow-up re-sends the same thread.
    await resetSimulator(request, FAST);
    await execute(page, 'fanout:regenerate', { batchId: grandchildId, responseId: '1' });
    const [resent] = await simulatorRequests(request);
    expect(resent.messages.map(m => m.content)).toEqual([parentPrompt, chosen.content, followUp, childAnswer, second]);

    await execute(page, 'fanout:show-history');
    const item = page.locator(`${HISTORY} .jp-Fanout-historyItem[data-batch-id="${grandchildId}"]`);
    await expect(item.locator('.jp-Fanout-historyItem-thread')).toHaveAttribute('data-parent-batch', childId);
    await expect(item.locator('.jp-Fanout-historyItem-thread')).toContainText(
      'Follow-up of response 1 of “How long is it?'
    );
    const first = page.locator(`${HISTORY} .jp-Fanout-historyItem[data-batch-id="${parent.batchId}"]`);
    await expect(first.locator('.jp-Fanout-historyItem-thread')).toHaveCount(0);

    // The screenshots: History folded away, so that the batch and its thread show; the thread expanded.
    await page.locator(`${SIDEBAR} .jp-AccordionPanel-title`, { hasText: 'History' }).click();
    await expect(page.locator(HISTORY)).toBeHidden();
    for (const theme of ['light', 'dark'] as const) {
      // (Galata's theme helper lost its page handle with the reload: JupyterLab's own command.)
      const name = theme === 'dark' ? 'JupyterLab Dark' : 'JupyterLab Light';
      await execute(page, 'apputils:change-theme', { theme: name });
      await expect(page.locator('body')).toHaveAttribute('data-jp-theme-name', name);
      await execute(page, 'fanout:follow-up', { batchId: grandchildId, responseId: '2' });
      await expect(page.locator(CHIP)).toBeVisible();
      await reloaded.locator('.jp-Fanout-thread-toggle').click();
      await expect(reloaded).not.toHaveClass(/jp-mod-expanded/);
      await page.locator(SIDEBAR).screenshot({ path: testInfo.outputPath(`followup-collapsed-${theme}.png`) });
      await reloaded.locator('.jp-Fanout-thread-toggle').click();
      await expect(reloaded).toHaveClass(/jp-mod-expanded/);
      await page.locator(SIDEBAR).screenshot({ path: testInfo.outputPath(`followup-sidebar-${theme}.png`) });
      await page.screenshot({ path: testInfo.outputPath(`followup-page-${theme}.png`) });
    }
    await execute(page, 'apputils:change-theme', { theme: 'JupyterLab Light' });
    expect(errors).toEqual([]);
  });

  test('the command path: its result, follow-up mode without a prompt, and its errors', async ({ page, request }) => {
    const errors: string[] = [];
    page.on('pageerror', error => errors.push(error.message));
    await resetSimulator(request, FAST);
    const stamp = Date.now();
    const parent = await execute(page, 'fanout:generate', { prompt: `Pick a number ${stamp}`, n: 2 });
    await resetSimulator(request, FAST);
    const result = await execute(page, 'fanout:follow-up', {
      batchId: parent.batchId,
      responseId: '1',
      prompt: `Double it ${stamp}`,
      n: 3,
      temperature: 0.2
    });
    // Resolves like fanout:generate: the new batch's summary.
    expect(result.batchId).not.toBe(parent.batchId);
    expect(result.responses).toHaveLength(3);
    expect(result.options).toMatchObject({ prompt: `Double it ${stamp}`, n: 3, temperature: 0.2 });
    expect(result.options.thread).toEqual({
      parent: { batchId: parent.batchId, responseId: '1', attempt: 1 },
      messages: [
        { role: 'user', content: `Pick a number ${stamp}` },
        { role: 'assistant', content: parent.responses[0].content }
      ]
    });
    const sent = await simulatorRequests(request);
    expect(sent).toHaveLength(3);
    expect(sent.every(s => s.temperature === 0.2)).toBe(true);
    expect(sent[0].messages.map(m => m.role)).toEqual(['user', 'assistant', 'user']);

    // The store has it: get-batch from the store (after the page forgets it) and the list.
    await stored(page, result.batchId, 3);
    const listed = (await execute(page, 'fanout:list-batches', { limit: 50 })).find(
      (b: any) => b.id === result.batchId
    );
    expect(listed.followup).toMatchObject({ batchId: parent.batchId, responseId: '1', attempt: 1 });
    await execute(page, 'fanout:remove-batch', { batchId: result.batchId });
    const fromStore = await execute(page, 'fanout:get-batch', { batchId: result.batchId });
    expect(fromStore.options.thread).toEqual(result.options.thread);
    // The export holds the earlier turn.
    const { text } = await execute(page, 'fanout:export', { batchId: result.batchId, format: 'markdown' });
    expect(text).toContain('## Earlier turns');
    expect(text).toContain(parent.responses[0].content);

    // Without a prompt: the sidebar's prompt box goes into follow-up mode.
    expect(await execute(page, 'fanout:follow-up', { batchId: parent.batchId, responseId: '2' })).toEqual({
      batchId: parent.batchId,
      responseId: '2',
      attempt: 1
    });
    await expect(page.locator(CHIP)).toHaveText(/response 2/);

    // Errors, each specific.
    expect(await rejection(page, 'fanout:follow-up', { batchId: 'no-such-batch', responseId: '1', prompt: 'x' })).toBe(
      "There is no batch no-such-batch: it is neither in this page nor in the server's store."
    );
    expect(await rejection(page, 'fanout:follow-up', { batchId: parent.batchId, responseId: '9', prompt: 'x' })).toBe(
      `Batch ${parent.batchId} has no response 9 (it has 1 to 2).`
    );
    expect(
      await rejection(page, 'fanout:follow-up', { batchId: parent.batchId, responseId: '1', attempt: 5, prompt: 'x' })
    ).toBe('Response 1 has no attempt 5 (its attempts: 1).');
    expect(
      await rejection(page, 'fanout:follow-up', { batchId: parent.batchId, responseId: '1', prompt: '  ' })
    ).toMatch(/The follow-up prompt is empty/);
    // An attempt with no answer text (max tokens spent thinking).
    await resetSimulator(request, { ...FAST, reasoning_tokens: 40, answer_tokens: 10 });
    const thinking = await execute(page, 'fanout:generate', { prompt: `Think hard ${stamp}`, n: 1, maxTokens: 5 });
    expect(thinking.responses[0].content).toBe('');
    expect(
      await rejection(page, 'fanout:follow-up', { batchId: thinking.batchId, responseId: '1', prompt: 'x' })
    ).toMatch(/^Attempt 1 of response 1 has no answer text to follow up on/);
    // Run by a person: said in a notification, nothing rejected.
    await execute(page, 'fanout:follow-up', {
      batchId: thinking.batchId,
      responseId: '1',
      prompt: 'x',
      interactive: true
    });
    await expect(
      page
        .locator('.jp-toast-container, .Toastify')
        .getByText(/has no answer text/)
        .first()
    ).toBeVisible();
    expect(errors).toEqual([]);
  });
  test("from a row's expanded card; a hostile answer in the thread is text", async ({ page, request }) => {
    const errors: string[] = [];
    page.on('pageerror', error => errors.push(error.message));
    const hostile = '<img src=x onerror="window.__fanoutPwned=1"> **bold** <script>window.__fanoutPwned=2</script>';
    await resetSimulator(request, { ...FAST, answer_text: hostile });
    const stamp = Date.now();
    const parent = await execute(page, 'fanout:generate', { prompt: `Say something ${stamp}`, n: 2 });
    expect(parent.responses[0].content).toBe(hostile);
    await execute(page, 'fanout:set-view', { view: 'compact' });
    await execute(page, 'fanout:open', { batchId: parent.batchId });
    const row = page.locator(`${BATCH}[data-batch-id="${parent.batchId}"] .jp-Fanout-row`).first();
    await row.click();
    const expanded = page.locator(`${BATCH}[data-batch-id="${parent.batchId}"] .jp-Fanout-response`).first();
    await expanded.locator('.jp-Fanout-follow-up').click();
    await expect(page.locator(CHIP)).toHaveText(/response 1/);

    await resetSimulator(request, { ...FAST, answer_text: 'Fine.' });
    await page.locator(PROMPT_BOX).fill(`Again ${stamp}`);
    await page.locator(PROMPT_BOX).press('Control+Enter');
    const childId = await shownBatchOtherThan(page, parent.batchId);
    await ended(page, childId);
    const [sent] = await simulatorRequests(request);
    expect(sent.messages[1]).toEqual({ role: 'assistant', content: hostile });
    const thread = page.locator(`${BATCH}[data-batch-id="${childId}"] .jp-Fanout-thread`);
    await thread.locator('.jp-Fanout-thread-toggle').click();
    await expect(thread.locator('.jp-Fanout-thread-answer .jp-Fanout-thread-text')).toHaveText(hostile);
    await expect(thread.locator('img, script, strong')).toHaveCount(0);
    expect(await page.evaluate(() => (window as any).__fanoutPwned)).toBeUndefined();
    await execute(page, 'fanout:set-view', { view: 'cards' });
    expect(errors).toEqual([]);
  });
});
