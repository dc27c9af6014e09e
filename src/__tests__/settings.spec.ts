import { connectionSettings, contextSettings, settingsToDefaults } from '../settings';

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
});
