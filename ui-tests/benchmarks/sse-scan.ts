/**
 * The SSE scan every benchmark client shares: the Node client straight to the simulator
 * (helpers.ts) and the page's clients (page-helpers.ts). It runs in both places, so it is
 * self-contained (no import, no variable from outside it): the page gets its source
 * (`Function.prototype.toString`) and builds it there.
 */

/** What a scan records of one stream; times are `performance.now()` milliseconds. */
export interface ISseScan {
  firstTokenAt: number | null;
  tokens: number;
  done: boolean;
}

/**
 * Reads the complete SSE events at the start of `buffer` into `into` (first token, usage,
 * `[DONE]`); returns the rest, to be continued with the next bytes.
 */
export function scanSseEvents(buffer: string, into: ISseScan): string {
  let cut: number;
  while ((cut = buffer.indexOf('\n\n')) >= 0) {
    const event = buffer.slice(0, cut);
    buffer = buffer.slice(cut + 2);
    for (const line of event.split('\n')) {
      if (!line.startsWith('data:')) {
        continue;
      }
      const data = line.slice(5).trim();
      if (data === '[DONE]') {
        into.done = true;
        continue;
      }
      const chunk = JSON.parse(data);
      const delta = chunk.choices?.[0]?.delta;
      if (into.firstTokenAt === null && delta && (delta.content || delta.reasoning || delta.reasoning_content)) {
        into.firstTokenAt = performance.now();
      }
      if (chunk.usage) {
        into.tokens = chunk.usage.completion_tokens;
      }
    }
  }
  return buffer;
}
