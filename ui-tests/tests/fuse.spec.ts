/**
 * Fuse and the guided merge (issue 17) in Chromium, against the real store of the test server
 * and the vLLM simulator, which answers the extension's fuse and checklist prompts
 * deterministically (jupyterlab_fanout/simulator/fuse.py): fuse from the batch header's dialog
 * (the fused card streams, its text is what the simulator sent, it is kept across a reload, Stop
 * stops it); the guided merge (tick two of three points: the fuse request holds exactly those);
 * a checklist answer that is not JSON (a clear error, the raw text shown). Takes the picture
 * docs/fuse.png is (fuse-light.png in the test's output).
 */
import { expect, test } from '@jupyterlab/galata';
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';

import { execute, reloadLab, RESPONSE, stored } from './helpers';
import { resetSimulator, SIMULATOR_URL, simulatorRequests } from './simulator';

const BATCH = '.jp-Fanout-sidebar .jp-Fanout-batch';
const DIALOG = '.jp-Dialog';
const FAST = { tokens_per_second: 400, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 30 };

function card(page: IJupyterLabPageFixture, index: number) {
  return page.locator(`${RESPONSE}[data-response-index="${index}"]`);
}

async function cardText(page: IJupyterLabPageFixture, index: number): Promise<string> {
  return (await card(page, index).locator('.jp-Fanout-response-text').textContent()) ?? '';
}

/**
 * The picture of a fused response: the sidebar's rows (compact view) with the fused one expanded
 * into its card, and the compare view showing the fused response rendered. Back to cards after.
 */
async function picture(page: IJupyterLabPageFixture, batchId: string, index: number, file: string): Promise<void> {
  await execute(page, 'fanout:set-view', { view: 'compact' });
  const row = page.locator(`.jp-Fanout-sidebar .jp-Fanout-row[data-response-index="${index}"]`);
  await row.click();
  await expect(row).toHaveAttribute('aria-expanded', 'true');
  await expect(row.locator('.jp-Fanout-fusedBadge')).toHaveText('Fused');
  await execute(page, 'fanout:compare', { batchId, layout: 'tabs', view: 'rendered' });
  const tab = page.locator('.jp-Fanout-compare-tab', { hasText: `Response ${index} ` });
  await tab.click();
  await expect(tab).toHaveAttribute('aria-selected', 'true');
  await expect(tab).toContainText('fused');
  await expect(page.locator('.jp-Fanout-compare-column .jp-Fanout-markdown').first()).toContainText(
    'Fused answer from'
  );
  await page.mouse.move(0, 0);
  await page.screenshot({ path: file });
  await execute(page, 'fanout:set-view', { view: 'cards' });
}

/** A batch of `n` responses to `prompt`, ended and stored, shown in the sidebar. */
async function batchOf(page: IJupyterLabPageFixture, prompt: string, n: number): Promise<any> {
  const summary = await execute(page, 'fanout:generate', { prompt, n });
  await stored(page, summary.batchId, n);
  await execute(page, 'fanout:open', { batchId: summary.batchId });
  await expect(page.locator(`${BATCH} .jp-Fanout-fuse-open`)).toBeVisible();
  return summary;
}

test.describe('Fuse', () => {
  test.use({ viewport: { width: 1400, height: 900 } });

  test('fuse from the dialog: the fused card streams, matches the record, survives a reload, Stop stops it', async ({
    page,
    request
  }, testInfo) => {
    const errors: string[] = [];
    page.on('pageerror', error => errors.push(error.message));
    await resetSimulator(request, FAST);
    await page.theme.setLightTheme();
    const summary = await batchOf(page, `Write a function that adds two numbers ${Date.now()}`, 3);

    await page.locator(`${BATCH} .jp-Fanout-fuse-open`).click();
    const dialog = page.locator(DIALOG);
    await expect(dialog.locator('.jp-Fanout-fuse-response')).toHaveCount(3);
    // Every response ticked by default, each with its model and first line.
    await expect(dialog.locator('.jp-Fanout-fuse-response input:checked')).toHaveCount(3);
    const firstLine = summary.responses[0].content
      .split('\n')
      .find((l: string) => l.trim())
      .trim();
    await expect(dialog.locator('.jp-Fanout-fuse-response').first()).toContainText(firstLine.slice(0, 40));
    // The controls' model list, read from the server.
    await expect(dialog.locator('.jp-Fanout-fuse-modelSelect')).toBeEnabled();
    await expect(dialog.locator('.jp-Fanout-fuse-modelSelect option').first()).toBeAttached();
    await dialog.locator('.jp-Fanout-fuse-response input[data-response="3"]').uncheck();
    const instruction = dialog.locator('.jp-Fanout-fuse-instruction');
    await expect(instruction).toHaveValue(/Merge these drafts/);
    await instruction.fill('Merge the drafts into one short answer.');
    await page.screenshot({ path: testInfo.outputPath('fuse-dialog-light.png') });
    await dialog.locator('.jp-Dialog-button.jp-mod-accept').click();

    // Response 4, fused, streams in the same batch.
    const fused = card(page, 4);
    await expect(fused).toBeVisible();
    await expect(fused.locator('.jp-Fanout-fusedBadge')).toHaveText('Fused');
    await expect(fused.locator('.jp-Fanout-fusedBadge')).toHaveAttribute('title', 'Fused from responses 1, 2');
    await expect(fused.locator('.jp-Fanout-response-status')).toHaveAttribute('data-status', 'complete', {
      timeout: 20000
    });
    const record = await simulatorRequests(request);
    const last = record[record.length - 1];
    expect(last.messages[0].content.startsWith('[[fanout:fuse]]')).toBe(true);
    expect(last.messages[1].content).toContain('=== Draft 1 (response 1) ===');
    expect(last.messages[1].content).toContain('=== Draft 2 (response 2) ===');
    expect(last.messages[1].content).not.toContain('(response 3)');
    expect(last.messages[1].content).toContain('Instruction:\nMerge the drafts into one short answer.');
    expect(last.content.startsWith('Fused answer from 2 drafts.')).toBe(true);
    expect(await cardText(page, 4)).toBe(last.content);

    // The API says what it fused; the store keeps it.
    const after = await execute(page, 'fanout:get-batch', { batchId: summary.batchId });
    expect(after.responses).toHaveLength(4);
    expect(after.responses[3]).toMatchObject({
      id: '4',
      content: last.content,
      fusion: {
        sources: [
          { responseId: '1', attempt: 1 },
          { responseId: '2', attempt: 1 }
        ],
        instruction: 'Merge the drafts into one short answer.',
        checklist: null
      }
    });
    await stored(page, summary.batchId, 4);
    // docs/fuse.png is this picture, copied from the test's output (a run does not rewrite docs/).
    await picture(page, summary.batchId, 4, testInfo.outputPath('fuse-light.png'));

    // After a reload at once it is still there, fused, with the same text.
    await reloadLab(page);
    await execute(page, 'fanout:open', { batchId: summary.batchId });
    await expect(card(page, 4).locator('.jp-Fanout-fusedBadge')).toHaveText('Fused');
    expect(await cardText(page, 4)).toBe(last.content);
    const reloaded = await execute(page, 'fanout:get-batch', { batchId: summary.batchId });
    expect(reloaded.responses[3].fusion.instruction).toBe('Merge the drafts into one short answer.');

    // A slow fuse (from the command), stopped from its card: the simulator saw the disconnect.
    const config = await request.post(`${SIMULATOR_URL}/simulator/config`, { data: { tokens_per_second: 3 } });
    expect(config.ok()).toBe(true);
    const started = await execute(page, 'fanout:fuse', { batchId: summary.batchId, responseIds: ['1', '2', '3'] });
    expect(started).toEqual({ batchId: summary.batchId, responseId: '5' });
    const slow = card(page, 5);
    await expect(slow.locator('.jp-Fanout-response-status')).toHaveAttribute('data-status', 'generating', {
      timeout: 20000
    });
    await slow.locator('.jp-Fanout-stop').click();
    await expect(slow.locator('.jp-Fanout-response-status')).toHaveAttribute('data-status', 'stopped');
    await expect
      .poll(async () => {
        const all = await simulatorRequests(request);
        return all[all.length - 1].disconnected;
      })
      .toBe(true);
    // By default a fuse leaves the fused responses out: this one merged 1 to 3 only.
    const stopped = await execute(page, 'fanout:get-batch', { batchId: summary.batchId });
    expect(stopped.responses[4].status).toBe('stopped');
    expect(stopped.responses[4].fusion.sources.map((s: any) => s.responseId)).toEqual(['1', '2', '3']);
    expect(errors).toEqual([]);
  });

  test('guided merge: tick two of three points, the fuse request holds exactly those', async ({
    page,
    request
  }, testInfo) => {
    await resetSimulator(request, FAST);
    const summary = await batchOf(page, `Explain recursion briefly ${Date.now()}`, 2);
    await page.locator(`${BATCH} .jp-Fanout-fuse-open`).click();
    const dialog = page.locator(DIALOG);
    await dialog.locator('.jp-Fanout-fuse-guided input').check();
    await dialog.locator('.jp-Dialog-button.jp-mod-accept').click();

    const points = page.locator(`${DIALOG} .jp-Fanout-fuse-point`);
    await expect(points).toHaveCount(3, { timeout: 20000 });
    const texts = (await points.locator('.jp-Fanout-fuse-pointText').allTextContents()).map(t => t.trim());
    expect(texts[0]).toBe('All drafts answer the same question in prose and code.');
    await expect(points.first().locator('.jp-Fanout-fuse-pointSources')).toHaveText('responses 1, 2');
    await expect(points.nth(1).locator('.jp-Fanout-fuse-pointSources')).toHaveText('response 1');
    await page.screenshot({ path: testInfo.outputPath('fuse-checklist-light.png') });
    // Untick the first: two of three are left.
    await points.first().locator('input').uncheck();
    await page.locator(`${DIALOG} .jp-Dialog-button.jp-mod-accept`).click();

    const fused = card(page, 3);
    await expect(fused.locator('.jp-Fanout-response-status')).toHaveAttribute('data-status', 'complete', {
      timeout: 20000
    });
    const record = await simulatorRequests(request);
    const checklistRequest = record[record.length - 2];
    expect(checklistRequest.messages[0].content.startsWith('[[fanout:checklist]]')).toBe(true);
    const last = record[record.length - 1];
    const user = last.messages[1].content;
    expect(user).toContain(`Cover exactly these points:\n- ${texts[1]}\n- ${texts[2]}`);
    expect(user).not.toContain(texts[0]);
    expect(
      user
        .split('Cover exactly these points:\n')[1]
        .split('\n')
        .filter((l: string) => l.startsWith('- '))
    ).toEqual([`- ${texts[1]}`, `- ${texts[2]}`]);
    expect(await cardText(page, 3)).toBe(last.content);
    expect(last.content).toContain(`Covering 2 points:\n1. ${texts[1]}\n2. ${texts[2]}`);
    const after = await execute(page, 'fanout:get-batch', { batchId: summary.batchId });
    expect(after.responses[2].fusion.checklist).toEqual([texts[1], texts[2]]);
    await expect(fused.locator('.jp-Fanout-fusedBadge')).toHaveAttribute(
      'title',
      'Fused from responses 1, 2, covering 2 ticked points'
    );

    // The checklist command itself: points with their sources.
    const listed = await execute(page, 'fanout:fuse-checklist', { batchId: summary.batchId, responseIds: ['1', '2'] });
    expect(listed.points.map((p: any) => p.sources)).toEqual([['1', '2'], ['1'], ['2']]);
  });

  test('a checklist answer that is not JSON is said plainly, with the raw text', async ({
    page,
    request
  }, testInfo) => {
    await resetSimulator(request, FAST);
    const summary = await batchOf(page, `Sort a list [[checklist: malformed]] ${Date.now()}`, 2);
    await page.locator(`${BATCH} .jp-Fanout-fuse-open`).click();
    await page.locator(`${DIALOG} .jp-Fanout-fuse-guided input`).check();
    await page.locator(`${DIALOG} .jp-Dialog-button.jp-mod-accept`).click();
    const error = page.locator(`${DIALOG} .jp-Fanout-fuse-checklistError`);
    await expect(error.locator('.jp-Fanout-fuse-errorMessage')).toHaveText(
      /^The checklist is not valid JSON \(.+\)\.$/,
      {
        timeout: 20000
      }
    );
    await expect(error.locator('.jp-Fanout-fuse-raw')).toHaveText(
      '{"points": [{"text": "An unfinished point", "drafts": [1'
    );
    await page.screenshot({ path: testInfo.outputPath('fuse-checklist-error-light.png') });
    await page.locator(`${DIALOG} .jp-Dialog-button.jp-mod-reject`).click();
    await expect(page.locator(DIALOG)).toHaveCount(0);
    // Nothing was added to the batch; from code, the command rejects with the same reason.
    expect((await execute(page, 'fanout:get-batch', { batchId: summary.batchId })).responses).toHaveLength(2);
    const message = await page.evaluate(async batchId => {
      try {
        await (window as any).jupyterapp.commands.execute('fanout:fuse-checklist', { batchId });
        return null;
      } catch (e) {
        return String((e as Error).message);
      }
    }, summary.batchId);
    expect(message).toMatch(/^The checklist is not valid JSON/);
  });

  test('a fuse started in another page shows live here, marked Fused', async ({ page, request }) => {
    await resetSimulator(request, FAST);
    const summary = await batchOf(page, `Two pages ${Date.now()}`, 2);
    // A second page of the same browser, in a workspace of its own, opens the batch from the store.
    const second = await page.context().newPage();
    await second.goto(`/lab/workspaces/fuse-second-${Date.now()}`);
    await second.waitForFunction(() => (window as any).jupyterapp?.commands.hasCommand('fanout:fuse'));
    await second.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
    await execute(second as any, 'fanout:open-batch', { batchId: summary.batchId });
    await execute(second as any, 'fanout:open', { batchId: summary.batchId });
    await expect(second.locator(`${RESPONSE}[data-response-index="2"]`)).toBeVisible();

    await resetSimulator(request, { ...FAST, tokens_per_second: 40 });
    expect(await execute(second as any, 'fanout:fuse', { batchId: summary.batchId })).toEqual({
      batchId: summary.batchId,
      responseId: '3'
    });
    // This page hears of it on the batch's socket: live, then complete, marked Fused.
    const here = card(page, 3);
    await expect(here.locator('.jp-Fanout-response-status')).toHaveAttribute('data-status', /generating|complete/);
    await expect(here.locator('.jp-Fanout-response-status')).toHaveAttribute('data-status', 'complete', {
      timeout: 20000
    });
    await expect(here.locator('.jp-Fanout-fusedBadge')).toHaveAttribute('title', 'Fused from responses 1, 2');
    const [entry] = await simulatorRequests(request);
    expect(await cardText(page, 3)).toBe(entry.content);
    const got = await execute(page, 'fanout:get-batch', { batchId: summary.batchId });
    expect(got.responses[2].fusion.sources.map((s: any) => s.responseId)).toEqual(['1', '2']);
    await second.close();
  });

  test('the fused card in the dark theme (a picture, not committed)', async ({ page, request }, testInfo) => {
    await resetSimulator(request, FAST);
    await page.theme.setDarkTheme();
    const summary = await batchOf(page, `Write a function that adds two numbers ${Date.now()}`, 3);
    await page.locator(`${BATCH} .jp-Fanout-fuse-open`).click();
    await expect(page.locator(`${DIALOG} .jp-Fanout-fuse-modelSelect`)).toBeEnabled();
    await page.screenshot({ path: testInfo.outputPath('fuse-dialog-dark.png') });
    await page.locator(`${DIALOG} .jp-Dialog-button.jp-mod-reject`).click();
    const started = await execute(page, 'fanout:fuse', { batchId: summary.batchId });
    expect(started.responseId).toBe('4');
    const fused = card(page, 4);
    await expect(fused.locator('.jp-Fanout-response-status')).toHaveAttribute('data-status', 'complete', {
      timeout: 20000
    });
    await picture(page, summary.batchId, 4, testInfo.outputPath('fuse-dark.png'));
    await page.theme.setLightTheme();
  });
});
