import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { listIcon } from '@jupyterlab/ui-components';

import { listUpstreams } from '../handler';
import { UpstreamCheck } from '../settings';
import { CommandIDs, IFanoutActiveCell, IFanoutModel, IFanoutSettings } from '../tokens';
import { FanoutSidebar } from '../widgets/sidebar';

/** The Fanout sidebar in the right area, `fanout:open`, and the palette's Fanout items. */
export const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-fanout:sidebar',
  description: 'The Fanout sidebar: a prompt box, the batches and their responses.',
  autoStart: true,
  requires: [IFanoutModel, IFanoutSettings],
  optional: [IFanoutActiveCell, ICommandPalette, ILayoutRestorer, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    model: IFanoutModel,
    settings: IFanoutSettings,
    activeCell: IFanoutActiveCell | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('jupyterlab_fanout');
    const serverSettings = ServerConnection.makeSettings();
    const upstreamCheck = new UpstreamCheck(settings, () => listUpstreams(serverSettings));
    const sidebar = new FanoutSidebar({ model, settings, activeCell, upstreamCheck, commands: app.commands, trans });
    sidebar.title.icon = listIcon;
    app.shell.add(sidebar, 'right', { rank: 600 });
    restorer?.add(sidebar, sidebar.id);

    app.commands.addCommand(CommandIDs.open, {
      label: trans.__('Show Fanout'),
      execute: () => app.shell.activateById(sidebar.id)
    });
    const category = trans.__('Fanout');
    for (const command of [CommandIDs.generate, CommandIDs.stop, CommandIDs.fillGaps, CommandIDs.open]) {
      palette?.addItem({ command, category });
    }
    palette?.addItem({ command: CommandIDs.listUpstreams, category, args: { show: true } });
  }
};
