/**
 * Splits inline `<think>…</think>` out of a stream of content pieces.
 *
 * Rule: an opening `<think>` is recognised only while the content so far is empty or
 * whitespace (that is how reasoning models served without a reasoning parser write it);
 * after it, everything up to `</think>` is reasoning, and everything after is content,
 * verbatim. A `<think>` later in an answer is left alone, so an answer that talks about
 * the tag is never altered. Tags may be cut anywhere across pieces: a piece ending in a
 * possible start of a tag (`<thi`, `</th`) is held back until the next piece decides it,
 * and `flush()` releases what is held as text of the current kind.
 *
 * Not handled: a `</think>` without an opening tag (templates that put `<think>` in the
 * prompt); such text stays content.
 */

const OPEN_TAG = '<think>';
const CLOSE_TAG = '</think>';

/** Where the splitter is. */
type Mode = 'detect' | 'think' | 'answer';

/** Receives the pieces the splitter releases. */
export interface ThinkSink {
  reasoning(text: string): void;
  content(text: string): void;
}

/** Length of the longest suffix of `text` that is a proper prefix of `tag`. */
export function partialTagSuffix(text: string, tag: string): number {
  const longest = Math.min(tag.length - 1, text.length);
  for (let k = longest; k > 0; k--) {
    if (text.endsWith(tag.slice(0, k))) {
      return k;
    }
  }
  return 0;
}

function firstNonWhitespace(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code !== 0x20 && code !== 0x0a && code !== 0x0d && code !== 0x09) {
      return i;
    }
  }
  return -1;
}

/** Stateful splitter for one response's content. */
export class ThinkSplitter {
  constructor(private readonly sink: ThinkSink) {}

  /** True while inside a `<think>` block. */
  get inThink(): boolean {
    return this.mode === 'think';
  }

  /** Take one content piece. */
  push(text: string): void {
    if (this.mode === 'answer') {
      this.sink.content(text);
      return;
    }
    const joined = this.held + text;
    this.held = '';
    if (this.mode === 'detect') {
      this.detect(joined);
    } else {
      this.think(joined);
    }
  }

  /** Release whatever is held back (the stream ended, or was stopped). */
  flush(): void {
    if (this.held === '') {
      return;
    }
    const held = this.held;
    this.held = '';
    if (this.mode === 'think') {
      this.sink.reasoning(held);
    } else {
      this.sink.content(held);
    }
  }

  private detect(text: string): void {
    const start = firstNonWhitespace(text);
    if (start === -1) {
      this.sink.content(text);
      return;
    }
    if (start > 0) {
      this.sink.content(text.slice(0, start));
    }
    const rest = start > 0 ? text.slice(start) : text;
    if (rest.startsWith(OPEN_TAG)) {
      this.mode = 'think';
      this.think(rest.slice(OPEN_TAG.length));
    } else if (rest.length < OPEN_TAG.length && OPEN_TAG.startsWith(rest)) {
      this.held = rest;
    } else {
      this.mode = 'answer';
      this.sink.content(rest);
    }
  }

  private think(text: string): void {
    const close = text.indexOf(CLOSE_TAG);
    if (close !== -1) {
      if (close > 0) {
        this.sink.reasoning(text.slice(0, close));
      }
      this.mode = 'answer';
      const after = text.slice(close + CLOSE_TAG.length);
      if (after !== '') {
        this.sink.content(after);
      }
      return;
    }
    const partial = partialTagSuffix(text, CLOSE_TAG);
    const released = text.length - partial;
    if (released > 0) {
      this.sink.reasoning(partial > 0 ? text.slice(0, released) : text);
    }
    this.held = partial > 0 ? text.slice(released) : '';
  }

  private mode: Mode = 'detect';
  private held = '';
}
