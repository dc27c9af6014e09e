import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { registerFuseCommands } from '../commands';
import { checklistCall, listUpstreams, recordFusion } from '../handler';
import { CommandIDs, IFanoutModel, IFanoutSettings } from '../tokens';
import { showFuseDialog } from '../widgets/fuse';

/** Fuse and the guided merge: `fanout:fuse`, `fanout:fuse-checklist`, `fanout:fuse-dialog`. */
export const fusePlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-fanout:fuse',
  description: "Merge a Fanout batch's responses into one new response (fuse, guided merge).",
  autoStart: true,
  requires: [IFanoutModel, IFanoutSettings],
  optional: [ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    model: IFanoutModel,
    settings: IFanoutSettings,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('jupyterlab_fanout');
    const server = ServerConnection.makeSettings();
    registerFuseCommands({
      commands: app.commands,
      trans,
      model,
      settings,
      recordFusion: (id, responseId, fusion) => recordFusion(id, responseId, fusion, server),
      checklistCall: (upstream, request) => checklistCall(upstream, request, server),
      showDialog: batch =>
        showFuseDialog({ batch, commands: app.commands, trans, settings, listUpstreams: () => listUpstreams(server) })
    });
    palette?.addItem({ command: CommandIDs.fuseDialog, category: 'Fanout', args: { interactive: true } });
  }
};
