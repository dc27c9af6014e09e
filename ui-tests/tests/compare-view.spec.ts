/**
 * The compare view (issue 16, item 4): math typeset by JupyterLab's rendermime (MathJax), code
 * highlighted in the rendered and parsed views, Copy on code blocks and whole responses, a toolbar
 * that holds at 1024 px, and a word diff beside the line diff.
 */
import { expect, test } from '@jupyterlab/galata';
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { APIRequestContext, Locator } from '@playwright/test';

import { execute, notebookWithPrompt } from './helpers';
import { resetSimulator } from './simulator';

const FAST = { tokens_per_second: 2000, ttft_ms: 10, reasoning_tokens: 0 };

const CODE = "import json\ndata = json.loads('[1, 2, 3]')";
const ANSWER = [
  'The area is $x^2$ and the integral is',
  '',
  '$$\\int_0^1 x\\,dx = \\frac{1}{2}$$',
  '',
  '```python',
  CODE,
  '```',
  '',
  'Lists are mutable and tuples are not.',
  ''
].join('\n');

async function compareOf(page: IJupyterLabPageFixture, args: Record<string, unknown>): Promise<Locator> {
  await execute(page, 'fanout:compare', args);
  const compare = page.locator('.jp-Fanout-compare');
  await expect(compare).toBeVisible();
  return compare;
}

/**
 * Set the simulator to `stream` and start a batch of `n` without waiting for it; what is
 * returned waits for the batch's summary (`fanout:generate`'s result).
 */
async function startStreaming(
  page: IJupyterLabPageFixture,
  request: APIRequestContext,
  stream: Record<string, unknown>,
  prompt: string,
  n = 1
): Promise<() => Promise<any>> {
  await resetSimulator(request, stream);
  await page.evaluate(
    ({ prompt, n }) => {
      const w = window as any;
      w.__fanoutStreaming = w.jupyterapp.commands.execute('fanout:generate', { prompt, n });
    },
    { prompt, n }
  );
  return () => page.evaluate(() => (window as any).__fanoutStreaming);
}

/** A paragraph of about 870 characters on one line (a block of its own once the next line is complete). */
const FILLER = 'the value stays small and the list stays short, '.repeat(18);

/**
 * Stream `answer` as a batch of one at `tokensPerSecond` and open its compare view, rendered:
 * the batch's summary (a function waiting for it), the view, and the response's rendered text.
 */
async function streamRendered(
  page: IJupyterLabPageFixture,
  request: APIRequestContext,
  answer: string,
  tokensPerSecond: number,
  prompt: string
): Promise<{ batch: () => Promise<any>; compare: Locator; markdown: Locator }> {
  const batch = await startStreaming(
    page,
    request,
    { tokens_per_second: tokensPerSecond, ttft_ms: 10, reasoning_tokens: 0, answer_text: answer },
    prompt
  );
  const compare = await compareOf(page, { view: 'rendered', layout: 'tabs' });
  const markdown = compare.locator('.jp-Fanout-compare-column .jp-Fanout-markdown').first();
  return { batch, compare, markdown };
}

/** Close every compare view. */
async function closeCompareViews(page: IJupyterLabPageFixture): Promise<void> {
  await page.evaluate(() => {
    const app = (window as any).jupyterapp;
    for (const widget of Array.from(app.shell.widgets('main')) as any[]) {
      if (widget.id.startsWith('jupyterlab-fanout-compare-')) {
        widget.dispose();
      }
    }
  });
}

async function clipboard(page: IJupyterLabPageFixture): Promise<string> {
  return page.evaluate(() => navigator.clipboard.readText());
}

test.describe('Compare view', () => {
  test.beforeEach(async ({ context }) => {
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  });

  test('follows a streaming batch, about once a second, to its last token', async ({ page, request }) => {
    // 4 s of streaming: the view shows more text while it runs (paced, not at every update),
    // and exactly the final text once the batch ended.
    const batch = await startStreaming(
      page,
      request,
      { tokens_per_second: 50, ttft_ms: 10, reasoning_tokens: 0, answer_tokens: 200 },
      'Stream into the compare view.',
      2
    );
    const compare = await compareOf(page, { view: 'raw', layout: 'tabs' });
    const raw = compare.locator('.jp-Fanout-compare-column').first();
    const length = async () => ((await raw.textContent()) ?? '').length;
    await expect.poll(length, { timeout: 10000 }).toBeGreaterThan(0);
    const early = await length();
    await expect.poll(length, { timeout: 10000 }).toBeGreaterThan(early);
    const summary = await batch();
    expect(summary.responses.every((r: any) => r.status === 'complete')).toBe(true);
    await expect(raw).toContainText(summary.responses[0].content.trim().slice(-40));
  });

  test('a streaming response renders block by block: what is settled keeps its DOM, at the end too, as rendered whole', async ({
    page,
    request
  }) => {
    // Blocks of at least 800 characters (RenderedMarkdown's STREAMING_BLOCK_LENGTH): about three paragraphs.
    const paragraphs = Array.from(
      { length: 10 },
      (_, i) =>
        `Paragraph ${i + 1} says that ${'the value stays small and the list stays short, '.repeat(5)}and that is all.`
    );
    const answer = [
      '## The answer',
      '',
      paragraphs[0],
      '',
      '```python',
      'import json',
      '',
      'data = json.loads("[1, 2]")',
      '```',
      '',
      'The mean is $\\bar{x}$ here.',
      '',
      '- first item',
      '',
      '- second item',
      '',
      ...paragraphs.slice(1).flatMap(p => [p, '']),
      '$$\\int_0^1 x\\,dx$$',
      '',
      'The end of the answer.'
    ].join('\n');
    // About 650 tokens at 60 a second: eleven seconds, several paced renders of the view.
    const { batch, markdown } = await streamRendered(page, request, answer, 60, 'Stream blocks into the compare view.');
    const blocks = markdown.locator(':scope > .jp-RenderedMarkdown');
    await expect.poll(() => blocks.count(), { timeout: 10000 }).toBeGreaterThanOrEqual(2);
    // The first block (the heading, the first paragraphs and the code) is marked; renders that follow leave it in place.
    await blocks.first().evaluate(node => node.setAttribute('data-probe', 'kept'));
    const seen = await blocks.count();
    // More blocks settle.
    await expect.poll(() => blocks.count(), { timeout: 10000 }).toBeGreaterThanOrEqual(Math.max(seen + 1, 3));
    await expect(blocks.first()).toHaveAttribute('data-probe', 'kept');
    await expect(blocks.first().locator('h2')).toContainText('The answer');
    await expect(blocks.first()).toContainText(paragraphs[0]);
    // The code block, settled, has its Copy button while the rest streams.
    await expect(markdown.locator('.jp-Fanout-copy-code')).toHaveCount(1);
    // Where each element of the settled blocks sits: the same once the text is rendered whole.
    const tops = (settledOnly: boolean) =>
      markdown.evaluate((host, settledOnly) => {
        const blocks = Array.from(host.children);
        const settled = settledOnly ? blocks.slice(0, -1) : blocks;
        const origin = host.getBoundingClientRect().top;
        return settled
          .flatMap(block => Array.from(block.querySelectorAll('h1, h2, h3, p, pre, li')))
          .map(element => Math.round(element.getBoundingClientRect().top - origin));
      }, settledOnly);
    const streamed = await tops(true);
    expect(streamed.length).toBeGreaterThanOrEqual(3);
    const summary = await batch();
    expect(summary.responses[0].status).toBe('complete');
    // Ended: the blocks render as the whole text does, so they stay (the settled ones keep
    // their DOM) and only the last rendered again, with the end of the answer.
    await expect(markdown).toContainText('The end of the answer.');
    // (The render at the end takes milliseconds; before blocks were kept, it replaced them all.)
    await page.waitForTimeout(1500);
    expect(await blocks.count()).toBeGreaterThanOrEqual(3);
    await expect(blocks.first()).toHaveAttribute('data-probe', 'kept');
    await expect(markdown.locator('pre')).toHaveCount(1);
    await expect(markdown.locator('.jp-Fanout-copy-code')).toHaveCount(1);
    await expect(markdown.locator('li')).toHaveCount(2);
    await expect(markdown.locator('ul')).toHaveCount(1);
    await expect(markdown.locator('mjx-container')).toHaveCount(2);
    await expect(markdown).toContainText('The end of the answer.');
    await expect(markdown).toContainText(paragraphs[9]);
    expect((await tops(false)).slice(0, streamed.length)).toEqual(streamed);
    // The same elements, text and places as the answer rendered whole: the view opened again
    // on the ended response renders it whole, as a notebook's markdown cell would.
    const shape = () =>
      markdown.evaluate(host => {
        const origin = host.getBoundingClientRect().top;
        return Array.from(host.querySelectorAll('.jp-RenderedMarkdown *:not(mjx-container *)')).map(
          element =>
            `${element.localName} ${Math.round(element.getBoundingClientRect().top - origin)} ${element.childElementCount === 0 ? element.textContent : ''}`
        );
      });
    const kept = await shape();
    await closeCompareViews(page);
    const again = await compareOf(page, { view: 'rendered', layout: 'tabs' });
    const whole = again.locator('.jp-Fanout-compare-column .jp-Fanout-markdown').first();
    await expect(whole.locator('mjx-container')).toHaveCount(2);
    await expect(whole.locator(':scope > .jp-RenderedMarkdown')).toHaveCount(1);
    expect(await shape()).toEqual(kept);
  });

  test('a <details> holds what follows it, closed, while it streams and once it has ended (rendered whole)', async ({
    page,
    request
  }) => {
    const answer = [
      `First: ${FILLER}`,
      '',
      '<details>',
      '<summary>More</summary>',
      '',
      `Inside: ${FILLER}`,
      '',
      `Still inside: ${FILLER}`,
      '',
      `Last: ${FILLER}`,
      '',
      `Really the last: ${FILLER}`
    ].join('\n');
    const { batch, markdown } = await streamRendered(page, request, answer, 120, 'Details left open.');
    const blocks = markdown.locator(':scope > .jp-RenderedMarkdown');
    // While it streams (as blocks), once the paragraphs after it are complete: the <details>
    // already holds what follows it, closed (the next paragraph, and the one after: a block
    // takes in paragraphs up to 800 characters, and its last line grows until it is complete).
    const seen = () =>
      markdown.evaluate(host => ({
        blocks: host.querySelectorAll(':scope > .jp-RenderedMarkdown').length,
        last: host.textContent?.includes('Last:') ?? false,
        inDetails: host.querySelector('details')?.textContent?.includes('Still inside:') ?? false
      }));
    await expect.poll(async () => (await seen()).last, { timeout: 15000 }).toBe(true);
    expect(await seen()).toEqual({ blocks: expect.any(Number), last: true, inDetails: true });
    expect((await seen()).blocks).toBeGreaterThanOrEqual(2);
    await expect(markdown.getByText('Still inside:')).toBeHidden();
    expect((await batch()).responses[0].status).toBe('complete');
    // Rendered whole: the <details> holds what follows it, closed (its contents hidden).
    await expect(blocks).toHaveCount(1);
    await expect(markdown.locator('details')).toHaveCount(1);
    await expect(markdown.locator('details')).toContainText('Still inside:');
    await expect(markdown.getByText('Still inside:')).toBeHidden();
  });

  test('while it streams, a link defined further down is a link, and an HTML block with blank lines stays whole', async ({
    page,
    request
  }) => {
    const answer = [
      `See [the docs][d] before you start: ${FILLER}`,
      '',
      '<pre>',
      'line one',
      '',
      'line two',
      '</pre>',
      '',
      `Then: ${FILLER}`,
      '',
      '[d]: https://example.org/docs',
      '',
      `More: ${FILLER}`,
      '',
      `And more: ${FILLER}`,
      '',
      'The end.'
    ].join('\n');
    // About 750 tokens at 60 a second: the definition arrives with six seconds still to stream.
    const { batch, markdown } = await streamRendered(page, request, answer, 60, 'A link defined further down.');
    // Read at once: the view still renders blocks (it streams), and what the first one shows.
    const now = () =>
      markdown.evaluate(host => {
        const blocks = Array.from(host.querySelectorAll(':scope > .jp-RenderedMarkdown'));
        const link = blocks[0]?.querySelector('a');
        const pre = Array.from(host.querySelectorAll('pre')).find(pre => pre.textContent?.includes('line two'));
        return {
          blocks: blocks.length,
          link: link ? `${link.textContent} -> ${link.getAttribute('href')}` : null,
          pre: pre ? (pre.textContent ?? '').replace(/\s+/g, ' ').trim() : null
        };
      });
    await expect
      .poll(
        async () => {
          const seen = await now();
          return seen.blocks >= 2 && seen.link !== null ? seen : null;
        },
        { timeout: 15000 }
      )
      .toEqual({ blocks: expect.any(Number), link: 'the docs -> https://example.org/docs', pre: 'line one line two' });
    const summary = await batch();
    expect(summary.responses[0].status).toBe('complete');
    // Ended (the render at the end takes milliseconds), its blocks kept: every element the
    // <pre> opens it closes. The same link and the same block.
    await page.waitForTimeout(1500);
    expect(await now()).toEqual({
      blocks: expect.any(Number),
      link: 'the docs -> https://example.org/docs',
      pre: 'line one line two'
    });
  });

  test('a block that cannot be rendered says so in its place; the blocks around it are shown', async ({
    page,
    request
  }) => {
    const answer = [
      `Before: ${FILLER}`,
      '',
      `FAILS HERE ${FILLER}`,
      '',
      `After: ${FILLER}`,
      '',
      `More: ${FILLER}`,
      '',
      'The end.'
    ].join('\n');
    const { batch, compare, markdown } = await streamRendered(page, request, answer, 80, 'A block that fails.');
    // The view's renderer fails on text holding "FAILS HERE" (as a broken renderer would).
    await page.evaluate(() => {
      const app = (window as any).jupyterapp;
      for (const widget of Array.from(app.shell.widgets('main')) as any[]) {
        const rendermime = widget.content?._options?.rendermime;
        if (widget.id.startsWith('jupyterlab-fanout-compare-') && rendermime) {
          const create = rendermime.createRenderer.bind(rendermime);
          rendermime.createRenderer = (mimeType: string) => {
            const renderer = create(mimeType);
            const render = renderer.renderModel.bind(renderer);
            renderer.renderModel = (model: any) =>
              String(model.data['text/markdown']).includes('FAILS HERE')
                ? Promise.reject(new Error('the test broke this renderer'))
                : render(model);
            return renderer;
          };
        }
      }
    });
    const error = markdown.locator('.jp-Fanout-render-error');
    await expect(error.first()).toContainText(
      'Could not render this part of the response: Error: the test broke this renderer',
      { timeout: 15000 }
    );
    // What came before is there; what comes after renders in its own block.
    await expect(markdown.locator('.jp-RenderedMarkdown').first()).toContainText('Before:');
    await expect(markdown.locator('.jp-RenderedMarkdown').last()).toContainText('After:', { timeout: 15000 });
    const summary = await batch();
    expect(summary.responses[0].status).toBe('complete');
    // Ended: the blocks stay (they render as the whole text does). The failing one says so,
    // once, and the others show the rest of the answer.
    await expect(markdown).toContainText('The end.');
    await expect(error).toHaveCount(1);
    await expect(markdown.locator('.jp-RenderedMarkdown').first()).toContainText('Before:');
    await expect(markdown.locator('.jp-RenderedMarkdown', { hasText: 'After:' })).toHaveCount(1);
    await expect(markdown.locator('.jp-RenderedMarkdown', { hasText: 'More:' })).toHaveCount(1);
    await expect(compare.locator('.jp-Fanout-compare-column .jp-Fanout-response-status').first()).toContainText(
      'Complete'
    );
  });

  test('a block whose render took too long is rendered once more when that render ends', async ({ page, request }) => {
    await page.notebook.createNew();
    const batch = await startStreaming(
      page,
      request,
      { ...FAST, answer_text: 'Before.\n\nSLOW HERE, then done.\n\nAfter.\n' },
      'A slow render.'
    );
    expect((await batch()).responses[0].status).toBe('complete');
    // The first render of that text takes 12 s (the view waits 10 s), as on a machine too busy
    // for a while; later ones are quick. (Markdown's renderer factory, which the compare view's
    // registry shares with the notebook's.)
    await page.evaluate(() => {
      const w = window as any;
      const notebook = Array.from(w.jupyterapp.shell.widgets('main')).find(
        (widget: any) => widget.content?.rendermime
      ) as any;
      const factory = notebook.content.rendermime.getFactory('text/markdown');
      const create = factory.createRenderer.bind(factory);
      factory.createRenderer = (options: any) => {
        const renderer = create(options);
        const render = renderer.renderModel.bind(renderer);
        renderer.renderModel = (model: any) => {
          if (!String(model.data['text/markdown']).includes('SLOW HERE') || w.__fanoutSlowOnce) {
            return render(model);
          }
          w.__fanoutSlowOnce = true;
          return new Promise(resolve => setTimeout(resolve, 12000)).then(() => render(model));
        };
        return renderer;
      };
    });
    const compare = await compareOf(page, { view: 'rendered', layout: 'tabs' });
    const markdown = compare.locator('.jp-Fanout-compare-column .jp-Fanout-markdown').first();
    await expect(markdown.locator('.jp-Fanout-render-error')).toContainText('it took longer than 10 s', {
      timeout: 15000
    });
    // Then, once the slow render ended, the text itself.
    await expect(markdown.locator('.jp-Fanout-render-error')).toHaveCount(0, { timeout: 10000 });
    await expect(markdown).toContainText('SLOW HERE, then done.');
    await expect(markdown).toContainText('After.');
  });

  test('math is typeset by MathJax, through the sanitized renderer, and a script in the same answer stays inert', async ({
    page,
    request
  }) => {
    const hostile = `${ANSWER}\n<img src=x onerror="window.__fanoutPwned = 1">\n<script>window.__fanoutPwned = 2</script>\n`;
    await resetSimulator(request, { ...FAST, answer_text: hostile });
    await page.notebook.createNew();
    await execute(page, 'fanout:generate', { prompt: 'math', n: 1 });
    const compare = await compareOf(page, { view: 'rendered' });
    const rendered = compare.locator('.jp-Fanout-compare-column .jp-Fanout-markdown');
    // Inline and display math: two MathJax containers, one of them display.
    await expect(rendered.locator('mjx-container')).toHaveCount(2);
    await expect(rendered.locator('mjx-container[display="true"]')).toHaveCount(1);
    // The TeX source is not left as text.
    await expect(rendered).not.toContainText('\\frac');
    expect(await page.evaluate(() => (window as any).__fanoutPwned)).toBeUndefined();
    await expect(rendered.locator('script, [onerror]')).toHaveCount(0);
  });

  test('code is highlighted in the rendered and parsed views, and every Copy copies exactly', async ({
    page,
    request
  }) => {
    await resetSimulator(request, { ...FAST, answer_text: ANSWER });
    await page.notebook.createNew();
    const summary = await execute(page, 'fanout:generate', { prompt: 'code', n: 1 });
    const compare = await compareOf(page, { view: 'rendered' });
    const column = compare.locator('.jp-Fanout-compare-column').first();

    // Rendered: JupyterLab's markdown highlighting (CodeMirror's classes on spans).
    const renderedCode = column.locator('.jp-Fanout-markdown pre code');
    await expect(renderedCode).toHaveCount(1);
    await expect.poll(() => renderedCode.locator('span[class]').count()).toBeGreaterThan(2);
    await column.locator('.jp-Fanout-markdown .jp-Fanout-copy-code').click();
    await expect.poll(() => clipboard(page)).toBe(CODE);
    await expect(page.locator('.Toastify__toast', { hasText: 'Copied the code block' }).first()).toBeVisible();

    // The whole response.
    await column.locator('.jp-Fanout-copy-response').click();
    await expect.poll(() => clipboard(page)).toBe(summary.responses[0].content);

    // Parsed: the code cell is highlighted by the same registry, with the same classes' shape.
    await compare.locator('.jp-Fanout-compare-view').selectOption('parsed');
    const parsedCode = column.locator('.jp-Fanout-parsed-code .jp-Fanout-code');
    await expect(parsedCode).toHaveCount(1);
    await expect(parsedCode).toHaveAttribute('data-highlighted', 'python');
    await expect.poll(() => parsedCode.locator('span[class]').count()).toBeGreaterThan(2);
    await expect(parsedCode).toHaveText(CODE);
    await page.evaluate(() => navigator.clipboard.writeText('nothing yet'));
    await column.locator('.jp-Fanout-parsed-code .jp-Fanout-copy-code').click();
    await expect.poll(() => clipboard(page)).toBe(CODE);

    // The command: resolves with exactly what it copied; a bad cell is refused by name.
    const copied = await execute(page, 'fanout:copy', { responseId: '1', cell: 1 });
    expect(copied).toEqual({ batchId: summary.batchId, responseId: '1', attempt: 1, cell: 1, text: CODE });
    expect(await clipboard(page)).toBe(CODE);
    const error = await page.evaluate(() =>
      (window as any).jupyterapp.commands.execute('fanout:copy', { responseId: '1', cell: 9 }).then(
        () => 'resolved',
        (e: Error) => e.message
      )
    );
    expect(error).toMatch(/no cell 9; this response has \d+ cell/);
    expect(await clipboard(page)).toBe(CODE);

    // A clipboard that refuses: one error toast naming what and why, nothing uncaught.
    const errors: string[] = [];
    page.on('pageerror', e => errors.push(e.message));
    await page.evaluate(() => {
      Object.defineProperty(navigator.clipboard, 'writeText', {
        configurable: true,
        value: () => Promise.reject(new DOMException('Write permission denied.', 'NotAllowedError'))
      });
    });
    await column.locator('.jp-Fanout-copy-response').click();
    const refused = page.locator('.Toastify__toast--error', { hasText: 'Could not copy response 1' });
    await expect(refused).toHaveCount(1);
    await expect(refused).toContainText('Write permission denied.');
    await page.waitForTimeout(300);
    await expect(refused).toHaveCount(1);
    expect(errors).toEqual([]);
  });

  test('the word diff defaults to the two responses on screen and marks an inserted and a deleted word', async ({
    page,
    request
  }) => {
    await resetSimulator(request, { ...FAST, answer_text: 'Lists are mutable and tuples are not.' });
    // The active cell: the answer with one word deleted ("and") and one inserted ("hashable").
    await notebookWithPrompt(page, 'Lists are mutable tuples are not hashable.');
    await execute(page, 'fanout:generate', { prompt: 'x', n: 3 });
    const compare = await compareOf(page, { layout: 'side-by-side' });
    await compare.locator('.jp-Fanout-compare-pick input').nth(0).uncheck();
    await compare.locator('.jp-Fanout-compare-pick input').nth(2).check();
    await compare.locator('.jp-Fanout-compare-diff summary').click();
    await expect(compare.locator('.jp-Fanout-diff-a select')).toHaveValue('2');
    await expect(compare.locator('.jp-Fanout-diff-b select')).toHaveValue('3');
    await expect(compare.locator('.jp-Fanout-diff-mode select')).toHaveValue('line');
    await compare.locator('.jp-Fanout-diff-mode').selectOption('word');
    // Identical responses: nothing marked.
    const diff = compare.locator('.jp-Fanout-word-diff');
    await expect(diff).toBeVisible();
    await expect(diff.locator('[data-diff="same"]')).toHaveText(['Lists are mutable and tuples are not.']);
    await expect(diff.locator('[data-diff="added"], [data-diff="removed"]')).toHaveCount(0);

    await compare.locator('.jp-Fanout-diff-b').selectOption('cell');
    await expect(diff.locator('del[data-diff="removed"]')).toHaveText(['and ']);
    await expect(diff.locator('ins[data-diff="added"]')).toHaveText([' hashable']);
    // Back to lines: the whole line is removed and added.
    await compare.locator('.jp-Fanout-diff-mode').selectOption('line');
    await expect(compare.locator('.jp-Fanout-diff:not(.jp-Fanout-word-diff) [data-diff="removed"]')).toContainText(
      'Lists are mutable and tuples are not.'
    );
  });

  test('at 1024 × 768 the toolbar is one row and no button breaks, in both themes', async ({
    page,
    request
  }, testInfo) => {
    await page.setViewportSize({ width: 1024, height: 768 });
    await resetSimulator(request, { ...FAST, answer_text: ANSWER });
    // The active cell: the answer edited, for the word diff of the screenshot (docs/compare.png).
    await notebookWithPrompt(
      page,
      ANSWER.replace('are mutable and', 'are mutable, growable and').replace('The area', 'Its area')
    );
    await execute(page, 'fanout:generate', { prompt: 'layout', n: 2 });
    const compare = await compareOf(page, { layout: 'side-by-side', view: 'rendered' });
    await expect(compare.locator('.jp-Fanout-compare-column mjx-container').first()).toBeVisible();

    const tops = async (items: Locator) =>
      (await items.evaluateAll(els => els.map(e => Math.round(e.getBoundingClientRect().top)))) as number[];
    /** One row: every item's vertical extent overlaps every other's (centred items differ in height). */
    const oneRow = async (items: Locator) => {
      const boxes = (await items.evaluateAll(els =>
        els.map(e => [e.getBoundingClientRect().top, e.getBoundingClientRect().bottom])
      )) as number[][];
      return Math.max(...boxes.map(b => b[0])) < Math.min(...boxes.map(b => b[1]));
    };
    const heights = async (items: Locator) =>
      (await items.evaluateAll(els => els.map(e => e.getBoundingClientRect().height))) as number[];
    const check = async (theme: string) => {
      await page.screenshot({ path: testInfo.outputPath(`compare-1024-${theme}.png`) });
      // Layout, Show and Parse all stay one row; Judge… (judge.spec.ts) may wrap below them
      // here, where both sidebars leave the view 440 px, but its label never breaks.
      const toolbar = compare.locator('.jp-Fanout-compare-toolbar > :not(.jp-Fanout-judge-open)');
      expect(await toolbar.count()).toBe(3);
      expect(await oneRow(toolbar)).toBe(true);
      const judge = compare.locator('.jp-Fanout-compare-toolbar > .jp-Fanout-judge-open');
      const parseAll = compare.locator('.jp-Fanout-compare-toolbar > .jp-Fanout-parse-all');
      expect(Math.abs((await heights(judge))[0] - (await heights(parseAll))[0])).toBeLessThan(2);
      for (const column of await compare.locator('.jp-Fanout-compare-column').all()) {
        const buttons = column.locator('.jp-Fanout-compare-actions button');
        expect(await buttons.count()).toBe(5);
        // No label breaks inside its button: every button is as tall as the first.
        const h = await heights(buttons);
        expect(Math.max(...h) - Math.min(...h)).toBeLessThan(2);
        // The group wraps at most once (two rows), never one button a row.
        expect(new Set(await tops(buttons)).size).toBeLessThanOrEqual(2);
      }
    };
    await check('light');
    await page.theme.setDarkTheme();
    await check('dark');
    await page.theme.setLightTheme();
    // With the sidebars closed, each column's actions are one row.
    await page.evaluate(() => {
      (window as any).jupyterapp.shell.collapseLeft();
      (window as any).jupyterapp.shell.collapseRight();
    });
    await page.waitForTimeout(300);
    await page.screenshot({ path: testInfo.outputPath('compare-1024-wide-light.png') });
    for (const column of await compare.locator('.jp-Fanout-compare-column').all()) {
      expect(await oneRow(column.locator('.jp-Fanout-compare-actions button'))).toBe(true);
    }
    // The picture in the README: both columns, and the word diff of response 1 against the cell.
    await compare.locator('.jp-Fanout-compare-diff summary').click();
    await compare.locator('.jp-Fanout-diff-b').selectOption('cell');
    await compare.locator('.jp-Fanout-diff-mode').selectOption('word');
    await expect(compare.locator('.jp-Fanout-word-diff ins[data-diff="added"]')).toContainText(['Its', 'growable']);
    await expect(compare.locator('.jp-Fanout-word-diff del[data-diff="removed"]')).toContainText(['The']);
    await page.locator('.jp-Fanout-compare-widget').evaluate(e => e.scrollTo(0, e.scrollHeight));
    await page.screenshot({ path: testInfo.outputPath('compare-word-diff-light.png') });
    await page.theme.setDarkTheme();
    await page.screenshot({ path: testInfo.outputPath('compare-word-diff-dark.png') });
    await page.theme.setLightTheme();
  });
});
