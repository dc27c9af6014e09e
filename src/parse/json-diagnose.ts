/**
 * A strict JSON (RFC 8259) checker that says what is wrong and where, the same way in
 * every browser (engines word and place `JSON.parse` errors differently, some without a
 * position). It only diagnoses: values come from `JSON.parse`.
 */

/** The first syntax error in a JSON text: its offset and what is wrong there. */
export interface JsonSyntaxError {
  offset: number;
  /** What is wrong, worded to be followed by the position ("… at line 3, column 14"). */
  message: string;
  /** Set when the text ends too early: the response was probably cut off. */
  truncated: boolean;
}

const MAX_DEPTH = 512;
const SIMPLE_ESCAPES = '"\\/bfnrt';
const NUMBER = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const WORD = /[A-Za-z_]+/y;

/** Thrown inside the checker to stop at the first error. */
class Found extends Error {
  constructor(
    message: string,
    readonly offset: number,
    readonly truncated: boolean
  ) {
    super(message);
  }
}

/** A character as shown in an error message: quoted, control characters named. */
function describe(char: string): string {
  const names: Record<string, string> = { '\n': 'a line break', '\r': 'a carriage return', '\t': 'a tab' };
  if (char in names) {
    return names[char];
  }
  return char < ' ' ? `control character U+${char.charCodeAt(0).toString(16).padStart(4, '0')}` : `'${char}'`;
}

class Checker {
  private pos = 0;

  constructor(private readonly text: string) {}

  /** The first error, or null when the text is one valid JSON value. */
  check(): JsonSyntaxError | null {
    try {
      this.value(0);
      this.skipWhitespace();
      if (this.pos < this.text.length) {
        this.fail('Unexpected text after the end of the JSON value');
      }
      return null;
    } catch (error) {
      if (error instanceof Found) {
        return { offset: error.offset, message: error.message, truncated: error.truncated };
      }
      throw error;
    }
  }

  private fail(message: string, offset = this.pos): never {
    throw new Found(message, offset, false);
  }

  private failTruncated(message: string, offset: number): never {
    throw new Found(message, offset, true);
  }

  private peek(): string {
    return this.text.charAt(this.pos);
  }

  private skipWhitespace(): void {
    while (this.pos < this.text.length && ' \t\n\r'.includes(this.peek())) {
      this.pos++;
    }
  }

  private value(depth: number): void {
    this.skipWhitespace();
    if (depth > MAX_DEPTH) {
      this.fail('The JSON is nested too deeply');
    }
    const char = this.peek();
    if (char === '{') {
      this.object(depth);
    } else if (char === '[') {
      this.array(depth);
    } else if (char === '"') {
      this.string();
    } else if (char === '-' || (char >= '0' && char <= '9')) {
      this.number();
    } else if (/[A-Za-z_]/.test(char)) {
      this.literal();
    } else if (char === '') {
      this.failTruncated('The text ends where a value was expected', this.pos);
    } else {
      this.fail(`Unexpected character ${describe(char)}: expected a value`);
    }
  }

  private object(depth: number): void {
    this.container('}', 'object', "Expected ',' or '}' after property value", () => {
      if (this.peek() !== '"') {
        this.fail('Expected a property name in double quotes');
      }
      this.string();
      this.skipWhitespace();
      if (this.peek() !== ':') {
        this.fail("Expected ':' after property name");
      }
      this.pos++;
      this.value(depth + 1);
    });
  }

  private array(depth: number): void {
    this.container(']', 'array', "Expected ',' or ']' after array element", () => this.value(depth + 1));
  }

  /** An object or an array from its opening bracket: its members, each read by `member`, to `closer`. */
  private container(closer: '}' | ']', kind: string, expected: string, member: () => void): void {
    const start = this.pos;
    this.pos++;
    this.skipWhitespace();
    if (this.peek() === closer) {
      this.pos++;
      return;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.peek() === closer) {
        this.fail(`Trailing comma before '${closer}'`);
      }
      member();
      this.skipWhitespace();
      if (this.close(closer, expected, kind, start)) {
        return;
      }
    }
  }

  private close(closer: string, expected: string, container: string, start: number): boolean {
    const char = this.peek();
    if (char === '') {
      this.failTruncated(`Unclosed ${container} starting`, start);
    }
    if (char !== closer && char !== ',') {
      this.fail(expected);
    }
    this.pos++;
    return char === closer;
  }

  private string(): void {
    const start = this.pos;
    this.pos++;
    for (;;) {
      const char = this.peek();
      if (char === '') {
        this.failTruncated('Unterminated string starting', start);
      } else if (char === '"') {
        this.pos++;
        return;
      } else if (char === '\\') {
        this.escape();
      } else if (char < ' ') {
        this.fail(`Unescaped ${describe(char)} inside a string`);
      } else {
        this.pos++;
      }
    }
  }

  private escape(): void {
    const next = this.text.charAt(this.pos + 1);
    if (next !== '' && SIMPLE_ESCAPES.includes(next)) {
      this.pos += 2;
    } else if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(this.text.slice(this.pos + 2, this.pos + 6))) {
      this.pos += 6;
    } else if (next === '' || next < ' ') {
      this.fail(`Backslash followed by ${next === '' ? 'the end of the text' : describe(next)} inside a string`);
    } else {
      this.fail(`Invalid escape '\\${next}' inside a string`);
    }
  }

  private number(): void {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (match === null) {
      this.fail('Invalid number');
    }
    this.pos += match[0].length;
  }

  private literal(): void {
    for (const word of ['true', 'false', 'null']) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return;
      }
    }
    WORD.lastIndex = this.pos;
    const word = WORD.exec(this.text)?.[0];
    this.fail(`Unexpected word '${word}' where a value was expected`);
  }
}

/** The first syntax error in `text` read as one JSON value, or null when it is valid JSON. */
export function findJsonSyntaxError(text: string): JsonSyntaxError | null {
  return new Checker(text).check();
}
