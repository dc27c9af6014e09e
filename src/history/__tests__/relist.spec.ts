/**
 * The History section lists the store again when this page's batches start or end, a burst of
 * them coalesced into one listing (`../relist`): a real model over fake connections, fake timers.
 */
import { FanoutModel } from '../../model';
import type { IBatchConnection, IConnectionHandlers } from '../../engine';
import type { IGenerateOptions } from '../../tokens';
import { RelistOnActivity } from '../relist';

const encoder = new TextEncoder();
const done =
  'data: ' +
  JSON.stringify({
    id: 'c',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'sim',
    choices: [{ index: 0, delta: { content: 'x' }, logprobs: null, finish_reason: 'stop' }]
  }) +
  '\n\ndata: [DONE]\n\n';
const options: IGenerateOptions = {
  prompt: 'p',
  n: 1,
  model: '',
  upstream: '',
  maxTokens: 50,
  temperature: 0,
  systemPrompt: ''
};

function makeModel() {
  const connections: IConnectionHandlers[] = [];
  const model = new FanoutModel({
    connect: h => {
      connections.push(h);
      return { start: () => undefined, stop: () => undefined, close: () => undefined } as IBatchConnection;
    },
    now: () => 0,
    schedule: callback => callback(),
    lingerMs: 0 // no 10-minute timer left behind
  });
  const end = (i: number) => {
    connections[i].onData('1.1', encoder.encode(done));
    connections[i].onEnd('1.1');
  };
  return { model, end };
}

function fakeTimers() {
  const pending = new Map<number, () => void>();
  let next = 0;
  return {
    setTimeout: (callback: () => void) => {
      pending.set(++next, callback);
      return next;
    },
    clearTimeout: (handle: unknown) => pending.delete(handle as number),
    fire: () => {
      const callbacks = [...pending.values()];
      pending.clear();
      callbacks.forEach(callback => callback());
    },
    get count() {
      return pending.size;
    }
  };
}

describe('RelistOnActivity', () => {
  it('lists once for a burst of starts and ends, and again for what changes later', () => {
    const { model, end } = makeModel();
    const timers = fakeTimers();
    const relist = jest.fn();
    const relister = new RelistOnActivity(model, relist, timers);
    for (let i = 0; i < 5; i++) {
      model.generate(options);
    }
    end(0);
    end(1);
    expect(relist).not.toHaveBeenCalled();
    expect(timers.count).toBe(1); // one window for the whole burst
    timers.fire();
    expect(relist).toHaveBeenCalledTimes(1);

    // Changes that are not a start or an end (text arriving, another attempt shown) list nothing.
    model.showAttempt(model.batches[4].id, '1', 1);
    expect(timers.count).toBe(0);

    // The rest end later: one more listing, after they have ended.
    end(2);
    end(3);
    end(4);
    expect(timers.count).toBe(1);
    timers.fire();
    expect(relist).toHaveBeenCalledTimes(2);
    relister.dispose();
  });

  it('lists nothing after dispose (no timer left behind)', () => {
    const { model } = makeModel();
    const timers = fakeTimers();
    const relist = jest.fn();
    const relister = new RelistOnActivity(model, relist, timers);
    model.generate(options);
    expect(timers.count).toBe(1);
    relister.dispose();
    expect(timers.count).toBe(0);
    model.generate(options);
    expect(timers.count).toBe(0);
    expect(relist).not.toHaveBeenCalled();
  });
});
