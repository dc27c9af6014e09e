/**
 * A response's state carried between two threads: the stream is parsed where its bytes arrive
 * (a Web Worker), and a {@link ResponseMirror} on the other side rebuilds the same snapshots from
 * {@link ResponseUpdate}s, which hold only the text that is new since the previous update.
 */
import { responseMetrics } from './metrics';
import type { ResponseStream } from './response';
import type { ResponseError, ResponseSnapshot, ResponseStatus, ResponseTiming } from './types';

/**
 * What changed in one response: plain data, cheap to post to another thread. The snapshot's
 * fields but its text (only what is new) and its metrics (the moments they are computed from).
 */
export interface ResponseUpdate extends Omit<ResponseSnapshot, 'content' | 'reasoning' | 'metrics'> {
  /** Answer text that arrived since the previous update. */
  contentAppend: string;
  /** Reasoning text that arrived since the previous update. */
  reasoningAppend: string;
  timing: ResponseTiming;
  /** True when the response has ended: this is its last update. */
  final: boolean;
}

/** The update of a stream created with `trackNewText`; call it once per update sent. */
export function takeUpdate(stream: ResponseStream): ResponseUpdate {
  const { content: _content, reasoning: _reasoning, metrics: _metrics, ...rest } = stream.snapshot();
  const { content, reasoning } = stream.takeNewText();
  return { ...rest, contentAppend: content, reasoningAppend: reasoning, timing: stream.timing(), final: stream.ended };
}

const EMPTY_TIMING: ResponseTiming = {
  startedAt: null,
  firstByteAt: null,
  firstTokenAt: null,
  endedAt: null,
  tokensAtFirstToken: 0
};

/**
 * How long a running response's snapshot is reused when nothing new has arrived (ms): its
 * figures that run with the clock (elapsed time, tokens per second) are at most this old.
 */
export const LIVE_SNAPSHOT_MS = 16;

/**
 * The state of one response rebuilt from its updates, on the thread that shows it.
 *
 * Until its last update arrives it can be ended here first ({@link endHere}: the user stopped it,
 * or the thread that streamed it is gone); the text that arrives meanwhile is still added, and the
 * last update's status and figures replace the provisional ones (a response that completed before
 * the stop reached it shows as complete).
 */
export class ResponseMirror {
  constructor(private readonly _now: () => number) {}

  /** True once it has ended, here or on the streaming side. */
  get ended(): boolean {
    return this._final || this._endedHere !== null;
  }

  /** True once its last update has arrived (or it was ended here for good). */
  get settled(): boolean {
    return this._final;
  }

  /**
   * When something last happened on this side: the request was sent, or an update (bytes from
   * the stream) arrived; null before it begins. How long a running stream has been silent.
   */
  get lastActivityAt(): number | null {
    return this._lastActivityAt;
  }

  /** The request was sent at `at`. */
  begin(at: number): void {
    this._state = { ...this._state, status: 'connecting' };
    this._timing = { ...this._timing, startedAt: at };
    this._lastActivityAt = at;
    this._version++;
  }

  apply(update: ResponseUpdate): void {
    if (this._final) {
      return;
    }
    const { contentAppend, reasoningAppend, timing, final, ...state } = update;
    this._lastActivityAt = this._now();
    this._content += contentAppend;
    this._reasoning += reasoningAppend;
    this._state = state;
    this._timing = timing;
    this._final = final;
    if (final) {
      // The streaming side's own end supersedes one provisionally recorded here.
      this._endedHere = null;
    }
    this._version++;
  }

  /**
   * End it on this side with `status` (and `error`), keeping everything received. With
   * `settle`, nothing later is taken (the streaming side is gone); otherwise the last update
   * still is.
   */
  endHere(status: ResponseStatus, error: ResponseError | null, settle: boolean): void {
    if (this._final) {
      return;
    }
    this._endedHere = { status, error: error ?? this._state.error, at: this._now() };
    this._final = settle;
    this._version++;
  }

  /**
   * The response's state now: the same object until something arrives, and, while it runs, for
   * at most {@link LIVE_SNAPSHOT_MS} after it was taken (the views read every response's
   * snapshot several times at each update; its running figures are then at most a frame old).
   */
  snapshot(): ResponseSnapshot {
    const live = this._timing.startedAt !== null && !this.ended;
    const now = live ? this._now() : 0;
    if (
      this._cached !== null &&
      this._cachedVersion === this._version &&
      (!live || (now >= this._cachedAt && now - this._cachedAt < LIVE_SNAPSHOT_MS))
    ) {
      return this._cached;
    }
    const here = this._endedHere;
    const state = here ? { ...this._state, status: here.status, error: here.error } : this._state;
    const timing = here ? { ...this._timing, endedAt: here.at } : this._timing;
    const snapshot: ResponseSnapshot = {
      ...state,
      error: state.error === null ? null : { ...state.error },
      content: this._content,
      reasoning: this._reasoning,
      metrics: responseMetrics(timing, state.totalTokens, live ? now : this._now())
    };
    this._cached = snapshot;
    this._cachedVersion = this._version;
    this._cachedAt = now;
    return snapshot;
  }

  private _state: Omit<ResponseUpdate, 'contentAppend' | 'reasoningAppend' | 'timing' | 'final'> = {
    status: 'pending',
    thinkingTokens: 0,
    answerTokens: 0,
    totalTokens: 0,
    promptTokens: null,
    tokensEstimated: false,
    splitEstimated: false,
    finishReason: null,
    error: null,
    model: null,
    httpStatus: null
  };
  private _timing: ResponseTiming = EMPTY_TIMING;
  private _lastActivityAt: number | null = null;
  private _content = '';
  private _reasoning = '';
  private _final = false;
  private _endedHere: { status: ResponseStatus; error: ResponseError | null; at: number } | null = null;
  private _version = 0;
  private _cached: ResponseSnapshot | null = null;
  private _cachedVersion = -1;
  /** When the cached snapshot was taken, if live. */
  private _cachedAt = 0;
}
