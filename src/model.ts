/**
 * The fanout model: batches of streaming responses, with Lumino signals and no React.
 *
 * Each response's bytes go through the DOM-free core (`./core`); this layer owns the batches,
 * their connections to the server, and tells views of changes at most once per animation frame.
 */
import { PromiseDelegate } from '@lumino/coreutils';
import { ISignal, Signal } from '@lumino/signaling';

import { batchMetrics, BatchMetrics, ResponseMirror, ResponseSnapshot } from './core';
import { EngineUpdate, IStreamEngine, localEngine, StreamEngineFactory, TransportSpec } from './engine';
import type {
  IBatchSummary,
  IBatchView,
  IFanoutModel,
  IGenerateOptions,
  IResponseSummary,
  IResponseView,
  ITarget
} from './tokens';
import type { ConnectionFactory } from './transport';

/** How the model is built; everything it touches outside itself is injected. */
export interface IFanoutModelOptions {
  /**
   * Where responses stream and are parsed: a Web Worker in the extension
   * ({@link workerEngine}). Default: in place, over the connections of `connect`.
   */
  engine?: StreamEngineFactory;
  /** Opens one connection per batch, in place (tests); used when `engine` is not given. */
  connect?: ConnectionFactory;
  /** The transport of a batch's next connection (read when a batch opens one). */
  transport?: () => TransportSpec;
  /** Clock in milliseconds; `performance.now`-like. */
  now?: () => number;
  /** Runs `callback` soon, once: coalesces change notifications (default: next animation frame). */
  schedule?: (callback: () => void) => void;
  /** Seeds for new requests (default: random 31-bit integers). */
  nextSeed?: () => number;
}

/** The responses a batch asks for, in order: its targets, or `n` from the default model. */
export function expandTargets(options: IGenerateOptions): ITarget[] {
  const targets = options.targets?.length
    ? options.targets
    : [{ upstream: options.upstream, model: options.model, n: options.n }];
  const expanded: ITarget[] = [];
  for (const target of targets) {
    if (!Number.isInteger(target.n) || target.n < 1) {
      throw new Error(`The number of responses must be a whole number of at least 1, not ${target.n}.`);
    }
    for (let i = 0; i < target.n; i++) {
      expanded.push({ upstream: target.upstream ?? '', model: target.model ?? '', n: 1 });
    }
  }
  return expanded;
}

/** Build the chat completion request of one response. */
export function buildRequest(options: IGenerateOptions, seed: number, model = options.model): Record<string, unknown> {
  const messages: Array<{ role: string; content: string }> = [];
  if (options.systemPrompt) {
    messages.push({ role: 'system', content: options.systemPrompt });
  }
  messages.push({
    role: 'user',
    content: options.context ? `${options.context}\n\n---\n\n${options.prompt}` : options.prompt
  });
  const request: Record<string, unknown> = {
    messages,
    max_tokens: options.maxTokens,
    temperature: options.temperature,
    seed
  };
  if (model) {
    request.model = model;
  }
  return request;
}

class Response implements IResponseView {
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

  /** Take the state saved before a reload; a response that was still running is marked incomplete. */
  restore(saved: IResponseSummary): void {
    const { id: _id, index: _index, seed, attempt, upstream: _upstream, requestedModel: _model, ...snapshot } = saved;
    this._seed = seed;
    this._attempt = attempt;
    this._restored = RUNNING.has(snapshot.status)
      ? {
          ...snapshot,
          status: 'incomplete',
          error: snapshot.error ?? {
            message:
              'The page was closed or reloaded while this response was streaming; the text that had arrived is kept.',
            code: 'interrupted'
          }
        }
      : snapshot;
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

const RUNNING = new Set(['pending', 'connecting', 'thinking', 'generating']);
/** Statuses "fill the gaps" re-generates. */
const GAPS = new Set(['stopped', 'error', 'incomplete']);

class Batch implements IBatchView {
  constructor(
    readonly id: string,
    readonly createdAt: number,
    readonly options: Readonly<IGenerateOptions>,
    private readonly _now: () => number
  ) {
    expandTargets(options).forEach((target, i) => {
      this.responses.push(new Response(String(i + 1), i + 1, target.upstream, target.model, _now));
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

  findByWireId(wireId: string): Response | undefined {
    return this.responses.find(r => r.wireId === wireId);
  }

  readonly responses: Response[] = [];
  readonly done = new PromiseDelegate<IBatchSummary>();
}

function defaultSchedule(callback: () => void): void {
  if (typeof requestAnimationFrame === 'function') {
    requestAnimationFrame(() => callback());
  } else {
    setTimeout(callback, 100);
  }
}

function randomSeed(): number {
  return Math.floor(Math.random() * 0x7fffffff);
}

/** See {@link IFanoutModel}. */
export class FanoutModel implements IFanoutModel {
  constructor(options: IFanoutModelOptions) {
    this._now = options.now ?? (() => performance.now());
    this._schedule = options.schedule ?? defaultSchedule;
    this._nextSeed = options.nextSeed ?? randomSeed;
    this._transport = options.transport ?? (() => ({ kind: 'proxy', url: '' }));
    let engine = options.engine;
    if (!engine) {
      const connect = options.connect;
      if (!connect) {
        throw new Error('FanoutModel needs an engine or a connect function.');
      }
      engine = localEngine((_transport, handlers) => connect(handlers), this._now);
    }
    this._engine = engine(
      updates => this._onUpdates(updates),
      message => this._onEngineFailure(message)
    );
    // So that the first Generate responses finds its connection ready.
    this._engine.send({ type: 'prepare', transport: this._transport() });
  }

  get batches(): ReadonlyArray<IBatchView> {
    return this._batches;
  }

  get changed(): ISignal<IFanoutModel, void> {
    return this._changed;
  }

  generate(options: IGenerateOptions): { batch: IBatchView; done: Promise<IBatchSummary> } {
    if (!options.prompt.trim()) {
      throw new Error('The prompt is empty: write a prompt in a cell or in the Fanout sidebar.');
    }
    expandTargets(options); // Validates the numbers before anything is sent.

    const createdAt = Date.now();
    const batch = new Batch(`${createdAt.toString(36)}-${++this._batchCounter}`, createdAt, { ...options }, this._now);
    this._batches.unshift(batch);
    for (const response of batch.responses) {
      this._startAttempt(batch, response);
    }
    this._markChanged();
    return { batch, done: batch.done.promise };
  }

  stop(batchId: string, responseId?: string): void {
    const batch = this._requireBatch(batchId);
    const targets = responseId === undefined ? batch.responses : [this._requireResponse(batch, responseId)];
    for (const response of targets) {
      if (response.ended) {
        continue;
      }
      // Shown as stopped at once, with the text so far; the engine closes the upstream
      // connection and sends the attempt's last update (with what arrived meanwhile).
      this._engine.send({ type: 'stop', batch: batch.id, wire: response.wireId });
      response.mirror.endHere('stopped', null, false);
    }
    this._markChanged();
  }

  regenerate(batchId: string, responseId: string): Promise<IResponseSummary> {
    const batch = this._requireBatch(batchId);
    const response = this._requireResponse(batch, responseId);
    if (!response.ended) {
      throw new Error(`Response ${responseId} of batch ${batchId} is still running: stop it first.`);
    }
    if (!response.settled) {
      // Stopped a moment ago and its last update has not come yet: the old attempt is done.
      response.settle();
    }
    const ended = new Promise<IResponseSummary>(resolve => response.waiters.push(resolve));
    this._startAttempt(batch, response);
    this._markChanged();
    return ended;
  }

  fillGaps(batchId: string): Promise<IResponseSummary[]> {
    const batch = this._requireBatch(batchId);
    const gaps = batch.responses.filter(r => r.ended && GAPS.has(r.snapshot().status));
    return Promise.all(gaps.map(r => this.regenerate(batchId, r.id)));
  }

  getBatch(batchId?: string): IBatchView | undefined {
    return batchId === undefined ? this._batches[0] : this._batches.find(b => b.id === batchId);
  }

  removeBatch(batchId: string): void {
    const batch = this._requireBatch(batchId);
    if (batch.active) {
      throw new Error(`Batch ${batchId} is still running: stop it before removing it.`);
    }
    this._batches.splice(this._batches.indexOf(batch), 1);
    this._markChanged();
  }

  /**
   * What to save so that nothing is lost on a reload: the summaries of the newest batches.
   */
  save(limit = 10): IBatchSummary[] {
    return this._batches.slice(0, limit).map(batch => batch.summary());
  }

  /** Bring back batches saved by {@link save} (after the ones already here). */
  restore(saved: ReadonlyArray<IBatchSummary>): void {
    for (const summary of saved) {
      if (this._batches.some(b => b.id === summary.batchId)) {
        continue;
      }
      const batch = new Batch(summary.batchId, summary.createdAt ?? Date.now(), summary.options, this._now);
      if (batch.responses.length !== summary.responses.length) {
        console.warn(`jupyterlab-fanout: not restoring batch ${summary.batchId}: its saved state is inconsistent`);
        continue;
      }
      summary.responses.forEach((response, i) => batch.responses[i].restore(response));
      batch.done.resolve(batch.summary());
      this._batches.push(batch);
    }
    this._markChanged();
  }

  /** Stop everything and close every connection. */
  dispose(): void {
    for (const batch of this._batches) {
      if (batch.active) {
        this.stop(batch.id);
      }
    }
    this._engine.dispose();
  }

  private _startAttempt(batch: Batch, response: Response): void {
    const startedAt = this._now();
    response.begin(this._nextSeed(), startedAt);
    this._engine.send({
      type: 'start',
      batch: batch.id,
      wire: response.wireId,
      upstream: response.upstream,
      request: buildRequest(batch.options, response.seed, response.model),
      transport: this._transport(),
      startedAt
    });
  }

  /** The engine's updates: applied to the current attempts (late ones of older attempts are dropped). */
  private _onUpdates(updates: EngineUpdate[]): void {
    for (const [batchId, wire, update] of updates) {
      const batch = this._batches.find(b => b.id === batchId);
      const response = batch?.findByWireId(wire);
      if (!batch || !response || response.settled) {
        continue;
      }
      response.mirror.apply(update);
      if (response.settled) {
        this._settle(batch, response);
      }
    }
    this._markChanged();
  }

  /** The engine itself failed: every response still running is lost, with what had arrived. */
  private _onEngineFailure(message: string): void {
    for (const batch of this._batches) {
      for (const response of batch.responses) {
        if (!response.settled) {
          response.mirror.endHere('error', { message, code: 'engine' }, true);
          this._settle(batch, response);
        }
      }
    }
    this._markChanged();
  }

  /** A response's attempt ended: resolve its waiters, and the batch's once all have ended. */
  private _settle(batch: Batch, response: Response): void {
    response.settle();
    if (batch.settled) {
      this._engine.send({ type: 'close', batch: batch.id });
      // The next batch's socket is opened now, not while this one was starting.
      this._engine.send({ type: 'prepare', transport: this._transport() });
      batch.done.resolve(batch.summary());
    }
  }

  private _requireBatch(batchId: string): Batch {
    const batch = this._batches.find(b => b.id === batchId);
    if (!batch) {
      throw new Error(`There is no batch ${batchId}.`);
    }
    return batch;
  }

  private _requireResponse(batch: Batch, responseId: string): Response {
    const response = batch.responses.find(r => r.id === responseId);
    if (!response) {
      throw new Error(`Batch ${batch.id} has no response ${responseId} (it has 1 to ${batch.responses.length}).`);
    }
    return response;
  }

  private _markChanged(): void {
    if (this._changePending) {
      return;
    }
    this._changePending = true;
    this._schedule(() => {
      this._changePending = false;
      this._changed.emit();
    });
  }

  private readonly _batches: Batch[] = [];
  private readonly _changed = new Signal<IFanoutModel, void>(this);
  private readonly _engine: IStreamEngine;
  private readonly _transport: () => TransportSpec;
  private readonly _now: () => number;
  private readonly _schedule: (callback: () => void) => void;
  private readonly _nextSeed: () => number;
  private _batchCounter = 0;
  private _changePending = false;
}
