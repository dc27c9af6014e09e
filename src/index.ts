import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, Sanitizer } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ServerConnection } from '@jupyterlab/services';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { PageConfig } from '@jupyterlab/coreutils';
import { IStateDB } from '@jupyterlab/statedb';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { listIcon } from '@jupyterlab/ui-components';

import { registerCommands } from './commands';
import { localEngine, realTransports, workerEngine } from './engine';
import { createStreamingWorker } from './engine/spawn';
import { FanoutModel } from './model';
import { notebookLanguage } from './notebook';
import { structuredOutputInstruction } from './parse';
import { registerNotebookCommands } from './notebook-commands';
import { persistBatches } from './persistence';
import { activeNotebookContext, contextMessage, promptFromActiveCell } from './prompt';
import { FanoutSettings } from './settings';
import { CommandIDs, IFanoutModel } from './tokens';
import { batchSocketUrl } from './transport';
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
  requires: [INotebookTracker, ISettingRegistry, IRenderMimeRegistry],
  optional: [ICommandPalette, ILayoutRestorer, ITranslator, IStateDB],
  activate: async (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    settingRegistry: ISettingRegistry,
    rendermime: IRenderMimeRegistry,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    translator: ITranslator | null,
    state: IStateDB | null
  ): Promise<IFanoutModel> => {
    const trans = (translator ?? nullTranslator).load('jupyterlab_fanout');
    const settings = new FanoutSettings(await settingRegistry.load(PLUGIN_ID));
    const proxyUrl = batchSocketUrl(ServerConnection.makeSettings());
    const model = new FanoutModel({
      // Responses stream and are parsed in a Web Worker; the main thread gets their state.
      engine: workerEngine({
        createWorker: createStreamingWorker,
        timeOrigin: performance.timeOrigin,
        fallback: localEngine(realTransports(null).connect, () => performance.now())
      }),
      // The settings are read for every batch, so a change applies to the next one.
      transport: () => settings.transport(proxyUrl)
    });
    const notebookContext = () =>
      activeNotebookContext(tracker, settings.context().budget, notebookLanguage(tracker.currentWidget));

    const sidebar = new FanoutSidebar({
      model,
      trans,
      context: () => {
        // Counted only while it would be sent: this runs on every render of the sidebar.
        const { enabled, budget } = settings.context();
        if (!tracker.currentWidget) {
          return null;
        }
        const found = enabled ? notebookContext() : null;
        return { enabled, budget, cells: found?.cells ?? 0, tokens: found?.tokens ?? 0 };
      },
      onToggleContext: enabled => void settings.setContextEnabled(enabled),
      notice: () => settings.connectionWarning(),
      onGenerate: prompt => app.commands.execute(CommandIDs.generate, prompt.trim() ? { prompt } : {}),
      onStop: (batchId, responseId) =>
        app.commands.execute(CommandIDs.stop, { batchId, responseId: responseId ?? null }),
      onRegenerate: (batchId, responseId) => app.commands.execute(CommandIDs.regenerate, { batchId, responseId }),
      onFillGaps: batchId => app.commands.execute(CommandIDs.fillGaps, { batchId }),
      onCompare: batchId => app.commands.execute(CommandIDs.compare, { batchId }),
      onInsert: (batchId, responseId) => app.commands.execute(CommandIDs.insert, { batchId, responseId }),
      onRemove: batchId => app.commands.execute(CommandIDs.removeBatch, { batchId })
    });
    sidebar.id = 'jupyterlab-fanout-sidebar';
    // What the context line shows depends on the active cell and the settings.
    tracker.activeCellChanged.connect(() => sidebar.update());
    settings.changed.connect(() => sidebar.update());
    sidebar.title.icon = listIcon;
    sidebar.title.caption = trans.__('Fanout');
    app.shell.add(sidebar, 'right', { rank: 600 });
    restorer?.add(sidebar, sidebar.id);

    registerCommands({
      app,
      model,
      trans,
      defaults: () => settings.generateDefaults(),
      fallbackPrompt: () => promptFromActiveCell(tracker),
      structuredInstruction: () => structuredOutputInstruction(notebookLanguage(tracker.currentWidget)),
      context: include => ((include ?? settings.context().enabled) ? contextMessage(notebookContext()) : ''),
      reveal: () => app.shell.activateById(sidebar.id)
    });
    // Model output is untrusted: sanitized, and never allowed to run commands when clicked.
    const sanitizer = new Sanitizer();
    sanitizer.setAllowCommandLinker(false);
    registerNotebookCommands({ app, model, tracker, trans, rendermime: rendermime.clone({ sanitizer }) });

    const category = trans.__('Fanout');
    palette?.addItem({ command: CommandIDs.generate, category });
    palette?.addItem({ command: CommandIDs.stop, category });
    palette?.addItem({ command: CommandIDs.fillGaps, category });
    palette?.addItem({ command: CommandIDs.compare, category });
    palette?.addItem({ command: CommandIDs.parse, category });
    palette?.addItem({ command: CommandIDs.open, category });
    app.contextMenu.addItem({ command: CommandIDs.generateFromCell, selector: '.jp-Notebook .jp-Cell', rank: 20 });
    if (state) {
      // Restored once the app has restored its layout (the state database is ready then).
      // A snapshot left in local storage by another workspace is not restored here.
      const workspace = PageConfig.getOption('workspace');
      void app.restored.then(() => persistBatches(model, state, { workspace }));
    }
    return model;
  }
};

export default plugin;
