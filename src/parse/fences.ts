/**
 * CommonMark fenced code blocks, line by line (spec 0.31, section 4.5), for top-level
 * blocks: container blocks (lists, block quotes) are not interpreted, so a fence indented
 * 4+ spaces (e.g. inside a list item) is not a fence here and stays in its markdown.
 */

/** An opening code fence. */
export interface OpeningFence {
  /** Spaces before the fence (0–3); removed from the content lines, as CommonMark does. */
  indent: number;
  /** The fence character, backtick or tilde. */
  char: '`' | '~';
  /** How many fence characters (3+); the closing fence needs at least as many. */
  length: number;
  /** The first word of the info string, as written, or '' when there is none. */
  language: string;
}

/** A fenced block found in a list of lines. */
export interface FencedBlock {
  fence: OpeningFence;
  /** Index of the opening fence line. */
  start: number;
  /** Index of the closing fence line, or `lines.length` when the block is never closed. */
  end: number;
  /** The content lines with the fence's indentation removed. */
  content: string[];
}

const OPENING = /^( {0,3})(`{3,}|~{3,})(.*)$/;
const CLOSING = /^ {0,3}(`{3,}|~{3,})[ \t]*$/;

/** The lines of `text`; `\r\n`, `\r` and `\n` all end a line (CommonMark line endings). */
export function splitLines(text: string): string[] {
  return text.split(/\r\n|\r|\n/);
}

/**
 * The first word of an info string, as written; a Pandoc/Quarto attribute form
 * (`{python}`, `{.python}`) gives its inner name.
 */
function infoLanguage(info: string): string {
  const word = info.trim().split(/[ \t]/)[0];
  const braced = /^\{\.?([^\s{}]*)\}?$/.exec(word);
  return braced ? braced[1] : word;
}

/** The opening fence on `line`, or null. A backtick fence's info string may not contain a backtick. */
export function openingFence(line: string): OpeningFence | null {
  const match = OPENING.exec(line);
  if (!match) {
    return null;
  }
  const [, indent, run, info] = match;
  const char = run[0] as '`' | '~';
  if (char === '`' && info.includes('`')) {
    return null;
  }
  return { indent: indent.length, char, length: run.length, language: infoLanguage(info) };
}

/** Whether `line` closes `fence`: same character, at least as long, nothing after but spaces. */
function closesFence(line: string, fence: OpeningFence): boolean {
  const match = CLOSING.exec(line);
  return match !== null && match[1][0] === fence.char && match[1].length >= fence.length;
}

/** `line` without up to `indent` leading spaces. */
function stripIndent(line: string, indent: number): string {
  let i = 0;
  while (i < indent && line[i] === ' ') {
    i++;
  }
  return line.slice(i);
}

/** The fenced block opening at `lines[start]`, or null when that line is no opening fence. */
export function fencedBlockAt(lines: string[], start: number): FencedBlock | null {
  const fence = openingFence(lines[start]);
  if (fence === null) {
    return null;
  }
  let end = start + 1;
  while (end < lines.length && !closesFence(lines[end], fence)) {
    end++;
  }
  const content = lines.slice(start + 1, end).map(line => stripIndent(line, fence.indent));
  return { fence, start, end, content };
}
