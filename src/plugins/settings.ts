import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { FanoutSettings } from '../settings';
import { IFanoutSettings } from '../tokens';

/**
 * The user's settings (schema/plugin.json, keyed on this plugin's id), read when needed so that
 * a change applies to the next batch.
 */
export const settingsPlugin: JupyterFrontEndPlugin<IFanoutSettings> = {
  id: 'jupyterlab-fanout:plugin',
  description: "The user's settings of Fanout.",
  autoStart: true,
  provides: IFanoutSettings,
  requires: [ISettingRegistry],
  activate: async (app: JupyterFrontEnd, registry: ISettingRegistry): Promise<IFanoutSettings> =>
    new FanoutSettings(await registry.load(settingsPlugin.id))
};
