/**
 * The batch store's commands: a generated batch is listed (found by a word of its prompt, titled
 * with the prompt's first line), renamed, and exported as Markdown text and as a notebook written
 * to the Jupyter contents. Against the vLLM simulator.
 */
import { expect, test } from '@jupyterlab/galata';

import { execute } from './helpers';
import { resetSimulator } from './simulator';

const FAST = { tokens_per_second: 400, ttft_ms: 20, reasoning_tokens: 0, answer_tokens: 30 };

test.describe('The batch store', () => {
  test('list finds a batch by a word of its prompt, rename renames it, export gives Markdown and writes a notebook', async ({
    page,
    request,
    tmpPath
  }) => {
    await resetSimulator(request, FAST);
    const word = `zebra${Date.now()}`;
    const prompt = `Describe the ${word} in one line.\nSecond line of the prompt.`;
    const batch = await execute(page, 'fanout:generate', { prompt, n: 2 });
    expect(batch.responses.map((r: any) => r.status)).toEqual(['complete', 'complete']);

    // The store writes about once a second: wait until the batch is listed with both responses complete.
    let found: any[] = [];
    await expect
      .poll(
        async () => {
          found = await execute(page, 'fanout:list-batches', { query: word, limit: 10 });
          return found.map(b => [b.title, b.counts.complete ?? 0]);
        },
        { timeout: 15000 }
      )
      .toEqual([[`Describe the ${word} in one line.`, 2]]);
    const id = found[0].id;
    expect(id).toBe(batch.batchId);
    expect(found[0].n).toBe(2);

    const renamed = await execute(page, 'fanout:rename-batch', { batchId: id, title: `Renamed ${word}` });
    expect(renamed).toEqual({ id, title: `Renamed ${word}` });
    const listed = await execute(page, 'fanout:list-batches', { query: word });
    expect(listed.map((b: any) => [b.id, b.title])).toEqual([[id, `Renamed ${word}`]]);

    const markdown = await execute(page, 'fanout:export', { batchId: id, format: 'markdown' });
    expect(Object.keys(markdown)).toEqual(['text']);
    expect(markdown.text).toContain(`Describe the ${word} in one line.`);
    expect(markdown.text).toContain('Second line of the prompt.');

    const path = `${tmpPath}/${word}.ipynb`;
    expect(await execute(page, 'fanout:export', { batchId: id, format: 'notebook', path })).toEqual({ path });
    const model = await page.evaluate(
      async ({ dir, p }) => {
        const contents = (window as any).jupyterapp.serviceManager.contents;
        const listing = await contents.get(dir, { content: true });
        const file = await contents.get(p, { content: true });
        return {
          names: listing.content.map((item: any) => item.name),
          type: file.type,
          sources: file.content.cells.map((cell: any) =>
            Array.isArray(cell.source) ? cell.source.join('') : cell.source
          )
        };
      },
      { dir: tmpPath, p: path }
    );
    expect(model.names).toContain(`${word}.ipynb`);
    expect(model.type).toBe('notebook');
    expect(model.sources[0]).toContain(`Describe the ${word} in one line.`);
    expect(model.sources).toHaveLength(3);

    // A bad argument is a specific error, not a hang.
    await expect(execute(page, 'fanout:export', { batchId: id, format: 'pdf' })).rejects.toThrow(
      'Argument "format" must be one of json, markdown, notebook, not "pdf".'
    );
  });
});
