/**
 * Verdicts (issue 17, items 1 and 5) against the real store of the test server and the vLLM
 * simulator: pick a winner and rate responses on their cards in the sidebar, kept in the store
 * and shown by History after a reload (and on the cards of the batch opened from it); group a
 * batch by its final answers (the simulator's `[[final: …]]` directive controls them) in the
 * Agreement section and through `fanout:agreement`.
 */
import { expect, test } from '@jupyterlab/galata';

import { execute, rejection, reloadLab, RESPONSE, showHistory, stored } from './helpers';
import { resetSimulator } from './simulator';

const HISTORY = '#jupyterlab-fanout-history';
const ITEM = `${HISTORY} .jp-Fanout-historyItem`;
const BATCH = '.jp-Fanout-sidebar .jp-Fanout-batch';

test.describe('Verdicts', () => {
  test('pick a winner and rate in the sidebar; History shows them after a reload', async ({ page, request }) => {
    const errors: string[] = [];
    page.on('pageerror', error => errors.push(error.message));
    await resetSimulator(request, { tokens_per_second: 400, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 30 });
    const stamp = Date.now();
    const batch = await execute(page, 'fanout:generate', { prompt: `Name a colour ${stamp}`, n: 3 });
    await stored(page, batch.batchId, 3);
    await execute(page, 'fanout:open', { batchId: batch.batchId });

    const second = page.locator(`${RESPONSE}[data-response-index="2"]`);
    const third = page.locator(`${RESPONSE}[data-response-index="3"]`);
    await second.locator('.jp-Fanout-star[data-star="4"]').click();
    await expect(second).toHaveAttribute('data-rating', '4');
    await expect(second.locator('.jp-Fanout-star.jp-mod-on')).toHaveCount(4);
    // Rate another, then clear it by choosing the same star again.
    await third.locator('.jp-Fanout-star[data-star="2"]').click();
    await expect(third).toHaveAttribute('data-rating', '2');
    await third.locator('.jp-Fanout-star[data-star="2"]').click();
    await expect(third).not.toHaveAttribute('data-rating', /.*/);

    await second.locator('.jp-Fanout-pick').click();
    await expect(second).toHaveAttribute('data-winner', '');
    await expect(second.locator('.jp-Fanout-winner')).toHaveText(/Winner/);
    await expect(second.locator('.jp-Fanout-pick')).toHaveAttribute('aria-pressed', 'true');
    await expect(page.locator(`${BATCH} .jp-Fanout-batch-pick`)).toContainText('response 2, attempt 1');
    await expect(page.locator(`${RESPONSE}[data-winner]`)).toHaveCount(1);

    // The public API says the same as the cards, and the store has it.
    const summary = await execute(page, 'fanout:get-batch', { batchId: batch.batchId });
    expect(summary.pick).toEqual({ responseId: '2', attempt: 1 });
    expect(summary.ratings).toEqual([{ responseId: '2', attempt: 1, rating: 4 }]);
    const listed = (await execute(page, 'fanout:list-batches', { limit: 50 })).find((b: any) => b.id === batch.batchId);
    expect(listed.pick).toMatchObject({ responseId: '2', attempt: 1 });
    expect(listed.pick.model).toBe(summary.responses[1].model);
    expect(listed.ratings).toEqual([{ responseId: '2', attempt: 1, rating: 4 }]);

    // Bad input: a specific error naming the field, nothing changed.
    expect(await rejection(page, 'fanout:pick', { batchId: batch.batchId, responseId: '9' })).toMatch(
      /'responseId': batch .* has no response '9'/
    );
    expect(await rejection(page, 'fanout:rate', { batchId: batch.batchId, responseId: '1', rating: 7 })).toMatch(
      /"rating" must be a whole number from 1 to 5/
    );
    expect(await rejection(page, 'fanout:pick', { batchId: 'no-such-batch', responseId: '1' })).toMatch(
      /not in the server's store/
    );
    expect((await execute(page, 'fanout:get-batch', { batchId: batch.batchId })).pick).toEqual({
      responseId: '2',
      attempt: 1
    });

    await reloadLab(page);
    await showHistory(page);
    const item = page.locator(`${ITEM}[data-batch-id="${batch.batchId}"]`);
    await expect(item.locator('.jp-Fanout-historyItem-verdict')).toHaveAttribute('data-pick', '2');
    await expect(item.locator('.jp-Fanout-historyItem-winner')).toHaveText(/Winner: response 2$/);
    await expect(item.locator('.jp-Fanout-historyItem-winner-model')).toContainText(listed.pick.model);
    await expect(item.locator('.jp-Fanout-stars-shown')).toHaveAttribute('data-rating', '4');
    await expect(item.locator('.jp-Fanout-stars-shown')).toHaveText('★★★★☆');

    // Opened from History: the cards show the winner and the stars read from the store.
    await item.locator('.jp-Fanout-historyItem-title').click();
    const reopened = page.locator(`${BATCH}[data-batch-id="${batch.batchId}"]`);
    await expect(reopened.locator('.jp-Fanout-response[data-response-index="2"]')).toHaveAttribute('data-winner', '');
    await expect(reopened.locator('.jp-Fanout-response[data-response-index="2"]')).toHaveAttribute('data-rating', '4');
    await expect(reopened.locator('.jp-Fanout-response[data-winner]')).toHaveCount(1);

    // Clearing the pick from the card clears History's mark.
    await reopened.locator('.jp-Fanout-response[data-response-index="2"] .jp-Fanout-pick').click();
    await expect(reopened.locator('.jp-Fanout-response[data-winner]')).toHaveCount(0);
    await expect(item.locator('.jp-Fanout-historyItem-winner')).toHaveCount(0);
    await expect(item.locator('.jp-Fanout-historyItem-rated')).toContainText('1 response rated');
    expect(errors).toEqual([]);
  });

  test('agreement groups a batch whose final answers the simulator controls', async ({ page, request }) => {
    const errors: string[] = [];
    page.on('pageerror', error => errors.push(error.message));
    await resetSimulator(request, { tokens_per_second: 400, ttft_ms: 20, reasoning_tokens: 5 });
    const batch = await execute(page, 'fanout:generate', {
      prompt: `What is 6 x 7? ${Date.now()} [[final: 42 | 41 | 42.0 | **42** | forty-two]]`,
      n: 5
    });
    await execute(page, 'fanout:open', { batchId: batch.batchId });
    const view = page.locator(`${BATCH}[data-batch-id="${batch.batchId}"]`);
    await view.locator('.jp-Fanout-agreement-open').click();
    const panel = view.locator('.jp-Fanout-agreement');
    // Which response gets which choice follows the order the requests reach the simulator: the
    // group shows the answer as its first response wrote it (42, 42.0 or **42**).
    const MAJORITY = /^Majority: (42|42\.0|\*\*42\*\*) \(3 of 5\)$/;
    await expect(panel.locator('.jp-Fanout-agreement-majority')).toHaveText(MAJORITY);
    await expect(panel.locator('.jp-Fanout-agreement-group .jp-Fanout-agreement-count')).toHaveText(['3', '1', '1']);
    await expect(panel.locator('.jp-Fanout-agreement-answer').nth(0)).toHaveText(/^(42|42\.0|\*\*42\*\*)$/);
    expect((await panel.locator('.jp-Fanout-agreement-answer').allTextContents()).slice(1).sort()).toEqual([
      '41',
      'forty-two'
    ]);
    await expect(panel.locator('.jp-Fanout-agreement-normalisation')).toContainText('numbers by value');

    // A response number shows that response's text.
    const group41 = panel.locator('.jp-Fanout-agreement-group', { hasText: '41' });
    await group41.locator('.jp-Fanout-agreement-response').click();
    await expect(panel.locator('.jp-Fanout-agreement-shown pre')).toHaveText(/Answer:\n41$/);

    // By a regular expression; an invalid one is a clear error.
    await panel.locator('.jp-Fanout-agreement-by select').selectOption('regex');
    await panel.locator('.jp-Fanout-agreement-pattern input').fill('Answer:\\s*(\\S+)');
    await expect(panel.locator('.jp-Fanout-agreement-majority')).toHaveText(MAJORITY);
    await panel.locator('.jp-Fanout-agreement-pattern input').fill('Answer:(');
    await expect(panel.locator('.jp-Fanout-agreement-error')).toContainText('not a valid regular expression');

    // By a JSON field: no response is JSON, each says why.
    await panel.locator('.jp-Fanout-agreement-by select').selectOption('json');
    await panel.locator('.jp-Fanout-agreement-field input').fill('answer');
    await expect(panel.locator('.jp-Fanout-agreement-majority')).toHaveText('No response has a readable answer.');
    await expect(panel.locator('.jp-Fanout-agreement-why-text')).toHaveCount(5);
    await expect(panel.locator('.jp-Fanout-agreement-why-text').first()).toContainText('not JSON');

    // The command says the same.
    const result = await execute(page, 'fanout:agreement', { batchId: batch.batchId, by: 'last-line' });
    expect(result.groups.map((g: any) => [g.key, g.count])).toEqual([['42', 3], expect.anything(), expect.anything()]);
    expect(
      result.groups
        .slice(1)
        .map((g: any) => g.answer)
        .sort()
    ).toEqual(['41', 'forty-two']);
    expect(result.groups.flatMap((g: any) => g.responseIds).sort()).toEqual(['1', '2', '3', '4', '5']);
    expect(result.majority).toMatchObject({ count: 3, total: 5, tied: [] });
    expect(['42', '42.0', '**42**']).toContain(result.majority.answer);
    expect(result.unreadable).toEqual([]);
    expect(await rejection(page, 'fanout:agreement', { batchId: batch.batchId, by: 'regex', pattern: '(' })).toMatch(
      /not a valid regular expression/
    );

    // A tie is said as a tie.
    await resetSimulator(request, { tokens_per_second: 400, ttft_ms: 20, reasoning_tokens: 0 });
    const tie = await execute(page, 'fanout:generate', {
      prompt: `Yes or no? ${Date.now()} [[final: yes | no]]`,
      n: 2
    });
    const tied = await execute(page, 'fanout:agreement', { batchId: tie.batchId });
    expect(tied.majority).toMatchObject({ answer: null, count: 1, total: 2 });
    expect([...tied.majority.tied].sort()).toEqual(['no', 'yes']);
    await execute(page, 'fanout:open', { batchId: tie.batchId });
    const tieView = page.locator(`${BATCH}[data-batch-id="${tie.batchId}"]`);
    await tieView.locator('.jp-Fanout-agreement-open').click();
    await expect(tieView.locator('.jp-Fanout-agreement-majority')).toHaveText(
      /^Tie: (yes · no|no · yes) \(1 each, of 2\)$/
    );
    expect(errors).toEqual([]);
  });
});
