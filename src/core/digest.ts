/**
 * The digest of a reattached response (docs/protocol.md, "The digest";
 * jupyterlab_fanout/digest.py writes it): per event of the stream's first part, only what
 * {@link ResponseStream} reads from it, so that a page reloaded during a long batch applies a
 * few bytes a token instead of parsing every byte of SSE again.
 *
 * One entry an event, a JSON array with its trailing defaults left out:
 * `[content, usage, reasoning, finishReason]`. The strings are "" when absent; usage is 0 (none),
 * 1 (the previous event's usage with one more completion token) or `[completion, prompt,
 * reasoning]` (null for absent).
 */
import type { Usage } from './token-count';

/** One digested event: what the core reads from a chunk. */
export interface IDigestEvent {
  content: string;
  reasoning: string;
  finishReason: string;
  /** The usage the chunk carried (null: none the core reads). */
  usage: Usage | null;
}

/** The digest of a response as the server sends it in `attached`. */
export interface IStreamDigest {
  /** The first model the digested events named. */
  model: string | null;
  /** Bytes of the stream the digest covers (the replayed record holds the bytes after them). */
  offset: number;
  /** How many events the entries are. */
  events: number;
  entries: unknown[];
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function optionalCount(value: unknown, what: string, index: number): number | null {
  if (value === undefined || value === null) {
    return null;
  }
  if (!isCount(value)) {
    throw new Error(`entry ${index}: its ${what} is not a count`);
  }
  return value;
}

function optionalText(value: unknown, what: string, index: number): string {
  if (value === undefined) {
    return '';
  }
  if (typeof value !== 'string') {
    throw new Error(`entry ${index}: its ${what} is not text`);
  }
  return value;
}

/**
 * The events of a digest, checked whole before any is applied; throws an Error naming the
 * first entry that is not one the server writes.
 */
export function readDigest(digest: IStreamDigest): IDigestEvent[] {
  const { entries } = digest;
  if (!Array.isArray(entries) || entries.length !== digest.events) {
    throw new Error(`it holds ${Array.isArray(entries) ? entries.length : 'no'} entries, not ${digest.events}`);
  }
  if (digest.model !== null && typeof digest.model !== 'string') {
    throw new Error('its model is not text');
  }
  const events: IDigestEvent[] = new Array(entries.length);
  let previous = null as Usage | null;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i];
    if (!Array.isArray(entry) || entry.length === 0 || entry.length > 4) {
      throw new Error(`entry ${i} is not an event`);
    }
    const code = entry[1];
    let usage: Usage | null;
    if (code === undefined || code === 0) {
      usage = null;
    } else if (code === 1) {
      if (previous === null) {
        throw new Error(`entry ${i}: one more token than no usage`);
      }
      usage = { ...previous, completionTokens: previous.completionTokens + 1 };
    } else if (Array.isArray(code) && code.length >= 1 && code.length <= 3 && isCount(code[0])) {
      usage = {
        completionTokens: code[0],
        promptTokens: optionalCount(code[1], 'prompt tokens', i),
        reasoningTokens: optionalCount(code[2], 'reasoning tokens', i)
      };
    } else {
      throw new Error(`entry ${i}: its usage is not one the server writes`);
    }
    if (usage !== null) {
      previous = usage;
    }
    events[i] = {
      content: optionalText(entry[0], 'content', i),
      usage,
      reasoning: optionalText(entry[2], 'reasoning', i),
      finishReason: optionalText(entry[3], 'finish reason', i)
    };
  }
  return events;
}
