/**
 * Streaming markdown cut into blocks, so that a view rendering a response as it streams
 * renders only the block still growing instead of the whole text at every render. No DOM.
 *
 * A cut goes before a line that starts a new top-level block once the text before it is
 * settled: after a blank line, outside a fenced code block and outside display math (`$$`,
 * `\begin{…}`), at a line that is complete (ends with a newline), not indented (that would
 * continue a list item or be indented code) and not the next item of a list (a list with
 * blank lines between its items stays one list). The blocks joined are the source, exactly.
 *
 * This decides only where blocks begin; each block is still rendered by rendermime's markdown
 * renderer, and a view renders the finished response whole. What can differ while streaming:
 * a link reference defined in a later block, and an HTML block with blank lines inside.
 */

/** An opening or closing code fence: three or more backticks or tildes (CommonMark). */
const FENCE = /^ *(`{3,}|~{3,})(.*)$/;
const LIST_ITEM = /^(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)/;

/**
 * `source` cut into blocks: every block but the last is settled (text appended to `source`
 * leaves it as it is); the last holds the rest. One block when there is no cut. Given a
 * `minLength`, a block is at least that many characters and an eighth of the text before it
 * (it takes in the next ones until it is): a text of many short paragraphs gives a few
 * blocks to render, not one per paragraph, and a long one a few dozen (about
 * 8 ln(length / minLength)), not thousands.
 */
export function markdownBlocks(source: string, minLength = 0): string[] {
  const blocks: string[] = [];
  let blockStart = 0;
  /** The open fence's character and length, or null. */
  let fence: { char: string; length: number } | null = null;
  let displayMath = false;
  let environments = 0;
  let afterBlank = false;
  /** The last top-level block is a list (a list item next continues it). */
  let list = false;
  /** The block so far has a line that is not blank. */
  let content = false;
  let start = 0;
  while (start < source.length) {
    const newline = source.indexOf('\n', start);
    if (newline < 0) {
      break; // the last line, still growing: never the start of a settled block
    }
    const line = source.slice(start, newline).replace(/\r$/, '');
    const blank = line.trim() === '';
    const fenceMatch = FENCE.exec(line);
    if (fence !== null) {
      if (
        fenceMatch &&
        fenceMatch[1][0] === fence.char &&
        fenceMatch[1].length >= fence.length &&
        !fenceMatch[2].trim()
      ) {
        fence = null;
      }
    } else {
      if (
        afterBlank &&
        content &&
        start - blockStart >= (minLength > 0 ? Math.max(minLength, blockStart / 8) : 0) &&
        !blank &&
        !displayMath &&
        environments === 0 &&
        !/^[ \t]/.test(line) &&
        !(list && LIST_ITEM.test(line))
      ) {
        blocks.push(source.slice(blockStart, start));
        blockStart = start;
      }
      content ||= !blank;
      if (!blank && !/^[ \t]/.test(line)) {
        // A list goes on at its next item, or at a line that continues an item's paragraph.
        list = LIST_ITEM.test(line) || (list && !afterBlank);
      }
      if (fenceMatch && !(fenceMatch[1][0] === '`' && fenceMatch[2].includes('`'))) {
        fence = { char: fenceMatch[1][0], length: fenceMatch[1].length };
      } else {
        displayMath = (line.split('$$').length - 1) % 2 === 1 ? !displayMath : displayMath;
        const begins = line.split('\\begin{').length - 1;
        const ends = line.split('\\end{').length - 1;
        environments = Math.max(0, environments + begins - ends);
      }
    }
    afterBlank = blank && fence === null;
    start = newline + 1;
  }
  blocks.push(source.slice(blockStart));
  return blocks;
}
