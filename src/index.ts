import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStateDB } from '@jupyterlab/statedb';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { listIcon } from '@jupyterlab/ui-components';

import { registerCommands } from './commands';
import { FanoutModel } from './model';
import { persistBatches } from './persistence';
import { promptFromActiveCell } from './prompt';
import { settingsToDefaults } from './settings';
import { CommandIDs, IFanoutModel } from './tokens';
import { serverConnectionFactory } from './transport';
import { FanoutSidebar } from './widget';

export { CommandIDs, IFanoutModel } from './tokens';
export type * from './tokens';

const PLUGIN_ID = 'jupyterlab-fanout:plugin';

/** The Fanout sidebar, its commands, and the model other extensions can require. */
const plugin: JupyterFrontEndPlugin<IFanoutModel> = {
  id: PLUGIN_ID,
  description: 'Generate several streaming responses from your own model at once.',
  autoStart: true,
  provides: IFanoutModel,
  requires: [INotebookTracker, ISettingRegistry],
  optional: [ICommandPalette, ILayoutRestorer, ITranslator, IStateDB],
  activate: async (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    settingRegistry: ISettingRegistry,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    translator: ITranslator | null,
    state: IStateDB | null
  ): Promise<IFanoutModel> => {
    const trans = (translator ?? nullTranslator).load('jupyterlab_fanout');
    const settings = await settingRegistry.load(PLUGIN_ID);
    const model = new FanoutModel({
      connect: serverConnectionFactory(ServerConnection.makeSettings())
    });

    const sidebar = new FanoutSidebar({
      model,
      trans,
      onGenerate: prompt => app.commands.execute(CommandIDs.generate, prompt.trim() ? { prompt } : {}),
      onStop: (batchId, responseId) => app.commands.execute(CommandIDs.stop, { batchId, responseId: responseId ?? null }),
      onRegenerate: (batchId, responseId) => app.commands.execute(CommandIDs.regenerate, { batchId, responseId }),
      onFillGaps: batchId => app.commands.execute(CommandIDs.fillGaps, { batchId })
    });
    sidebar.id = 'jupyterlab-fanout-sidebar';
    sidebar.title.icon = listIcon;
    sidebar.title.caption = trans.__('Fanout');
    app.shell.add(sidebar, 'right', { rank: 600 });
    restorer?.add(sidebar, sidebar.id);

    registerCommands({
      app,
      model,
      trans,
      defaults: () => settingsToDefaults(settings.composite),
      fallbackPrompt: () => promptFromActiveCell(tracker),
      reveal: () => app.shell.activateById(sidebar.id)
    });
    const category = trans.__('Fanout');
    palette?.addItem({ command: CommandIDs.generate, category });
    palette?.addItem({ command: CommandIDs.stop, category });
    palette?.addItem({ command: CommandIDs.fillGaps, category });
    palette?.addItem({ command: CommandIDs.open, category });
    app.contextMenu.addItem({ command: CommandIDs.generateFromCell, selector: '.jp-Notebook .jp-Cell', rank: 20 });
    if (state) {
      // Restored once the app has restored its layout (the state database is ready then).
      void app.restored.then(() => persistBatches(model, state));
    }
    return model;
  }
};

export default plugin;
