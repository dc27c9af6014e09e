/** The user's settings (schema/plugin.json) as defaults for Generate responses. */
import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { directModeWarning } from './direct';
import type { TransportSpec } from './engine/protocol';

import type { IGenerateOptions, ITarget } from './tokens';

function read<T>(settings: ReadonlyPartialJSONObject, key: string, fallback: T): T {
  const value = settings[key];
  return value === undefined || value === null ? fallback : (value as unknown as T);
}

/** Map the settings to the defaults of every generate option but the prompt. */
export function settingsToDefaults(settings: ReadonlyPartialJSONObject): Omit<IGenerateOptions, 'prompt'> {
  return {
    n: read(settings, 'responses', 4),
    maxTokens: read(settings, 'maxTokens', 1024),
    temperature: read(settings, 'temperature', 0.7),
    model: read(settings, 'model', ''),
    upstream: read(settings, 'upstream', ''),
    systemPrompt: read(settings, 'systemPrompt', ''),
    targets: read<ITarget[]>(settings, 'targets', []),
    structured: read(settings, 'structuredOutput', false)
  };
}

/** How the browser reaches the model server. */
export interface IConnectionSettings {
  transport: 'proxy' | 'direct';
  directUrl: string;
  directApiKey: string;
}

/** The connection settings, with `proxy` unless direct mode has a URL. */
export function connectionSettings(settings: ReadonlyPartialJSONObject): IConnectionSettings {
  const directUrl = read(settings, 'directUrl', '');
  return {
    transport: read<string>(settings, 'transport', 'proxy') === 'direct' && directUrl ? 'direct' : 'proxy',
    directUrl,
    directApiKey: read(settings, 'directApiKey', '')
  };
}

/** Whether to send the cells above as context, and within how many tokens. */
export function contextSettings(settings: ReadonlyPartialJSONObject): { enabled: boolean; budget: number } {
  return { enabled: read(settings, 'contextCells', false), budget: read(settings, 'contextTokenBudget', 2000) };
}

/** The extension's settings, read when they are needed so that a change applies at once. */
export class FanoutSettings {
  constructor(private readonly _settings: ISettingRegistry.ISettings) {}

  /** Emitted when the user changes a setting. */
  get changed(): ISettingRegistry.ISettings['changed'] {
    return this._settings.changed;
  }

  /** Defaults of every generate option but the prompt. */
  generateDefaults(): Omit<IGenerateOptions, 'prompt'> {
    return settingsToDefaults(this._settings.composite);
  }

  connection(): IConnectionSettings {
    return connectionSettings(this._settings.composite);
  }

  /** How the next batch connects: direct mode's server, or the proxy at `proxyUrl`. */
  transport(proxyUrl: string): TransportSpec {
    const connection = this.connection();
    return connection.transport === 'direct'
      ? { kind: 'direct', baseUrl: connection.directUrl, apiKey: connection.directApiKey || undefined }
      : { kind: 'proxy', url: proxyUrl };
  }

  context(): { enabled: boolean; budget: number } {
    return contextSettings(this._settings.composite);
  }

  async setContextEnabled(enabled: boolean): Promise<void> {
    await this._settings.set('contextCells', enabled);
  }

  /** The warning direct mode deserves with the current settings, if any. */
  connectionWarning(): string | null {
    const connection = this.connection();
    return connection.transport === 'direct'
      ? directModeWarning(connection.directUrl, this.generateDefaults().n)
      : null;
  }
}
