/**
 * Streaming markdown cut into blocks, so that a view rendering a response as it streams
 * renders only the block still growing instead of the whole text at every render. No DOM.
 *
 * A cut goes before a line that starts a new top-level block once the text before it is
 * settled: after a blank line, outside a fenced code block and outside display math (`$$`,
 * `\begin{…}`), at a line that is complete (ends with a line break), not indented (that would
 * continue a list item or be indented code) and not the next item of a list (a list with
 * blank lines between its items stays one list). The blocks joined are the source, exactly.
 *
 * Fences are read two ways, and a cut needs both to say no fence is open: as marked (the
 * parser of JupyterLab's markdown) reads a top-level fence, and loosely (a fence after any
 * indentation, list marker or `>`: a fence inside a list item or a quote). Where the two
 * disagree there is no cut until they agree again: a fence nested in a container costs
 * blocks, never a cut inside code.
 *
 * This decides only where blocks begin; each block is still rendered by rendermime's markdown
 * renderer, and a view renders the finished response whole. What can differ while streaming:
 * a link reference defined in a later block, and an HTML block with blank lines inside.
 */

/** An open fence: the run of backticks or tildes that opened it. */
interface IFence {
  run: string;
}

/** Up to three spaces and a run of three or more backticks or tildes: a top-level fence (marked). */
const STRICT_FENCE = /^ {0,3}(`{3,}|~{3,})/;
/** Indentation, list markers and `>` before a fence inside a container. */
const CONTAINER_PREFIX = /^[ \t>]*(?:(?:[-*+]|\d{1,9}[.)])[ \t]+[ \t>]*)*/;
const FENCE_RUN = /^(`{3,}|~{3,})/;
const LIST_ITEM = /^(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)/;
/** A line break: what marked reads as one (it reads a lone CR as one too). */
const LINE_BREAK = /\r\n|\r|\n/g;

/**
 * The state of one reading after `line`: `fence` open before it; `match`, the fence run it
 * starts with in this reading (and where), or null.
 */
function nextFence(fence: IFence | null, line: string, match: { run: string; at: number } | null): IFence | null {
  if (match === null) {
    return fence;
  }
  const rest = line.slice(match.at + match.run.length);
  if (fence !== null) {
    // Closed by the run that opened it, then backticks or tildes, then spaces (marked).
    const closes = match.run.startsWith(fence.run) && /^[~`]* *$/.test(rest);
    return closes ? null : fence;
  }
  // A backtick run whose info string holds a backtick is not a fence (a run of inline code).
  return match.run[0] === '`' && rest.includes('`') ? null : { run: match.run };
}

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
  /** The fence open as marked reads the text, and as read loosely (see above). */
  let strict: IFence | null = null;
  let loose: IFence | null = null;
  let displayMath = false;
  let environments = 0;
  let afterBlank = false;
  /** The last top-level block is a list (a list item next continues it). */
  let list = false;
  /** The block so far has a line that is not blank. */
  let content = false;
  let start = 0;
  LINE_BREAK.lastIndex = 0;
  for (let found = LINE_BREAK.exec(source); found !== null; found = LINE_BREAK.exec(source)) {
    if (found[0] === '\r' && found.index === source.length - 1) {
      break; // a CR at the end may be the start of a CRLF: the line is not complete yet
    }
    const line = source.slice(start, found.index);
    const blank = /^[ \t]*$/.test(line);
    const outside = strict === null && loose === null;
    if (
      outside &&
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
    if (outside) {
      content ||= !blank;
      if (!blank && !/^[ \t]/.test(line)) {
        // A list goes on at its next item, or at a line that continues an item's paragraph.
        list = LIST_ITEM.test(line) || (list && !afterBlank);
      }
    }
    const strictRun = STRICT_FENCE.exec(line);
    const prefix = CONTAINER_PREFIX.exec(line)![0].length;
    const looseRun = FENCE_RUN.exec(line.slice(prefix));
    strict = nextFence(strict, line, strictRun && { run: strictRun[1], at: strictRun[0].length - strictRun[1].length });
    loose = nextFence(loose, line, looseRun && { run: looseRun[1], at: prefix });
    if (outside && strict === null && loose === null) {
      // Display math counts outside code only.
      displayMath = (line.split('$$').length - 1) % 2 === 1 ? !displayMath : displayMath;
      const begins = line.split('\\begin{').length - 1;
      const ends = line.split('\\end{').length - 1;
      environments = Math.max(0, environments + begins - ends);
    }
    afterBlank = blank && strict === null && loose === null;
    start = found.index + found[0].length;
  }
  blocks.push(source.slice(blockStart));
  return blocks;
}
