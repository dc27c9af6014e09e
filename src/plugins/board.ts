import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { optionalString } from '../commands/args';
import { CommandIDs, IFanoutModel, IFanoutSettings } from '../tokens';
import { BoardContent, boardWidget } from '../widgets/board';
import { addToMainArea } from '../widgets/mainArea';
import { sidebarPanelProps } from '../widgets/sidebar';

/**
 * The board (`fanout:open-board`): a batch as a grid of live cards in the main area. Boards are
 * restored on reload when their batch is in the page or in the store; otherwise they stay closed.
 */
export const boardPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-fanout:board',
  description: 'A Fanout batch as a board of live cards in the main area.',
  autoStart: true,
  requires: [IFanoutModel, IFanoutSettings],
  optional: [ICommandPalette, ILayoutRestorer, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    model: IFanoutModel,
    settings: IFanoutSettings,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('jupyterlab_fanout');
    const tracker = new WidgetTracker<MainAreaWidget<BoardContent>>({ namespace: 'jupyterlab-fanout-board' });
    // The sidebar's actions: each one runs a command, and a failure is shown.
    const actions = sidebarPanelProps({
      model,
      settings,
      activeCell: null,
      upstreamCheck: null,
      commands: app.commands,
      trans
    });

    app.commands.addCommand(CommandIDs.openBoard, {
      label: trans.__('Show the batch as a board'),
      caption: trans.__('Every response of a batch as a live card, in the main area'),
      describedBy: {
        args: {
          type: 'object',
          properties: {
            batchId: {
              type: 'string',
              description: 'The batch (default: the newest of this page; one in the store is opened first).'
            }
          }
        }
      },
      execute: async args => {
        const batchId = optionalString(args, 'batchId');
        let batch = model.getBatch(batchId);
        if (!batch && batchId !== undefined) {
          // Not in this page (e.g. a board restored after a reload): the store's copy.
          await app.commands.execute(CommandIDs.openBatch, { batchId });
          batch = model.getBatch(batchId);
        }
        if (!batch) {
          throw new Error(
            batchId === undefined
              ? 'There is no batch to show as a board: generate responses first.'
              : `There is no batch ${batchId} in this page or in the store.`
          );
        }
        const id = batch.id;
        let widget = tracker.find(w => w.content.batchId === id);
        if (!widget) {
          // No wait for app.restored here, unlike the compare view: the layout restorer runs
          // this command to restore a board (addToMainArea keeps it through the restore).
          widget = boardWidget(model, id, trans, actions);
          await tracker.add(widget);
          addToMainArea(app, widget);
        }
        app.shell.activateById(widget.id);
        return { batchId: id };
      }
    });

    restorer
      ?.restore(tracker, {
        command: CommandIDs.openBoard,
        args: widget => ({ batchId: widget.content.batchId }),
        name: widget => widget.content.batchId
      })
      .catch(reason => console.error('jupyterlab-fanout: could not restore the boards', reason));
    palette?.addItem({ command: CommandIDs.openBoard, category: trans.__('Fanout') });
  }
};
