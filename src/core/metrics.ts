/**
 * Batch metrics over response snapshots.
 */
import { BatchMetrics, ResponseMetrics, ResponseSnapshot, ResponseStatus, ResponseTiming } from './types';

/** Tokens per second from a count over a span in milliseconds; null when either is not positive. */
export function rate(tokens: number, spanMs: number): number | null {
  return tokens > 0 && spanMs > 0 ? (tokens * 1000) / spanMs : null;
}

/**
 * A response's timing figures at `now` (same clock as `timing`): elapsed time and decoding
 * speed run on while it is live and stop at `endedAt`.
 */
export function responseMetrics(timing: ResponseTiming, totalTokens: number, now: number): ResponseMetrics {
  const { startedAt, firstByteAt, firstTokenAt, endedAt, tokensAtFirstToken } = timing;
  const until = endedAt ?? now;
  return {
    startedAt,
    firstByteAt,
    firstTokenAt,
    endedAt,
    ttfbMs: startedAt !== null && firstByteAt !== null ? firstByteAt - startedAt : null,
    ttftMs: startedAt !== null && firstTokenAt !== null ? firstTokenAt - startedAt : null,
    tokensPerSecond: firstTokenAt !== null ? rate(totalTokens - tokensAtFirstToken, until - firstTokenAt) : null,
    elapsedMs: startedAt !== null ? until - startedAt : null
  };
}

/** Statuses of a response that was started and has not ended. */
const ACTIVE: ReadonlySet<ResponseStatus> = new Set<ResponseStatus>(['connecting', 'thinking', 'generating']);

/** Final statuses. */
const FINAL: ReadonlySet<ResponseStatus> = new Set<ResponseStatus>(['complete', 'stopped', 'error', 'incomplete']);

/** True while a response is started and not ended. */
export function isActive(status: ResponseStatus): boolean {
  return ACTIVE.has(status);
}

/** True when a response's status is final. */
export function isFinal(status: ResponseStatus): boolean {
  return FINAL.has(status);
}

/**
 * Tokens per second of a batch (case 013).
 *
 * While some responses are active: the window starts at the earliest `startedAt` among
 * the active ones, and the tokens counted are those of every response that started in
 * that window (all active ones, and ended ones that started at or after it), so a
 * response that finished before the window does not inflate the rate. When none is
 * active: all tokens over the batch's span, earliest start to latest end.
 */
function batchRate(responses: ResponseSnapshot[], now: number): number | null {
  let windowStart = Infinity;
  for (const response of responses) {
    const startedAt = response.metrics.startedAt;
    if (isActive(response.status) && startedAt !== null && startedAt < windowStart) {
      windowStart = startedAt;
    }
  }
  if (windowStart !== Infinity) {
    let tokens = 0;
    for (const response of responses) {
      const startedAt = response.metrics.startedAt;
      if (startedAt !== null && startedAt >= windowStart) {
        tokens += response.totalTokens;
      }
    }
    return rate(tokens, now - windowStart);
  }
  let spanStart = Infinity;
  let spanEnd = -Infinity;
  let tokens = 0;
  for (const { metrics, totalTokens } of responses) {
    if (metrics.startedAt !== null && metrics.endedAt !== null) {
      spanStart = Math.min(spanStart, metrics.startedAt);
      spanEnd = Math.max(spanEnd, metrics.endedAt);
      tokens += totalTokens;
    }
  }
  return spanStart === Infinity ? null : rate(tokens, spanEnd - spanStart);
}

/** Aggregate figures of a batch at time `now` (same clock as the responses'). */
export function batchMetrics(responses: ResponseSnapshot[], now: number): BatchMetrics {
  let complete = 0;
  let ended = 0;
  let active = 0;
  let totalTokens = 0;
  for (const response of responses) {
    totalTokens += response.totalTokens;
    if (response.status === 'complete') {
      complete++;
    }
    if (isFinal(response.status)) {
      ended++;
    } else if (isActive(response.status)) {
      active++;
    }
  }
  return {
    tokensPerSecond: batchRate(responses, now),
    complete,
    ended,
    total: responses.length,
    active,
    totalTokens
  };
}
