/** The active notebook cell as the source of prompts, context and language ({@link IFanoutActiveCell}). */
import type { INotebookTracker } from '@jupyterlab/notebook';
import { ISignal, Signal } from '@lumino/signaling';

import type { IFanoutActiveCell, INotebookContext } from '../tokens';
import { notebookLanguage } from './insert';
import { activeNotebookContext, promptFromActiveCell } from './prompt';

/** See {@link IFanoutActiveCell}; reads the notebook tracker when asked. */
export class ActiveCell implements IFanoutActiveCell {
  constructor(private readonly _tracker: INotebookTracker) {
    // The tracker reports a change of notebook as a change of active cell too.
    _tracker.activeCellChanged.connect(this._emit, this);
  }

  get changed(): ISignal<IFanoutActiveCell, void> {
    return this._changed;
  }

  get hasNotebook(): boolean {
    return this._tracker.currentWidget !== null;
  }

  prompt(): string {
    return promptFromActiveCell(this._tracker);
  }

  source(): string | null {
    return this._tracker.activeCell?.model.sharedModel.getSource() ?? null;
  }

  context(budget: number): INotebookContext | null {
    return activeNotebookContext(this._tracker, budget, this.language());
  }

  language(): string {
    return notebookLanguage(this._tracker.currentWidget);
  }

  private _emit(): void {
    this._changed.emit();
  }

  private readonly _changed = new Signal<IFanoutActiveCell, void>(this);
}
