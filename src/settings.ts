/** The user's settings (schema/plugin.json) as defaults for Generate responses. */
import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { ISignal, Signal } from '@lumino/signaling';

import { directModeWarning, TransportSpec } from './engine';
import { DEFAULT_FUSE_INSTRUCTION } from './fuse/prompt';
import type {
  IConnectionSettings,
  IFanoutSettings,
  IGenerateControlValues,
  IGenerateOptions,
  ITarget,
  IUpstreamListing,
  ResponseViewMode
} from './tokens';

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

/** Seconds without a byte before a running response shows as silent (0: never). */
export function stallSeconds(settings: ReadonlyPartialJSONObject): number {
  const value = read(settings, 'stallSeconds', 10);
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}

/** How the next batch connects: direct mode's server, or the proxy at `proxyUrl`. */
export function transportOf(connection: IConnectionSettings, proxyUrl: string): TransportSpec {
  return connection.transport === 'direct'
    ? { kind: 'direct', baseUrl: connection.directUrl, apiKey: connection.directApiKey || undefined }
    : { kind: 'proxy', url: proxyUrl };
}

/** The extension's settings, read when they are needed so that a change applies at once. */
export class FanoutSettings implements IFanoutSettings {
  constructor(private readonly _settings: ISettingRegistry.ISettings) {
    _settings.changed.connect(() => this._changed.emit(), this);
  }

  /** Emitted when the user changes a setting. */
  get changed(): ISignal<IFanoutSettings, void> {
    return this._changed;
  }

  /** Defaults of every generate option but the prompt. */
  generateDefaults(): Omit<IGenerateOptions, 'prompt'> {
    return settingsToDefaults(this._settings.composite);
  }

  connection(): IConnectionSettings {
    return connectionSettings(this._settings.composite);
  }

  context(): { enabled: boolean; budget: number } {
    return contextSettings(this._settings.composite);
  }

  stallSeconds(): number {
    return stallSeconds(this._settings.composite);
  }

  async setContextEnabled(enabled: boolean): Promise<void> {
    await this._settings.set('contextCells', enabled);
  }

  async setGenerateControls(values: IGenerateControlValues): Promise<void> {
    // One at a time: each `set` saves the whole user settings.
    for (const [key, value] of Object.entries(values)) {
      if (value !== undefined && this._settings.composite[key] !== value) {
        await this._settings.set(key, value);
      }
    }
  }

  fuseInstruction(): string {
    const value = read<string>(this._settings.composite, 'fuseInstruction', '');
    return typeof value === 'string' && value.trim() ? value : DEFAULT_FUSE_INSTRUCTION;
  }

  responseView(): ResponseViewMode {
    return read<string>(this._settings.composite, 'responseView', 'compact') === 'cards' ? 'cards' : 'compact';
  }

  async setResponseView(view: ResponseViewMode): Promise<void> {
    await this._settings.set('responseView', view);
  }

  /** The warning direct mode deserves with the current settings, if any. */
  connectionWarning(): string | null {
    const connection = this.connection();
    return connection.transport === 'direct'
      ? directModeWarning(connection.directUrl, this.generateDefaults().n)
      : null;
  }

  private readonly _changed = new Signal<IFanoutSettings, void>(this);
}

/** The upstreams and models the settings name: their targets, or their one upstream and model. */
function namedTargets(defaults: Omit<IGenerateOptions, 'prompt'>): Array<{ upstream: string; model: string }> {
  return defaults.targets?.length ? defaults.targets : [{ upstream: defaults.upstream, model: defaults.model }];
}

/**
 * Where the `upstream`, `model` and `targets` settings disagree with the server's listing: the
 * first such warning, or null. A model is checked only against an upstream that listed its models.
 */
export function upstreamWarning(listing: IUpstreamListing, defaults: Omit<IGenerateOptions, 'prompt'>): string | null {
  const names = listing.upstreams.map(u => u.name).join(', ') || 'none';
  for (const { upstream, model } of namedTargets(defaults)) {
    const found = listing.upstreams.find(u => u.name === (upstream || listing.default));
    if (!found) {
      return `The settings name the upstream "${upstream}", which the Jupyter server does not have (it has: ${names}).`;
    }
    if (model && found.error === null && found.models.length > 0 && !found.models.includes(model)) {
      return `The settings name the model "${model}", which the upstream "${found.name}" does not serve (it serves: ${found.models.join(', ')}).`;
    }
  }
  return null;
}

/**
 * Checks the settings that name an upstream or a model against the server's listing (see
 * {@link upstreamWarning}), so that a mistyped name is shown before anything is sent. It asks the
 * server only when such a setting is set (and changed), and only for the proxy transport.
 */
export class UpstreamCheck {
  constructor(
    private readonly _settings: IFanoutSettings,
    private readonly _list: () => Promise<IUpstreamListing>
  ) {
    _settings.changed.connect(this._check, this);
    this._check();
  }

  /** Emitted when {@link warning} changed. */
  get changed(): ISignal<UpstreamCheck, void> {
    return this._changed;
  }

  /** What is wrong with the upstream settings, or null. */
  warning(): string | null {
    return this._warning;
  }

  dispose(): void {
    this._settings.changed.disconnect(this._check, this);
  }

  private _check(): void {
    const defaults = this._settings.generateDefaults();
    const named = namedTargets(defaults).map(({ upstream, model }) => ({ upstream, model }));
    const proxy = this._settings.connection().transport === 'proxy';
    const key = proxy && named.some(({ upstream, model }) => upstream || model) ? JSON.stringify(named) : '';
    if (key === this._checked) {
      return;
    }
    this._checked = key;
    if (!key) {
      this._set(null);
      return;
    }
    this._list().then(
      listing => this._settled(key, upstreamWarning(listing, defaults)),
      (reason: Error) => this._settled(key, `Could not check the upstream and model settings: ${reason.message}`)
    );
  }

  /** The answer for `key` arrived: shown unless the settings have changed since. */
  private _settled(key: string, warning: string | null): void {
    if (key === this._checked) {
      this._set(warning);
    }
  }

  private _set(warning: string | null): void {
    if (warning !== this._warning) {
      this._warning = warning;
      this._changed.emit();
    }
  }

  private _warning: string | null = null;
  /** The names last checked (JSON); '' when nothing needs checking. */
  private _checked = '';
  private readonly _changed = new Signal<UpstreamCheck, void>(this);
}
