import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { IStateDB } from '@jupyterlab/statedb';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { checkStore } from '../commands';
import { importStoredBatch, recordDirectAttempt, recordDirectBatch, storeState } from '../handler';
import { recordDirectBatches } from '../history/direct-record';
import { migrateWorkspaceBatches } from '../history/migrate';
import { CommandIDs, IFanoutModel, IFanoutSettings } from '../tokens';

/**
 * The server's batch store at start-up: one warning when it cannot keep batches, and, when it
 * works, the batches earlier versions kept in the workspace moved into it (once), and the
 * batches streamed in direct mode recorded in it as they go (`../history/direct-record`).
 */
export const storePlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-fanout:store',
  description: "Check Fanout's batch store, and move the batches kept in the workspace into it.",
  autoStart: true,
  requires: [IStateDB, IFanoutModel, IFanoutSettings],
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    state: IStateDB,
    model: IFanoutModel,
    settings: IFanoutSettings,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('jupyterlab_fanout');
    const serverSettings = ServerConnection.makeSettings();
    let storeWorks = false;
    const direct = recordDirectBatches(model, {
      api: {
        batch: async (id, batch) => {
          const answer = await recordDirectBatch(id, batch, serverSettings);
          return { created: answer.created };
        },
        attempt: (id, responseId, attempt, record, options) =>
          recordDirectAttempt(id, responseId, attempt, record, serverSettings, options)
      },
      secrets: () => {
        const connection = settings.connection();
        return { url: connection.directUrl, apiKey: connection.directApiKey };
      },
      enabled: () => storeWorks,
      report: (batchId, message) =>
        Notification.warning(
          trans.__(
            "Fanout could not record the direct-mode batch %1 in the server's store (%2); it is kept in this workspace only.",
            batchId,
            message
          ),
          { autoClose: false }
        )
    });
    const start = async () => {
      const store = await checkStore(() => storeState(serverSettings), trans);
      if (!store?.ok) {
        return;
      }
      storeWorks = true;
      direct.refresh();
      const result = await migrateWorkspaceBatches({
        state,
        trans,
        importBatch: batch => importStoredBatch(batch, serverSettings),
        report: message => Notification.warning(message, { autoClose: false }),
        unsaved: { storage: globalThis.localStorage ?? null, workspace: PageConfig.getOption('workspace') }
      });
      if (result?.imported.length) {
        // The stored batches changed: the History section lists them again.
        app.commands.notifyCommandChanged(CommandIDs.listBatches);
      }
    };
    // Once JupyterLab has restored its layout (the workspace is loaded then).
    // A page closed while a direct-mode batch streams: its attempts are recorded as incomplete
    // (on a reload, the page that comes back records them again, whole).
    window.addEventListener('pagehide', () => direct.closing());
    app.restored
      .then(start)
      .catch(reason => console.error('jupyterlab-fanout: could not check the batch store', reason));
  }
};
