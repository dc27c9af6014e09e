/**
 * The fanout model: batches of streaming responses, with Lumino signals and no React.
 *
 * Each response streams and is parsed in the engine (`../engine`, a Web Worker in the extension);
 * this layer owns the batches (`./batch`), sends the engine what to start and stop (requests built
 * by `./request`), applies its updates, and tells views of changes at most once per animation
 * frame. Saved batches come back through `./saved`.
 */
import { PromiseDelegate } from '@lumino/coreutils';
import { ISignal, Signal } from '@lumino/signaling';

import {
  ConnectionFactory,
  describeBatch,
  EngineEvent,
  EngineUpdate,
  IStreamEngine,
  localEngine,
  StreamEngineFactory,
  TransportSpec
} from '../engine';
import { fuseRequest, IFuseDraft, isFuseRequest } from '../fuse/prompt';
import type {
  IBatchSummary,
  IBatchView,
  IFanoutModel,
  IFusion,
  IGenerateOptions,
  IModelChange,
  IPick,
  IResponseSummary,
  IResponseView,
  IStoredBatch
} from '../tokens';
import { BlindBatches } from './blind';
import { Batch, BatchResponse, GAPS, IContinuation, readFusion, RUNNING } from './batch';
import { interruptedSnapshot, seedOf, storedSnapshot } from './reattach';
import { buildRequest, continuationRequest, expandTargets } from './request';
import { restoreBatch, savedSummary } from './saved';
import { batchFromSummary } from './stored';

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
  /** Runs `callback` soon, once: coalesces change notifications (default: the next task). */
  schedule?: (callback: () => void) => void;
  /** Seeds for new requests (default: random 31-bit integers). */
  nextSeed?: () => number;
  /**
   * Reads a batch from the server's store (`GET fanout/batches/<id>`): where a restored batch
   * that could not be reattached takes its responses' final states from. Default: none (they
   * come back incomplete).
   */
  storedBatch?: (batchId: string) => Promise<IStoredBatch>;
  /**
   * How long a batch's connection stays open after the batch ended, in milliseconds (default
   * {@link LINGER_MS}): meanwhile a re-generate or Fill the gaps another tab starts in it shows
   * here live, and Stop here reaches it. 0 closes it as soon as the batch ends.
   */
  lingerMs?: number;
  /** At most this many ended batches keep their connection (default {@link LINGER_MAX}); the oldest closes first. */
  lingerMax?: number;
  /** Timers (injected in tests). */
  setTimer?: (callback: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

/** How long an ended batch keeps its connection, by default: 10 minutes. */
export const LINGER_MS = 10 * 60 * 1000;

/** How many ended batches keep their connection at most, by default. */
export const LINGER_MAX = 4;

/**
 * The next task: the changes of one worker message (or one command) make one notification.
 * Not the next animation frame: a requested frame is produced even when nothing on screen
 * changes, so a streaming batch kept the page producing about 15 frames a second with the
 * sidebar collapsed, and a keystroke waits for a frame already under way (a frame loop alone
 * made typing at rest 1.16–1.40× as slow: benchmarks/README.md). The views pace their own
 * renders.
 */
function defaultSchedule(callback: () => void): void {
  setTimeout(callback, 0);
}

/**
 * A user-timing mark (`jupyterlab-fanout:<what>`, detail: the batch id), for DevTools and the
 * reattach benchmark: when a reattach was sent, answered, and every response had its replay.
 */
function mark(what: string, batchId: string): void {
  if (typeof performance !== 'undefined' && typeof performance.mark === 'function') {
    performance.mark(`jupyterlab-fanout:${what}`, { detail: batchId });
  }
}

/** Why a direct-mode response that was streaming when the page went away is incomplete. */
export const DIRECT_INTERRUPTED =
  'Streamed in direct mode (from this browser straight to the model server): the reload stopped it and it cannot be reattached; the text that had arrived is kept.';

/** True when `summary` (the store's) has a response whose running attempt is newer than `batch`'s. */
function newerRunning(summary: IBatchSummary, batch: Batch): boolean {
  return summary.responses.some(stored => {
    const here = batch.responses.find(r => r.id === stored.id);
    return here !== undefined && RUNNING.has(stored.status) && stored.attempt > here.attempt;
  });
}

/**
 * The drafts a fusion merges: each source's attempt's answer text, in the fusion's order.
 * Throws naming the response for a source the batch does not have, one still running, or one
 * with no answer text.
 */
export function fusionDrafts(batch: Batch, fusion: IFusion): IFuseDraft[] {
  return fusion.sources.map(({ responseId, attempt }) => {
    const response = batch.require(responseId);
    const view = response.findAttempt(attempt);
    if (!view) {
      const numbers = response.attempts.map(a => a.attempt).join(', ');
      throw new Error(`Response ${responseId} has no attempt ${attempt} (its attempts: ${numbers}).`);
    }
    const snapshot = view.snapshot();
    if (attempt === response.attempt && !response.ended) {
      throw new Error(`Response ${responseId} of batch ${batch.id} is still running: fuse it once it has ended.`);
    }
    if (!snapshot.content.trim()) {
      throw new Error(`Attempt ${attempt} of response ${responseId} has no answer text to fuse.`);
    }
    return { responseId, attempt, text: snapshot.content };
  });
}

/** A fused response started in another tab whose sources this page has not learnt yet cannot be sent again. */
function requireKnownFusion(response: BatchResponse): void {
  if (response.fusion && response.fusion.sources.length === 0) {
    throw new Error(
      `What response ${response.id} fused is not known in this page yet (another tab started it): reload the page to read it from the server's store.`
    );
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
    this._storedBatch = options.storedBatch ?? null;
    this._lingerMs = Math.max(0, options.lingerMs ?? LINGER_MS);
    this._lingerMax = Math.max(0, options.lingerMax ?? LINGER_MAX);
    this._setTimer = options.setTimer ?? ((callback, ms) => setTimeout(callback, ms));
    this._clearTimer = options.clearTimer ?? (handle => clearTimeout(handle as ReturnType<typeof setTimeout>));
    // A batch hidden or shown again for a blind vote: every view of it renders again.
    this.blind.changed.connect((_, batchId) => this._markChanged(batchId));
    let engine = options.engine;
    if (!engine) {
      const connect = options.connect;
      if (!connect) {
        throw new Error('FanoutModel needs an engine or a connect function.');
      }
      engine = localEngine((_transport, handlers) => connect(handlers), this._now, {
        setTimer: this._setTimer,
        clearTimer: this._clearTimer
      });
    }
    this._engine = engine(
      updates => this._onUpdates(updates),
      message => this._onEngineFailure(message),
      event => this._onEvent(event)
    );
    // So that the first Generate responses finds its connection ready.
    this._engine.send({ type: 'prepare', transport: this._transport() });
  }

  readonly blind = new BlindBatches();

  get batches(): ReadonlyArray<IBatchView> {
    return this._batches;
  }

  get changed(): ISignal<IFanoutModel, IModelChange> {
    return this._changed;
  }

  generate(options: IGenerateOptions): { batch: IBatchView; done: Promise<IBatchSummary> } {
    if (!options.prompt.trim()) {
      throw new Error('The prompt is empty: write a prompt in a cell or in the Fanout sidebar.');
    }
    expandTargets(options); // Validates the numbers before anything is sent.

    const createdAt = Date.now();
    const batch = new Batch(`${createdAt.toString(36)}-${++this._batchCounter}`, createdAt, { ...options }, this._now);
    batch.transport = this._transport().kind === 'direct' ? 'direct' : 'proxy';
    this._batches.unshift(batch);
    for (const response of batch.responses) {
      this._startAttempt(batch, response);
    }
    this._markChanged(batch.id);
    return { batch, done: batch.done.promise };
  }

  stop(batchId: string, responseId?: string): void {
    const batch = this._requireBatch(batchId);
    const targets = responseId === undefined ? batch.responses : [batch.require(responseId)];
    for (const response of targets) {
      if (response.ended) {
        continue;
      }
      // Shown as stopped at once, with the text so far; the engine closes the upstream
      // connection and sends the attempt's last update (with what arrived meanwhile).
      this._engine.send({ type: 'stop', batch: batch.id, wire: response.wireId });
      response.mirror.endHere('stopped', null, false);
    }
    this._markChanged(batch.id);
  }

  regenerate(batchId: string, responseId: string): Promise<IResponseSummary> {
    const batch = this._requireBatch(batchId);
    const response = batch.require(responseId);
    if (!response.ended) {
      throw new Error(`Response ${responseId} of batch ${batchId} is still running: stop it first.`);
    }
    requireKnownFusion(response);
    if (!response.settled) {
      // Stopped a moment ago and its last update has not come yet: the old attempt is done.
      response.settle();
    }
    const ended = new Promise<IResponseSummary>(resolve => response.waiters.push(resolve));
    this._startAttempt(batch, response);
    this._markChanged(batch.id);
    return ended;
  }

  continueResponse(batchId: string, responseId: string, attempt?: number): Promise<IResponseSummary> {
    const batch = this._requireBatch(batchId);
    const response = batch.require(responseId);
    if (!response.ended) {
      throw new Error(`Response ${responseId} of batch ${batchId} is still running: it can be continued once it ends.`);
    }
    requireKnownFusion(response);
    const number = attempt ?? response.shownAttempt;
    const view = response.findAttempt(number);
    if (!view) {
      const numbers = response.attempts.map(a => a.attempt).join(', ');
      throw new Error(`Response ${responseId} has no attempt ${number} (its attempts: ${numbers}).`);
    }
    const ended = view.snapshot();
    if (ended.finishReason !== 'length' || ended.status !== 'complete') {
      const how = ended.finishReason ? `${ended.status}, finish reason ${ended.finishReason}` : ended.status;
      throw new Error(
        `Attempt ${number} of response ${responseId} was not cut off by max tokens (it ended ${how}): only a truncated response can be continued.`
      );
    }
    if (!ended.content) {
      throw new Error(`Attempt ${number} of response ${responseId} has no answer text to continue.`);
    }
    if (!response.settled) {
      response.settle();
    }
    const continued: IContinuation = {
      attempt: number,
      content: ended.content,
      reasoning: ended.reasoning,
      thinkingTokens: ended.thinkingTokens,
      answerTokens: ended.answerTokens,
      tokensEstimated: ended.tokensEstimated
    };
    const done = new Promise<IResponseSummary>(resolve => response.waiters.push(resolve));
    // The same seed as the attempt it continues: the model goes on with the same sampling.
    this._startAttempt(batch, response, { seed: view.seed, continued });
    this._markChanged(batch.id);
    return done;
  }

  fuse(batchId: string, fusion: IFusion & { model: string; upstream: string; responseId?: string }): IResponseView {
    const batch = this._requireBatch(batchId);
    if (fusion.sources.length === 0) {
      throw new Error(`Fuse needs at least one response of batch ${batchId} to merge.`);
    }
    if (!fusion.instruction.trim()) {
      throw new Error('The synthesis instruction is empty: write what the merge should do.');
    }
    fusionDrafts(batch, fusion); // Throws for a source that cannot be merged.
    const response = batch.addFused({
      id: fusion.responseId ?? batch.nextResponseId(),
      upstream: fusion.upstream,
      model: fusion.model,
      fusion
    });
    this._startAttempt(batch, response);
    this._markChanged(batch.id);
    return response;
  }

  fillGaps(batchId: string): Promise<IResponseSummary[]> {
    const batch = this._requireBatch(batchId);
    const gaps = batch.responses.filter(r => r.ended && GAPS.has(r.snapshot().status));
    if (gaps.length === 0) {
      throw new Error(`Batch ${batchId} has no gaps to fill: no response has ended stopped, failed or incomplete.`);
    }
    return Promise.all(gaps.map(r => this.regenerate(batchId, r.id)));
  }

  showAttempt(batchId: string, responseId: string, attempt: number): void {
    const response = this._requireBatch(batchId).require(responseId);
    if (response.shownAttempt === attempt) {
      return;
    }
    response.show(attempt);
    this._markChanged(batchId);
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
    // Its connection, if it still has one (an ended batch's lingers): closed with its timer.
    this._closeConnection(batch.id);
    this._unsubscribed.delete(batch.id);
    this._liveWaiters.get(batch.id)?.reject(new Error(`Batch ${batchId} was removed.`));
    this._liveWaiters.delete(batch.id);
    this._markChanged(batch.id);
  }

  /**
   * What to save so that nothing is lost on a reload: the summaries of the newest batches, each
   * response's earlier attempts included (its latest is the summary's own fields, not repeated).
   */
  save(limit = 10): IBatchSummary[] {
    return this._batches.slice(0, limit).map(batch => savedSummary(batch.summary()));
  }

  /**
   * Bring back batches saved by {@link save} (after the ones already here). A batch that was
   * still running when the page went away is reattached: the server kept it running, and its
   * responses continue live (shown "reconnecting" until the server's replay arrives).
   */
  restore(saved: ReadonlyArray<IBatchSummary>): void {
    const restored: string[] = [];
    for (const summary of saved) {
      if (this._batches.some(b => b.id === summary.batchId)) {
        continue;
      }
      const batch = restoreBatch(summary, this._now, true);
      if (batch) {
        this._batches.push(batch);
        if (batch.active && batch.transport === 'direct') {
          // Its streams ran in the page that went away: nothing on the server to reattach to.
          this._interrupt(batch, DIRECT_INTERRUPTED);
        } else if (batch.active) {
          this._attach(batch);
        }
        restored.push(batch.id);
      }
    }
    this._markChanged(...restored);
  }

  /**
   * Put a batch read from the server's store (`./stored`) in the list, in its place by time; the
   * batch of that id when there is one already. Each response whose latest attempt the store
   * has as running comes back reconnecting and the batch is reattached, as after a reload
   * ({@link restore}): the server's replay brings the text so far, then the rest live, and
   * Stop, Stop all and Re-generate act on the server's batch. When the server no longer runs it
   * (`unknown_batch`), each such response takes its final state from the store, or is
   * incomplete with the reason. An ended batch is subscribed to without a replay (`watch`), so
   * that a re-generate another tab starts in it shows here live, for as long as an ended
   * batch's connection lingers ({@link IFanoutModelOptions.lingerMs}).
   *
   * A batch already here is returned as it is; if it has ended, has no connection and the
   * store has an attempt newer than its own still running, it is reattached for that attempt.
   */
  open(summary: IBatchSummary): IBatchView {
    const here = this._batches.find(b => b.id === summary.batchId);
    if (here) {
      if (!here.active && !this._lingering.has(here.id) && newerRunning(summary, here)) {
        this._attach(here);
      }
      return here;
    }
    const batch = batchFromSummary(summary, this._now);
    const at = this._batches.findIndex(b => b.createdAt < batch.createdAt);
    this._batches.splice(at === -1 ? this._batches.length : at, 0, batch);
    if (batch.active) {
      this._attach(batch);
    } else {
      this._engine.send({
        type: 'watch',
        batch: batch.id,
        transport: this._transport(),
        describe: describeBatch(batch.options)
      });
      this._linger(batch.id);
    }
    this._markChanged(batch.id);
    return batch;
  }

  /**
   * Resolves once no response of batch `batchId` is reconnecting: each reattached response has
   * its state from the server's replay (or its final state from the store). Rejects when there
   * is no such batch, or when it is removed first.
   */
  whenLive(batchId: string): Promise<void> {
    const batch = this._requireBatch(batchId);
    if (!batch.responses.some(r => r.reconnecting)) {
      return Promise.resolve();
    }
    let waiter = this._liveWaiters.get(batchId);
    if (!waiter) {
      waiter = new PromiseDelegate<void>();
      this._liveWaiters.set(batchId, waiter);
    }
    return waiter.promise;
  }

  /** The ids of the ended batches whose connection lingers, oldest first (for tests and diagnostics). */
  get lingering(): ReadonlyArray<string> {
    return [...this._lingering.keys()];
  }

  /**
   * Release the engine. What still runs on the server is not stopped: the batch belongs to the
   * server, which keeps it for the next page (only {@link stop} stops responses).
   */
  dispose(): void {
    for (const handle of this._lingering.values()) {
      this._clearTimer(handle);
    }
    this._lingering.clear();
    this._engine.dispose();
  }

  /** Subscribe to a batch the server holds, with a replay (its reconnecting responses go live). */
  private _attach(batch: Batch): void {
    mark('attach', batch.id);
    this._unsubscribed.delete(batch.id);
    this._unlinger(batch.id);
    this._engine.send({ type: 'attach', batch: batch.id, transport: this._transport() });
  }

  /**
   * Keep an ended batch's connection open for `lingerMs` (restarting its time), so that what
   * other tabs start in it shows here; beyond `lingerMax` batches the oldest closes.
   */
  private _linger(batchId: string): void {
    this._unlinger(batchId);
    if (this._lingerMs === 0 || this._lingerMax === 0 || this._unsubscribed.has(batchId)) {
      this._engine.send({ type: 'close', batch: batchId });
      return;
    }
    this._lingering.set(
      batchId,
      this._setTimer(() => this._closeConnection(batchId), this._lingerMs)
    );
    for (const oldest of this._lingering.keys()) {
      if (this._lingering.size <= this._lingerMax) {
        break;
      }
      this._closeConnection(oldest);
    }
  }

  /** The batch is active again: its connection no longer lingers (it is closed when it ends). */
  private _unlinger(batchId: string): void {
    const handle = this._lingering.get(batchId);
    if (handle !== undefined) {
      this._clearTimer(handle);
      this._lingering.delete(batchId);
    }
  }

  /** Close an ended batch's connection (a no-op in the engine when it has none). */
  private _closeConnection(batchId: string): void {
    this._unlinger(batchId);
    this._engine.send({ type: 'close', batch: batchId });
  }

  /**
   * Start the response's next attempt: a new seed, or (`continue`) the seed and text of the
   * attempt it continues, sent as the assistant's last message for the model to go on with.
   */
  private _startAttempt(
    batch: Batch,
    response: BatchResponse,
    extend?: { seed: number; continued: IContinuation }
  ): void {
    this._unlinger(batch.id);
    this._unsubscribed.delete(batch.id); // Its start opens a socket if it has none.
    const startedAt = this._now();
    response.begin(extend?.seed ?? this._nextSeed(), startedAt, undefined, extend?.continued ?? null);
    const request =
      response.fusion === null
        ? buildRequest(batch.options, response.seed, response.model)
        : fuseRequest(
            batch.options,
            response.fusion,
            fusionDrafts(batch, response.fusion),
            response.seed,
            response.model
          );
    if (extend) {
      continuationRequest(request, extend.continued.content);
    }
    this._engine.send({
      type: 'start',
      batch: batch.id,
      wire: response.wireId,
      upstream: response.upstream,
      request,
      transport: this._transport(),
      startedAt,
      describe: describeBatch(batch.options)
    });
  }

  /** The engine's updates: applied to the current attempts (late ones of older attempts are dropped). */
  private _onUpdates(updates: EngineUpdate[]): void {
    const changed = new Set<string>();
    for (const [batchId, wire, update] of updates) {
      const batch = this._batches.find(b => b.id === batchId);
      const response = batch?.findByWireId(wire);
      if (!batch || !response || response.settled) {
        continue;
      }
      changed.add(batchId);
      if (response.reconnecting) {
        // The server's replay: from its first byte, so the engine's state replaces the saved one.
        response.reconnected();
        if (!batch.responses.some(r => r.reconnecting)) {
          mark('reconnected', batch.id);
        }
      }
      response.mirror.apply(update);
      if (response.settled) {
        this._settle(batch, response);
      }
    }
    this._markChanged(...changed);
  }

  /** The engine itself failed: every response still running is lost, with what had arrived. */
  private _onEngineFailure(message: string): void {
    const changed: string[] = [];
    for (const batch of this._batches) {
      for (const response of batch.responses) {
        if (!response.settled) {
          response.mirror.endHere('error', { message, code: 'engine' }, true);
          this._settle(batch, response);
          changed.push(batch.id);
        }
      }
    }
    this._markChanged(...changed);
  }

  /** The engine's events about batches: reattached, started in another tab, not reattached. */
  private _onEvent(event: EngineEvent): void {
    const batch = this._batches.find(b => b.id === event.batch);
    if (!batch) {
      return; // Removed meanwhile.
    }
    mark(event.type, batch.id);
    switch (event.type) {
      case 'attached': {
        const listed = new Set(event.responses.map(r => r.wire));
        for (const response of batch.responses) {
          if (response.reconnecting && !listed.has(response.wireId)) {
            // Its start never reached the server (the page went away first).
            response.finish(
              interruptedSnapshot(
                response.snapshot(),
                'The server has no record of this response running (the page went away before it started); the text that had arrived is kept.'
              )
            );
            this._settle(batch, response);
          }
        }
        for (const attached of event.responses) {
          this._adoptAttempt(batch, attached.wire, seedOf(attached.request), attached);
        }
        break;
      }
      case 'started-elsewhere':
        this._adoptAttempt(batch, event.wire, seedOf(event.request), event);
        break;
      case 'attach-failed':
        // No socket for it: nothing to keep open once it has ended.
        this._unsubscribed.add(batch.id);
        this._recoverFromStore(batch, event.message);
        break;
    }
    this._markChanged(batch.id);
  }

  /**
   * An attempt started by another page (wire `<response>.<attempt>`): it becomes the response's
   * current attempt, once the one this page has has settled (its last update comes first).
   */
  private _adoptAttempt(
    batch: Batch,
    wire: string,
    seed: number,
    started?: { upstream: string; request: Record<string, unknown> }
  ): void {
    const dot = wire.lastIndexOf('.');
    const response = batch.responses.find(r => r.id === wire.slice(0, dot));
    const attempt = Number(wire.slice(dot + 1));
    if (
      !response &&
      dot > 0 &&
      Number.isInteger(attempt) &&
      attempt >= 1 &&
      started &&
      isFuseRequest(started.request)
    ) {
      this._adoptFused(batch, wire.slice(0, dot), attempt, seed, started);
      return;
    }
    if (!response || dot < 0 || !Number.isInteger(attempt) || attempt < 1) {
      console.warn(`jupyterlab-fanout: batch ${batch.id}: ignoring a response started elsewhere as '${wire}'`);
      return;
    }
    if (attempt <= response.attempt || response.queued.some(q => q.attempt === attempt)) {
      return; // Known here already.
    }
    response.queued.push({ attempt, seed });
    response.queued.sort((a, b) => a.attempt - b.attempt);
    // The batch runs again (an ended batch's lingering connection heard of it): no longer lingers.
    this._unlinger(batch.id);
    if (response.settled) {
      this._beginQueued(response);
    }
  }

  /**
   * A fused response another page added to the batch (`fanout:fuse`): added here too and shown
   * live; what it merged is read from the server's store (recorded before it started). Until
   * then it cannot be re-generated here.
   */
  private _adoptFused(
    batch: Batch,
    id: string,
    attempt: number,
    seed: number,
    started: { upstream: string; request: Record<string, unknown> }
  ): void {
    const response = batch.addFused({
      id,
      upstream: started.upstream,
      model: typeof started.request.model === 'string' ? started.request.model : '',
      fusion: { sources: [], instruction: '', checklist: null }
    });
    response.begin(seed, this._now(), attempt);
    this._unlinger(batch.id);
    this._storedBatch?.(batch.id)
      .then(stored => {
        const fusion = readFusion(stored.responses.find(r => r.id === id)?.fusion);
        if (fusion) {
          response.learnFusion(fusion);
          this._markChanged(batch.id);
        }
      })
      .catch(error => {
        console.warn(`jupyterlab-fanout: batch ${batch.id}: what response ${id} fused could not be read`, error);
      });
  }

  /** Begin the next attempt another page started, if any; true if one began. */
  private _beginQueued(response: BatchResponse): boolean {
    const next = response.queued.shift();
    if (!next) {
      return false;
    }
    response.begin(next.seed, this._now(), next.attempt);
    return true;
  }

  /**
   * A restored batch could not be reattached (`reason`): its reconnecting responses take their
   * final states from the server's store, or come back incomplete with the text saved here.
   */
  private _recoverFromStore(batch: Batch, reason: string): void {
    const interrupted = (detail: string) => this._interrupt(batch, detail);
    if (!batch.responses.some(r => r.reconnecting)) {
      return;
    }
    if (!this._storedBatch) {
      interrupted(`This response could not be reattached (${reason}); the text that had arrived is kept.`);
      return;
    }
    this._storedBatch(batch.id)
      .then(stored => {
        for (const response of batch.responses) {
          if (!response.reconnecting) {
            continue;
          }
          const attempts = stored.responses.find(r => r.id === response.id)?.attempts ?? [];
          const own = attempts.find(a => a.attempt === response.attempt);
          const startedAt = response.snapshot().metrics.startedAt;
          response.finish(
            own
              ? storedSnapshot(own, startedAt)
              : interruptedSnapshot(
                  response.snapshot(),
                  `This response could not be reattached (${reason}) and the store has no record of it; the text that had arrived is kept.`
                )
          );
          // Attempts another tab started meanwhile, as the store kept them.
          for (const later of attempts
            .filter(a => a.attempt > response.attempt)
            .sort((a, b) => a.attempt - b.attempt)) {
            response.begin(seedOf(later.request), this._now(), later.attempt);
            response.finish(storedSnapshot(later, null));
          }
          this._settle(batch, response);
        }
        this._markChanged(batch.id);
      })
      .catch(error => {
        console.error(`jupyterlab-fanout: batch ${batch.id} could not be read from the store`, error);
        interrupted(
          `This response could not be reattached (${reason}) nor read from the server's store (${(error as Error).message}); the text that had arrived is kept.`
        );
      });
  }

  /** Every reconnecting response of `batch` ends incomplete, with the text this page had. */
  private _interrupt(batch: Batch, detail: string): void {
    for (const response of batch.responses) {
      if (response.reconnecting) {
        response.finish(interruptedSnapshot(response.snapshot(), detail));
        this._settle(batch, response);
      }
    }
    this._markChanged(batch.id);
  }

  /** A response's attempt ended: resolve its waiters, and the batch's once all have ended. */
  private _settle(batch: Batch, response: BatchResponse): void {
    response.settle();
    if (this._beginQueued(response)) {
      return; // Another page's attempt of it runs now.
    }
    if (batch.settled) {
      // Its connection stays a while: another tab's re-generate of it shows here (`_linger`).
      this._linger(batch.id);
      // The next batch's socket is opened now, not while this one was starting.
      this._engine.send({ type: 'prepare', transport: this._transport() });
      batch.done.resolve(batch.summary());
    }
  }

  setPick(batchId: string, pick: IPick | null): void {
    const batch = this._batches.find(b => b.id === batchId);
    if (batch) {
      batch.setPick(pick);
      this._markChanged(batch.id);
    }
  }

  setRating(batchId: string, responseId: string, attempt: number, rating: number | null): void {
    const batch = this._batches.find(b => b.id === batchId);
    if (batch) {
      batch.setRating(responseId, attempt, rating);
      this._markChanged(batch.id);
    }
  }

  private _requireBatch(batchId: string): Batch {
    const batch = this._batches.find(b => b.id === batchId);
    if (!batch) {
      throw new Error(`There is no batch ${batchId}.`);
    }
    return batch;
  }

  /** Tell the views, in a later task, that these batches changed (with the others changed meanwhile). */
  private _markChanged(...batchIds: string[]): void {
    for (const batchId of batchIds) {
      this._changedIds.add(batchId);
    }
    for (const [batchId, waiter] of this._liveWaiters) {
      const batch = this._batches.find(b => b.id === batchId);
      if (batch && !batch.responses.some(r => r.reconnecting)) {
        this._liveWaiters.delete(batchId);
        waiter.resolve();
      }
    }
    if (this._changePending) {
      return;
    }
    this._changePending = true;
    this._schedule(() => {
      this._changePending = false;
      const batchIds: ReadonlySet<string> = this._changedIds;
      this._changedIds = new Set();
      this._changed.emit({ batchIds });
    });
  }

  private readonly _batches: Batch[] = [];
  private readonly _changed = new Signal<IFanoutModel, IModelChange>(this);
  /** The batches changed since the last `changed`. */
  private _changedIds = new Set<string>();
  private readonly _engine: IStreamEngine;
  private readonly _transport: () => TransportSpec;
  private readonly _storedBatch: ((batchId: string) => Promise<IStoredBatch>) | null;
  private readonly _now: () => number;
  private readonly _schedule: (callback: () => void) => void;
  private readonly _nextSeed: () => number;
  private readonly _lingerMs: number;
  private readonly _lingerMax: number;
  private readonly _setTimer: (callback: () => void, ms: number) => unknown;
  private readonly _clearTimer: (handle: unknown) => void;
  /** Ended batches whose connection stays open, oldest first, each with the timer that closes it. */
  private readonly _lingering = new Map<string, unknown>();
  /** Batches whose attach failed (they have no socket until a start opens one): they do not linger. */
  private readonly _unsubscribed = new Set<string>();
  /** Who waits for a batch's reconnecting responses to be live ({@link whenLive}). */
  private readonly _liveWaiters = new Map<string, PromiseDelegate<void>>();
  private _batchCounter = 0;
  private _changePending = false;
}
