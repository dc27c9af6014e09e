/**
 * A batch and its responses as the model keeps them: each response's current attempt (its
 * seed, its state rebuilt from the engine's updates) and who waits for it to end.
 */
import { PromiseDelegate } from '@lumino/coreutils';

import { batchMetrics, BatchMetrics, ResponseMirror, ResponseSnapshot } from '../core';
import type { IBatchSummary, IBatchView, IGenerateOptions, IResponseSummary, IResponseView } from '../tokens';
import { expandTargets } from './request';

/** Statuses of a response that has not ended. */
export const RUNNING = new Set(['pending', 'connecting', 'thinking', 'generating']);

/** Statuses "fill the gaps" re-generates. */
export const GAPS = new Set(['stopped', 'error', 'incomplete']);

/** One response of a batch: its latest attempt, or the state it was restored with. */
export class BatchResponse implements IResponseView {
  constructor(
    readonly id: string,
    readonly index: number,
    readonly upstream: string,
    readonly model: string,
    private readonly _now: () => number
  ) {
    this.mirror = new ResponseMirror(_now);
  }

  /** The id of the current attempt on the wire: unique within the batch's connections. */
  get wireId(): string {
    return `${this.id}.${this.attempt}`;
  }

  get seed(): number {
    return this._seed;
  }

  get attempt(): number {
    return this._attempt;
  }

  /** True once the current attempt has ended (a restored response has always ended). */
  get ended(): boolean {
    return this._restored !== null || this.mirror.ended;
  }

  /** True once the current attempt's last update has arrived: its summary is final. */
  get settled(): boolean {
    return this._restored !== null || this.mirror.settled;
  }

  /** Start a new attempt, sent at `at`, with a fresh state. */
  begin(seed: number, at: number): void {
    this._attempt += 1;
    this._seed = seed;
    this.mirror = new ResponseMirror(this._now);
    this._restored = null;
    this.mirror.begin(at);
  }

  /** Take an ended state saved before a reload (see `./saved`). */
  restore(seed: number, attempt: number, snapshot: ResponseSnapshot): void {
    this._seed = seed;
    this._attempt = attempt;
    this._restored = snapshot;
  }

  snapshot(): ResponseSnapshot {
    return this._restored ?? this.mirror.snapshot();
  }

  summary(): IResponseSummary {
    return {
      id: this.id,
      index: this.index,
      seed: this._seed,
      attempt: this._attempt,
      upstream: this.upstream,
      requestedModel: this.model,
      ...this.snapshot()
    };
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
  private _seed = 0;
  private _attempt = 0;
  private _restored: ResponseSnapshot | null = null;
}

/** N responses to one prompt, in the order they were asked for. */
export class Batch implements IBatchView {
  constructor(
    readonly id: string,
    readonly createdAt: number,
    readonly options: Readonly<IGenerateOptions>,
    private readonly _now: () => number
  ) {
    expandTargets(options).forEach((target, i) => {
      this.responses.push(new BatchResponse(String(i + 1), i + 1, target.upstream, target.model, _now));
    });
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
    return {
      batchId: this.id,
      createdAt: this.createdAt,
      prompt: this.options.prompt,
      options: { ...this.options },
      metrics: this.metrics(),
      responses: this.responses.map(r => r.summary())
    };
  }

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
