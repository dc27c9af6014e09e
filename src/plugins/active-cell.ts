import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';

import { ActiveCell } from '../notebook';
import { IFanoutActiveCell } from '../tokens';

/** The active notebook cell as the default prompt, context and language of Generate responses. */
export const activeCellPlugin: JupyterFrontEndPlugin<IFanoutActiveCell> = {
  id: 'jupyterlab-fanout:active-cell',
  description: 'The active notebook cell as the prompt of Fanout.',
  autoStart: true,
  provides: IFanoutActiveCell,
  requires: [INotebookTracker],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker): IFanoutActiveCell => new ActiveCell(tracker)
};
