/**
 * The judgements this page knows, per batch (`fanout:judge`, `GET fanout/batches/<id>/judgements`),
 * and which batches a judge is working on. State and a signal only: the compare view's judge
 * pane renders it.
 */
import { ISignal, Signal } from '@lumino/signaling';

import type { IJudgement } from '../tokens';

export class JudgementStore {
  private readonly _byBatch = new Map<string, IJudgement[]>();
  private readonly _running = new Map<string, number>();
  private readonly _errors = new Map<string, string>();
  private readonly _changed = new Signal<this, string>(this);

  /** A batch's judgements or their state changed (the batch id). */
  get changed(): ISignal<this, string> {
    return this._changed;
  }

  /** The batch's judgements, newest first. */
  list(batchId: string): readonly IJudgement[] {
    return this._byBatch.get(batchId) ?? [];
  }

  /** The newest judgement of a batch, if any. */
  latest(batchId: string): IJudgement | undefined {
    return this.list(batchId)[0];
  }

  /** Whether a judge request of this page runs for the batch. */
  running(batchId: string): boolean {
    return (this._running.get(batchId) ?? 0) > 0;
  }

  /** Why the last judge request of this page failed for the batch (cleared by the next one). */
  error(batchId: string): string | null {
    return this._errors.get(batchId) ?? null;
  }

  /** Keep a judgement (newest first; one already known is replaced). */
  add(judgement: IJudgement): void {
    const list = this.list(judgement.batchId).filter(j => j.id !== judgement.id);
    list.push(judgement);
    list.sort((a, b) => b.created_at - a.created_at);
    this._byBatch.set(judgement.batchId, list);
    this._changed.emit(judgement.batchId);
  }

  /** Replace a batch's judgements with what the store lists. */
  setAll(batchId: string, judgements: IJudgement[]): void {
    this._byBatch.set(
      batchId,
      [...judgements].sort((a, b) => b.created_at - a.created_at)
    );
    this._changed.emit(batchId);
  }

  /** Run `work` as the batch's judge request: `running` while it runs, its failure kept in `error`. */
  async track<T>(batchId: string, work: () => Promise<T>): Promise<T> {
    this._running.set(batchId, (this._running.get(batchId) ?? 0) + 1);
    this._errors.delete(batchId);
    this._changed.emit(batchId);
    try {
      return await work();
    } catch (error) {
      this._errors.set(batchId, (error as Error)?.message ?? String(error));
      throw error;
    } finally {
      this._running.set(batchId, (this._running.get(batchId) ?? 1) - 1);
      this._changed.emit(batchId);
    }
  }

  /** Forget a batch (removed from the page). */
  forget(batchId: string): void {
    if (this._byBatch.delete(batchId) || this._errors.delete(batchId)) {
      this._changed.emit(batchId);
    }
  }
}
