import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import { Signal } from '@lumino/signaling';

import { connectionSettings, contextSettings, FanoutSettings, settingsToDefaults } from '../settings';

/** Settings that record each `set`, one at a time (a second `set` while one saves is a failure). */
function recordingSettings(composite: Record<string, unknown>) {
  const sets: Array<[string, unknown]> = [];
  let saving = false;
  const fake = {
    composite,
    changed: new Signal<unknown, void>({}),
    set: async (key: string, value: unknown) => {
      if (saving) {
        throw new Error('two saves at once');
      }
      saving = true;
      await new Promise(resolve => setTimeout(resolve, 1));
      composite[key] = value;
      sets.push([key, value]);
      saving = false;
    }
  };
  return { settings: new FanoutSettings(fake as unknown as ISettingRegistry.ISettings), sets };
}

describe('settings', () => {
  it('gives the schema defaults for what is not set', () => {
    expect(settingsToDefaults({})).toEqual({
      n: 4,
      maxTokens: 1024,
      temperature: 0.7,
      model: '',
      upstream: '',
      systemPrompt: '',
      targets: [],
      structured: false
    });
    expect(contextSettings({})).toEqual({ enabled: false, budget: 2000 });
  });

  it('uses direct mode only when it has a URL', () => {
    expect(connectionSettings({ transport: 'direct' }).transport).toBe('proxy');
    expect(connectionSettings({ transport: 'direct', directUrl: 'https://h/v1', directApiKey: 'k' })).toEqual({
      transport: 'direct',
      directUrl: 'https://h/v1',
      directApiKey: 'k'
    });
  });

  it('writes the controls to their settings, one at a time, only those that changed', async () => {
    const { settings, sets } = recordingSettings({ responses: 4, temperature: 0.7, maxTokens: 1024, model: '' });
    await settings.setGenerateControls({
      responses: 8,
      temperature: 0.7,
      maxTokens: 99,
      model: 'm',
      upstream: undefined
    });
    expect(sets).toEqual([
      ['responses', 8],
      ['maxTokens', 99],
      ['model', 'm']
    ]);
    expect(settings.generateDefaults()).toMatchObject({ n: 8, temperature: 0.7, maxTokens: 99, model: 'm' });
  });
});
