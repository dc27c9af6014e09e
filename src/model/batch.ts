/**
 * A batch and its responses as the model keeps them: each response's current attempt (its
 * seed, its state rebuilt from the engine's updates), its earlier attempts as they ended, the
 * attempt the views show, and who waits for the current attempt to end.
 */
import { PromiseDelegate } from '@lumino/coreutils';

import { batchMetrics, BatchMetrics, ResponseMirror, ResponseSnapshot } from '../core';
import type {
  IAttemptSummary,
  IAttemptView,
  IBatchSummary,
  IBatchView,
  IFusion,
  IGenerateOptions,
  IPick,
  IRating,
  IResponseSummary,
  IResponseView
} from '../tokens';
import { expandTargets } from './request';

/** Statuses of a response that has not ended. */
export const RUNNING = new Set(['pending', 'connecting', 'thinking', 'generating']);

/** Statuses "fill the gaps" re-generates. */
export const GAPS = new Set(['stopped', 'error', 'incomplete']);

/**
 * The text an attempt continues (`fanout:continue`): the attempt it extends, as it ended. The new
 * attempt's state is this text followed by what the model sends after it.
 */
export interface IContinuation {
  /** The number of the attempt continued. */
  attempt: number;
  content: string;
  reasoning: string;
  thinkingTokens: number;
  answerTokens: number;
  tokensEstimated: boolean;
}

/** A continuation's state: `prefix`'s text and tokens, then the continuing attempt's own. */
export function continuedSnapshot(prefix: IContinuation, own: ResponseSnapshot): ResponseSnapshot {
  const thinkingTokens = prefix.thinkingTokens + own.thinkingTokens;
  const answerTokens = prefix.answerTokens + own.answerTokens;
  return {
    ...own,
    content: prefix.content + own.content,
    reasoning: prefix.reasoning + own.reasoning,
    thinkingTokens,
    answerTokens,
    totalTokens: thinkingTokens + answerTokens,
    tokensEstimated: prefix.tokensEstimated || own.tokensEstimated
  };
}

/** An ended attempt, kept as it ended: its number, seed and final state. */
export class EndedAttempt implements IAttemptView {
  constructor(
    readonly attempt: number,
    readonly seed: number,
    private readonly _snapshot: ResponseSnapshot
  ) {}

  snapshot(): ResponseSnapshot {
    return this._snapshot;
  }
}

/** The JSON summary of one attempt. */
export function attemptSummary(attempt: IAttemptView): IAttemptSummary {
  return { attempt: attempt.attempt, seed: attempt.seed, ...attempt.snapshot() };
}

/**
 * One response of a batch: its current attempt (live, or the state it was restored with), the
 * earlier attempts as they ended, and which attempt the views show.
 */
export class BatchResponse implements IResponseView {
  constructor(
    readonly id: string,
    readonly index: number,
    readonly upstream: string,
    readonly model: string,
    private readonly _now: () => number,
    /** What a fused response merged (`fanout:fuse`); null for the others. */
    fusion: IFusion | null = null
  ) {
    this.mirror = new ResponseMirror(_now);
    this._fusion = fusion;
  }

  /** What a fused response merged (`fanout:fuse`); null for the others. */
  get fusion(): IFusion | null {
    return this._fusion;
  }

  /**
   * Learn what a fused response merged: one another tab started is known as fused at once (its
   * request says so) and learns its sources from the server's store.
   */
  learnFusion(fusion: IFusion): void {
    this._fusion = fusion;
  }

  /** The id of the current attempt on the wire: unique within the batch's connections. */
  get wireId(): string {
    // (Kept: every update from the engine looks its response up by it.)
    return (this._wireId ??= `${this.id}.${this._attempt}`);
  }

  get seed(): number {
    return this._seed;
  }

  get attempt(): number {
    return this._attempt;
  }

  get attempts(): ReadonlyArray<IAttemptView> {
    if (this._attemptViews === null) {
      const number = this._attempt;
      const earlier = [...this._earlier];
      const current: IAttemptView = {
        attempt: number,
        seed: this._seed,
        // Still this attempt's state when a list taken earlier is read after a re-generate.
        snapshot: () =>
          number === this._attempt ? this.snapshot() : this._earlier.find(a => a.attempt === number)!.snapshot()
      };
      this._attemptViews = [...earlier, current];
    }
    return this._attemptViews;
  }

  get shownAttempt(): number {
    return this._shown ?? this._attempt;
  }

  /**
   * True while the current attempt runs on the server and this page is reattaching to it (after
   * a reload): it shows the state saved before the reload until the server's replay arrives.
   */
  get reconnecting(): boolean {
    return this._reconnect !== null;
  }

  /**
   * When the current attempt last received something (or was sent); null when it is not live
   * here (restored, or reconnecting after a reload). How long a running stream has been silent.
   */
  get lastActivityAt(): number | null {
    return this._restored !== null || this._reconnect !== null ? null : this.mirror.lastActivityAt;
  }

  /** The text the current attempt continues (`fanout:continue`), or null. */
  get continuation(): IContinuation | null {
    return this._continued;
  }

  /** True once the current attempt has ended (a restored response has always ended). */
  get ended(): boolean {
    return this._restored !== null || this.mirror.ended;
  }

  /** True once the current attempt's last update has arrived: its summary is final. */
  get settled(): boolean {
    return this._restored !== null || this.mirror.settled;
  }

  /**
   * Start a new attempt, sent at `at`, with a fresh state; the current one (ended) is kept as it
   * ended, and the new one is shown. Its number is the next one, or `attempt` (one started by
   * another tab).
   */
  begin(seed: number, at: number, attempt?: number, continued: IContinuation | null = null): void {
    if (this._attempt > 0) {
      this._earlier.push(new EndedAttempt(this._attempt, this._seed, this.snapshot()));
    }
    this._continued = continued;
    this._merged = null;
    this._attempt = attempt ?? this._attempt + 1;
    this._wireId = null;
    this._seed = seed;
    this.mirror = new ResponseMirror(this._now);
    this._restored = null;
    this._reconnect = null;
    this._shown = null;
    this._attemptViews = null;
    this.mirror.begin(at);
  }

  /**
   * Take an ended state saved before a reload (see `./saved`): the latest attempt's, the earlier
   * ones' (oldest first, each numbered below `attempt`), and the attempt shown.
   */
  restore(
    seed: number,
    attempt: number,
    snapshot: ResponseSnapshot,
    earlier: ReadonlyArray<EndedAttempt> = [],
    shown?: number
  ): void {
    this._seed = seed;
    this._attempt = attempt;
    this._wireId = null;
    this._restored = snapshot;
    this._continued = null;
    this._earlier = [...earlier];
    this._attemptViews = null;
    this._shown = shown !== undefined && shown !== attempt && earlier.some(a => a.attempt === shown) ? shown : null;
  }

  /**
   * Like {@link restore}, for a latest attempt that was still running when the page went away:
   * it is live again (not ended), showing `saved` until the first update of its replay.
   */
  reattach(
    seed: number,
    attempt: number,
    saved: ResponseSnapshot,
    earlier: ReadonlyArray<EndedAttempt> = [],
    shown?: number
  ): void {
    this.restore(seed, attempt, saved, earlier, shown);
    this._restored = null;
    this._reconnect = saved;
    this.mirror = new ResponseMirror(this._now);
  }

  /**
   * The current attempt (reattaching after a reload) continues earlier attempt `attempt`: the
   * server's replay brings only the continuation, shown after that attempt's text. Nothing
   * happens when there is no such earlier attempt.
   */
  continues(attempt: number): void {
    const earlier = this._earlier.find(a => a.attempt === attempt);
    if (!earlier) {
      return;
    }
    const ended = earlier.snapshot();
    this._continued = {
      attempt,
      content: ended.content,
      reasoning: ended.reasoning,
      thinkingTokens: ended.thinkingTokens,
      answerTokens: ended.answerTokens,
      tokensEstimated: ended.tokensEstimated
    };
    this._merged = null;
  }

  /** The replay of a reconnecting attempt arrived: its state is the engine's from now on. */
  reconnected(): void {
    this._reconnect = null;
  }

  /** End the current attempt with a final state known otherwise (the store's, or as interrupted). */
  finish(snapshot: ResponseSnapshot): void {
    this._restored = snapshot;
    this._reconnect = null;
    this._attemptViews = null;
  }

  /** Show attempt `attempt`; throws a specific error when there is no such attempt. */
  show(attempt: number): void {
    if (attempt === this._attempt) {
      this._shown = null;
      return;
    }
    if (!this._earlier.some(a => a.attempt === attempt)) {
      const numbers = this.attempts.map(a => a.attempt).join(', ');
      throw new Error(`Response ${this.id} has no attempt ${attempt} (its attempts: ${numbers}).`);
    }
    this._shown = attempt;
  }

  snapshot(): ResponseSnapshot {
    if (this._restored !== null) {
      return this._restored;
    }
    const reconnect = this._reconnect;
    if (reconnect !== null) {
      if (!this.mirror.ended) {
        return reconnect;
      }
      // Stopped while reconnecting: the saved text, stopped (the replay brings the rest).
      const { status, error } = this.mirror.snapshot();
      return { ...reconnect, status, error };
    }
    const own = this.mirror.snapshot();
    const continued = this._continued;
    if (continued === null) {
      return own;
    }
    // The same object while the mirror's is: an ended card is not rendered again.
    if (this._merged === null || this._merged.own !== own) {
      this._merged = { own, merged: continuedSnapshot(continued, own) };
    }
    return this._merged.merged;
  }

  shownSnapshot(): ResponseSnapshot {
    const shown = this._shown;
    return shown === null ? this.snapshot() : this._earlier.find(a => a.attempt === shown)!.snapshot();
  }

  /** The attempt numbered `attempt`, or undefined. */
  findAttempt(attempt: number): IAttemptView | undefined {
    return this.attempts.find(a => a.attempt === attempt);
  }

  summary(): IResponseSummary {
    const summary: IResponseSummary = {
      id: this.id,
      index: this.index,
      seed: this._seed,
      attempt: this._attempt,
      upstream: this.upstream,
      requestedModel: this.model,
      ...this.snapshot(),
      attempts: this.attempts.map(attemptSummary)
    };
    if (this._shown !== null) {
      summary.shownAttempt = this._shown;
    }
    if (this._continued !== null) {
      summary.continues = this._continued.attempt;
    }
    if (this.fusion !== null) {
      summary.fusion = copyFusion(this.fusion);
    }
    return summary;
  }

  /** Resolve everyone waiting for the current attempt to end. */
  settle(): void {
    const waiters = this.waiters;
    this.waiters = [];
    const summary = this.summary();
    for (const resolve of waiters) {
      resolve(summary);
    }
  }

  /** The current attempt's state, rebuilt from the engine's updates. */
  mirror: ResponseMirror;
  waiters: Array<(summary: IResponseSummary) => void> = [];
  /**
   * Attempts another tab started (numbers above the current one, ascending) that begin once the
   * current attempt has settled, so that its last update is not lost.
   */
  queued: Array<{ attempt: number; seed: number }> = [];
  private _seed = 0;
  /** The state saved before a reload, shown while reconnecting. */
  private _reconnect: ResponseSnapshot | null = null;
  private _attempt = 0;
  private _wireId: string | null = null;
  private _restored: ResponseSnapshot | null = null;
  /** The ended attempts before the current one, oldest first. */
  private _earlier: EndedAttempt[] = [];
  /** The attempt shown when not the current one. */
  private _shown: number | null = null;
  private _attemptViews: IAttemptView[] | null = null;
  /** What the current attempt continues, or null. */
  private _continued: IContinuation | null = null;
  private _fusion: IFusion | null;
  /** The last continued snapshot and the mirror's it was made from. */
  private _merged: { own: ResponseSnapshot; merged: ResponseSnapshot } | null = null;
}

/** A copy of a fusion record (what a summary holds, so that it cannot change the batch). */
export function copyFusion(fusion: IFusion): IFusion {
  return {
    sources: fusion.sources.map(s => ({ responseId: s.responseId, attempt: s.attempt })),
    instruction: fusion.instruction,
    checklist: fusion.checklist ? [...fusion.checklist] : null
  };
}

/**
 * A fusion record read from saved or stored (hostile) JSON: null unless it has the shape of
 * {@link IFusion} (sources of a response id and an attempt number, an instruction, a checklist
 * of strings or null).
 */
export function readFusion(value: unknown): IFusion | null {
  if (typeof value !== 'object' || value === null) {
    return null;
  }
  const { sources, instruction, checklist } = value as Record<string, unknown>;
  if (!Array.isArray(sources) || typeof instruction !== 'string') {
    return null;
  }
  const read: IFusion['sources'] = [];
  for (const source of sources) {
    const { responseId, attempt } = (source ?? {}) as Record<string, unknown>;
    if (typeof responseId !== 'string' || typeof attempt !== 'number' || !Number.isInteger(attempt) || attempt < 1) {
      return null;
    }
    read.push({ responseId, attempt });
  }
  if (checklist !== null && checklist !== undefined) {
    if (!Array.isArray(checklist) || !checklist.every(p => typeof p === 'string')) {
      return null;
    }
  }
  return { sources: read, instruction, checklist: Array.isArray(checklist) ? [...(checklist as string[])] : null };
}

/** A fused response a batch holds beyond those its options ask for (`fanout:fuse`). */
export interface IFusedResponse {
  id: string;
  upstream: string;
  model: string;
  fusion: IFusion;
}

/**
 * N responses to one prompt, in the order they were asked for, then the fused responses added
 * to it (`fanout:fuse`), in the order they were added.
 */
export class Batch implements IBatchView {
  constructor(
    readonly id: string,
    readonly createdAt: number,
    readonly options: Readonly<IGenerateOptions>,
    private readonly _now: () => number,
    /** The responses' ids (a stored batch's); default "1", "2", … */
    responseIds?: ReadonlyArray<string>,
    /** Fused responses it holds after those (a saved or stored batch's). */
    fused: ReadonlyArray<IFusedResponse> = []
  ) {
    expandTargets(options).forEach((target, i) => {
      const id = responseIds?.[i] ?? String(i + 1);
      this.responses.push(new BatchResponse(id, i + 1, target.upstream, target.model, _now));
    });
    for (const f of fused) {
      this.addFused(f);
    }
  }

  /** Add a fused response after the others (not started). */
  addFused(fused: IFusedResponse): BatchResponse {
    if (this.responses.some(r => r.id === fused.id)) {
      throw new Error(`Batch ${this.id} already has a response ${fused.id}.`);
    }
    const response = new BatchResponse(
      fused.id,
      this.responses.length + 1,
      fused.upstream,
      fused.model,
      this._now,
      copyFusion(fused.fusion)
    );
    this.responses.push(response);
    return response;
  }

  /** The id of the next response added: one above the highest numeric id. */
  nextResponseId(): string {
    let highest = 0;
    for (const r of this.responses) {
      if (/^[1-9][0-9]{0,8}$/.test(r.id)) {
        highest = Math.max(highest, Number(r.id));
      }
    }
    return String(Math.max(highest, this.responses.length) + 1);
  }

  get active(): boolean {
    return this.responses.some(r => !r.ended);
  }

  metrics(): BatchMetrics {
    return batchMetrics(
      this.responses.map(r => r.snapshot()),
      this._now()
    );
  }

  summary(): IBatchSummary {
    const summary: IBatchSummary = {
      batchId: this.id,
      createdAt: this.createdAt,
      prompt: this.options.prompt,
      options: { ...this.options },
      metrics: this.metrics(),
      responses: this.responses.map(r => r.summary())
    };
    if (this.transport === 'direct') {
      summary.transport = 'direct';
    }
    if (this._pick || this._ratings.size) {
      summary.pick = this._pick ? { ...this._pick } : null;
      summary.ratings = this.ratings();
    }
    return summary;
  }

  get pick(): IPick | null {
    return this._pick;
  }

  ratingOf(responseId: string, attempt: number): number | null {
    return this._ratings.get(`${responseId}\n${attempt}`) ?? null;
  }

  /** The rated attempts, in the order of the responses and their attempts. */
  ratings(): IRating[] {
    const out: IRating[] = [];
    for (const response of this.responses) {
      for (const { attempt } of response.attempts) {
        const rating = this.ratingOf(response.id, attempt);
        if (rating !== null) {
          out.push({ responseId: response.id, attempt, rating });
        }
      }
    }
    return out;
  }

  /** Set the winner (null: none); throws for a response or attempt this batch does not have. */
  setPick(pick: IPick | null): void {
    if (pick) {
      this._requireAttempt(pick.responseId, pick.attempt);
    }
    this._pick = pick ? { responseId: pick.responseId, attempt: pick.attempt } : null;
  }

  /** Set one attempt's rating (null: none); throws for an attempt this batch does not have. */
  setRating(responseId: string, attempt: number, rating: number | null): void {
    this._requireAttempt(responseId, attempt);
    const key = `${responseId}\n${attempt}`;
    if (rating === null) {
      this._ratings.delete(key);
    } else {
      this._ratings.set(key, rating);
    }
  }

  /** Take the verdicts of a summary (saved, or read from the store); those naming nothing here are dropped. */
  applyVerdicts(summary: Pick<IBatchSummary, 'pick' | 'ratings'>): void {
    const ok = (responseId: unknown, attempt: unknown) =>
      typeof responseId === 'string' &&
      typeof attempt === 'number' &&
      this.responses.some(r => r.id === responseId && r.attempts.some(a => a.attempt === attempt));
    const pick = summary.pick;
    this._pick =
      pick && ok(pick.responseId, pick.attempt) ? { responseId: pick.responseId, attempt: pick.attempt } : null;
    this._ratings.clear();
    for (const r of Array.isArray(summary.ratings) ? summary.ratings : []) {
      if (r && ok(r.responseId, r.attempt) && Number.isInteger(r.rating) && r.rating >= 1 && r.rating <= 5) {
        this._ratings.set(`${r.responseId}\n${r.attempt}`, r.rating);
      }
    }
  }

  private _requireAttempt(responseId: string, attempt: number): void {
    const response = this.require(responseId);
    if (!response.attempts.some(a => a.attempt === attempt)) {
      throw new Error(`Response ${responseId} of batch ${this.id} has no attempt ${attempt}.`);
    }
  }

  private _pick: IPick | null = null;
  private readonly _ratings = new Map<string, number>();

  /** See {@link IBatchView.transport}; set when the batch starts or is restored. */
  transport: 'proxy' | 'direct' = 'proxy';

  /** True once every response's current attempt has settled. */
  get settled(): boolean {
    return this.responses.every(r => r.settled);
  }

  findByWireId(wireId: string): BatchResponse | undefined {
    return this.responses.find(r => r.wireId === wireId);
  }

  /** The response `responseId`, or a specific error. */
  require(responseId: string): BatchResponse {
    const response = this.responses.find(r => r.id === responseId);
    if (!response) {
      throw new Error(`Batch ${this.id} has no response ${responseId} (it has 1 to ${this.responses.length}).`);
    }
    return response;
  }

  readonly responses: BatchResponse[] = [];
  readonly done = new PromiseDelegate<IBatchSummary>();
}
