import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ServerConnection } from '@jupyterlab/services';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { SidePanel } from '@jupyterlab/ui-components';
import type { AccordionPanel, SplitLayout } from '@lumino/widgets';

import { oneOf, optionalString } from '../commands/args';
import { registerFollowUpCommand } from '../commands/followup';
import { interactiveArg, reportingFailures } from '../commands/interactive';
import { listBatches, listUpstreams, storeState } from '../handler';
import { fanoutIcon } from '../icons';
import { UpstreamCheck } from '../settings';
import {
  CommandIDs,
  IBatchSummary,
  IFanoutActiveCell,
  IFanoutModel,
  IFanoutSettings,
  ResponseViewMode
} from '../tokens';
import { Announcer, liveRegion } from '../widgets/announcer';
import { focusWhenRendered } from '../widgets/focus';
import { HistoryView } from '../widgets/history';
import { FanoutSidebar } from '../widgets/sidebar';

/** The least height of an expanded section (px) before the two are given half each. */
const MIN_SECTION_PX = 150;

/**
 * The Fanout sidebar in the right area, two collapsible sections: Responses (the prompt box, a
 * batch and its responses) and History (the server's stored batches, collapsed at first);
 * `fanout:open`, and the palette's Fanout items.
 */
export const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-fanout:sidebar',
  description: 'The Fanout sidebar: a prompt box, the batches and their responses, the stored batches.',
  autoStart: true,
  requires: [IFanoutModel, IFanoutSettings],
  optional: [IFanoutActiveCell, ICommandPalette, ILayoutRestorer, ITranslator, IDefaultFileBrowser],
  activate: (
    app: JupyterFrontEnd,
    model: IFanoutModel,
    settings: IFanoutSettings,
    activeCell: IFanoutActiveCell | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    translator: ITranslator | null,
    fileBrowser: IDefaultFileBrowser | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('jupyterlab_fanout');
    const serverSettings = ServerConnection.makeSettings();
    const upstreamCheck = new UpstreamCheck(settings, () => listUpstreams(serverSettings));
    const responses = new FanoutSidebar({ model, settings, activeCell, upstreamCheck, commands: app.commands, trans });
    const history = new HistoryView({
      commands: app.commands,
      model,
      trans,
      storeState: async () => (await storeState(serverSettings)).store,
      listBatches: (query, limit) => listBatches(query ? { query, limit } : { limit }, serverSettings),
      currentDirectory: () => fileBrowser?.model.path ?? '',
      contents: app.serviceManager.contents
    });

    const sidebar = new SidePanel({ translator: translator ?? nullTranslator });
    sidebar.id = 'jupyterlab-fanout-sidebar';
    sidebar.addClass('jp-Fanout-sidebar');
    sidebar.title.icon = fanoutIcon;
    sidebar.title.caption = trans.__('Fanout');
    // Focusable, so that a click anywhere in it gives it the keyboard (Escape stops all).
    sidebar.node.tabIndex = -1;
    sidebar.addWidget(responses);
    sidebar.addWidget(history);
    // One polite live region for the whole sidebar: responses and batches that ended.
    const live = liveRegion();
    sidebar.node.appendChild(live);
    const announcer = new Announcer({ model, trans, announce: text => (live.textContent = text) });
    sidebar.disposed.connect(() => announcer.dispose());
    const sections = sidebar.content as AccordionPanel;
    sections.collapse(1);
    // Collapsed before it had a size, History would expand to a sliver: the sections share
    // the height then (later, a size the user dragged to is kept by the accordion).
    sections.expansionToggled.connect(() => {
      const sizes = (sections.layout as SplitLayout).absoluteSizes();
      if (!responses.isHidden && !history.isHidden && Math.min(...sizes) < MIN_SECTION_PX) {
        sections.setRelativeSizes([1, 1]);
      }
    });
    app.shell.add(sidebar, 'right', { rank: 600 });
    restorer?.add(sidebar, sidebar.id);

    app.commands.addCommand(CommandIDs.open, {
      label: trans.__('Show Fanout'),
      describedBy: {
        args: {
          type: 'object',
          properties: {
            batchId: {
              type: 'string',
              description: `Also show this batch; one not in this page is opened from the store (${CommandIDs.openBatch}).`
            }
          }
        }
      },
      execute: async args => {
        const batchId = optionalString(args, 'batchId');
        if (batchId !== undefined) {
          if (!model.getBatch(batchId)) {
            if (!app.commands.hasCommand(CommandIDs.openBatch)) {
              throw new Error(`There is no batch ${batchId} in this page.`);
            }
            // Read from the store (live if it still runs on the server); it runs this command again.
            await app.commands.execute(CommandIDs.openBatch, { batchId });
            return;
          }
          responses.showBatch(batchId);
        }
        sections.expand(0);
        app.shell.activateById(sidebar.id);
        // The keyboard goes with it: to the shown batch's tab stop (once that batch has rendered:
        // a batch just chosen renders in a transition), or else the prompt box. The command
        // resolves once it is there, so that a script's next focus is not taken back.
        const batchSelector =
          batchId === undefined ? '.jp-Fanout-batch' : `.jp-Fanout-batch[data-batch-id="${CSS.escape(batchId)}"]`;
        await focusWhenRendered(() => {
          const batch = responses.node.querySelector<HTMLElement>(batchSelector);
          if (batchId !== undefined && !batch) {
            return null;
          }
          return (
            batch?.querySelector<HTMLElement>('.jp-Fanout-row[tabindex="0"]') ??
            responses.node.querySelector<HTMLElement>('.jp-Fanout-prompt-input')
          );
        });
      }
    });
    app.commands.addCommand(CommandIDs.editPrompt, {
      label: trans.__('Edit the prompt of a batch'),
      caption: trans.__(
        "Put a batch's prompt back into the Fanout sidebar's prompt box, and its N, model, temperature and max tokens into the controls, to edit and send again"
      ),
      describedBy: {
        args: {
          type: 'object',
          properties: {
            batchId: {
              type: 'string',
              description: "The batch (in this page, else in the server's store); default: the newest."
            },
            interactive: interactiveArg
          }
        }
      },
      execute: reportingFailures(trans.__('Edit the prompt'), async args => {
        const batchId = optionalString(args, 'batchId');
        const here = model.getBatch(batchId);
        // A batch only in the store: its summary holds its options (fanout:get-batch).
        const summary: IBatchSummary | undefined = here
          ? undefined
          : ((await app.commands.execute(
              CommandIDs.getBatch,
              batchId === undefined ? {} : { batchId }
            )) as IBatchSummary);
        const options = here?.options ?? summary!.options;
        const id = here?.id ?? summary!.batchId;
        const several = (options.targets?.length ?? 0) > 0;
        // The settings hold what the controls show: the Settings editor and a reload agree.
        await settings.setGenerateControls?.({
          temperature: options.temperature,
          maxTokens: options.maxTokens,
          ...(several ? {} : { responses: options.n, model: options.model, upstream: options.upstream })
        });
        sections.expand(0);
        app.shell.activateById(sidebar.id);
        responses.editPrompt(options.prompt);
        return { batchId: id, prompt: options.prompt };
      })
    });
    registerFollowUpCommand({
      commands: app.commands,
      trans,
      showFollowUp: target => {
        sections.expand(0);
        app.shell.activateById(sidebar.id);
        responses.followUp(target);
      }
    });
    app.commands.addCommand(CommandIDs.setView, {
      label: args =>
        args.view === 'cards'
          ? trans.__('List responses as cards')
          : args.view === 'compact'
            ? trans.__('List responses as rows')
            : trans.__('Switch between rows and cards'),
      describedBy: {
        args: { type: 'object', properties: { view: { type: 'string', enum: ['compact', 'cards'] } } }
      },
      execute: async args => {
        const other: ResponseViewMode = settings.responseView() === 'compact' ? 'cards' : 'compact';
        const view = oneOf<ResponseViewMode>(args, 'view', ['compact', 'cards'], other);
        await settings.setResponseView(view);
        return { view };
      }
    });
    app.commands.addCommand(CommandIDs.showHistory, {
      label: trans.__('Show stored batches'),
      caption: trans.__('The History section of the Fanout sidebar'),
      execute: () => {
        sections.expand(1);
        app.shell.activateById(sidebar.id);
        history.node.querySelector<HTMLInputElement>('.jp-Fanout-history-search')?.focus({ preventScroll: true });
      }
    });
    const category = trans.__('Fanout');
    for (const command of [
      CommandIDs.generate,
      CommandIDs.stop,
      CommandIDs.fillGaps,
      CommandIDs.open,
      CommandIDs.showHistory,
      CommandIDs.setView,
      CommandIDs.editPrompt
    ]) {
      palette?.addItem({ command, category, args: { interactive: true } });
    }
    palette?.addItem({ command: CommandIDs.listUpstreams, category, args: { show: true, interactive: true } });
  }
};
