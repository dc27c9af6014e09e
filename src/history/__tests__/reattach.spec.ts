/**
 * A reload in the middle of a batch: the running batches of the page's snapshot in local
 * storage are restored (and reattached) as soon as the extension starts; the rest come back
 * with persistBatches, once, in the usual way.
 */
import type { IStateDB } from '@jupyterlab/statedb';

import type { IBatchConnection, IConnectionHandlers } from '../../engine';
import { FanoutModel } from '../../model';
import type { IGenerateOptions } from '../../tokens';
import { persistBatches, UNSAVED_KEY } from '../persistence';
import { reattachEarly } from '../reattach';

const options: IGenerateOptions = {
  prompt: 'p',
  n: 1,
  model: '',
  upstream: '',
  maxTokens: 50,
  temperature: 0,
  systemPrompt: ''
};

const encoder = new TextEncoder();
const done = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'all' }, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`;

class Connection implements IBatchConnection {
  constructor(readonly handlers: IConnectionHandlers) {}
  sent: string[] = [];
  attach(batchId: string): void {
    this.sent.push(`attach ${batchId}`);
  }
  start(id: string): void {
    this.sent.push(`start ${id}`);
  }
  stop(id: string): void {
    this.sent.push(`stop ${id}`);
  }
  close(): void {
    this.sent.push('close');
  }
}

function makeModel() {
  const connections: Connection[] = [];
  const model = new FanoutModel({
    connect: handlers => {
      const c = new Connection(handlers);
      connections.push(c);
      return c;
    },
    now: () => 0,
    lingerMs: 0, // no 10-minute timer left behind
    schedule: () => undefined
  });
  return { model, connections };
}

function storage(items: Record<string, string>): Storage {
  const map = new Map(Object.entries(items));
  return {
    getItem: (key: string) => map.get(key) ?? null,
    setItem: (key: string, value: string) => map.set(key, value),
    removeItem: (key: string) => map.delete(key)
  } as unknown as Storage;
}

describe('reattaching early after a reload', () => {
  it('restores and reattaches only the running batches of this workspace’s snapshot; persistBatches adds the rest once', async () => {
    // The page before the reload: one ended batch, then one still running.
    const before = makeModel();
    const ended = before.model.generate({ ...options, prompt: 'ended' }).batch;
    before.connections[0].handlers.onOpen('1.1', 200);
    before.connections[0].handlers.onData('1.1', encoder.encode(done));
    before.connections[0].handlers.onEnd('1.1');
    const running = before.model.generate({ ...options, prompt: 'running' }).batch;
    const batches = JSON.parse(JSON.stringify(before.model.save()));
    const local = storage({ [UNSAVED_KEY]: JSON.stringify({ workspace: 'w', savedAt: 5, batches }) });

    const after = makeModel();
    expect(reattachEarly(after.model, 'other', local)).toBe(0);
    expect(after.model.batches).toHaveLength(0);
    expect(reattachEarly(after.model, 'w', local)).toBe(1);
    expect(after.model.batches.map(b => b.id)).toEqual([running.id]);
    expect(after.connections.flatMap(c => c.sent)).toEqual([`attach ${running.id}`]);
    expect(after.model.batches[0].responses[0].reconnecting).toBe(true);

    const state = { fetch: async () => undefined, save: async () => undefined } as unknown as IStateDB;
    const persisted = await persistBatches(after.model, state, { storage: local, workspace: 'w', page: null as any });
    expect(after.model.batches.map(b => b.options.prompt)).toEqual(['running', 'ended']);
    expect(after.model.getBatch(ended.id)!.responses[0].snapshot().content).toBe('all');
    // Attached once only.
    expect(after.connections.flatMap(c => c.sent)).toEqual([`attach ${running.id}`]);
    persisted.dispose();
  });

  it('ignores an unreadable snapshot and entries that are not batches', () => {
    const { model } = makeModel();
    const spy = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(reattachEarly(model, 'w', storage({ [UNSAVED_KEY]: '{not json' }))).toBe(0);
    spy.mockRestore();
    const odd = JSON.stringify({ workspace: 'w', savedAt: 1, batches: [null, { responses: 'x' }] });
    expect(reattachEarly(model, 'w', storage({ [UNSAVED_KEY]: odd }))).toBe(0);
    expect(model.batches).toHaveLength(0);
  });
});
