/**
 * Reattaching after a reload: what a response comes back with when its batch could not be
 * reattached (the server no longer runs it), from the server's store or, failing that, from
 * what the page had saved.
 */
import type { ResponseSnapshot, ResponseStatus } from '../core';
import { readUsage, TokenTally } from '../core/token-count';
import type { IStoredAttempt } from '../tokens';

const FINAL = new Set<ResponseStatus>(['complete', 'stopped', 'error', 'incomplete']);

/** A saved state marked incomplete with `message` (the text that had arrived is kept). */
export function interruptedSnapshot(snapshot: ResponseSnapshot, message: string): ResponseSnapshot {
  return {
    ...snapshot,
    status: 'incomplete',
    error: { message, code: 'interrupted' }
  };
}

function seconds(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : null;
}

/**
 * The final state of an attempt as the server's store kept it (`GET fanout/batches/<id>`). Its
 * times are the store's (seconds since the epoch), converted to durations against `startedAt`
 * in the page's clock. An attempt the store still has as running (the server stopped without
 * ending it) is incomplete.
 */
/**
 * The text a stored attempt continued (`fanout:continue` sends it as the assistant's last message
 * with `continue_final_message`), or '' for an attempt that continued nothing. The store keeps
 * only what the model sent after it.
 */
export function continuedPrefix(request: unknown): string {
  const body = request as { continue_final_message?: unknown; messages?: unknown } | null;
  if (!body || typeof body !== 'object' || body.continue_final_message !== true || !Array.isArray(body.messages)) {
    return '';
  }
  const last = body.messages[body.messages.length - 1] as { role?: unknown; content?: unknown } | undefined;
  return last?.role === 'assistant' && typeof last.content === 'string' ? last.content : '';
}

export function storedSnapshot(stored: IStoredAttempt, startedAt: number | null): ResponseSnapshot {
  const prefix = continuedPrefix(stored.request);
  if (prefix) {
    // A continuation: shown as one text, the text it continued then its own (as it was live).
    const own = storedSnapshot({ ...stored, request: null }, startedAt);
    const tally = new TokenTally();
    tally.addAnswer(prefix);
    const before = tally.counts().answer;
    return {
      ...own,
      content: prefix + own.content,
      answerTokens: own.answerTokens + before,
      totalTokens: own.totalTokens + before,
      tokensEstimated: true
    };
  }
  const tally = new TokenTally();
  tally.addThinking(stored.reasoning ?? '');
  tally.addAnswer(stored.text ?? '');
  const usage = readUsage(stored.usage);
  if (usage !== null) {
    tally.applyUsage(usage);
  }
  const counts = tally.counts();
  const status = stored.status as ResponseStatus;
  const final = FINAL.has(status);
  let error = stored.error as { message?: unknown; code?: unknown; status?: unknown } | null;
  if (status === 'stopped' && error?.code === 'stopped_by_user') {
    error = null; // Stopped as asked: shown as a live stop is, without an error.
  }
  const metrics = stored.metrics ?? {};
  const elapsed = seconds(metrics.elapsed);
  const ttfb = seconds(metrics.ttft);
  const start = startedAt ?? 0;
  return {
    status: final ? status : 'incomplete',
    content: stored.text ?? '',
    reasoning: stored.reasoning ?? '',
    thinkingTokens: counts.thinking,
    answerTokens: counts.answer,
    totalTokens: counts.total,
    promptTokens: counts.prompt,
    tokensEstimated: counts.estimated,
    splitEstimated: counts.splitEstimated,
    finishReason: stored.finish_reason ?? null,
    error:
      error && typeof error === 'object'
        ? {
            message: typeof error.message === 'string' ? error.message : JSON.stringify(error),
            code: typeof error.code === 'string' ? error.code : undefined,
            status: typeof error.status === 'number' ? error.status : undefined
          }
        : final
          ? null
          : {
              message: 'The server stopped before this response ended; the text it had kept is shown.',
              code: 'interrupted'
            },
    model: stored.model || null,
    httpStatus: null,
    metrics: {
      startedAt,
      firstByteAt: ttfb === null ? null : start + ttfb * 1000,
      firstTokenAt: ttfb === null ? null : start + ttfb * 1000,
      endedAt: elapsed === null ? null : start + elapsed * 1000,
      ttfbMs: ttfb === null ? null : ttfb * 1000,
      ttftMs: ttfb === null ? null : ttfb * 1000,
      tokensPerSecond: seconds(metrics.tokens_per_second),
      elapsedMs: elapsed === null ? null : elapsed * 1000
    }
  };
}

/** The seed of a forwarded request, or 0 when it has none. */
export function seedOf(request: unknown): number {
  const seed = (request as { seed?: unknown } | null)?.seed;
  return typeof seed === 'number' ? seed : 0;
}
