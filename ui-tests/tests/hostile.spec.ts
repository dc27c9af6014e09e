/**
 * Hostile model output in every view: the sidebar card, the compare view (rendered, parsed,
 * raw) and inserted cells. Nothing runs, nothing loads from another host until the user
 * asks, and the text is shown. A tiny HTTP server in the test counts every request that
 * would leak.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';

import { expect, test } from '@jupyterlab/galata';
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';

import { execute, notebookCells, RESPONSE } from './helpers';
import { resetSimulator } from './simulator';

const FAST = { tokens_per_second: 2000, ttft_ms: 10, reasoning_tokens: 0 };
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64'
);

interface ICountingServer {
  port: number;
  hits: string[];
  close(): Promise<void>;
}

/** A server on 127.0.0.1 that records the path of every request it gets. */
async function countingServer(): Promise<ICountingServer> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    res.writeHead(200, { 'Content-Type': 'image/png', 'Access-Control-Allow-Origin': '*' });
    res.end(PNG);
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    hits,
    close: () => new Promise<void>(resolve => server.close(() => resolve()))
  };
}

let leak: ICountingServer;
test.beforeEach(async () => {
  leak = await countingServer();
});
test.afterEach(async () => {
  await leak.close();
});

/** Every way model output could make the page fetch from another host. */
function remoteVectors(base: string): string {
  return [
    'Vectors follow.',
    '',
    `<img src="${base}/img-tag" alt="tag">`,
    '',
    `<img src="data:image/png;base64,iVBORw0KGgo=" srcset="${base}/srcset 2x" alt="srcset">`,
    '',
    `<picture><source srcset="${base}/picture-source"><img src="${base}/picture-img"></picture>`,
    '',
    `<div style="background-image: url(${base}/css-attr)">styled div</div>`,
    '',
    `<span style="background: url('${base}/css-attr-quoted')">styled span</span>`,
    '',
    `<style>@import url(${base}/css-import); body { background: url(${base}/css-style) }</style>`,
    '',
    `<video poster="${base}/video-poster" src="${base}/video-src" controls></video>`,
    '',
    `<video controls><source src="${base}/video-source" type="video/mp4"></video>`,
    '',
    `<audio src="${base}/audio-src" controls></audio>`,
    '',
    `<iframe src="${base}/iframe"></iframe>`,
    '',
    `<link rel="stylesheet" href="${base}/link-css">`,
    '',
    `<svg><image href="${base}/svg-image" /><use xlink:href="${base}/svg-use#a" /></svg>`,
    '',
    `<table background="${base}/table-bg"><tr><td background="${base}/td-bg">cell</td></tr></table>`,
    '',
    `<object data="${base}/object"></object> <embed src="${base}/embed">`,
    '',
    `<input type="image" src="${base}/input-image">`,
    '',
    `![md](${base}/md-image) and ![ref][r]`,
    '',
    `[r]: ${base}/md-ref`,
    ''
  ].join('\n');
}

/** Active content: nothing of it may run. */
const ACTIVE = [
  'Active content follows.',
  '',
  '<script>window.__fanoutXss = "script"</script>',
  '',
  '<img src="missing.png" onerror="window.__fanoutXss = \'onerror\'">',
  '',
  '<a href="javascript:window.__fanoutXss=\'js-link\'" class="fanout-js-link">js link</a>',
  '',
  '[md js link](javascript:window.__fanoutXss=1)',
  '',
  '<button data-commandlinker-command="notebook:insert-cell-below" class="fanout-evil">Insert a cell</button>',
  '',
  '<svg onload="window.__fanoutXss=\'svg\'"><circle r="4"/></svg>',
  '',
  '<details open ontoggle="window.__fanoutXss=\'toggle\'"><summary>s</summary>d</details>',
  '',
  '</textarea><script>window.__fanoutXss="textarea"</script>',
  '',
  'RTL: \u202egnirts desrever\u202c and a long line: ' + 'x'.repeat(20000),
  ''
].join('\n');

async function generate(page: IJupyterLabPageFixture, request: any, text: string): Promise<void> {
  await resetSimulator(request, { ...FAST, answer_text: text });
  await page.notebook.createNew();
  await execute(page, 'fanout:generate', { prompt: 'x', n: 1 });
  await expect(page.locator(`${RESPONSE}[data-status="complete"]`)).toHaveCount(1);
}

/** Bring the notebook to the front. */
async function activateNotebook(page: IJupyterLabPageFixture): Promise<void> {
  await page.evaluate(() => {
    const app = (window as any).jupyterapp;
    const panel = Array.from(app.shell.widgets('main')).find((w: any) => w.hasClass('jp-NotebookPanel')) as any;
    app.shell.activateById(panel.id);
  });
}

/** Bring the notebook to the front and render all its markdown cells. */
async function renderNotebook(page: IJupyterLabPageFixture): Promise<void> {
  await activateNotebook(page);
  await execute(page, 'notebook:select-all');
  await execute(page, 'notebook:run-cell');
}

test.describe('Remote resources load only when the user asks', () => {
  test('a remote markdown image in the compare view loads nothing until Load, then exactly it', async ({
    page,
    request
  }) => {
    await generate(page, request, `Look: ![x](http://127.0.0.1:${leak.port}/leak?secret)\n`);
    await execute(page, 'fanout:compare', { view: 'rendered' });
    const rendered = page.locator('.jp-Fanout-compare .jp-Fanout-rendered');
    const placeholder = rendered.locator('.jp-Fanout-remote-placeholder');
    await expect(placeholder).toHaveText(`Image “x” from 127.0.0.1:${leak.port} not loaded Load`);
    await expect(rendered.locator('.jp-Fanout-remote-bar')).toBeVisible();
    await page.waitForTimeout(1500);
    expect(leak.hits).toEqual([]);

    await placeholder.locator('.jp-Fanout-load-one').click();
    await expect.poll(() => leak.hits).toEqual(['/leak?secret']);
    await expect(rendered.locator('img')).toHaveJSProperty('naturalWidth', 1);
    await page.waitForTimeout(500);
    expect(leak.hits).toEqual(['/leak?secret']);

    // Control: the same image in a markdown cell typed by hand loads at once, so the counting
    // server sees what a view that did not block would fetch.
    await activateNotebook(page);
    await page.notebook.setCell(0, 'markdown', `![c](http://127.0.0.1:${leak.port}/control)`);
    await renderNotebook(page);
    await expect.poll(() => leak.hits).toEqual(['/leak?secret', '/control']);
  });

  test('"Load remote content" loads the whole view at once', async ({ page, request }) => {
    const base = `http://127.0.0.1:${leak.port}`;
    await generate(page, request, `![a](${base}/one) and ![b](${base}/two)\n`);
    await execute(page, 'fanout:compare', { view: 'rendered' });
    const rendered = page.locator('.jp-Fanout-compare .jp-Fanout-rendered');
    await expect(rendered.locator('.jp-Fanout-remote-placeholder')).toHaveCount(2);
    await page.waitForTimeout(1000);
    expect(leak.hits).toEqual([]);
    await rendered.locator('.jp-Fanout-load-remote').click();
    await expect.poll(() => [...leak.hits].sort()).toEqual(['/one', '/two']);
    await expect(rendered.locator('.jp-Fanout-remote-placeholder')).toHaveCount(0);
  });

  test('no vector loads in the sidebar, the rendered, parsed and raw views, or inserted cells', async ({
    page,
    request
  }) => {
    const base = `http://127.0.0.1:${leak.port}`;
    const text = remoteVectors(base);
    await generate(page, request, text);
    // The sidebar card shows the text, as text.
    await expect(page.locator(`${RESPONSE} .jp-Fanout-response-text`)).toContainText('Vectors follow.');
    await expect(page.locator(`${RESPONSE} img`)).toHaveCount(0);

    await execute(page, 'fanout:compare', { view: 'rendered' });
    const compare = page.locator('.jp-Fanout-compare');
    await expect(compare.locator('.jp-Fanout-markdown')).toContainText('styled div');
    await expect(compare.locator('.jp-Fanout-remote-placeholder').first()).toBeVisible();
    // Every remote reference is inert, seen or not (nothing left for lazy loading either).
    const live = ['src', 'srcset', 'poster', 'background', 'href', 'xlink\\:href', 'data', 'style'].map(
      name => `.jp-Fanout-markdown [${name}*="${leak.port}"]:not(a)`
    );
    await expect(compare.locator(live.join(', '))).toHaveCount(0);
    expect(
      await compare.locator('.jp-Fanout-markdown style').evaluateAll(nodes => nodes.map(n => n.textContent).join(''))
    ).not.toContain(String(leak.port));
    await page.waitForTimeout(1000);
    expect(leak.hits).toEqual([]);

    await compare.locator('.jp-Fanout-compare-view').selectOption('parsed');
    await expect(compare.locator('.jp-Fanout-parsed')).toContainText('styled div');
    await page.waitForTimeout(1000);
    expect(leak.hits).toEqual([]);

    await compare.locator('.jp-Fanout-compare-view').selectOption('raw');
    await expect(compare.locator('.jp-Fanout-response-text')).toHaveText(text);

    // Inserted as text and as cells: the markdown cells render without loading anything.
    await execute(page, 'fanout:insert', { responseId: '1', format: 'text' });
    await execute(page, 'fanout:insert', { responseId: '1', format: 'cells' });
    await renderNotebook(page);
    await expect(page.locator('.jp-NotebookPanel .jp-MarkdownOutput').first()).toContainText('Vectors follow.');
    // Not only unloaded so far (images below the fold may load lazily): there is nothing to load.
    const remote = page.locator(
      `.jp-NotebookPanel .jp-MarkdownOutput :is([src*="${leak.port}"], [srcset*="${leak.port}"], [poster*="${leak.port}"], [style*="${leak.port}"], [background*="${leak.port}"], style, iframe, video, audio, object, embed, svg)`
    );
    await expect(remote).toHaveCount(0);
    await page.waitForTimeout(1500);
    expect(leak.hits).toEqual([]);
  });
});

test.describe('Active content never runs', () => {
  test('scripts, handlers, javascript: links and command links are inert in every view', async ({ page, request }) => {
    await generate(page, request, ACTIVE);
    const xss = () => page.evaluate(() => (window as any).__fanoutXss);
    await expect(page.locator(`${RESPONSE} .jp-Fanout-response-text`)).toContainText('Active content follows.');
    await expect(page.locator(`${RESPONSE} .jp-Fanout-response-text`)).toContainText('</textarea>');

    await execute(page, 'fanout:compare', { view: 'rendered' });
    const compare = page.locator('.jp-Fanout-compare');
    const markdown = compare.locator('.jp-Fanout-markdown');
    await expect(markdown).toContainText('Active content follows.');
    await expect(markdown).toContainText('gnirts desrever');
    await expect(markdown.locator('script')).toHaveCount(0);
    await expect(markdown.locator('[onerror], [onload], [ontoggle], [data-commandlinker-command]')).toHaveCount(0);
    const cellsBefore = await page.locator('.jp-NotebookPanel .jp-Cell').count();
    await markdown.locator('button', { hasText: 'Insert a cell' }).click();
    const jsLink = markdown.locator('a', { hasText: 'js link' });
    if ((await jsLink.count()) > 0) {
      expect((await jsLink.first().getAttribute('href')) ?? '').not.toMatch(/javascript/i);
    }
    await compare.locator('.jp-Fanout-compare-view').selectOption('parsed');
    await expect(compare.locator('.jp-Fanout-parsed')).toContainText('Active content follows.');
    await compare.locator('.jp-Fanout-compare-view').selectOption('raw');
    await expect(compare.locator('.jp-Fanout-response-text')).toContainText('Active content follows.');
    expect(await compare.locator('.jp-Fanout-response-text').textContent()).toBe(ACTIVE);
    await page.waitForTimeout(500);
    expect(await page.locator('.jp-NotebookPanel .jp-Cell').count()).toBe(cellsBefore);
    expect(await xss()).toBeUndefined();
  });

  test('an inserted command-link button runs nothing in a trusted notebook', async ({ page, request }) => {
    const button =
      '<button data-commandlinker-command="notebook:insert-cell-below" class="fanout-evil">Add a cell</button>';
    await generate(page, request, `Press it:\n\n${button}\n`);
    const trustAll = () =>
      page.evaluate(() => {
        const panel = (window as any).jupyterapp.shell.currentWidget;
        for (const cell of panel.content.widgets) {
          cell.model.trusted = true;
        }
      });
    const renderAll = () => renderNotebook(page);

    // Control: the same markdown typed into a cell by hand makes a live command link here,
    // so the assertion below would see it if an insertion kept it.
    await page.notebook.setCell(0, 'markdown', button);
    await page.notebook.addCell('code', 'x = 1');
    await trustAll();
    await renderAll();
    const live = page.locator('.jp-NotebookPanel .jp-MarkdownOutput button.fanout-evil');
    await expect(live).toHaveAttribute('data-commandlinker-command', 'notebook:insert-cell-below');

    await page.notebook.selectCells(0);
    const result = await execute(page, 'fanout:insert', { responseId: '1', format: 'text' });
    expect(result.count).toBe(1);
    await trustAll();
    await renderAll();
    const cells = await notebookCells(page);
    const inserted = cells.find(cell => cell.source.startsWith('Press it:'))!;
    expect(inserted.source).toContain('&lt;button data-commandlinker-command');
    const output = page.locator('.jp-NotebookPanel .jp-MarkdownOutput', { hasText: 'Press it:' });
    await expect(output).toContainText('<button data-commandlinker-command');
    await expect(output.locator('button, [data-commandlinker-command]')).toHaveCount(0);
    const count = cells.length;
    await output.getByText('Add a cell').click();
    await page.waitForTimeout(500);
    expect((await notebookCells(page)).length).toBe(count);
  });
});

test('screenshots: a blocked remote image in the compare view, light and dark', async ({ page, request }, testInfo) => {
  const base = `http://127.0.0.1:${leak.port}`;
  const text = [
    'Here is the chart you asked for:',
    '',
    `![Sales by month](${base}/chart.png?q=secret)`,
    '',
    'And the **summary** table, with a logo:',
    '',
    `| a | b |\n| --- | --- |\n| <img src="${base}/logo.png" width="16"> | 2 |`,
    ''
  ].join('\n');
  await generate(page, request, text);
  await execute(page, 'fanout:compare', { view: 'rendered' });
  await page.evaluate(() => (window as any).jupyterapp.shell.collapseLeft());
  const widget = page.locator('.jp-Fanout-compare-widget');
  await expect(widget.locator('.jp-Fanout-remote-placeholder')).toHaveCount(2);
  await widget.screenshot({ path: testInfo.outputPath('compare-blocked-light.png') });
  await page.theme.setDarkTheme();
  await expect(widget.locator('.jp-Fanout-remote-placeholder')).toHaveCount(2);
  await widget.screenshot({ path: testInfo.outputPath('compare-blocked-dark.png') });
  await page.theme.setLightTheme();
  expect(leak.hits).toEqual([]);
});
