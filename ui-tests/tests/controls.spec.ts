/**
 * The controls above the sidebar's prompt (issue 16, item 2): N, model, temperature and max
 * tokens write the settings and are what is sent (checked in the simulator's record); the model
 * list holds the simulator's models, by upstream; a batch's prompt goes back into the prompt box
 * to edit and send again; Ctrl+Enter sends; a value out of range says so inline and sends nothing.
 */
import { expect, test } from '@jupyterlab/galata';
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';

import { execute } from './helpers';
import { resetSimulator, SIMULATOR_URL, simulatorRequests } from './simulator';

const SIDEBAR = '.jp-Fanout-sidebar';
const RESPONSE = `${SIDEBAR} .jp-Fanout-response`;
const N = `${SIDEBAR} .jp-Fanout-control-n input`;
const TEMPERATURE = `${SIDEBAR} .jp-Fanout-control-temperature input`;
const MAX_TOKENS = `${SIDEBAR} .jp-Fanout-control-max-tokens input`;
const MODEL = `${SIDEBAR} .jp-Fanout-model-select`;
const PROMPT = `${SIDEBAR} .jp-Fanout-prompt-input`;

async function settingsOf(page: IJupyterLabPageFixture): Promise<Record<string, unknown>> {
  return page.evaluate(async () => {
    const registry = await (window as any).galata.getPlugin('@jupyterlab/apputils-extension:settings');
    const settings = await registry.load('jupyterlab-fanout:plugin');
    return settings.user;
  });
}

async function servedModels(request: any): Promise<string[]> {
  const served = await request.get(`${SIMULATOR_URL}/v1/models`);
  expect(served.ok()).toBe(true);
  return ((await served.json()).data as Array<{ id: string }>).map(model => model.id);
}

test.describe('Controls above the prompt', () => {
  test.beforeEach(async ({ page, request }) => {
    // A second model, so that choosing one is seen in the record.
    await resetSimulator(request, {
      tokens_per_second: 200,
      ttft_ms: 20,
      answer_tokens: 12,
      reasoning_tokens: 0,
      models: ['fanout-sim-large']
    });
    // The sidebar read the listing when the page loaded, before the simulator served two models.
    await page.reload();
    await execute(page, 'fanout:open');
  });

  test('N, model, temperature and max tokens set in the controls are exactly what is sent', async ({
    page,
    request
  }) => {
    const models = await servedModels(request);
    expect(models.length).toBeGreaterThan(1);
    const model = models[models.length - 1];

    // The model list: the simulator's models, grouped by upstream (two are configured).
    const select = page.locator(MODEL);
    await expect(select.locator('optgroup')).toHaveCount(2);
    await expect(select.locator('optgroup[label="simulator (default)"]')).toHaveCount(1);
    const simulatorGroup = select.locator('optgroup[label="simulator (default)"] option');
    await expect(simulatorGroup).toHaveText([`${models[0]} (default)`, ...models]);
    await expect(select.locator('optgroup[label="simulator-b"] option')).toHaveCount(models.length + 1);

    await page.locator(N).fill('3');
    await page.locator(TEMPERATURE).fill('1.3');
    await page.locator(MAX_TOKENS).fill('321');
    await select.selectOption({ label: model });
    // The controls wrote the settings (one source of truth with the Settings editor).
    await expect
      .poll(() => settingsOf(page))
      .toMatchObject({
        responses: 3,
        temperature: 1.3,
        maxTokens: 321,
        model
      });

    await page.locator(PROMPT).fill('Name three colours.');
    await page.locator(`${SIDEBAR} .jp-Fanout-generate`).click();
    await expect(page.locator(RESPONSE)).toHaveCount(3);
    await expect(page.locator(`${RESPONSE}[data-status="complete"]`)).toHaveCount(3);

    const record = await simulatorRequests(request);
    expect(record).toHaveLength(3);
    for (const entry of record) {
      expect(entry.model).toBe(model);
      expect(entry.max_tokens).toBe(321);
      expect(entry.temperature).toBe(1.3);
      expect(entry.messages[entry.messages.length - 1]).toEqual({ role: 'user', content: 'Name three colours.' });
    }
    const temperatures = await page.evaluate(() => {
      const app = (window as any).jupyterapp;
      return app.commands.execute('fanout:get-batch', {}).then((s: any) => s.options.temperature);
    });
    expect(temperatures).toBe(1.3);

    // A reload keeps the choice: the controls show the settings again.
    await page.reload();
    await execute(page, 'fanout:open');
    await expect(page.locator(N)).toHaveValue('3');
    await expect(page.locator(TEMPERATURE)).toHaveValue('1.3');
    await expect(page.locator(MAX_TOKENS)).toHaveValue('321');
    await expect(page.locator(MODEL).locator('option:checked')).toHaveText(model);
  });

  test('a value out of range shows an inline message and sends nothing; the setting is not touched', async ({
    page,
    request
  }) => {
    await page.locator(N).fill('65');
    const error = page.locator(`${SIDEBAR} .jp-Fanout-control-error`);
    await expect(error).toHaveText('N (number of responses) must be from 1 to 64; 65 is out of range.');
    await expect(page.locator(N)).toHaveAttribute('aria-invalid', 'true');
    await page.locator(PROMPT).fill('Not to be sent.');
    await page.locator(`${SIDEBAR} .jp-Fanout-generate`).click();
    await page.locator(PROMPT).press('Control+Enter');
    // Give a send the time it would take, then check that none happened.
    await page.waitForTimeout(1000);
    expect(await simulatorRequests(request)).toHaveLength(0);
    await expect(page.locator(RESPONSE)).toHaveCount(0);
    // The focus went to the field at fault, and the setting kept its value (no clamp to 64).
    await expect(page.locator(N)).toBeFocused();
    expect((await settingsOf(page)).responses).toBeUndefined();

    await page.locator(TEMPERATURE).fill('2.5');
    await expect(error).toHaveCount(2);
    await expect(error.nth(1)).toHaveText('Temperature must be from 0 to 2; 2.5 is out of range.');

    // Fixed, the batch goes.
    await page.locator(N).fill('2');
    await page.locator(TEMPERATURE).fill('0.2');
    await expect(error).toHaveCount(0);
    await page.locator(PROMPT).press('Control+Enter');
    await expect(page.locator(`${RESPONSE}[data-status="complete"]`)).toHaveCount(2);
    expect(await simulatorRequests(request)).toHaveLength(2);
  });

  test('what a field shows is what is sent, also before the settings have saved it', async ({ page, request }) => {
    // The settings' save is held back, as on a slow server: a field that loses the focus before
    // its write has landed must not fall back to the setting (N 4 then) for what it shows or sends.
    let release: () => void = () => undefined;
    const held = new Promise<void>(resolve => (release = resolve));
    let heldSaves = 0;
    await page.route(/\/lab\/api\/settings\/jupyterlab-fanout/, async route => {
      if (route.request().method() === 'PUT') {
        heldSaves++;
        await held;
      }
      await route.continue();
    });
    await page.locator(N).fill('2');
    await page.locator(TEMPERATURE).fill('0.4'); // N loses the focus, its write still held
    await page.locator(PROMPT).fill('Two, please.');
    await expect.poll(() => heldSaves).toBeGreaterThan(0);
    await expect(page.locator(N)).toHaveValue('2');
    await page.locator(PROMPT).press('Control+Enter');
    await expect(page.locator(`${RESPONSE}[data-status="complete"]`)).toHaveCount(2);
    const sent = await simulatorRequests(request);
    expect(sent).toHaveLength(2);
    expect(sent.every(r => r.temperature === 0.4)).toBe(true);
    // Once the saves land, the settings hold what was sent, and the fields show them.
    release();
    await expect.poll(() => settingsOf(page)).toMatchObject({ responses: 2, temperature: 0.4 });
    await expect(page.locator(N)).toHaveValue('2');
  });

  test('Ctrl+Enter in the prompt box sends; the Generate button names the shortcut', async ({ page, request }) => {
    await expect(page.locator(`${SIDEBAR} .jp-Fanout-generate`)).toHaveAttribute(
      'title',
      'Generate responses (Ctrl+Enter)'
    );
    await page.locator(N).fill('2');
    // Enter alone in a field does not send (no implicit form submission).
    await page.locator(N).press('Enter');
    await page.waitForTimeout(500);
    expect(await simulatorRequests(request)).toHaveLength(0);
    await page.locator(PROMPT).fill('Say hello.');
    await page.locator(PROMPT).press('Control+Enter');
    await expect(page.locator(`${RESPONSE}[data-status="complete"]`)).toHaveCount(2);
    const record = await simulatorRequests(request);
    expect(record).toHaveLength(2);
    expect(record[0].messages[record[0].messages.length - 1].content).toBe('Say hello.');
    // The key sent; it did not add a line to the prompt.
    await expect(page.locator(PROMPT)).toHaveValue('Say hello.');
  });

  test('Edit prompt puts a batch back into the prompt box and controls; a second send works', async ({
    page,
    request
  }) => {
    const models = await servedModels(request);
    const model = models[1];
    const first = await execute(page, 'fanout:generate', {
      prompt: 'First prompt, to edit.',
      n: 2,
      model,
      temperature: 0.4,
      maxTokens: 55
    });
    expect(first.responses).toHaveLength(2);
    // The controls show other values before the edit.
    await page.locator(N).fill('5');
    await expect.poll(async () => (await settingsOf(page)).responses).toBe(5);

    await page.locator(`${SIDEBAR} .jp-Fanout-edit-prompt`).click();
    await expect(page.locator(PROMPT)).toHaveValue('First prompt, to edit.');
    await expect(page.locator(PROMPT)).toBeFocused();
    await expect(page.locator(N)).toHaveValue('2');
    await expect(page.locator(TEMPERATURE)).toHaveValue('0.4');
    await expect(page.locator(MAX_TOKENS)).toHaveValue('55');
    await expect(page.locator(MODEL).locator('option:checked')).toHaveText(model);

    await page.locator(PROMPT).press('End');
    await page.keyboard.type(' Edited.');
    await page.locator(PROMPT).press('Control+Enter');
    await expect(page.locator(`${SIDEBAR} .jp-Fanout-batch-progress`)).toHaveText('2/2 complete');
    const record = await simulatorRequests(request);
    expect(record).toHaveLength(4);
    const second = record.slice(2);
    for (const entry of second) {
      expect(entry.model).toBe(model);
      expect(entry.max_tokens).toBe(55);
      expect(entry.temperature).toBe(0.4);
      expect(entry.messages[entry.messages.length - 1].content).toBe('First prompt, to edit. Edited.');
    }

    // The command, on a batch only in the store (removed from the page): its options come from the store.
    await execute(page, 'fanout:remove-batch', { batchId: first.batchId });
    await page.locator(PROMPT).fill('');
    const edited = await execute(page, 'fanout:edit-prompt', { batchId: first.batchId });
    expect(edited).toEqual({ batchId: first.batchId, prompt: 'First prompt, to edit.' });
    await expect(page.locator(PROMPT)).toHaveValue('First prompt, to edit.');
    expect(await settingsOf(page)).toMatchObject({ responses: 2, temperature: 0.4, maxTokens: 55, model });

    // The same from the History section's item.
    await page.locator(PROMPT).fill('');
    await execute(page, 'fanout:show-history');
    const item = page.locator(`${SIDEBAR} .jp-Fanout-historyItem[data-batch-id="${first.batchId}"]`);
    await item.locator('[data-action="edit-prompt"]').click();
    await expect(page.locator(PROMPT)).toHaveValue('First prompt, to edit.');
    await expect(page.locator(PROMPT)).toBeFocused();
  });
});
