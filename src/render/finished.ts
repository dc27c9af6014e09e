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
 * blocks of {@link blocksToRender} (with the same `minLength`): those blocks, when rendering
 * each on its own gives the HTML that rendering the whole text gives (JupyterLab's `parser`, math
 * taken out first as rendermime does), so the blocks the view shows keep their DOM and only the
 * ones that changed render again; else the whole text, one block, as a notebook's markdown cell
 * renders it. A text with raw HTML is rendered whole ({@link finishedBlocks}): the browser reads
 * HTML across the blocks' edges. Rejects only if the parser does (then rendering the text would
 * fail too).
 */
export async function blocksOfEnded(
  source: string,
  minLength: number,
  parser: IRenderMime.IMarkdownParser | null
): Promise<string[]> {
  const blocks = finishedBlocks(source, minLength);
  if (blocks === null || blocks.length < 2 || parser === null) {
    return [source];
  }
  const html = async (text: string): Promise<string> => {
    const parts = removeMath(text);
    return replaceMath(await parser.render(parts.text), parts.math);
  };
  const [whole, ...pieces] = await Promise.all([source, ...blocks].map(html));
  return pieces.join('') === whole ? blocks : [source];
}
