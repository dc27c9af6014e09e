/**
 * Fixes for the JSON mistakes models make, applied in one string-aware pass and only to
 * text that `JSON.parse` has already rejected (valid JSON is never altered, case 017).
 *
 * Quirk rules (for the README) — each fix acts only where the text cannot mean anything
 * else in JSON:
 * - Trailing comma: a `,` outside strings followed only by whitespace and `]` or `}` is
 *   removed. Commas inside strings (`"f(a, )"`, `"[1, 2, ]"`) are never touched.
 * - Raw control characters inside strings: a raw line break becomes `\n` (a raw CRLF or CR
 *   too), a raw tab `\t`, any other control character `\u00XX`. Escapes already present
 *   (`\n`, `\\n`) are copied as they are.
 * - Invalid escapes inside strings: a backslash not starting a JSON escape (`\d` in a
 *   regex, `\ ` in a path) is kept as a literal backslash (`\\d`): an invalid escape has no
 *   other meaning.
 * - Smart quotes around a key or value: outside strings, `“…”` on one line, with no `"`
 *   or backslash inside, becomes `"…"`. Smart quotes inside strings are text and stay.
 * - Not fixed — the spurious `n` of seed case 016 (`"wordn\n"` meant `"word\n"`): that
 *   text is valid JSON, so it is never altered; and in a document that is invalid for
 *   another reason, an `n` before a line break is indistinguishable from a word ending in
 *   `n` (`"return⏎"`, `"function\n"`, `"an\n"`), so no rule can remove it without
 *   corrupting valid text. The `n` is kept; the user sees it and can edit the cell.
 */

/** The outcome of {@link repairJson}. */
export interface JsonRepair {
  /** The repaired text; equal to the input when nothing needed fixing. */
  text: string;
  /** What was fixed, in words, once per kind. */
  fixes: string[];
  /** For each index of `text` (and its end), the index in the input it came from. */
  origins: number[];
}

const LEFT_SMART = '\u201c';
const RIGHT_SMART = '\u201d';
const SIMPLE_ESCAPES = '"\\/bfnrt';

const FIX_TRAILING_COMMA = 'removed trailing commas';
const FIX_CONTROL = 'escaped raw line breaks or tabs inside strings';
const FIX_ESCAPE = 'kept invalid backslash escapes as literal backslashes';
const FIX_SMART = 'replaced smart quotes around keys or values';

/** Index of the `”` closing a smart-quoted token opened at `start`, or -1 when it is not one. */
function smartQuoteEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const char = text[i];
    if (char === RIGHT_SMART) {
      return i;
    }
    if (char === '"' || char === '\\' || char === LEFT_SMART || char === '\n' || char === '\r') {
      return -1;
    }
  }
  return -1;
}

/** Whether the comma at `index` is followed only by whitespace and then `]` or `}`. */
function isTrailingComma(text: string, index: number): boolean {
  let i = index + 1;
  while (i < text.length && ' \t\n\r'.includes(text[i])) {
    i++;
  }
  return text[i] === ']' || text[i] === '}';
}

/** The escape for a raw control character inside a string. */
function escapeControl(char: string): string {
  if (char === '\n' || char === '\r') {
    return '\\n';
  }
  if (char === '\t') {
    return '\\t';
  }
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** Builds the repaired text with the origin of each of its characters. */
class Output {
  readonly parts: string[] = [];
  readonly origins: number[] = [];
  readonly fixes = new Set<string>();

  emit(text: string, origin: number): void {
    this.parts.push(text);
    for (let k = 0; k < text.length; k++) {
      this.origins.push(origin);
    }
  }
}

/** Length of the valid escape starting at the backslash at `index`, or 0 when it is invalid. */
function validEscapeLength(text: string, index: number): number {
  const next = text.charAt(index + 1);
  if (next !== '' && SIMPLE_ESCAPES.includes(next)) {
    return 2;
  }
  return next === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(index + 2, index + 6)) ? 6 : 0;
}

/** Copies the string body starting at `start` (past its opening quote); returns the index past its end. */
function repairString(text: string, start: number, out: Output): number {
  let i = start;
  while (i < text.length) {
    const char = text[i];
    if (char === '"') {
      out.emit(char, i);
      return i + 1;
    }
    if (char === '\\') {
      const length = validEscapeLength(text, i);
      if (length > 0) {
        out.emit(text.slice(i, i + length), i);
        i += length;
      } else {
        out.emit('\\\\', i);
        out.fixes.add(FIX_ESCAPE);
        i++;
      }
    } else if (char < ' ') {
      out.emit(escapeControl(char), i);
      out.fixes.add(FIX_CONTROL);
      i += char === '\r' && text[i + 1] === '\n' ? 2 : 1;
    } else {
      out.emit(char, i);
      i++;
    }
  }
  return i;
}

/** Copies the smart-quoted token `“…”` at `start` as a JSON string; returns the index past it, or -1. */
function repairSmartQuotes(text: string, start: number, out: Output): number {
  const end = smartQuoteEnd(text, start);
  if (end < 0) {
    return -1;
  }
  out.emit('"', start);
  for (let k = start + 1; k < end; k++) {
    out.emit(text[k], k);
  }
  out.emit('"', end);
  out.fixes.add(FIX_SMART);
  return end + 1;
}

/**
 * Apply the known-quirk fixes to a JSON text. On valid JSON this is the identity (there is
 * nothing to fix), but callers only use it on text `JSON.parse` rejected.
 */
export function repairJson(text: string): JsonRepair {
  const out = new Output();
  let i = 0;
  while (i < text.length) {
    const char = text[i];
    const afterSmart = char === LEFT_SMART ? repairSmartQuotes(text, i, out) : -1;
    if (afterSmart > 0) {
      i = afterSmart;
    } else if (char === '"') {
      out.emit(char, i);
      i = repairString(text, i + 1, out);
    } else if (char === ',' && isTrailingComma(text, i)) {
      out.fixes.add(FIX_TRAILING_COMMA);
      i++;
    } else {
      out.emit(char, i);
      i++;
    }
  }
  out.origins.push(text.length);
  return { text: out.parts.join(''), fixes: [...out.fixes], origins: out.origins };
}
