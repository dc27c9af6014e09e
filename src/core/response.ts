/**
 * One response's bytes to its state.
 *
 * Decisions (see also sse.ts, think.ts, tokens.ts):
 * - `[DONE]` ends the response at once (`complete`); bytes after it are ignored. A response
 *   whose finish reason is `abort` (vLLM, SGLang: the engine aborted the request) ends as
 *   `error` instead: its text stops where the server gave up, not where the answer ended.
 * - An error event (`{"error": …}` or `{"object":"error", …}`, or an `event: error` event)
 *   ends the response as `error` at once, keeping the upstream's message and status.
 * - An event whose data is not JSON (and not several JSON values back to back) does not
 *   stop the stream: the rest is still read and shown, the first such event is recorded
 *   as the error (with an excerpt), and the response ends as `error` rather than
 *   `complete`, because its text has a gap. Empty or whitespace-only data is a keep-alive.
 * - At EOF a last event without its blank line is still read; if it does not parse, it is
 *   the cut itself (part of `incomplete`), not an invalid event.
 * - `stop()` and `fail()` keep every event already read, including text held back by the
 *   `<think>` splitter; bytes of an unfinished event are dropped; later input is ignored.
 * - Nothing throws out of `feed`/`end`: an unexpected failure becomes the response's error.
 */
import { type IStreamDigest, readDigest } from './digest';
import { errorFromPayload, excerpt } from './errors';
import { splitJsonValues } from './json-scan';
import { responseMetrics } from './metrics';
import { SseDecoder } from './sse';
import { ThinkSplitter } from './think';
import { readUsage, TokenTally, type Usage } from './token-count';
import { ResponseError, ResponseSnapshot, ResponseStatus, ResponseTiming } from './types';

/** Options of a {@link ResponseStream}. */
export interface ResponseStreamOptions {
  /** Clock in milliseconds; defaults to `performance.now()` (or `Date.now()`). */
  now?: () => number;
  /**
   * Keep the text that arrived since the last {@link ResponseStream.takeNewText} call, for a
   * copy of the state kept elsewhere (the main thread, when this stream runs in a Web Worker).
   */
  trackNewText?: boolean;
}

const DONE = '[DONE]';
/** The finish reason of a generation the server aborted (vLLM, SGLang). */
const ABORT = 'abort';
const ABORTED: ResponseError = {
  message: 'The server aborted this response before it was finished (finish_reason "abort").',
  code: 'abort'
};

function defaultNow(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object';
}

/** The state machine of one streamed chat completion. */
export class ResponseStream {
  constructor(options: ResponseStreamOptions = {}) {
    this.now = options.now ?? defaultNow;
    this.newText = options.trackNewText ? { content: [], reasoning: [] } : null;
    this.sse = new SseDecoder((data, eventType, unterminated) => this.onEvent(data, eventType, unterminated));
    this.splitter = new ThinkSplitter({
      reasoning: text => this.addReasoning(text),
      content: text => this.addContent(text)
    });
  }

  /** Increments on every observable change. */
  get version(): number {
    return this._version;
  }

  /** True once the status is final (`complete`, `stopped`, `error`, `incomplete`). */
  get ended(): boolean {
    return this.endedAt !== null;
  }

  /** The request was sent (at `at`, default now): status `connecting`, `startedAt` set. */
  start(at?: number): void {
    if (this.status !== 'pending') {
      return;
    }
    this.startedAt = at ?? this.now();
    this.status = 'connecting';
    this._version++;
  }

  /**
   * Take over a response that started elsewhere (a batch reattached after a reload): it was
   * started at `startedAt` and its first byte came at `firstByteAt` (null: none yet), in this
   * stream's clock. The bytes forwarded so far are then fed again; the first token among them
   * counts from `firstByteAt` rather than from their replay, so that TTFT and tokens per second
   * stay meaningful.
   */
  resume(startedAt: number, firstByteAt: number | null): void {
    if (this.status !== 'pending') {
      return;
    }
    this.start(startedAt);
    this.firstByteAt = firstByteAt;
    this.replayedFirstTokenAt = firstByteAt;
  }

  /** The upstream answered with headers. */
  open(httpStatus?: number): void {
    if (this.ended) {
      return;
    }
    this.start();
    this.httpStatus = httpStatus ?? null;
    this._version++;
  }

  /** Body bytes (or already decoded text), cut anywhere. */
  feed(chunk: Uint8Array | string): void {
    if (this.ended || chunk.length === 0) {
      return;
    }
    this.start();
    this.clock = this.now();
    if (this.firstByteAt === null) {
      this.firstByteAt = this.clock;
    }
    this.guard(() => this.sse.push(chunk));
    this._version++;
  }

  /** Upstream EOF: flush, then `complete` if `[DONE]` was seen, else `incomplete` (or `error`). */
  end(): void {
    if (this.ended) {
      return;
    }
    this.clock = this.now();
    this.guard(() => this.sse.finish());
    if (!this.ended) {
      this.finish(this.streamError === null ? 'incomplete' : 'error', this.streamError ?? this.incompleteError());
    }
  }

  /** The user stopped it: status `stopped`, everything read so far is kept. */
  stop(): void {
    if (this.ended) {
      return;
    }
    this.clock = this.now();
    this.finish('stopped', this.streamError);
  }

  /** A transport or HTTP error: status `error`, everything read so far is kept. */
  fail(error: ResponseError): void {
    if (this.ended) {
      return;
    }
    this.clock = this.now();
    this.finish('error', { ...error });
  }

  /** The current state as plain data; strings are joined once per version. */
  snapshot(): ResponseSnapshot {
    const live = this.startedAt !== null && !this.ended;
    if (this.cached !== null && this.cachedVersion === this._version && !live) {
      return this.cached;
    }
    const now = this.now();
    const counts = this.tally.counts();
    const snapshot: ResponseSnapshot = {
      status: this.status,
      content: this.joinedContent(),
      reasoning: this.joinedReasoning(),
      thinkingTokens: counts.thinking,
      answerTokens: counts.answer,
      totalTokens: counts.total,
      promptTokens: counts.prompt,
      tokensEstimated: counts.estimated,
      splitEstimated: counts.splitEstimated,
      finishReason: this.finishReason,
      error: this.error === null ? null : { ...this.error },
      model: this.model,
      httpStatus: this.httpStatus,
      metrics: this.metrics(counts.total, now)
    };
    this.cached = snapshot;
    this.cachedVersion = this._version;
    return snapshot;
  }

  /** The moments the metrics are computed from. */
  timing(): ResponseTiming {
    const { startedAt, firstByteAt, firstTokenAt, endedAt, tokensAtFirstToken } = this;
    return { startedAt, firstByteAt, firstTokenAt, endedAt, tokensAtFirstToken };
  }

  /**
   * The answer and reasoning text that arrived since the previous call (needs the
   * `trackNewText` option). Text held back by the `<think>` splitter comes once released.
   */
  takeNewText(): { content: string; reasoning: string } {
    if (this.newText === null) {
      throw new Error('takeNewText() needs a ResponseStream created with trackNewText: true');
    }
    const taken = { content: this.newText.content.join(''), reasoning: this.newText.reasoning.join('') };
    this.newText.content.length = 0;
    this.newText.reasoning.length = 0;
    return taken;
  }

  private metrics(totalTokens: number, now: number) {
    return responseMetrics(this.timing(), totalTokens, now);
  }

  private onEvent(data: string, eventType: string | undefined, unterminated: boolean): void {
    if (this.ended) {
      return;
    }
    this.eventCount++;
    this.applyValue(data, eventType, unterminated, true);
  }

  /**
   * One value of the stream: `[DONE]`, or a JSON payload. `whole` is true for an event's whole
   * data, which may hold several values back to back (see {@link onUnparsable}).
   */
  private applyValue(text: string, eventType: string | undefined, unterminated: boolean, whole: boolean): void {
    if (text === DONE) {
      this.finishAtDone();
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch (error) {
      if (whole) {
        this.onUnparsable(text, eventType, error, unterminated);
      } else {
        this.onInvalid(text, error, unterminated);
      }
      return;
    }
    if (eventType === 'error' && errorFromPayload(payload, this.httpStatus) === null) {
      this.finish('error', { message: excerpt(text, 200), ...this.statusField() });
      return;
    }
    this.applyPayload(payload);
  }

  /** Data that is not one JSON value: several back to back, `[DONE]` with spaces, or garbage. */
  private onUnparsable(data: string, eventType: string | undefined, error: unknown, unterminated: boolean): void {
    const values = splitJsonValues(data);
    if (values.length === 0) {
      return;
    }
    if (eventType === 'error') {
      this.finish('error', { message: excerpt(data, 200), ...this.statusField() });
      return;
    }
    if (values.length === 1) {
      this.onInvalid(values[0], error, unterminated);
      return;
    }
    for (let i = 0; i < values.length && !this.ended; i++) {
      this.applyValue(values[i], undefined, unterminated && i === values.length - 1, false);
    }
  }

  /** `[DONE]`: the end the server meant, with the error it reported in the stream, if any. */
  private finishAtDone(): void {
    if (this.streamError === null && this.finishReason === ABORT) {
      this.finish('error', { ...ABORTED, ...this.statusField() });
      return;
    }
    this.finish(this.streamError === null ? 'complete' : 'error', this.streamError);
  }

  private onInvalid(text: string, error: unknown, unterminated: boolean): void {
    if (text.trim() === DONE) {
      this.finishAtDone();
      return;
    }
    if (unterminated) {
      this.truncatedTail = text;
      return;
    }
    this.invalidEvents++;
    if (this.firstInvalidMessage === null) {
      const reason = error instanceof Error ? excerpt(error.message, 60) : 'invalid JSON';
      this.firstInvalidMessage = `Event ${this.eventCount} from the server is not valid JSON (${reason}); it starts: ${excerpt(text)}`;
    }
    const more = this.invalidEvents > 1 ? ` (${this.invalidEvents} unreadable events in all)` : '';
    this.streamError = { message: this.firstInvalidMessage + more, code: 'invalid_json' };
    this.error = this.streamError;
  }

  /**
   * The first events of a reattached response, digested by the server, before the bytes after
   * them are fed: the same state as feeding every byte, for a few bytes a token. Applied
   * through the same steps as a parsed chunk. Before any bytes are fed. Throws (changing
   * nothing) when the digest is not one the server writes ({@link readDigest}).
   */
  applyDigest(digest: IStreamDigest): void {
    const events = readDigest(digest);
    const model = digest.model;
    if (this.ended || events.length === 0) {
      return; // no event: the bytes fed next are the stream's first
    }
    this.start();
    this.clock = this.now();
    if (this.firstByteAt === null) {
      this.firstByteAt = this.clock;
    }
    this.sse.continueStream();
    this.guard(() => {
      if (this.model === null && model !== null) {
        this.model = model;
      }
      for (const event of events) {
        this.eventCount++;
        this.applyEvent(event.reasoning, event.content, event.finishReason, event.usage);
      }
    });
    this._version++;
  }

  private applyPayload(payload: unknown): void {
    if (!isRecord(payload)) {
      return;
    }
    const error = errorFromPayload(payload, this.httpStatus);
    if (error !== null) {
      this.finish('error', error);
      return;
    }
    if (this.model === null && typeof payload.model === 'string') {
      this.model = payload.model;
    }
    let reasoning: unknown;
    let content: unknown;
    let finishReason: unknown;
    const choices = payload.choices;
    if (Array.isArray(choices) && choices.length > 0 && isRecord(choices[0])) {
      const choice = choices[0];
      const delta = choice.delta;
      if (isRecord(delta)) {
        reasoning = delta.reasoning ?? delta.reasoning_content;
        content = delta.content;
      }
      finishReason = choice.finish_reason;
    }
    const usage = payload.usage !== undefined && payload.usage !== null ? readUsage(payload.usage) : null;
    this.applyEvent(reasoning, content, finishReason, usage);
  }

  /** What an event says, from a parsed chunk or a digest: its text, finish reason and usage. */
  private applyEvent(reasoning: unknown, content: unknown, finishReason: unknown, usage: Usage | null): void {
    if (typeof reasoning === 'string' && reasoning !== '') {
      this.markFirstToken();
      this.addReasoning(reasoning);
    }
    if (typeof content === 'string' && content !== '') {
      this.markFirstToken();
      this.splitter.push(content);
    }
    if (typeof finishReason === 'string' && finishReason !== '') {
      this.finishReason = finishReason;
    }
    if (usage !== null) {
      this.tally.applyUsage(usage);
    }
    if (this.firstTokenPending) {
      this.firstTokenPending = false;
      this.tokensAtFirstToken = this.tally.counts().total;
    }
  }

  private markFirstToken(): void {
    if (this.firstTokenAt === null) {
      this.firstTokenAt = this.replayedFirstTokenAt ?? this.clock;
      this.firstTokenPending = true;
    }
  }

  private addReasoning(text: string): void {
    this.reasoningPieces.push(text);
    this.newText?.reasoning.push(text);
    this.tally.addThinking(text);
    this.status = 'thinking';
  }

  private addContent(text: string): void {
    this.contentPieces.push(text);
    this.newText?.content.push(text);
    this.tally.addAnswer(text);
    this.status = 'generating';
  }

  /** Enter a final status, keeping everything read (and releasing held-back text). */
  private finish(status: ResponseStatus, error: ResponseError | null): void {
    this.splitter.flush();
    this.status = status;
    this.error = error;
    this.endedAt = this.clock;
    this._version++;
  }

  private incompleteError(): ResponseError {
    const tail = this.truncatedTail === null ? '' : `; its last event was cut off: ${excerpt(this.truncatedTail)}`;
    return { message: `The connection ended before the server sent [DONE]${tail}`, code: 'incomplete' };
  }

  private statusField(): { status?: number } {
    return this.httpStatus === null ? {} : { status: this.httpStatus };
  }

  /** Run `action`; an unexpected exception becomes the response's error instead of escaping. */
  private guard(action: () => void): void {
    try {
      action();
    } catch (error) {
      if (!this.ended) {
        const message = error instanceof Error ? error.message : String(error);
        this.finish('error', { message: `Internal error while reading the stream: ${message}`, code: 'internal' });
      }
    }
  }

  private joinedContent(): string {
    if (this.contentPieces.length > 0) {
      this.content += this.contentPieces.join('');
      this.contentPieces.length = 0;
    }
    return this.content;
  }

  private joinedReasoning(): string {
    if (this.reasoningPieces.length > 0) {
      this.reasoning += this.reasoningPieces.join('');
      this.reasoningPieces.length = 0;
    }
    return this.reasoning;
  }

  private readonly now: () => number;
  private readonly newText: { content: string[]; reasoning: string[] } | null;
  private readonly sse: SseDecoder;
  private readonly splitter: ThinkSplitter;
  private readonly tally = new TokenTally();
  private _version = 0;
  private status: ResponseStatus = 'pending';
  private content = '';
  private reasoning = '';
  private readonly contentPieces: string[] = [];
  private readonly reasoningPieces: string[] = [];
  private finishReason: string | null = null;
  private model: string | null = null;
  private httpStatus: number | null = null;
  private error: ResponseError | null = null;
  /** Error found in the stream that does not end it (unreadable events). */
  private streamError: ResponseError | null = null;
  private firstInvalidMessage: string | null = null;
  private invalidEvents = 0;
  private truncatedTail: string | null = null;
  private eventCount = 0;
  /** Time of the feed/end/stop/fail call being handled. */
  private clock = 0;
  private startedAt: number | null = null;
  private firstByteAt: number | null = null;
  private firstTokenAt: number | null = null;
  private firstTokenPending = false;
  /** When the first byte came, for a resumed stream: its first token counts from there. */
  private replayedFirstTokenAt: number | null = null;
  private tokensAtFirstToken = 0;
  private endedAt: number | null = null;
  private cached: ResponseSnapshot | null = null;
  private cachedVersion = -1;
}
