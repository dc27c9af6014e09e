import { marked } from 'marked';
import type { IRenderMime } from '@jupyterlab/rendermime';

import { blocksToRender, finishedBlocks } from '../blocks';
import { blocksOfEnded } from '../finished';

// rendermime's math splitter asks the browser's `navigator` for its name (Node 20 has none).
if (typeof (globalThis as any).navigator === 'undefined') {
  Object.defineProperty(globalThis, 'navigator', { value: { appName: 'Netscape' }, configurable: true });
}

/**
 * marked as JupyterLab's parser uses it, with heading ids as its `marked-gfm-heading-id` plugin
 * gives them: numbered per parse, so the same heading twice in one text gets `-1`.
 */
const PARSER: IRenderMime.IMarkdownParser = {
  render: async (text: string) => {
    const seen = new Map<string, number>();
    const html = await marked.parse(text, { async: true });
    return html.replace(/<h([1-6])>(.*?)<\/h\1>/g, (_, level: string, inner: string) => {
      const slug = inner.toLowerCase().replace(/[^\w]+/g, '-');
      const count = seen.get(slug) ?? 0;
      seen.set(slug, count + 1);
      return `<h${level} id="${count === 0 ? slug : `${slug}-${count}`}">${inner}</h${level}>`;
    });
  }
};

/** A long answer as a model writes one: headings, prose, lists, code with tags, math, a table. */
function answer(sections: number): string {
  const parts: string[] = [];
  for (let i = 0; i < sections; i++) {
    parts.push(
      `## Step ${i + 1}`,
      '',
      `Compare \`List<String>\` with x < y and a [reference][r${i}] before the code; $a<b$ is math.`,
      '',
      '```java',
      'List<String> names = new ArrayList<>();',
      '',
      'if (a < b) { names.add("<div>"); }',
      '```',
      '',
      '- first item',
      '- second item, <https://example.org/auto>',
      '',
      '$$',
      'x < y',
      '$$',
      '',
      '| a | b |',
      '| --- | --- |',
      `| ${i} | ${i * 2} |`,
      '',
      `[r${i}]: https://example.org/${i}`,
      ''
    );
  }
  return parts.join('\n') + 'The end, with no line break after it.';
}

describe('finishedBlocks', () => {
  it('gives the blocks of the whole text, its last line too, joined back into the text', () => {
    const text = answer(20);
    const blocks = finishedBlocks(text, 800)!;
    expect(blocks.length).toBeGreaterThan(3);
    // Without definitions the blocks join back into the text exactly.
    const plain = text.replace(/\[r\d+\]/g, 'r');
    expect(finishedBlocks(plain, 800)!.join('')).toBe(plain);
    // The settled blocks are those shown while it streamed; the last line is in the last block.
    const streamed = blocksToRender(text, 800);
    expect(blocks.slice(0, streamed.length - 1)).toEqual(streamed.slice(0, -1));
    expect(blocks[blocks.length - 1].endsWith('The end, with no line break after it.')).toBe(true);
  });

  it('counts the last line of the text, with or without a line break', () => {
    expect(finishedBlocks('a\n\n<details>', 0)).toBeNull();
    expect(finishedBlocks('a\n\n<details>\n', 0)).toBeNull();
    expect(finishedBlocks('a\n\nb', 0)).toEqual(['a\n\n', 'b']);
    expect(finishedBlocks('a\n\nb\n', 0)).toEqual(['a\n\n', 'b\n']);
    expect(finishedBlocks('', 0)).toEqual(['']);
  });

  it.each([
    ['an HTML block', 'a\n\n<details>\n<summary>s</summary>\n\nmore\n\n</details>\n'],
    ['an inline tag', 'press <kbd>Ctrl</kbd>\n'],
    ['a closing tag alone', 'a\n\n</div>\n'],
    ['a comment', 'a\n\n<!-- note -->\n'],
    ['a processing instruction', 'a <?php x ?>\n'],
    ['a declaration', 'a\n\n<!DOCTYPE html>\n'],
    ['text that looks like a tag (read loosely)', 'a<b c\n'],
    ['a tag in a fence opened on a list marker’s line (read loosely)', '- ```\n  <div>\n  ```\n']
  ])('is null for a text with raw HTML: %s', (_, text) => {
    expect(finishedBlocks(text, 0)).toBeNull();
  });

  it.each([
    ['in fenced code', 'a\n\n```html\n<div>\n```\n'],
    ['in a list item’s fenced code', '- item\n  ```\n  <div>\n  ```\n'],
    ['in a code span', 'use `<div>` here\n'],
    ['in display math', 'a\n\n$$\nx<y\n$$\n'],
    ['an autolink', 'see <https://example.org>\n'],
    ['a comparison', 'x < y and 2<3\n']
  ])('is not null for a `<` that is not HTML: %s', (_, text) => {
    expect(finishedBlocks(text, 0)).not.toBeNull();
  });
});

describe('blocksOfEnded', () => {
  it('keeps the blocks of a long answer: each rendered alone gives the whole text’s HTML', async () => {
    const text = answer(20);
    const blocks = await blocksOfEnded(text, 800, PARSER);
    expect(blocks.length).toBeGreaterThan(3);
    expect(blocks).toEqual(finishedBlocks(text, 800));
    const pieces = await Promise.all(blocks.map(block => PARSER.render(block)));
    expect(pieces.join('')).toBe(await PARSER.render(text));
  });

  it('renders whole a text whose blocks render otherwise than the whole', async () => {
    // The same heading twice: the whole text numbers the second one's id, blocks alone do not.
    const filler = 'Some prose to fill a block. '.repeat(40);
    const headings = `## Notes\n\n${filler}\n\n## Notes\n\n${filler}\n`;
    expect(finishedBlocks(headings, 800)!.length).toBeGreaterThan(1);
    expect(await blocksOfEnded(headings, 800, PARSER)).toEqual([headings]);
    // A definition whose title is on the next line (blocks.ts reads its first line only).
    const titled = `${filler}\n\n[x]\n\n${filler}\n\n[x]: /u\n"title"\n`;
    expect(finishedBlocks(titled, 0)!.length).toBeGreaterThan(1);
    expect(await blocksOfEnded(titled, 0, PARSER)).toEqual([titled]);
  });

  it('renders whole a text with raw HTML, one block, or with no parser', async () => {
    const filler = 'Some prose to fill a block. '.repeat(40);
    const details = `<details>\n<summary>More</summary>\n\n${filler}\n\n${filler}\n\n</details>\n`;
    expect(await blocksOfEnded(details, 0, PARSER)).toEqual([details]);
    expect(await blocksOfEnded('one paragraph', 0, PARSER)).toEqual(['one paragraph']);
    const text = answer(3);
    expect(await blocksOfEnded(text, 0, null)).toEqual([text]);
  });

  it('rejects as the parser does', async () => {
    const failing = { render: () => Promise.reject(new Error('no parser today')) };
    await expect(blocksOfEnded(answer(3), 0, failing)).rejects.toThrow('no parser today');
  });
});
