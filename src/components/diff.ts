/** The pure logic of the compare view's diffs and copies (tested without a DOM). */
import { diffWordsWithSpace } from 'diff';

import { isParseFailure, parseOne } from '../parse';

/** A run of text the word diff shows: unchanged, only in `after` (added), or only in `before` (removed). */
export interface IDiffSegment {
  kind: 'same' | 'added' | 'removed';
  text: string;
}

/** Which diff the compare view shows. */
export type DiffMode = 'line' | 'word';

/**
 * A word-level diff of `before` → `after` (whitespace kept, so joining the `same` and `removed`
 * segments gives `before` back, and the `same` and `added` ones give `after`). Adjacent segments of
 * one kind are merged.
 */
export function wordDiffSegments(before: string, after: string): IDiffSegment[] {
  const segments: IDiffSegment[] = [];
  for (const part of diffWordsWithSpace(before, after)) {
    const kind = part.added ? 'added' : part.removed ? 'removed' : 'same';
    const last = segments[segments.length - 1];
    if (last && last.kind === kind) {
      last.text += part.value;
    } else if (part.value) {
      segments.push({ kind, text: part.value });
    }
  }
  return segments;
}

/** The two sides a diff starts with: the two responses on screen (side by side), else the first two. */
export function defaultDiffSides(shown: readonly string[], all: readonly string[]): [string, string] {
  const pick = shown.filter(id => all.includes(id));
  const rest = all.filter(id => !pick.includes(id));
  const [a = '', b = ''] = [...pick, ...rest];
  return [a, b];
}

/**
 * The text Copy puts on the clipboard: the whole response, or the source of parsed cell `cell`
 * (0-based, as `fanout:insert`'s `cell`). Throws a specific error for a cell that does not exist
 * or a response that cannot be parsed.
 */
export function copyTextOf(
  content: string,
  cell: number | undefined,
  options: { language: string; structured?: boolean }
): string {
  if (cell === undefined) {
    return content;
  }
  if (!Number.isInteger(cell) || cell < 0) {
    throw new Error(`Copy: "cell" must be a whole number from 0, not ${JSON.stringify(cell)}.`);
  }
  const result = parseOne(content, options);
  if (isParseFailure(result)) {
    throw new Error(`Copy: this response could not be parsed into cells: ${result.error}`);
  }
  if (cell >= result.cells.length) {
    throw new Error(`Copy: there is no cell ${cell}; this response has ${result.cells.length} cell(s) (from 0).`);
  }
  return result.cells[cell].source;
}
