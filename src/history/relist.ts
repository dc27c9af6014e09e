/**
 * When the History section lists the stored batches again because of this page's batches: when
 * one starts or ends (the set of running batch ids changes), at most once per `delayMs`, at the
 * end of that window, so that a burst (several batches started by a script, a batch that ends as
 * the next starts) costs one `GET fanout/batches`, and what changed last is always listed.
 */
import type { IFanoutModel } from '../tokens';

export interface IRelistOptions {
  /** The window in which starts and ends are gathered into one listing (ms). */
  delayMs?: number;
  setTimeout?: (callback: () => void, ms: number) => unknown;
  clearTimeout?: (handle: unknown) => void;
}

export class RelistOnActivity {
  constructor(
    private readonly _model: IFanoutModel,
    private readonly _relist: () => void,
    options: IRelistOptions = {}
  ) {
    this._delayMs = options.delayMs ?? 1000;
    this._setTimeout = options.setTimeout ?? ((callback, ms) => setTimeout(callback, ms));
    this._clearTimeout = options.clearTimeout ?? (handle => clearTimeout(handle as ReturnType<typeof setTimeout>));
    this._active = this._activeIds();
    _model.changed.connect(this._onChanged, this);
  }

  dispose(): void {
    this._model.changed.disconnect(this._onChanged, this);
    if (this._timer !== null) {
      this._clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _activeIds(): string {
    return this._model.batches
      .filter(b => b.active)
      .map(b => b.id)
      .join(' ');
  }

  private _onChanged(): void {
    const active = this._activeIds();
    if (active === this._active) {
      return;
    }
    this._active = active;
    if (this._timer === null) {
      this._timer = this._setTimeout(() => {
        this._timer = null;
        this._relist();
      }, this._delayMs);
    }
  }

  private readonly _delayMs: number;
  private readonly _setTimeout: (callback: () => void, ms: number) => unknown;
  private readonly _clearTimeout: (handle: unknown) => void;
  private _active: string;
  private _timer: unknown = null;
}
