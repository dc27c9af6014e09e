import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ServerConnection } from '@jupyterlab/services';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { registerCoreCommands, registerHistoryCommands, registerVerdictCommands } from '../commands';
import { batchSocketUrl, localEngine, realTransports, workerEngine } from '../engine';
import { createStreamingWorker } from '../engine/spawn';
import {
  deleteStoredBatch,
  exportBatch,
  getStoredBatch,
  listBatches,
  listUpstreams,
  pickResponse,
  rateResponse,
  renameBatch
} from '../handler';
import { FanoutModel } from '../model';
import { SizeCheck } from '../model/size';
import { transportOf } from '../settings';
import { IFanoutActiveCell, IFanoutModel, IFanoutSettings } from '../tokens';

/**
 * The model and its engine (a Web Worker), and the core commands: generate, stop, re-generate,
 * fill the gaps, remove a batch, list the server's upstreams; and the store's: list, rename,
 * export. The active cell is optional: with no notebooks, Generate responses takes its prompt as
 * an argument.
 */
export const corePlugin: JupyterFrontEndPlugin<IFanoutModel> = {
  id: 'jupyterlab-fanout:core',
  description: 'Generate several streaming responses from your own model at once.',
  autoStart: true,
  provides: IFanoutModel,
  requires: [IFanoutSettings],
  optional: [IFanoutActiveCell, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    settings: IFanoutSettings,
    activeCell: IFanoutActiveCell | null,
    translator: ITranslator | null
  ): IFanoutModel => {
    const serverSettings = ServerConnection.makeSettings();
    const proxyUrl = batchSocketUrl(serverSettings);
    const model = new FanoutModel({
      // Responses stream and are parsed in a Web Worker; the main thread gets their state.
      engine: workerEngine({
        createWorker: createStreamingWorker,
        timeOrigin: performance.timeOrigin,
        fallback: localEngine(realTransports(null).connect, () => performance.now())
      }),
      // The settings are read for every batch, so a change applies to the next one.
      transport: () => transportOf(settings.connection(), proxyUrl),
      // A batch restored after a reload that the server no longer runs is read from its store.
      storedBatch: id => getStoredBatch(id, serverSettings)
    });
    const trans = (translator ?? nullTranslator).load('jupyterlab_fanout');
    const sizeCheck = new SizeCheck(() => listUpstreams(serverSettings));
    registerCoreCommands({
      commands: app.commands,
      model,
      trans,
      settings,
      activeCell,
      // Every listing read also updates the size check's.
      listUpstreams: () =>
        listUpstreams(serverSettings).then(listing => {
          sizeCheck.learn(listing);
          return listing;
        }),
      // Checked against the proxy's listing; direct mode's server is not asked.
      checkSize: options => (settings.connection().transport === 'proxy' ? sizeCheck.problems(options) : [])
    });
    if (settings.connection().transport === 'proxy') {
      // In the background: the first batch is then checked without waiting for the listing.
      sizeCheck.prefetch();
    }
    registerHistoryCommands({
      commands: app.commands,
      trans,
      listBatches: options => listBatches(options, serverSettings),
      renameBatch: (id, title) => renameBatch(id, title, serverSettings),
      exportBatch: (id, format) => exportBatch(id, format, serverSettings),
      getStoredBatch: id => getStoredBatch(id, serverSettings),
      deleteBatch: id => deleteStoredBatch(id, serverSettings),
      model,
      contents: app.serviceManager.contents
    });
    registerVerdictCommands({
      commands: app.commands,
      trans,
      model,
      getStoredBatch: id => getStoredBatch(id, serverSettings),
      pickResponse: (id, responseId, attempt) => pickResponse(id, responseId, attempt, serverSettings),
      rateResponse: (id, responseId, attempt, rating) => rateResponse(id, responseId, attempt, rating, serverSettings)
    });
    return model;
  }
};
