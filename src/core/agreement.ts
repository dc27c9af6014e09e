/**
 * Agreement (self-consistency): a batch's responses grouped by their final answer, the counts
 * and the majority. Pure and DOM-free: the command `fanout:agreement` and the sidebar's
 * Agreement section both call {@link agreement}.
 *
 * The final answer of a response is read from its text by one of:
 * - `last-line` (default): its last non-empty line;
 * - `regex`: a regular expression (JavaScript syntax, applied with the flags `g` and `m`, so
 *   `^` and `$` match at line ends): the first capture group of its **last** match (the whole
 *   match when the pattern has no group);
 * - `json`: a field of the text read as JSON (the whole text, or the last ```-fenced block),
 *   by a path like `answer` or `result.label` (`items.0.id` indexes a list).
 *
 * Answers are compared after a light normalisation ({@link normaliseAnswer}): surrounding
 * space, Markdown emphasis and quotes trimmed, case ignored, one trailing period dropped, and
 * numbers compared by value (`3.0` = `3`, `1,000` = `1000`). A group shows the answer as the
 * first response of it wrote it, tidied (the same marks and period removed, case kept).
 *
 * A response with no readable answer (still streaming, failed, stopped, cut off, no text, no
 * match, not JSON, no such field) is in `unreadable` with why; it is in no group.
 */
import type { ResponseSnapshot } from './types';

/** How the final answer is read from a response's text. */
export type AgreementMethod = 'last-line' | 'regex' | 'json';

export const AGREEMENT_METHODS: ReadonlyArray<AgreementMethod> = ['last-line', 'regex', 'json'];

/** What to group by: `pattern` for `regex`, `field` for `json`. */
export interface IAgreementOptions {
  by: AgreementMethod;
  pattern?: string;
  field?: string;
}

/** One response as agreement reads it: its id, its 1-based number and the state shown. */
export interface IAgreementInput {
  responseId: string;
  index: number;
  snapshot: Pick<ResponseSnapshot, 'status' | 'content' | 'finishReason'>;
}

/** Responses that gave the same answer (after normalisation). */
export interface IAgreementGroup {
  /** The answer as the first response of the group wrote it, tidied ({@link tidyAnswer}). */
  answer: string;
  /** The normalised form the responses were compared by. */
  key: string;
  count: number;
  /** The responses' ids, in the batch's order. */
  responseIds: string[];
  /** Their 1-based numbers, in the same order. */
  indexes: number[];
}

/** A response with no readable final answer, and why. */
export interface IUnreadable {
  responseId: string;
  index: number;
  why: string;
}

/** The largest group; `answer` null when several groups share the largest count (`tied`). */
export interface IMajority {
  answer: string | null;
  count: number;
  /** Responses with a readable answer (the groups' counts summed). */
  total: number;
  /** The answers sharing the largest count when there is a tie (two or more), else empty. */
  tied: string[];
}

/** What `fanout:agreement` resolves with. */
export interface IAgreementResult {
  by: AgreementMethod;
  /** Largest first; equal counts in the order of their first response. */
  groups: IAgreementGroup[];
  /** Null when no response has a readable answer. */
  majority: IMajority | null;
  unreadable: IUnreadable[];
  /** How answers were normalised before being compared (said to the user). */
  normalisation: string;
}

/** Bad options: an unknown method, a missing or invalid pattern, a bad field path. */
export class AgreementError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgreementError';
  }
}

export const NORMALISATION =
  'Answers are compared with surrounding space, **emphasis** and quotes trimmed, case ignored, a trailing period dropped, and numbers by value (3.0 = 3, 1,000 = 1000).';

/** Longest answer kept for display (a last line can be a whole paragraph). */
const MAX_ANSWER = 200;

const NUMBER = /^[-+]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?([eE][-+]?\d+)?$|^[-+]?\.\d+$/;

/** Marks around a whole answer that are trimmed (longest first). */
const WRAPPERS: ReadonlyArray<[string, string]> = [
  ['**', '**'],
  ['__', '__'],
  ['*', '*'],
  ['_', '_'],
  ['`', '`'],
  ['"', '"'],
  ["'", "'"],
  ['“', '”'],
  ['‘', '’']
];

/**
 * An answer as shown: surrounding space, Markdown emphasis, inline code and quotes around the
 * whole of it and one trailing period removed, inner runs of space made one (case kept).
 */
export function tidyAnswer(answer: string): string {
  let text = answer.trim();
  // Markdown emphasis, inline code and quotes around the whole answer: **42**, `42`, "42".
  for (let again = true; again;) {
    again = false;
    for (const [open, close] of WRAPPERS) {
      if (text.length > open.length + close.length && text.startsWith(open) && text.endsWith(close)) {
        text = text.slice(open.length, text.length - close.length).trim();
        again = true;
        break;
      }
    }
  }
  return text.replace(/\.$/, '').trim().replace(/\s+/g, ' ');
}

/** See the module comment: the form answers are compared by ({@link tidyAnswer}, then case and numbers). */
export function normaliseAnswer(answer: string): string {
  const text = tidyAnswer(answer);
  if (NUMBER.test(text)) {
    const value = Number(text.replace(/,/g, ''));
    if (Number.isFinite(value)) {
      return String(value);
    }
  }
  return text.toLowerCase();
}

/** The options of `fanout:agreement`, checked: a specific error for each thing wrong. */
export function checkAgreementOptions(options: {
  by?: unknown;
  pattern?: unknown;
  field?: unknown;
}): IAgreementOptions & { regex?: RegExp; path?: string[] } {
  const by = options.by ?? 'last-line';
  if (typeof by !== 'string' || !(AGREEMENT_METHODS as ReadonlyArray<string>).includes(by)) {
    throw new AgreementError(
      `Agreement: "by" must be one of ${AGREEMENT_METHODS.join(', ')}, not ${JSON.stringify(by)}.`
    );
  }
  if (by === 'regex') {
    if (typeof options.pattern !== 'string' || options.pattern === '') {
      throw new AgreementError('Agreement by regex needs a "pattern" (a regular expression).');
    }
    let regex: RegExp;
    try {
      regex = new RegExp(options.pattern, 'gm');
    } catch (error) {
      throw new AgreementError(`Agreement: the pattern is not a valid regular expression: ${(error as Error).message}`);
    }
    if (regex.test('')) {
      throw new AgreementError(
        'Agreement: the pattern matches the empty text; it would find an empty answer anywhere.'
      );
    }
    return { by, pattern: options.pattern, regex };
  }
  if (by === 'json') {
    if (typeof options.field !== 'string' || options.field.trim() === '') {
      throw new AgreementError('Agreement by json needs a "field" (a path like answer or result.label).');
    }
    const path = options.field.trim().split('.');
    if (path.some(part => part === '')) {
      throw new AgreementError(`Agreement: the field ${JSON.stringify(options.field)} has an empty part.`);
    }
    return { by, field: options.field.trim(), path };
  }
  return { by: 'last-line' };
}

type Read = { answer: string } | { why: string };

function lastLine(text: string): Read {
  const lines = text.split(/\r?\n/).map(line => line.trim());
  for (let i = lines.length - 1; i >= 0; i--) {
    // A closing fence is not an answer.
    if (lines[i] && !/^(```|~~~)\s*$/.test(lines[i])) {
      return { answer: lines[i] };
    }
  }
  return { why: 'no text' };
}

function byRegex(text: string, regex: RegExp): Read {
  let last: RegExpExecArray | null = null;
  regex.lastIndex = 0;
  for (let match = regex.exec(text); match !== null; match = regex.exec(text)) {
    last = match;
    if (match[0] === '') {
      regex.lastIndex++; // An empty match elsewhere: step on.
    }
  }
  regex.lastIndex = 0;
  if (!last) {
    return { why: 'the pattern does not match' };
  }
  const answer = last.length > 1 ? last[1] : last[0];
  if (answer === undefined || answer.trim() === '') {
    return { why: 'the pattern matched, its first group is empty' };
  }
  return { answer: answer.trim() };
}

function parseJson(text: string): { value: unknown } | { why: string } {
  const trimmed = text.trim();
  if (!trimmed) {
    return { why: 'no text' };
  }
  const candidates = [trimmed];
  const fences = [...trimmed.matchAll(/```[^\n`]*\n([\s\S]*?)\n?```/g)];
  if (fences.length) {
    candidates.push(fences[fences.length - 1][1].trim());
  }
  let first = '';
  for (const candidate of candidates) {
    try {
      return { value: JSON.parse(candidate) };
    } catch (error) {
      first = first || (error as Error).message;
    }
  }
  return { why: `not JSON (${first})` };
}

function byJson(text: string, path: string[], field: string): Read {
  const parsed = parseJson(text);
  if ('why' in parsed) {
    return parsed;
  }
  let value: unknown = parsed.value;
  for (const part of path) {
    if (Array.isArray(value) && /^\d+$/.test(part) && Number(part) < value.length) {
      value = value[Number(part)];
    } else if (
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      Object.prototype.hasOwnProperty.call(value, part)
    ) {
      value = (value as Record<string, unknown>)[part];
    } else {
      return { why: `the JSON has no field ${field}` };
    }
  }
  if (value === null || value === undefined) {
    return { why: `the field ${field} is null` };
  }
  if (typeof value === 'string') {
    return value.trim() ? { answer: value.trim() } : { why: `the field ${field} is empty` };
  }
  if (typeof value === 'number' || typeof value === 'boolean') {
    return { answer: String(value) };
  }
  return { answer: JSON.stringify(value) };
}

/** Why a response's shown state has no final answer yet, or null when it has ended well. */
function notFinal(snapshot: IAgreementInput['snapshot']): string | null {
  switch (snapshot.status) {
    case 'complete':
      return snapshot.finishReason === 'length' ? 'cut off by max_tokens' : null;
    case 'error':
      return 'failed';
    case 'stopped':
      return 'stopped before its end';
    case 'incomplete':
      return 'incomplete';
    default:
      return 'still streaming';
  }
}

/** Group `responses` by their final answer (see the module comment). Throws {@link AgreementError} for bad options. */
export function agreement(responses: ReadonlyArray<IAgreementInput>, options: IAgreementOptions): IAgreementResult {
  const checked = checkAgreementOptions(options);
  const groups = new Map<string, IAgreementGroup>();
  const unreadable: IUnreadable[] = [];
  for (const { responseId, index, snapshot } of responses) {
    const why = notFinal(snapshot);
    if (why) {
      unreadable.push({ responseId, index, why });
      continue;
    }
    const text = snapshot.content;
    const read: Read =
      checked.by === 'regex'
        ? byRegex(text, checked.regex!)
        : checked.by === 'json'
          ? byJson(text, checked.path!, checked.field!)
          : lastLine(text);
    if ('why' in read) {
      unreadable.push({ responseId, index, why: read.why });
      continue;
    }
    const key = normaliseAnswer(read.answer);
    if (!key) {
      unreadable.push({ responseId, index, why: 'the answer is empty' });
      continue;
    }
    const group = groups.get(key);
    if (group) {
      group.count++;
      group.responseIds.push(responseId);
      group.indexes.push(index);
    } else {
      const tidy = tidyAnswer(read.answer);
      const answer = tidy.length > MAX_ANSWER ? `${tidy.slice(0, MAX_ANSWER - 1)}…` : tidy;
      groups.set(key, { answer, key, count: 1, responseIds: [responseId], indexes: [index] });
    }
  }
  // Stable sort: equal counts keep the order of their first response.
  const sorted = [...groups.values()].sort((a, b) => b.count - a.count);
  let majority: IMajority | null = null;
  if (sorted.length) {
    const top = sorted[0].count;
    const leaders = sorted.filter(g => g.count === top);
    const total = sorted.reduce((sum, g) => sum + g.count, 0);
    majority =
      leaders.length > 1
        ? { answer: null, count: top, total, tied: leaders.map(g => g.answer) }
        : { answer: leaders[0].answer, count: top, total, tied: [] };
  }
  return { by: checked.by, groups: sorted, majority, unreadable, normalisation: NORMALISATION };
}
