/**
 * A string-aware scanner that cuts a text holding several JSON values back to back
 * (`{"a":1}{"b":"}{"}`) into one slice per top-level value. It tracks strings and
 * escapes, so braces and quotes inside string values never cut a value (cases 011, 012).
 * It does not validate: each slice is meant for `JSON.parse`.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

function isJsonWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

function isContainerOpen(code: number): boolean {
  return code === OPEN_BRACE || code === OPEN_BRACKET;
}

/**
 * Index just past the end of the value starting at `start`, or `text.length` when the
 * text ends first (an unbalanced value, which `JSON.parse` will reject).
 * Objects and arrays end when their nesting returns to zero outside strings; anything
 * else (a stray word, a number, a string) ends before the next whitespace or container.
 */
function valueEnd(text: string, start: number): number {
  const first = text.charCodeAt(start);
  if (!isContainerOpen(first)) {
    let i = start + 1;
    if (first === QUOTE) {
      return stringEnd(text, i);
    }
    while (i < text.length) {
      const code = text.charCodeAt(i);
      if (isJsonWhitespace(code) || isContainerOpen(code)) {
        break;
      }
      i++;
    }
    return i;
  }
  let depth = 0;
  let i = start;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      i = stringEnd(text, i + 1);
      continue;
    }
    if (isContainerOpen(code)) {
      depth++;
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
      depth--;
      if (depth === 0) {
        return i + 1;
      }
    }
    i++;
  }
  return text.length;
}

/** Index just past the closing quote of a string whose body starts at `i`. */
function stringEnd(text: string, i: number): number {
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (code === BACKSLASH) {
      i += 2;
    } else if (code === QUOTE) {
      return i + 1;
    } else {
      i++;
    }
  }
  return text.length;
}

/**
 * Cut `text` into its top-level JSON values, skipping whitespace between them.
 *
 * @example splitJsonValues('{"a":"}{"} {"b":2}') // ['{"a":"}{"}', '{"b":2}']
 */
export function splitJsonValues(text: string): string[] {
  const values: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (isJsonWhitespace(text.charCodeAt(i))) {
      i++;
      continue;
    }
    const end = valueEnd(text, i);
    values.push(text.slice(i, end));
    i = end;
  }
  return values;
}
