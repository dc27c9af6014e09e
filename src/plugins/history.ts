import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { PageConfig } from '@jupyterlab/coreutils';
import { IStateDB } from '@jupyterlab/statedb';

import { persistBatches } from '../history/persistence';
import { reattachEarly } from '../history/reattach';
import { IFanoutModel } from '../tokens';

/** Nothing generated is lost on a reload: batches are kept in the workspace (and local storage). */
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
    app.restored
      .then(() => persistBatches(model, state, { workspace }))
      .catch(reason => console.error('jupyterlab-fanout: could not restore the saved batches', reason));
  }
};
