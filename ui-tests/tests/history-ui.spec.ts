/**
 * The History section of the Fanout sidebar, against the real store of the test server and the
 * vLLM simulator: search by a word of a response, rename, open (the text the card showed), export
 * as Markdown (a download) and as a notebook (a file next to the user's), delete. And the batches
 * an earlier version kept in the workspace, moved into the store at start-up.
 */
import * as fs from 'fs';

import { expect, test } from '@jupyterlab/galata';
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';

import { execute, RESPONSE } from './helpers';
import { resetSimulator } from './simulator';

const HISTORY = '#jupyterlab-fanout-history';
const ITEM = `${HISTORY} .jp-Fanout-historyItem`;

/** Expand the sidebar's History section, as a user would: its title in the accordion. */
async function showHistory(page: IJupyterLabPageFixture): Promise<void> {
  await execute(page, 'fanout:open');
  const title = page.locator('#jupyterlab-fanout-sidebar .jp-AccordionPanel-title', { hasText: 'History' });
  if ((await title.getAttribute('aria-expanded')) !== 'true') {
    await title.click();
  }
  await expect(page.locator(`${HISTORY} .jp-Fanout-history-search`)).toBeVisible();
}

/** Wait until the store lists `batchId` with `n` complete responses (it writes about once a second). */
async function stored(page: IJupyterLabPageFixture, batchId: string, n: number): Promise<void> {
  await expect
    .poll(
      async () => {
        const found = await execute(page, 'fanout:list-batches', { limit: 50 });
        return found.find((b: any) => b.id === batchId)?.counts?.complete ?? 0;
      },
      { timeout: 15000 }
    )
    .toBe(n);
}

test.describe('The History section', () => {
  test('search by a word of a response, rename, open, export as Markdown and as a notebook, delete', async ({
    page,
    request,
    tmpPath
  }) => {
    const stamp = Date.now();
    const word = `pangolin${stamp}`;
    await resetSimulator(request, {
      tokens_per_second: 400,
      ttft_ms: 20,
      reasoning_tokens: 0,
      answer_text: `The ${word} rolls into a ball.\n\nIt eats ants.`
    });
    const first = await execute(page, 'fanout:generate', { prompt: `First question ${stamp}`, n: 2 });
    await resetSimulator(request, {
      tokens_per_second: 400,
      ttft_ms: 20,
      reasoning_tokens: 0,
      answer_text: 'An armadillo has a shell.'
    });
    const second = await execute(page, 'fanout:generate', { prompt: `Second question ${stamp}`, n: 2 });
    await stored(page, first.batchId, 2);
    await stored(page, second.batchId, 2);

    await showHistory(page);
    await expect(page.locator(`${ITEM}[data-batch-id="${second.batchId}"]`)).toBeVisible();
    await expect(page.locator(`${ITEM}[data-batch-id="${first.batchId}"]`)).toBeVisible();

    // The word is in the first batch's responses only, not in any prompt.
    await page.locator(`${HISTORY} .jp-Fanout-history-search`).fill(word);
    await expect(page.locator(ITEM)).toHaveCount(1);
    const item = page.locator(ITEM);
    await expect(item).toHaveAttribute('data-batch-id', first.batchId);
    await expect(item.locator('.jp-Fanout-historyItem-title')).toHaveText(`First question ${stamp}`);
    await expect(item.locator('.jp-Fanout-historyItem-n')).toHaveText('N = 2');
    await expect(item.locator('.jp-Fanout-historyItem-count')).toHaveText(['2 complete']);

    // Rename through the dialog.
    await item.locator('[data-action="rename"]').click();
    const input = page.locator('.jp-Dialog input');
    await expect(input).toHaveValue(`First question ${stamp}`);
    await input.fill(`Pangolins ${stamp}`);
    await page.locator('.jp-Dialog .jp-mod-accept').click();
    await expect(item.locator('.jp-Fanout-historyItem-title')).toHaveText(`Pangolins ${stamp}`);
    const listed = await execute(page, 'fanout:list-batches', { query: word });
    expect(listed.map((b: any) => [b.id, b.title])).toEqual([[first.batchId, `Pangolins ${stamp}`]]);

    // Response 1 re-generated (the simulator now says something else): two attempts. What the
    // cards show now; then the batch leaves this page, and Open reads it from the store.
    await execute(page, 'fanout:regenerate', { batchId: first.batchId, responseId: '1' });
    await stored(page, first.batchId, 2);
    await expect
      .poll(async () => (await execute(page, 'fanout:list-batches', { query: 'armadillo' })).map((b: any) => b.id))
      .toContain(first.batchId);
    await execute(page, 'fanout:open', { batchId: first.batchId });
    const texts = page.locator(`${RESPONSE} .jp-Fanout-response-text`);
    await expect(texts).toHaveCount(2);
    await expect(texts.first()).toContainText('An armadillo has a shell.');
    await expect(texts.nth(1)).toContainText(word);
    const shown = await texts.allTextContents();
    await execute(page, 'fanout:remove-batch', { batchId: first.batchId });
    expect(await execute(page, 'fanout:get-batch', { batchId: second.batchId })).toMatchObject({
      batchId: second.batchId
    });
    await showHistory(page);
    await item.locator('[data-action="open"]').click();
    await expect.poll(() => texts.allTextContents()).toEqual(shown);
    await expect(page.locator(`${RESPONSE}[data-status="complete"]`)).toHaveCount(2);
    // Every attempt came back: ‹ 2/2 › on the first card, and ‹ shows the first attempt.
    const card = page.locator(`${RESPONSE}[data-response-index="1"]`);
    await expect(card.locator('.jp-Fanout-attempt-position')).toHaveText('2/2');
    await card.locator('.jp-Fanout-attempt-previous').click();
    await expect(card.locator('.jp-Fanout-attempt-position')).toHaveText('1/2');
    await expect(card.locator('.jp-Fanout-response-text')).toContainText(`The ${word} rolls into a ball.`);
    const opened = await execute(page, 'fanout:get-batch', { batchId: first.batchId });
    expect(opened.responses.map((r: any) => [r.id, r.status, r.attempts.length])).toEqual([
      ['1', 'complete', 2],
      ['2', 'complete', 1]
    ]);
    expect(opened.responses[0].attempts.map((a: any) => a.content)).toEqual([
      first.responses[0].content,
      'An armadillo has a shell.'
    ]);
    expect(opened.responses[1].content).toBe(first.responses[1].content);

    // Export as Markdown: a download holding the responses (each one's latest attempt).
    await showHistory(page);
    await item.locator('[data-action="export"]').click();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('.jp-Fanout-export-menu .lm-Menu-item', { hasText: 'Download as Markdown' }).click()
    ]);
    expect(download.suggestedFilename()).toBe(`fanout-Pangolins-${stamp}.md`);
    const markdown = fs.readFileSync((await download.path())!, 'utf-8');
    expect(markdown).toContain(`# Pangolins ${stamp}`);
    expect(markdown).toContain('An armadillo has a shell.');
    expect(markdown).toContain('attempt 2 of 2');
    expect(markdown.split(`The ${word} rolls into a ball.`)).toHaveLength(2);

    // Export as a notebook: written to the file browser's folder.
    await item.locator('[data-action="export"]').click();
    await page.locator('.jp-Fanout-export-menu .lm-Menu-item', { hasText: 'Save as a notebook' }).click();
    const path = `${tmpPath}/fanout-Pangolins-${stamp}.ipynb`;
    await expect(page.locator('.Toastify__toast', { hasText: `fanout-Pangolins-${stamp}.ipynb` })).toBeVisible();
    const notebook = await page.evaluate(async p => {
      const contents = (window as any).jupyterapp.serviceManager.contents;
      const file = await contents.get(p, { content: true });
      return file.content.cells.map((cell: any) => (Array.isArray(cell.source) ? cell.source.join('') : cell.source));
    }, path);
    expect(notebook).toHaveLength(3);
    expect(notebook[1]).toContain('An armadillo has a shell.');
    expect(notebook[2]).toContain(`The ${word} rolls into a ball.`);

    // Delete, confirmed: gone from the list, from the store and from the sidebar.
    await item.locator('[data-action="delete"]').click();
    await expect(page.locator('.jp-Dialog')).toContainText(`Pangolins ${stamp}`);
    await page.locator('.jp-Dialog .jp-mod-warn').click();
    await expect(page.locator(ITEM)).toHaveCount(0);
    await expect(page.locator(`${HISTORY} .jp-Fanout-history-empty`)).toHaveText(`No stored batch matches “${word}”.`);
    const all = await execute(page, 'fanout:list-batches', { limit: 1000 });
    expect(all.map((b: any) => b.id)).not.toContain(first.batchId);
    expect(all.map((b: any) => b.id)).toContain(second.batchId);
    await expect(execute(page, 'fanout:get-batch', { batchId: first.batchId })).rejects.toThrow(
      `There is no batch ${first.batchId}: it is neither in this page nor in the server's store.`
    );
    await expect(execute(page, 'fanout:open-batch', { batchId: first.batchId })).rejects.toThrow(
      `There is no batch ${first.batchId}`
    );

    // A batch that ends while the History section is open is listed without asking.
    await showHistory(page);
    await page.locator(`${HISTORY} .jp-Fanout-history-search`).fill('');
    await expect(page.locator(ITEM).first()).toHaveAttribute('data-batch-id', second.batchId);
    const third = await execute(page, 'fanout:generate', { prompt: `Third question ${stamp}`, n: 1 });
    await expect(page.locator(ITEM).first()).toHaveAttribute('data-batch-id', third.batchId);
    await expect(page.locator(ITEM).first().locator('.jp-Fanout-historyItem-count')).toHaveText(['1 complete']);
  });
});

test.describe('Batches kept in the workspace by an earlier version', () => {
  // The real workspace (not Galata's in-memory mock), seeded through JupyterLab's REST API.
  test.use({ mockState: false, autoGoto: false });

  test('are moved into the store at start-up, once, and listed in the History section', async ({ page, request }) => {
    const stamp = Date.now();
    const workspace = `fanout-migrate-${stamp}`;
    const batchId = `old-${stamp}`;
    const response = (id: string, content: string, status: string) => ({
      id,
      index: Number(id),
      seed: 7,
      attempt: 1,
      upstream: '',
      requestedModel: '',
      status,
      content,
      reasoning: '',
      thinkingTokens: 0,
      answerTokens: 5,
      totalTokens: 5,
      promptTokens: 9,
      tokensEstimated: false,
      splitEstimated: false,
      finishReason: status === 'complete' ? 'stop' : null,
      error: null,
      model: 'old-model',
      httpStatus: 200,
      metrics: {
        startedAt: 1,
        firstByteAt: 2,
        firstTokenAt: 3,
        endedAt: 4,
        ttfbMs: 1,
        ttftMs: 2,
        tokensPerSecond: 50,
        elapsedMs: 1500
      }
    });
    // What an earlier version saved (a list of summaries, before attempts were kept).
    const saved = [
      {
        batchId,
        createdAt: Date.UTC(2025, 5, 1, 12, 0, 0),
        prompt: `An old question ${stamp}\nwith a second line`,
        options: { prompt: 'x', n: 2, model: '', upstream: '', maxTokens: 64, temperature: 0.5, systemPrompt: '' },
        metrics: { tokensPerSecond: null, complete: 1, ended: 2, total: 2, active: 0, totalTokens: 10 },
        responses: [
          response('1', `Old answer one ${stamp}.`, 'complete'),
          response('2', 'Old answer two, cut', 'generating')
        ]
      }
    ];
    const put = await request.put(`/lab/api/workspaces/${workspace}`, {
      data: { data: { 'jupyterlab-fanout:batches': saved }, metadata: { id: workspace } }
    });
    expect(put.ok()).toBe(true);

    await page.goto(`workspaces/${workspace}`);
    await expect
      .poll(async () => (await execute(page, 'fanout:list-batches', { query: String(stamp) })).map((b: any) => b.id), {
        timeout: 15000
      })
      .toEqual([batchId]);
    const [summary] = await execute(page, 'fanout:list-batches', { query: String(stamp) });
    expect(summary).toMatchObject({
      title: `An old question ${stamp}`,
      n: 2,
      counts: { complete: 1, incomplete: 1 },
      models: ['old-model'],
      created_at: Date.UTC(2025, 5, 1, 12, 0, 0) / 1000
    });

    // In the History section, and it opens with both responses' text.
    await showHistory(page);
    await page.locator(`${HISTORY} .jp-Fanout-history-search`).fill(`Old answer one ${stamp}`);
    const item = page.locator(`${ITEM}[data-batch-id="${batchId}"]`);
    await expect(item).toBeVisible();
    await expect(page.locator(ITEM)).toHaveCount(1);
    await expect(item.locator('.jp-Fanout-historyItem-count')).toHaveText(['1 complete', '1 incomplete']);
    const stored = await execute(page, 'fanout:get-batch', { batchId });
    expect(stored.responses.map((r: any) => [r.status, r.content])).toEqual([
      ['complete', `Old answer one ${stamp}.`],
      ['incomplete', 'Old answer two, cut']
    ]);

    // The marker is in the workspace: the next start does not post it again (the store would
    // answer 409, which counts as moved; the marker keeps it from even asking).
    const after = await request.get(`/lab/api/workspaces/${workspace}`);
    const data = (await after.json()).data;
    expect(data['jupyterlab-fanout:migrated']).toMatchObject({ imported: 1, present: 0, unreadable: [] });
    expect(data['jupyterlab-fanout:batches']).toBeTruthy();

    // A reload does not move anything again: the marker is the same one.
    const posts: string[] = [];
    page.on('request', r => {
      if (r.method() === 'POST' && r.url().includes('/fanout/batches')) {
        posts.push(r.url());
      }
    });
    const checked = page.waitForResponse(r => r.url().includes('/fanout/store'));
    await page.reload();
    await checked;
    await page.waitForLoadState('networkidle');
    expect(posts).toEqual([]);
    const again = (await (await request.get(`/lab/api/workspaces/${workspace}`)).json()).data;
    expect(again['jupyterlab-fanout:migrated']).toEqual(data['jupyterlab-fanout:migrated']);
    expect((await execute(page, 'fanout:list-batches', { query: String(stamp) })).map((b: any) => b.id)).toEqual([
      batchId
    ]);
    await request.delete(`/lab/api/workspaces/${workspace}`);
  });
});
