/**
 * A response that has ended, after the view showed it streaming as blocks: whether its blocks
 * can stay, or the whole text must be rendered again. No DOM.
 */
import type { IRenderMime } from '@jupyterlab/rendermime';
// (Its math splitter alone, which has no DOM: what rendermime's markdown renderer runs first.)
import { removeMath, replaceMath } from '@jupyterlab/rendermime/lib/latex';

import { finishedBlocks } from './blocks';

/**
 * How to render `source`, a response that has ended, that a view showed as it streamed in the
 * blocks of {@link blocksToRender} (with the same `minLength`): those blocks (of
 * {@link finishedBlocks}), when the browser builds from them what it builds from the whole
 * text, so the blocks the view shows keep their DOM and only the ones that changed render again;
 * else the whole text, one block, as a notebook's markdown cell renders it. That is so when:
 * - rendering each block on its own gives the HTML that rendering the whole text gives
 *   (JupyterLab's `parser`, math taken out first as rendermime does), and
 * - each block's HTML closes every element it opens ({@link closesWhatItOpens}): the browser
 *   reads HTML across the blocks' edges, and an unclosed `<details>` or `<div>` in raw HTML
 *   would hold the blocks after it in the whole text.
 *
 * The check parses the text twice (whole, and block by block) and stops at the first block
 * that differs: about 3 times `marked.parse` of the text in all (7 ms at 10 KB, 20 ms at 60 KB,
 * 100 ms at 250 KB, timed under jest). Before each parse, once {@link SLICE_MS} have passed
 * since it last did, it lets the page work (typing, frames): none of its tasks is longer than
 * one parse plus {@link SLICE_MS}, and the longest parse is that of the whole text, about a third
 * of the total.
 *
 * Once `signal` is aborted (the view shows another text), it parses no more and gives the whole
 * text. Rejects only if the parser does (then rendering the text would fail too).
 */
export async function blocksOfEnded(
  source: string,
  minLength: number,
  parser: IRenderMime.IMarkdownParser | null,
  signal?: AbortSignal
): Promise<string[]> {
  const blocks = finishedBlocks(source, minLength);
  if (blocks.length < 2 || parser === null) {
    return [source];
  }
  const html = async (text: string): Promise<string> => {
    const parts = removeMath(text);
    return replaceMath(await parser.render(parts.text), parts.math);
  };
  let slice = performance.now();
  /** `text`'s HTML, or null once `signal` is aborted (checked after each pause). */
  const parse = async (text: string): Promise<string | null> => {
    if (performance.now() - slice > SLICE_MS) {
      await new Promise(resolve => setTimeout(resolve, 0));
      slice = performance.now();
    }
    return signal?.aborted ? null : html(text);
  };
  const whole = await parse(source);
  if (whole === null) {
    return [source];
  }
  let at = 0;
  for (const block of blocks) {
    const piece = await parse(block);
    if (piece === null || !whole.startsWith(piece, at) || !closesWhatItOpens(piece)) {
      return [source];
    }
    at += piece.length;
  }
  return at === whole.length ? blocks : [source];
}

/** The longest the check of {@link blocksOfEnded} runs before it lets the page do other work. */
export const SLICE_MS = 8;

/**
 * A tag (group 1 `/` for a closing one, group 2 its name), or a comment (no group): up to the
 * next `<` or `>`, so that each character is read once. (A tag with a `<` in an attribute's
 * value is read as text and what follows as a tag: never closed, or closing what is not open.)
 */
const TAG = /<!--[\s\S]*?(?:-->|$)|<(\/?)([a-z][a-z\d:-]*)(?=[\s/>])[^<>]*>/gi;

/** Elements with no content and no closing tag. */
const VOID = new Set([
  'area',
  'base',
  'br',
  'col',
  'embed',
  'hr',
  'img',
  'input',
  'link',
  'meta',
  'param',
  'source',
  'track',
  'wbr'
]);

/**
 * `html` closes every element it opens, in order, and no other: what it opens holds nothing
 * after it. Read strictly: `<div/>` opens a `div` (only void elements close themselves), an
 * element the browser would close itself (an `<li>` before `</ul>`) counts as not closed, and
 * the text of a `<script>` or `<pre>` is read as tags too. Where this is wrong, it says no.
 */
export function closesWhatItOpens(html: string): boolean {
  const open: string[] = [];
  TAG.lastIndex = 0;
  for (let tag = TAG.exec(html); tag !== null; tag = TAG.exec(html)) {
    const name = tag[2]?.toLowerCase();
    if (name === undefined || VOID.has(name)) {
      continue; // a comment, or a void element
    }
    if (tag[1] !== '/') {
      open.push(name);
    } else if (open.pop() !== name) {
      return false;
    }
  }
  return open.length === 0;
}
