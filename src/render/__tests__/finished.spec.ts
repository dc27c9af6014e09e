import { marked } from 'marked';
import type { IRenderMime } from '@jupyterlab/rendermime';

import { blocksToRender, finishedBlocks } from '../blocks';
import { blocksOfEnded, closesWhatItOpens, SLICE_MS } from '../finished';

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
    expect(finishedBlocks('a\n\nb', 0)).toEqual(['a\n\n', 'b']);
    expect(finishedBlocks('a\n\nb\n', 0)).toEqual(['a\n\n', 'b\n']);
    // (A definition on the last line, with no line break after it, is read.)
    expect(finishedBlocks('See [x].\n\n[x]: /u', 0)[0]).toBe('[x]: /u\n\nSee [x].\n\n');
    expect(finishedBlocks('', 0)).toEqual(['']);
  });
});

describe('closesWhatItOpens', () => {
  it.each([
    [
      'paragraphs, code, a table, a list',
      '<h2 id="a">A</h2>\n<p>x <code>&lt;div&gt;</code></p>\n<pre><code class="language-py"><span>1</span></code></pre>\n<table><thead><tr><th>a</th></tr></thead></table>\n<ul>\n<li><input checked="" disabled="" type="checkbox"> y</li>\n</ul>\n'
    ],
    ['void elements and comments', '<p>a<br>b<img src="x" alt="y"></p><hr><!-- <div> -->'],
    ['balanced raw HTML', '<p>Press <kbd>Ctrl</kbd>+<kbd>C</kbd></p>\n<details><summary>s</summary><p>x</p></details>'],
    ['nothing', '']
  ])('says yes: %s', (_, html) => {
    expect(closesWhatItOpens(html)).toBe(true);
  });

  it.each([
    ['an element left open', '<details>\n<summary>s</summary>\n'],
    ['a closing tag with nothing open', '<p>a</p></div>'],
    ['elements closed out of order', '<p><b>a</p></b>'],
    ['`<div/>` (it opens a div)', '<div/>'],
    ['an element the browser closes itself', '<ul><li>a</ul>'],
    ['a comment never closed, after an open tag', '<div><!-- </div>']
  ])('says no: %s', (_, html) => {
    expect(closesWhatItOpens(html)).toBe(false);
  });

  it('reads hostile HTML in linear time', () => {
    const n = 100000;
    for (const html of ['<a '.repeat(n), '<!--'.repeat(n), '<' + 'a'.repeat(n), '<div ' + 'x="y" '.repeat(n / 6)]) {
      const started = Date.now();
      closesWhatItOpens(html);
      expect([html.slice(0, 8), Date.now() - started < 300]).toEqual([html.slice(0, 8), true]);
    }
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

  it('keeps the blocks of a text with raw HTML each block closes (an inline <kbd>)', async () => {
    const filler = 'Some prose to fill a block. '.repeat(40);
    const text = `Press <kbd>Ctrl</kbd>+<kbd>C</kbd>. ${filler}\n\n<details>\n<summary>s</summary>\nx\n</details>\n\n${filler}\n`;
    const blocks = await blocksOfEnded(text, 0, PARSER);
    expect(blocks.length).toBeGreaterThan(1);
    expect(blocks.join('')).toBe(text);
  });

  it.each([
    // (An open <details> or <div/> the splitter sees holds its cuts: blocks.spec.ts.) Found by a
    // review: raw HTML the splitter cannot see, each hiding an open <div> or <details>.
    [
      'a code span over two lines',
      'In Markdown a backtick (`) starts code.\nFor example `<div>` is a tag.\n\nNext paragraph.\n'
    ],
    ['display math never closed', '$$\n<div>\n\nnext\n'],
    ['an escaped dollar before $', 'Price: \\$$\n<div>\n\nnext\n'],
    ['an environment rendermime does not take out', '\\begin{my-env}\n<details>\n\nnext\n'],
    ['a blank line in display math', '$$\nx\n\ny\n$$\nsee <details>\n\nnext\n'],
    ["a rule that ends a list item's fence", '- item\n  ```\n  code\n---\nsee <details>\n\nnext\n']
  ])('renders whole a text whose HTML leaves an element open across blocks: %s', async (_, text) => {
    expect(finishedBlocks(text, 0).length).toBeGreaterThan(1);
    expect(await blocksOfEnded(text, 0, PARSER)).toEqual([text]);
  });

  it('renders whole a text of one block, or with no parser', async () => {
    expect(await blocksOfEnded('one paragraph', 0, PARSER)).toEqual(['one paragraph']);
    const text = answer(3);
    expect(await blocksOfEnded(text, 0, null)).toEqual([text]);
  });

  it('stops parsing at the first block that differs', async () => {
    const filler = 'Some prose to fill a block. '.repeat(40);
    const text = `## Notes\n\n${filler}\n\n## Notes\n\n${filler}\n\n${filler}\n\n${filler}\n\n${filler}\n`;
    expect(finishedBlocks(text, 800).length).toBeGreaterThan(4);
    let parses = 0;
    const counting = { render: (part: string) => (parses++, PARSER.render(part)) };
    expect(await blocksOfEnded(text, 800, counting)).toEqual([text]);
    expect(parses).toBe(3); // the whole, the first block (the same), the second (not)
  });

  it('lets the page work between its parses: a long text is not one long task', async () => {
    const text = answer(20);
    const blocks = finishedBlocks(text, 800);
    // A parser that takes SLICE_MS / 2 a call: the check lets other work in at least every
    // other call (a timer that runs only when it does).
    const slow = {
      render: (part: string) => {
        for (const end = performance.now() + SLICE_MS / 2; performance.now() < end;) {
          // busy, as a parse is
        }
        return PARSER.render(part);
      }
    };
    let between = 0;
    const timer = setInterval(() => between++, 0);
    try {
      expect(await blocksOfEnded(text, 800, slow)).toEqual(blocks);
    } finally {
      clearInterval(timer);
    }
    expect(between).toBeGreaterThanOrEqual(Math.floor((blocks.length + 1) / 2) - 1);
  });

  it('parses no more once the view shows another text', async () => {
    const text = answer(20);
    const stale = new AbortController();
    let parses = 0;
    const counting = {
      render: (part: string) => {
        if (++parses === 2) {
          stale.abort(); // (during the first block's parse)
        }
        return PARSER.render(part);
      }
    };
    expect(await blocksOfEnded(text, 800, counting, stale.signal)).toEqual([text]);
    expect(parses).toBe(2);
  });

  it('parses no more once aborted while it lets the page work (as a view does, from its own task)', async () => {
    const text = answer(20);
    expect(finishedBlocks(text, 800).length).toBeGreaterThan(4);
    const stale = new AbortController();
    let parses = 0;
    const slow = {
      render: (part: string) => {
        parses++;
        for (const end = performance.now() + SLICE_MS + 1; performance.now() < end;) {
          // busy, as a parse is: the check pauses before each next one
        }
        return PARSER.render(part);
      }
    };
    setTimeout(() => stale.abort(), 0); // runs in the check's first pause
    expect(await blocksOfEnded(text, 800, slow, stale.signal)).toEqual([text]);
    expect(parses).toBe(1);
  });

  it('rejects as the parser does', async () => {
    const failing = { render: () => Promise.reject(new Error('no parser today')) };
    await expect(blocksOfEnded(answer(3), 0, failing)).rejects.toThrow('no parser today');
  });
});
