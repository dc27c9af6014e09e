/**
 * One polite live region per sidebar that says when responses end and how: completions and
 * errors are gathered and announced at most once per {@link ANNOUNCE_MS}, so 64 responses ending
 * together are one sentence, not 64; a batch's end is announced with its counts.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import type { IBatchView, IFanoutModel } from '../tokens';

/** Least time between two announcements. */
export const ANNOUNCE_MS = 3000;

/** What ended since the last announcement. */
interface IPending {
  complete: number[];
  failed: number[];
  stopped: number;
  /** Batches that ended: their sentences. */
  batches: string[];
}

/**
 * The live region itself: a visually hidden `role="status"` element, polite and atomic. Put it
 * in the sidebar once and give {@link Announcer} its `textContent` setter.
 */
export function liveRegion(): HTMLDivElement {
  const node = document.createElement('div');
  node.className = 'jp-Fanout-live';
  node.setAttribute('role', 'status');
  node.setAttribute('aria-live', 'polite');
  node.setAttribute('aria-atomic', 'true');
  return node;
}

/** Watches the model and says what ended, through `announce` (the live region's text). */
export class Announcer {
  constructor(options: {
    model: IFanoutModel;
    trans: TranslationBundle;
    /** Show `text` in the live region. */
    announce: (text: string) => void;
    /** Clock in ms (default `performance.now`). */
    now?: () => number;
  }) {
    this._model = options.model;
    this._trans = options.trans;
    this._write = options.announce;
    this._now = options.now ?? (() => performance.now());
    // What the page already holds (restored batches) is not news.
    for (const batch of this._model.batches) {
      this._remember(batch, false);
    }
    this._batchCount = this._model.batches.length;
    this._model.changed.connect(this._onChanged, this);
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._model.changed.disconnect(this._onChanged, this);
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
    this._seen.clear();
    this._running.clear();
  }

  private _onChanged(): void {
    for (const batch of this._model.batches) {
      // Only batches that run or ran since the last look: an ended batch costs nothing.
      if (batch.active || this._running.has(batch.id)) {
        this._remember(batch, true);
      }
    }
    // Forget batches that left the page.
    for (const id of this._running) {
      if (!this._model.getBatch(id)) {
        this._running.delete(id);
      }
    }
    if (this._model.batches.length < this._batchCount) {
      for (const id of this._seen.keys()) {
        if (!this._model.getBatch(id)) {
          this._seen.delete(id);
        }
      }
    }
    this._batchCount = this._model.batches.length;
    this._schedule();
  }

  /** Note each response's ended attempts (as news when `news`) and whether the batch ended. */
  private _remember(batch: IBatchView, news: boolean): void {
    // (No string built per response: this runs at every update while the batch streams.)
    let seen = this._seen.get(batch.id);
    if (seen === undefined) {
      seen = new Map();
      this._seen.set(batch.id, seen);
    }
    for (const response of batch.responses) {
      // (A snapshot only of a response whose end is news: none of one still running.)
      const ended = response.ended ? response.attempt : 0;
      if (seen.get(response.id) === ended) {
        continue;
      }
      seen.set(response.id, ended);
      if (!news || !ended) {
        continue;
      }
      const { status } = response.snapshot();
      if (status === 'complete') {
        this._pending.complete.push(response.index);
      } else if (status === 'stopped') {
        this._pending.stopped++;
      } else {
        this._pending.failed.push(response.index);
      }
    }
    if (batch.active) {
      this._running.add(batch.id);
    } else if (this._running.delete(batch.id) && news) {
      const metrics = batch.metrics();
      this._pending.batches.push(this._trans.__('Batch ended: %1 of %2 complete.', metrics.complete, metrics.total));
    }
  }

  /** Announce now, or when the last announcement is {@link ANNOUNCE_MS} old. */
  private _schedule(): void {
    const pending = this._pending;
    if (
      this._timer !== null ||
      (!pending.complete.length && !pending.failed.length && !pending.stopped && !pending.batches.length)
    ) {
      return;
    }
    const wait = this._last + ANNOUNCE_MS - this._now();
    if (wait <= 0) {
      this._announce();
    } else {
      this._timer = setTimeout(() => {
        this._timer = null;
        this._announce();
      }, wait);
    }
  }

  private _announce(): void {
    const { complete, failed, stopped, batches } = this._pending;
    this._pending = { complete: [], failed: [], stopped: 0, batches: [] };
    const trans = this._trans;
    const parts: string[] = [];
    const list = (indexes: number[]) => indexes.sort((a, b) => a - b).join(', ');
    if (complete.length === 1) {
      parts.push(trans.__('Response %1 complete.', complete[0]));
    } else if (complete.length > 1) {
      parts.push(
        complete.length <= 4
          ? trans.__('Responses %1 complete.', list(complete))
          : trans.__('%1 responses complete.', complete.length)
      );
    }
    if (failed.length === 1) {
      parts.push(trans.__('Response %1 failed.', failed[0]));
    } else if (failed.length > 1) {
      parts.push(
        failed.length <= 4
          ? trans.__('Responses %1 failed.', list(failed))
          : trans.__('%1 responses failed.', failed.length)
      );
    }
    if (stopped) {
      parts.push(trans._n('%1 response stopped.', '%1 responses stopped.', stopped));
    }
    parts.push(...batches);
    this._last = this._now();
    this._write(parts.join(' '));
  }

  private readonly _model: IFanoutModel;
  private readonly _trans: TranslationBundle;
  private readonly _now: () => number;
  private readonly _write: (text: string) => void;
  /** By batch id, then response id: the number of the attempt that ended, or 0 while it runs. */
  private readonly _seen = new Map<string, Map<string, number>>();
  /** Batches seen running and not yet seen ended. */
  private readonly _running = new Set<string>();
  private _pending: IPending = { complete: [], failed: [], stopped: 0, batches: [] };
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _last = -Infinity;
  private _batchCount = 0;
  private _disposed = false;
}
