/**
 * A markdown response to notebook cells.
 *
 * Fence policy (for the README):
 * - Prose between fenced blocks becomes markdown cells (blank lines around them trimmed,
 *   whitespace-only cells dropped); headings, lists, tables stay as written.
 * - A fenced block in the kernel's language (its first info-string word, case-insensitive,
 *   with aliases: `py`, `python3`, `ipython`… for python, plus the caller's) becomes a code
 *   cell holding the block's content without its fence lines.
 * - A fenced block without a language becomes a code cell (option `untaggedAsCode`,
 *   default true) — models often omit the tag on the very code the user asked for.
 * - A fenced block in any other language (bash, json, sql, text, output, a ````markdown
 *   block nesting ``` fences…) stays readable: it is kept verbatim, fences included, in the
 *   markdown cell of the prose around it. It is never turned into code: a `bash` block in
 *   a python notebook does not become a `!`-prefixed cell, because inserting a cell never
 *   runs it but a user may run it without reading it.
 * - A block never closed (a stream stopped mid-code) runs to the end of the response, as
 *   in CommonMark, and the result carries a warning.
 * - Fences follow CommonMark: ``` or ~~~, 3+ characters, indented 0–3 spaces (removed from
 *   the content lines); the closing fence uses the same character, at least as many, and
 *   nothing else; a backtick fence's info string has no backtick (so ```x``` is inline code).
 * - Nothing else in a cell changes: line endings become `\n`, and only the fence lines and
 *   the indentation CommonMark strips are removed.
 */
import { fencedBlockAt, FencedBlock, splitLines } from './fences';
import { ParsedCell, ParseOptions, ParseResult } from './types';

/** Fence languages that mean a kernel language, besides the language's own name. */
const BUILTIN_ALIASES: Record<string, string[]> = {
  python: ['py', 'py3', 'python3', 'ipython', 'ipython3'],
  r: ['rscript'],
  julia: ['jl'],
  javascript: ['js', 'node'],
  typescript: ['ts']
};

/** The lowercase fence languages that mean the kernel's language. */
function kernelLanguages(options: ParseOptions): Set<string> {
  const language = options.language.toLowerCase();
  const aliases = [...(BUILTIN_ALIASES[language] ?? []), ...(options.languageAliases ?? [])];
  return new Set([language, ...aliases.map(alias => alias.toLowerCase())]);
}

/** Whether a fence with `language` ('' when untagged) becomes a code cell. */
function isCodeFence(language: string, kernel: Set<string>, untaggedAsCode: boolean): boolean {
  return language === '' ? untaggedAsCode : kernel.has(language.toLowerCase());
}

function isBlank(line: string): boolean {
  return /^[ \t]*$/.test(line);
}

/** `lines` without the blank lines at their start and end. */
function trimBlankLines(lines: string[]): string[] {
  let start = 0;
  let end = lines.length;
  while (start < end && isBlank(lines[start])) {
    start++;
  }
  while (end > start && isBlank(lines[end - 1])) {
    end--;
  }
  return lines.slice(start, end);
}

function unclosedWarning(block: FencedBlock, lines: string[]): string {
  const opening = lines[block.start].trim();
  return `The code block opened at line ${block.start + 1} (${opening}) is never closed; the response may have been cut off.`;
}

/**
 * Turn a markdown response into cells: prose to markdown cells, fenced code in the kernel's
 * language (or untagged) to code cells, other fences kept verbatim in the markdown.
 * Empty text gives no cells and a warning.
 *
 * @example parseResponse('Try:\n```py\nprint(1)\n```', { language: 'python' })
 * // { cells: [{ type: 'markdown', source: 'Try:' },
 * //           { type: 'code', source: 'print(1)', language: 'py' }], warnings: [] }
 */
export function parseResponse(text: string, options: ParseOptions): ParseResult {
  const kernel = kernelLanguages(options);
  const untaggedAsCode = options.untaggedAsCode ?? true;
  const lines = splitLines(text);
  const cells: ParsedCell[] = [];
  const warnings: string[] = [];
  let prose: string[] = [];

  const flushProse = (): void => {
    const trimmed = trimBlankLines(prose);
    if (trimmed.length > 0) {
      cells.push({ type: 'markdown', source: trimmed.join('\n') });
    }
    prose = [];
  };

  let i = 0;
  while (i < lines.length) {
    const block = fencedBlockAt(lines, i);
    if (block === null) {
      prose.push(lines[i]);
      i++;
      continue;
    }
    const closed = block.end < lines.length;
    if (!closed) {
      warnings.push(unclosedWarning(block, lines));
    }
    const next = closed ? block.end + 1 : lines.length;
    if (isCodeFence(block.fence.language, kernel, untaggedAsCode)) {
      flushProse();
      const source = block.content.join('\n');
      if (source.trim() !== '') {
        const cell: ParsedCell = { type: 'code', source };
        if (block.fence.language !== '') {
          cell.language = block.fence.language;
        }
        cells.push(cell);
      }
    } else {
      prose.push(...lines.slice(i, next));
    }
    i = next;
  }
  flushProse();

  if (cells.length === 0 && warnings.length === 0) {
    warnings.push(text.trim() === '' ? 'The response is empty.' : 'The response has no content to turn into cells.');
  }
  return { cells, warnings };
}
