/**
 * Plain data types of the DOM-free core. Everything here is JSON-serialisable.
 */

/**
 * Lifecycle of one response.
 *
 * - `pending`: created, request not sent yet.
 * - `connecting`: request sent (or headers received), no text yet.
 * - `thinking`: the latest text received was reasoning.
 * - `generating`: the latest text received was answer content.
 * - `complete`: the server sent `[DONE]` and no error was recorded.
 * - `stopped`: the user stopped it.
 * - `error`: an error event, a transport/HTTP error, or an event that could not be parsed.
 * - `incomplete`: the connection ended without `[DONE]`.
 *
 * `complete`, `stopped`, `error` and `incomplete` are final.
 */
export type ResponseStatus =
  'pending' | 'connecting' | 'thinking' | 'generating' | 'complete' | 'stopped' | 'error' | 'incomplete';

/** An error as shown to the user: the upstream's own message and HTTP status when known. */
export interface ResponseError {
  /** Human-readable message; the upstream's message verbatim when it sent one. */
  message: string;
  /** HTTP status (or the numeric `code` of an error event). */
  status?: number;
  /** Machine-readable kind, e.g. the upstream's error type, `invalid_json` or `incomplete`. */
  code?: string;
}

/** Timing figures of one response, in the injected clock's milliseconds. */
export interface ResponseMetrics {
  startedAt: number | null;
  firstByteAt: number | null;
  firstTokenAt: number | null;
  endedAt: number | null;
  /** Time to first byte: `firstByteAt - startedAt`. */
  ttfbMs: number | null;
  /** Time to first token (first non-empty reasoning or content text): `firstTokenAt - startedAt`. */
  ttftMs: number | null;
  /**
   * Decoding speed: tokens that arrived after the first token event, divided by the
   * seconds since the first token (up to `endedAt`, or up to now while live).
   */
  tokensPerSecond: number | null;
  /** `(endedAt ?? now) - startedAt`. */
  elapsedMs: number | null;
}

/** The moments {@link ResponseMetrics} are computed from (in the clock of the response's owner). */
export interface ResponseTiming {
  startedAt: number | null;
  firstByteAt: number | null;
  firstTokenAt: number | null;
  endedAt: number | null;
  /** The token count once the first token's event was read (the speed counts what came after). */
  tokensAtFirstToken: number;
}

/** The observable state of one response at one moment. */
export interface ResponseSnapshot {
  status: ResponseStatus;
  /** The answer text, byte-exact as the server sent it (minus inline `<think>` blocks). */
  content: string;
  /** The reasoning text (`delta.reasoning`, `delta.reasoning_content` or inline `<think>`). */
  reasoning: string;
  thinkingTokens: number;
  answerTokens: number;
  /** `thinkingTokens + answerTokens` (completion tokens; the prompt is not included). */
  totalTokens: number;
  promptTokens: number | null;
  /** True while any part of `totalTokens` is an estimate rather than the server's count. */
  tokensEstimated: boolean;
  /**
   * True when the server gave a completion count but not its reasoning part, so the
   * thinking/answer split is derived in proportion to the estimates.
   */
  splitEstimated: boolean;
  finishReason: string | null;
  error: ResponseError | null;
  model: string | null;
  /** HTTP status given to `open()`, if any. */
  httpStatus: number | null;
  metrics: ResponseMetrics;
}

/** Aggregate figures of a batch of responses. */
export interface BatchMetrics {
  /**
   * Tokens per second of the batch: while some responses are active, the tokens of the
   * responses that started at or after the earliest active start, divided by the time since
   * that start; when none is active, all tokens over the batch's whole span.
   */
  tokensPerSecond: number | null;
  /** Responses whose status is `complete`. */
  complete: number;
  /** Responses in a final status (`complete`, `stopped`, `error`, `incomplete`). */
  ended: number;
  total: number;
  /** Responses started and not ended (`connecting`, `thinking`, `generating`). */
  active: number;
  totalTokens: number;
}
