import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { registerNotebookCommands } from '../commands';
import { CommandIDs, IFanoutActiveCell, IFanoutModel } from '../tokens';

/** Into the notebook: insert a response, and generate from a cell (its context-menu item). */
export const notebookPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-fanout:notebook',
  description: 'Insert Fanout responses into notebooks, and generate from a cell.',
  autoStart: true,
  requires: [IFanoutModel, INotebookTracker, IFanoutActiveCell],
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    model: IFanoutModel,
    tracker: INotebookTracker,
    activeCell: IFanoutActiveCell,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('jupyterlab_fanout');
    registerNotebookCommands({
      commands: app.commands,
      model,
      tracker,
      activeCell,
      trans,
      activate: panel => app.shell.activateById(panel.id)
    });
    app.contextMenu.addItem({
      command: CommandIDs.generateFromCell,
      args: { interactive: true },
      selector: '.jp-Notebook .jp-Cell',
      rank: 20
    });
  }
};
