import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { IStateDB } from '@jupyterlab/statedb';

import { getStoredBatch, storeState } from '../handler';
import { persistBatches } from '../history/persistence';
import { storedSummary } from '../model/stored';
import { reattachEarly } from '../history/reattach';
import { IFanoutModel } from '../tokens';

/**
 * Nothing generated is lost on a reload: batches are kept in the workspace (and local storage);
 * with a working store, the ended batches it holds are kept there by reference only.
 */
export const historyPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-fanout:history',
  description: 'Keep Fanout batches across reloads.',
  autoStart: true,
  requires: [IFanoutModel, IStateDB],
  activate: (app: JupyterFrontEnd, model: IFanoutModel, state: IStateDB): void => {
    // Restored once the app has restored its layout (the state database is ready then).
    // A snapshot left in local storage by another workspace is not restored here.
    const workspace = PageConfig.getOption('workspace');
    // Batches running when the page was reloaded reattach at once (their replay overlaps
    // JupyterLab's start-up); the rest come back once the layout is restored.
    try {
      reattachEarly(model, workspace);
    } catch (error) {
      console.error('jupyterlab-fanout: could not reattach the running batches early', error);
    }
    const serverSettings = ServerConnection.makeSettings();
    const stored = {
      works: storeState(serverSettings)
        .then(answer => answer.store?.ok === true)
        .catch(reason => {
          console.warn('jupyterlab-fanout: could not ask about the store; batches are kept whole', reason);
          return false;
        }),
      read: (id: string) => getStoredBatch(id, serverSettings).then(value => storedSummary(value)),
      report: (message: string) => Notification.warning(message, { autoClose: false })
    };
    app.restored
      .then(() => persistBatches(model, state, { workspace, stored }))
      .catch(reason => console.error('jupyterlab-fanout: could not restore the saved batches', reason));
  }
};
