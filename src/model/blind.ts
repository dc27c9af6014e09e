/**
 * The batches being voted on blind (issue 17): while a vote view of a batch is open and its
 * current pair or ranking is not yet voted, the other views of that batch (the sidebar's cards
 * and rows, a board, the compare view, History) show "hidden until you vote" instead of a model.
 *
 * DOM-free. A vote view holds the batch (`hold`) while its screen is blind and lets go (`release`)
 * once the vote is cast, or when it closes. Holds are counted: two views of one batch keep it
 * hidden until both have let go.
 */
import { ISignal, Signal } from '@lumino/signaling';

export class BlindBatches {
  /** Whether the models of `batchId` are hidden now. */
  has(batchId: string): boolean {
    return (this._holds.get(batchId) ?? 0) > 0;
  }

  /** The batches hidden now. */
  get ids(): string[] {
    return Array.from(this._holds.keys());
  }

  /** Emitted when a batch becomes hidden or shown again (not at every hold). */
  get changed(): ISignal<this, string> {
    return this._changed;
  }

  /** Hide `batchId`'s models until as many `release` calls. */
  hold(batchId: string): void {
    const count = this._holds.get(batchId) ?? 0;
    this._holds.set(batchId, count + 1);
    if (count === 0) {
      this._changed.emit(batchId);
    }
  }

  /** Undo one `hold`; the last one shows the models again. A release without a hold does nothing. */
  release(batchId: string): void {
    const count = this._holds.get(batchId) ?? 0;
    if (count === 0) {
      return;
    }
    if (count === 1) {
      this._holds.delete(batchId);
      this._changed.emit(batchId);
    } else {
      this._holds.set(batchId, count - 1);
    }
  }

  private readonly _holds = new Map<string, number>();
  private readonly _changed = new Signal<this, string>(this);
}
