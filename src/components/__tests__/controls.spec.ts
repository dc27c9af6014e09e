/** The generate controls' pure logic: the schema's bounds, reading typed values, the model list. */
import * as fs from 'fs';
import * as path from 'path';

import type { IUpstreamListing } from '../../tokens';
import {
  buildModelList,
  choiceKey,
  controlArgs,
  CONTROL_BOUNDS,
  currentChoiceKey,
  parseChoiceKey,
  readControl
} from '../controlValues';

const limits = { max_responses_per_batch: 64, max_streams_per_user: 64, max_tokens_limit: 32768, max_message_bytes: 1 };

function listing(upstreams: IUpstreamListing['upstreams'], byDefault = upstreams[0]?.name ?? ''): IUpstreamListing {
  return { default: byDefault, upstreams, limits };
}

const gpu = { name: 'gpu', models: ['Qwen/Qwen3-8B', 'Qwen/Qwen3-32B'], default_model: 'Qwen/Qwen3-8B', error: null };
const cloud = { name: 'cloud', models: [], default_model: null, error: 'HTTP 401 from the upstream' };

describe('CONTROL_BOUNDS', () => {
  it('are the bounds schema/plugin.json gives', () => {
    const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../schema/plugin.json'), 'utf8'));
    for (const [field, bounds] of Object.entries(CONTROL_BOUNDS)) {
      const property = schema.properties[field];
      expect(property.type).toBe(bounds.integer ? 'integer' : 'number');
      expect(property.minimum).toBe(bounds.minimum);
      expect(property.maximum).toBe(bounds.maximum);
    }
  });
});

describe('readControl', () => {
  it('reads values within the bounds', () => {
    expect(readControl('responses', ' 8 ')).toEqual({ ok: true, value: 8 });
    expect(readControl('responses', '64')).toEqual({ ok: true, value: 64 });
    expect(readControl('temperature', '0')).toEqual({ ok: true, value: 0 });
    expect(readControl('temperature', '1.25')).toEqual({ ok: true, value: 1.25 });
    expect(readControl('temperature', '.5')).toEqual({ ok: true, value: 0.5 });
    expect(readControl('maxTokens', '100000')).toEqual({ ok: true, value: 100000 });
  });

  it('says what is wrong with a value out of range, never clamps it', () => {
    expect(readControl('responses', '65')).toEqual({
      ok: false,
      error: 'N (number of responses) must be from 1 to 64; 65 is out of range.'
    });
    expect(readControl('responses', '0')).toMatchObject({ ok: false });
    expect(readControl('temperature', '2.5')).toEqual({
      ok: false,
      error: 'Temperature must be from 0 to 2; 2.5 is out of range.'
    });
    expect(readControl('temperature', '-0.1')).toMatchObject({ ok: false });
    expect(readControl('maxTokens', '0')).toEqual({
      ok: false,
      error: 'Max tokens must be at least 1; 0 is out of range.'
    });
  });

  it('rejects what is not a number, or not whole where it must be', () => {
    expect(readControl('responses', '')).toEqual({
      ok: false,
      error: 'N (number of responses) is empty: give a whole number from 1 to 64.'
    });
    expect(readControl('responses', '2.5')).toEqual({
      ok: false,
      error: 'N (number of responses) must be a whole number from 1 to 64, not 2.5.'
    });
    expect(readControl('maxTokens', '1e3')).toEqual({
      ok: false,
      error: 'Max tokens must be a number at least 1, not "1e3".'
    });
    expect(readControl('temperature', 'warm')).toMatchObject({ ok: false });
    expect(readControl('responses', '0x10')).toMatchObject({ ok: false });
  });
});

describe('buildModelList', () => {
  it('lists one upstream flat: its default model, then each model it serves', () => {
    const list = buildModelList(listing([gpu]), { upstream: '', model: '' });
    expect(list.grouped).toBe(false);
    expect(list.freeText).toBeNull();
    expect(list.groups).toHaveLength(1);
    expect(list.groups[0].label).toBe('gpu (default)');
    expect(list.groups[0].choices.map(c => c.label)).toEqual([
      'Qwen/Qwen3-8B (default)',
      'Qwen/Qwen3-8B',
      'Qwen/Qwen3-32B'
    ]);
    // The default upstream is '' (the server's default), as the setting names it.
    expect(list.groups[0].choices.map(c => c.upstream)).toEqual(['', '', '']);
  });

  it('groups several upstreams, and says which one could not list its models', () => {
    const list = buildModelList(listing([gpu, cloud]), { upstream: '', model: 'Qwen/Qwen3-32B' });
    expect(list.grouped).toBe(true);
    expect(list.groups.map(g => g.label)).toEqual(['gpu (default)', 'cloud']);
    const failed = list.groups[1].choices;
    expect(failed.map(c => c.label)).toEqual([
      "The upstream's default model",
      'Models unavailable: HTTP 401 from the upstream'
    ]);
    expect(failed[1].disabled).toBe(true);
    expect(failed[0]).toMatchObject({ upstream: 'cloud', model: '' });
    // The current choice is in the list as it is.
    const key = currentChoiceKey(listing([gpu, cloud]), '', 'Qwen/Qwen3-32B');
    expect(list.groups[0].choices.filter(c => c.key === key)).toHaveLength(1);
  });

  it('keeps a model the server does not serve in the list, marked', () => {
    const list = buildModelList(listing([gpu]), { upstream: 'gpu', model: 'no-such-model' });
    const last = list.groups[0].choices[list.groups[0].choices.length - 1];
    expect(last).toMatchObject({ model: 'no-such-model', upstream: '', label: 'no-such-model (not served)' });
    expect(currentChoiceKey(listing([gpu]), 'gpu', 'no-such-model')).toBe(last.key);
  });

  it('keeps an upstream the server does not have in the list, in a group of its own', () => {
    const list = buildModelList(listing([gpu]), { upstream: 'gone', model: 'm' });
    expect(list.grouped).toBe(true);
    expect(list.groups[1].label).toBe('gone (not on the server)');
    expect(list.groups[1].choices[0].key).toBe(currentChoiceKey(listing([gpu]), 'gone', 'm'));
  });

  it('asks for a typed model when the listing is empty or unavailable, and says why', () => {
    expect(buildModelList(null, { upstream: '', model: '' }).freeText).toBeNull(); // Not read yet.
    expect(buildModelList(null, { upstream: '', model: '' }, 'HTTP 500').freeText).toBe(
      'The model list is unavailable (HTTP 500): type a model name.'
    );
    expect(buildModelList(listing([]), { upstream: '', model: '' }).freeText).toBe(
      'The server lists no upstreams: type a model name.'
    );
    expect(buildModelList(listing([cloud]), { upstream: '', model: '' }).freeText).toBe(
      'No upstream listed its models: type a model name.'
    );
  });

  it('round-trips option values, whatever the names hold', () => {
    const key = choiceKey('a"b', 'c/d:e');
    expect(parseChoiceKey(key)).toEqual({ upstream: 'a"b', model: 'c/d:e' });
  });
});

describe('controlArgs', () => {
  const values = { responses: 3, model: 'm', upstream: 'u', temperature: 0.3, maxTokens: 77 };
  it('sends exactly what the controls show', () => {
    expect(controlArgs(values, false)).toEqual({ n: 3, model: 'm', upstream: 'u', temperature: 0.3, maxTokens: 77 });
  });
  it('leaves N, model and upstream to the targets setting when it names several models', () => {
    expect(controlArgs(values, true)).toEqual({ temperature: 0.3, maxTokens: 77 });
  });
});
