/**
 * Finding JSON in a model's answer: a string-aware scanner cuts out the outermost
 * `{…}`/`[…]` spans, wherever the model put them (alone, in a ```json fence, with prose
 * around). Braces and brackets inside JSON strings never end a span.
 */

/** A span of the text that may hold a JSON object or array. */
export interface JsonSpan {
  start: number;
  /** Index past the closing bracket, or the text's length when it never closes. */
  end: number;
  closed: boolean;
}

const CLOSER: Record<string, string> = { '{': '}', '[': ']' };

/** The span of the object or array opening at `start`, matched string-aware. */
function spanAt(text: string, start: number): JsonSpan {
  const expected: string[] = [];
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === '\\') {
        i++;
      } else if (char === '"') {
        inString = false;
      }
    } else if (char === '"') {
      inString = true;
    } else if (char in CLOSER) {
      expected.push(CLOSER[char]);
    } else if (char === '}' || char === ']') {
      if (expected.pop() !== char) {
        return { start, end: i + 1, closed: false };
      }
      if (expected.length === 0) {
        return { start, end: i + 1, closed: true };
      }
    }
  }
  return { start, end: text.length, closed: false };
}

function nextOpener(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] in CLOSER) {
      return i;
    }
  }
  return -1;
}

/**
 * The candidate JSON spans of `text`, in order: each balanced span is outermost (the search
 * resumes after it); an opener that never balances (a stray `{` in prose, or a truncated
 * document) yields its span too, and the search resumes right after that opener.
 */
export function* jsonSpans(text: string): Generator<JsonSpan> {
  let from = nextOpener(text, 0);
  while (from >= 0) {
    const span = spanAt(text, from);
    yield span;
    from = nextOpener(text, span.closed ? span.end : from + 1);
  }
}
