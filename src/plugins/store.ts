import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { IStateDB } from '@jupyterlab/statedb';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { checkStore } from '../commands';
import { importStoredBatch, storeState } from '../handler';
import { migrateWorkspaceBatches } from '../history/migrate';
import { CommandIDs } from '../tokens';

/**
 * The server's batch store at start-up: one warning when it cannot keep batches, and, when it
 * works, the batches earlier versions kept in the workspace moved into it (once).
 */
export const storePlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-fanout:store',
  description: "Check Fanout's batch store, and move the batches kept in the workspace into it.",
  autoStart: true,
  requires: [IStateDB],
  optional: [ITranslator],
  activate: (app: JupyterFrontEnd, state: IStateDB, translator: ITranslator | null): void => {
    const trans = (translator ?? nullTranslator).load('jupyterlab_fanout');
    const serverSettings = ServerConnection.makeSettings();
    const start = async () => {
      const store = await checkStore(() => storeState(serverSettings), trans);
      if (!store?.ok) {
        return;
      }
      const result = await migrateWorkspaceBatches({
        state,
        trans,
        importBatch: batch => importStoredBatch(batch, serverSettings),
        report: message => Notification.warning(message, { autoClose: false })
      });
      if (result?.imported.length) {
        // The stored batches changed: the History section lists them again.
        app.commands.notifyCommandChanged(CommandIDs.listBatches);
      }
    };
    // Once JupyterLab has restored its layout (the workspace is loaded then).
    app.restored
      .then(start)
      .catch(reason => console.error('jupyterlab-fanout: could not check the batch store', reason));
  }
};
