/**
 * From responses to the notebook: compare, parse, insert, undo, and untrusted output rendered inert.
 */
import { expect, test } from '@jupyterlab/galata';

import { execute, notebookCells, notebookWithPrompt, RESPONSE } from './helpers';
import { resetSimulator, simulatorRequests } from './simulator';

const ANSWER = [
  'Load the numbers first.',
  '',
  '```python',
  'import json',
  "data = json.loads('[1, 2, 3]')",
  '```',
  '',
  '```python',
  'print(sum(data))',
  '```',
  ''
].join('\n');

const FAST = { tokens_per_second: 400, ttft_ms: 20, reasoning_tokens: 0 };

test.describe('Into the notebook', () => {
  test('a response with prose and two code blocks is inserted as three cells, and one undo removes them', async ({
    page,
    request
  }) => {
    await resetSimulator(request, { ...FAST, answer_text: ANSWER });
    await notebookWithPrompt(page, 'Sum some numbers.');
    await execute(page, 'fanout:generate', { n: 2 });
    await page.locator(`${RESPONSE}[data-response-index="1"] .jp-Fanout-insert`).click();

    await expect.poll(async () => (await notebookCells(page)).length).toBe(4);
    expect(await notebookCells(page)).toEqual([
      { type: 'markdown', source: 'Sum some numbers.' },
      { type: 'markdown', source: 'Load the numbers first.' },
      { type: 'code', source: "import json\ndata = json.loads('[1, 2, 3]')" },
      { type: 'code', source: 'print(sum(data))' }
    ]);

    await execute(page, 'notebook:undo-cell-action');
    expect(await notebookCells(page)).toEqual([{ type: 'markdown', source: 'Sum some numbers.' }]);
  });

  test('the raw text can replace the active cell', async ({ page, request }) => {
    await resetSimulator(request, { ...FAST, answer_text: ANSWER });
    await notebookWithPrompt(page, 'Replace me.');
    await execute(page, 'fanout:generate', { n: 1 });
    const result = await execute(page, 'fanout:insert', { responseId: '1', mode: 'replace', format: 'text' });
    expect(result.count).toBe(1);
    expect(await notebookCells(page)).toEqual([{ type: 'markdown', source: ANSWER }]);
  });

  test('compare side by side, parse all, and diff a response against the active cell', async ({ page, request }) => {
    // Long enough for the simulator's answers to include a code block.
    await resetSimulator(request, { ...FAST, answer_tokens: 160 });
    await notebookWithPrompt(page, 'Compare me.');
    const summary = await execute(page, 'fanout:generate', { n: 3 });
    await page.locator('.jp-Fanout-compare-open').click();
    const compare = page.locator('.jp-Fanout-compare');
    await expect(compare).toBeVisible();

    await compare.locator('.jp-Fanout-compare-layout').selectOption('side-by-side');
    await expect(compare.locator('.jp-Fanout-compare-column')).toHaveCount(2);
    await compare.locator('.jp-Fanout-compare-pick input').nth(2).check();
    await expect(compare.locator('.jp-Fanout-compare-column')).toHaveCount(3);

    // Parse all shows the parsed view of every column at once (case 015).
    await compare.locator('.jp-Fanout-parse-all').click();
    await expect(compare.locator('.jp-Fanout-compare-column .jp-Fanout-parsed')).toHaveCount(3);
    await expect(
      compare.locator('.jp-Fanout-compare-column').first().locator('.jp-Fanout-parsed-code').first()
    ).toBeVisible();

    // Raw view shows exactly the response text.
    await compare.locator('.jp-Fanout-compare-view').selectOption('raw');
    await expect(compare.locator('.jp-Fanout-compare-column').first().locator('.jp-Fanout-response-text')).toHaveText(
      summary.responses[0].content
    );

    await compare.locator('.jp-Fanout-compare-diff summary').click();
    await compare.locator('.jp-Fanout-diff-a').selectOption('1');
    await compare.locator('.jp-Fanout-diff-b').selectOption('cell');
    const diff = compare.locator('.jp-Fanout-diff');
    await expect(diff).toBeVisible();
    await expect(diff.locator('[data-diff="added"]')).toContainText('Compare me.');
    await expect(diff.locator('[data-diff="removed"]').first()).toBeVisible();
  });

  test('a response carrying a script, an onerror image and a command-linker button renders inert', async ({
    page,
    request
  }) => {
    const hostile = [
      'Hello <script>window.__fanoutXss = "script"</script>',
      '',
      '<img src="missing.png" onerror="window.__fanoutXss = \'img\'">',
      '',
      '<button data-commandlinker-command="notebook:create-new" class="fanout-evil">Click me</button>',
      ''
    ].join('\n');
    await resetSimulator(request, { ...FAST, answer_text: hostile });
    await page.notebook.createNew();
    await execute(page, 'fanout:generate', { prompt: 'x', n: 1 });
    await execute(page, 'fanout:compare', { view: 'rendered' });
    const rendered = page.locator('.jp-Fanout-compare .jp-Fanout-markdown');
    await expect(rendered).toContainText('Hello');
    await expect(rendered.locator('script')).toHaveCount(0);
    // The sanitizer keeps the image and the button, without what made them dangerous.
    const img = rendered.locator('img');
    await expect(img).toHaveCount(1);
    expect(await img.getAttribute('onerror')).toBeNull();
    const button = rendered.locator('button', { hasText: 'Click me' });
    await expect(button).toHaveCount(1);
    expect(await button.getAttribute('data-commandlinker-command')).toBeNull();
    const notebooks = await page.locator('.jp-NotebookPanel').count();
    await button.click();
    await page.waitForTimeout(500);
    expect(await page.locator('.jp-NotebookPanel').count()).toBe(notebooks);
    expect(await page.evaluate(() => (window as any).__fanoutXss)).toBeUndefined();
  });

  test('a parsed code block can be inserted on its own', async ({ page, request }) => {
    await resetSimulator(request, { ...FAST, answer_text: ANSWER });
    await notebookWithPrompt(page, 'Just the last block.');
    await execute(page, 'fanout:generate', { n: 1 });
    await execute(page, 'fanout:compare', { view: 'parsed' });
    await page.locator('.jp-Fanout-compare .jp-Fanout-insert-code').nth(1).click();
    await expect.poll(async () => (await notebookCells(page)).length).toBe(2);
    expect((await notebookCells(page))[1]).toEqual({ type: 'code', source: 'print(sum(data))' });
  });
});

test('a batch mixing two models on two upstreams labels each response by its model', async ({ page, request }) => {
  await resetSimulator(request, { ...FAST, answer_tokens: 30, models: ['fanout-sim-large'] });
  await page.notebook.createNew();
  const summary = await execute(page, 'fanout:generate', {
    prompt: 'Two and two',
    targets: [
      { upstream: 'simulator', model: 'fanout-sim', n: 2 },
      { upstream: 'simulator-b', model: 'fanout-sim-large', n: 2 }
    ]
  });
  expect(summary.responses.map((r: any) => [r.status, r.model])).toEqual([
    ['complete', 'fanout-sim'],
    ['complete', 'fanout-sim'],
    ['complete', 'fanout-sim-large'],
    ['complete', 'fanout-sim-large']
  ]);
  const record = await simulatorRequests(request);
  expect(record.map(entry => (entry as any).model).sort()).toEqual([
    'fanout-sim',
    'fanout-sim',
    'fanout-sim-large',
    'fanout-sim-large'
  ]);
  const titles = await page.locator(`${RESPONSE} .jp-Fanout-response-title`).allTextContents();
  expect(titles).toEqual([
    'Response 1 · fanout-sim',
    'Response 2 · fanout-sim',
    'Response 3 · fanout-sim-large',
    'Response 4 · fanout-sim-large'
  ]);
  await execute(page, 'fanout:compare', { layout: 'side-by-side' });
  await page.locator('.jp-Fanout-compare-pick input').nth(2).check();
  await expect(page.locator('.jp-Fanout-compare-column-header .jp-Fanout-response-title')).toHaveText([
    'Response 1 · fanout-sim',
    'Response 2 · fanout-sim',
    'Response 3 · fanout-sim-large'
  ]);
});

test.describe('Structured output', () => {
  test('asks for JSON cells and inserts them, repairing a trailing comma', async ({ page, request }) => {
    const json =
      '{"cells": [{"cell_type": "markdown", "source": "Sum them."}, {"cell_type": "code", "source": "print(1 + 2)"},]}';
    await resetSimulator(request, { ...FAST, answer_text: json });
    await notebookWithPrompt(page, 'Add one and two.');
    const summary = await execute(page, 'fanout:generate', { n: 1, structured: true });
    expect(summary.options.systemPrompt).toContain('"cells"');
    const record = await simulatorRequests(request);
    expect((record[0] as any).messages[0].role).toBe('system');
    expect((record[0] as any).messages[0].content).toBe(summary.options.systemPrompt);

    await execute(page, 'fanout:insert', { responseId: '1' });
    expect(await notebookCells(page)).toEqual([
      { type: 'markdown', source: 'Add one and two.' },
      { type: 'markdown', source: 'Sum them.' },
      { type: 'code', source: 'print(1 + 2)' }
    ]);
  });

  test('when the JSON cannot be parsed the user sees why and keeps the raw text', async ({ page, request }) => {
    const broken = '{"cells": [{"cell_type": "code", "source": "x = 1"} {"cell_type": "code"}]}';
    await resetSimulator(request, { ...FAST, answer_text: broken });
    await page.notebook.createNew();
    await execute(page, 'fanout:generate', { prompt: 'x', n: 1, structured: true });
    await execute(page, 'fanout:compare', { view: 'parsed' });
    const column = page.locator('.jp-Fanout-compare-column');
    await expect(column.locator('.jp-Fanout-parse-error')).toContainText('could not be parsed into cells');
    await expect(column.locator('.jp-Fanout-parse-error')).toContainText('line 1');
    await expect(column.locator('.jp-Fanout-response-text')).toHaveText(broken);
  });
});

test('a response goes into a new notebook, and two responses can be diffed', async ({ page, request }, testInfo) => {
  await resetSimulator(request, { ...FAST, answer_tokens: 120 });
  await notebookWithPrompt(page, 'Two answers to compare.');
  const summary = await execute(page, 'fanout:generate', { n: 2 });
  await execute(page, 'fanout:compare', { layout: 'side-by-side' });
  const compare = page.locator('.jp-Fanout-compare');
  await compare.locator('.jp-Fanout-compare-diff summary').click();
  await compare.locator('.jp-Fanout-diff-a').selectOption('1');
  await compare.locator('.jp-Fanout-diff-b').selectOption('2');
  const diff = compare.locator('.jp-Fanout-diff');
  await expect(diff).toBeVisible();
  // Every line of either response is in the diff, marked as removed, added or the same.
  const marked = await diff.locator('[data-diff]').allTextContents();
  const joined = marked.join('');
  for (const line of summary.responses[1].content.split('\n').filter((l: string) => l.trim())) {
    expect(joined).toContain(line);
  }
  await page.evaluate(() => (window as any).jupyterapp.shell.collapseLeft());
  await page.screenshot({ path: testInfo.outputPath('compare.png') });

  await compare.locator('.jp-Fanout-compare-column').first().locator('.jp-Fanout-new-notebook').click();
  await expect(page.locator('.jp-NotebookPanel')).toHaveCount(2);
  // The new notebook is the current widget; its cells arrive once it is ready.
  const newCells = () =>
    page.evaluate(() => {
      const app = (window as any).jupyterapp;
      const panel = app.shell.currentWidget;
      return panel.content.model.sharedModel.cells.map((cell: any) => [cell.cell_type, cell.getSource()]);
    });
  await expect.poll(async () => (await newCells()).length).toBeGreaterThan(1);
  const cells = await newCells();
  expect(cells.map((c: string[]) => c[0])).toContain('code');
  // Nothing but the response: the new notebook's own empty cell is gone.
  expect(cells.every((c: string[]) => c[1].trim().length > 0)).toBe(true);
  expect(summary.responses[0].content).toContain(cells[0][1].split('\n')[0]);
});

test('Copy puts a parsed code block on the clipboard', async ({ page, context, request }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await resetSimulator(request, { ...FAST, answer_text: ANSWER });
  await page.notebook.createNew();
  await execute(page, 'fanout:generate', { prompt: 'x', n: 1 });
  await execute(page, 'fanout:compare', { view: 'parsed' });
  await page.locator('.jp-Fanout-compare .jp-Fanout-copy-code').first().click();
  await expect
    .poll(() => page.evaluate(() => navigator.clipboard.readText()))
    .toBe("import json\ndata = json.loads('[1, 2, 3]')");
});
