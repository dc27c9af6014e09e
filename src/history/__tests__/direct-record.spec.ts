/**
 * Direct-mode batches recorded in the server's store by the page (`../direct-record`): a real
 * model over a fake connection, and a fake store API that keeps what it is sent.
 */
import { FanoutModel } from '../../model';
import { DIRECT_INTERRUPTED } from '../../model/model';
import type { IBatchConnection, IConnectionHandlers, TransportSpec } from '../../engine';
import type { IGenerateOptions } from '../../tokens';
import { CLOSING_BUDGET, PAGE_CLOSED, recordDirectBatches, scrubSecrets } from '../direct-record';

const encoder = new TextEncoder();
const chunk = (content: string, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'sim', choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: finish }] })}\n\n`;

const URL_ = 'http://gpu-7.internal:8000/v1';
const KEY = 'sk-very-secret-key';
const options: IGenerateOptions = {
  prompt: 'Name a river',
  n: 2,
  model: 'qwen',
  upstream: '',
  maxTokens: 50,
  temperature: 0,
  systemPrompt: ''
};

function makeModel(kind: 'direct' | 'proxy' = 'direct') {
  let handlers: IConnectionHandlers | null = null;
  const transport: TransportSpec =
    kind === 'direct' ? { kind: 'direct', baseUrl: URL_, apiKey: KEY } : { kind: 'proxy', url: 'ws://x' };
  const model = new FanoutModel({
    connect: h => {
      handlers = h;
      return { start: () => undefined, stop: () => undefined, close: () => undefined } as IBatchConnection;
    },
    transport: () => transport,
    now: () => 0,
    schedule: callback => callback(),
    lingerMs: 0 // no 10-minute timer left behind
  });
  return { model, handlers: () => handlers! };
}

/** A store API that keeps every call; `fail` makes the next calls fail. */
function fakeApi() {
  const calls: { kind: string; id: string; response?: string; attempt?: number; body: any }[] = [];
  const known = new Set<string>();
  let fail: string | null = null;
  const api = {
    batch: async (id: string, body: any) => {
      if (fail) {
        throw new Error(fail);
      }
      calls.push({ kind: 'batch', id, body });
      const created = !known.has(id);
      known.add(id);
      return { created };
    },
    attempt: async (id: string, response: string, attempt: number, body: any, options?: { keepalive?: boolean }) => {
      if (fail) {
        throw new Error(fail);
      }
      calls.push({ kind: options?.keepalive ? 'closing' : 'attempt', id, response, attempt, body });
    }
  };
  return { api, calls, known, failWith: (message: string | null) => (fail = message) };
}

const settle = () => new Promise(resolve => setTimeout(resolve, 0));

function recorder(model: FanoutModel, api: ReturnType<typeof fakeApi>['api'], enabled = () => true) {
  const reports: string[] = [];
  const recording = recordDirectBatches(model, {
    api,
    secrets: () => ({ url: URL_, apiKey: KEY }),
    enabled,
    report: (id, message) => reports.push(`${id}: ${message}`),
    now: () => 1_700_000_000_000
  });
  return { recording, reports };
}

describe('scrubSecrets', () => {
  it('replaces the URL, its host and the key wherever they are', () => {
    const text = `Could not reach ${URL_}/chat/completions (gpu-7.internal:8000 said ${KEY})`;
    expect(scrubSecrets(text, { url: URL_ + '/', apiKey: KEY })).toBe(
      'Could not reach [direct URL]/chat/completions ([direct host] said ***)'
    );
    expect(scrubSecrets('nothing here', { url: '', apiKey: '' })).toBe('nothing here');
  });
});

describe('recordDirectBatches', () => {
  it('records a direct batch as it starts and as each response ends, in order, without the URL or key', async () => {
    const { model, handlers } = makeModel();
    const { api, calls } = fakeApi();
    const { recording, reports } = recorder(model, api);
    const { batch, done } = model.generate(options);
    await recording.idle();
    expect(calls.map(c => [c.kind, c.response, c.attempt, c.body.status])).toEqual([
      ['batch', undefined, undefined, undefined],
      ['attempt', '1', 1, 'running'],
      ['attempt', '2', 1, 'running']
    ]);
    expect(calls[0].body).toEqual({
      prompt: 'Name a river',
      options: expect.objectContaining({ n: 2, model: 'qwen' }),
      created_at: batch.createdAt / 1000
    });
    expect(calls[1].body.text).toBeUndefined(); // no text while it runs
    expect(calls[1].body.request).toEqual(expect.objectContaining({ model: 'qwen', stream: true, n: 1 }));

    handlers().onOpen('1.1', 200);
    handlers().onData('1.1', encoder.encode(chunk('The Danube') + chunk('.', 'stop') + 'data: [DONE]\n\n'));
    handlers().onEnd('1.1');
    handlers().onError('2.1', {
      message: `Could not reach ${URL_}/chat/completions (key ${KEY})`,
      code: 'upstream_unreachable'
    });
    await done;
    await recording.idle();
    const ended = calls.slice(3);
    expect(ended.map(c => [c.response, c.body.status])).toEqual([
      ['1', 'complete'],
      ['2', 'error']
    ]);
    expect(ended[0].body).toEqual(
      expect.objectContaining({
        text: 'The Danube.',
        finish_reason: 'stop',
        started_at: 1_700_000_000,
        ended_at: 1_700_000_000
      })
    );
    expect(ended[1].body.error).toEqual({
      message: 'Could not reach [direct URL]/chat/completions (key ***)',
      code: 'upstream_unreachable'
    });
    const everything = JSON.stringify(calls);
    expect(everything).not.toContain('gpu-7');
    expect(everything).not.toContain(KEY);
    expect(reports).toEqual([]);

    // Nothing more on later changes; a re-generate is a new attempt, recorded the same way.
    model.showAttempt(batch.id, '1', 1);
    await recording.idle();
    expect(calls).toHaveLength(5);
    const again = model.regenerate(batch.id, '2');
    handlers().onData('2.2', encoder.encode(chunk('Rhine', 'stop') + 'data: [DONE]\n\n'));
    handlers().onEnd('2.2');
    await again;
    await recording.idle();
    expect(calls.slice(5).map(c => [c.response, c.attempt, c.body.status])).toEqual([
      ['2', 2, 'running'],
      ['2', 2, 'complete']
    ]);
  });

  it('as the page closes, records each attempt still streaming as incomplete with its text, within the budget', async () => {
    const { model, handlers } = makeModel();
    const { api, calls } = fakeApi();
    const { recording } = recorder(model, api);
    const { batch } = model.generate(options);
    await recording.idle();
    // Response 1 has a short text; response 2 more than its share of the budget (with a key in it).
    handlers().onOpen('1.1', 200);
    handlers().onData('1.1', encoder.encode(chunk('The Dan')));
    const long = `${KEY} ` + 'é'.repeat(CLOSING_BUDGET);
    handlers().onOpen('2.1', 200);
    handlers().onData('2.1', encoder.encode(chunk(long)));
    expect(recording.closing()).toBe(2);
    await settle();
    const closing = calls.filter(c => c.kind === 'closing');
    expect(closing.map(c => [c.id, c.response, c.attempt, c.body.status, c.body.error.code])).toEqual([
      [batch.id, '1', 1, 'incomplete', 'page_closed'],
      [batch.id, '2', 1, 'incomplete', 'page_closed']
    ]);
    expect(closing[0].body.text).toBe('The Dan');
    expect(closing[0].body.error.message).toBe(PAGE_CLOSED.message);
    // No request (the store keeps the one recorded at the start), and within the budget in all.
    expect(closing.every(c => c.body.request === undefined)).toBe(true);
    const bytes = closing.reduce((sum, c) => sum + new TextEncoder().encode(JSON.stringify(c.body)).length, 0);
    expect(bytes).toBeLessThanOrEqual(CLOSING_BUDGET);
    const cut = closing[1].body;
    expect(cut.text.startsWith('*** éé')).toBe(true);
    expect(long.replace(KEY, '***').startsWith(cut.text)).toBe(true);
    expect(cut.error.message).toContain(
      `only the first ${cut.text.length} of ${long.replace(KEY, '***').length} characters`
    );
    expect(JSON.stringify(closing)).not.toContain(KEY);
    // Once only: a second pagehide (or the end arriving) sends nothing more for these attempts.
    expect(recording.closing()).toBe(0);
  });

  it('sends nothing as the page closes when no direct attempt streams, or the store is off', async () => {
    const { model, handlers } = makeModel();
    const { api, calls } = fakeApi();
    let on = true;
    const { recording } = recorder(model, api, () => on);
    const { done } = model.generate({ ...options, n: 1 });
    handlers().onData('1.1', encoder.encode(chunk('Done.', 'stop') + 'data: [DONE]\n\n'));
    handlers().onEnd('1.1');
    await done;
    expect(recording.closing()).toBe(0);
    model.generate({ ...options, n: 1 });
    on = false;
    expect(recording.closing()).toBe(0);
    await settle();
    expect(calls.filter(c => c.kind === 'closing')).toEqual([]);
  });

  it('leaves proxied batches alone (the server records them)', async () => {
    const { model } = makeModel('proxy');
    const { api, calls } = fakeApi();
    const { recording } = recorder(model, api);
    model.generate(options);
    await recording.idle();
    expect(calls).toEqual([]);
  });

  it('sends nothing while the store is off, and catches up once it works', async () => {
    const { model } = makeModel();
    const { api, calls } = fakeApi();
    let works = false;
    const { recording } = recorder(model, api, () => works);
    model.generate(options);
    await recording.idle();
    expect(calls).toEqual([]);
    works = true;
    recording.refresh();
    await recording.idle();
    expect(calls.map(c => c.kind)).toEqual(['batch', 'attempt', 'attempt']);
  });

  it('reports a failing store once per batch, and the page keeps the batch', async () => {
    const { model, handlers } = makeModel();
    const { api, failWith } = fakeApi();
    failWith('PUT fanout/batches/x/direct failed (503): the batch store is unavailable');
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const { recording, reports } = recorder(model, api);
    const { batch, done } = model.generate(options);
    handlers().onData('1.1', encoder.encode(chunk('a', 'stop') + 'data: [DONE]\n\n'));
    handlers().onEnd('1.1');
    handlers().onData('2.1', encoder.encode(chunk('b', 'stop') + 'data: [DONE]\n\n'));
    handlers().onEnd('2.1');
    await done;
    await recording.idle();
    expect(reports).toEqual([`${batch.id}: PUT fanout/batches/x/direct failed (503): the batch store is unavailable`]);
    expect(errors).toHaveBeenCalled();
    expect(
      model
        .getBatch(batch.id)
        ?.summary()
        .responses.map(r => r.content)
    ).toEqual(['a', 'b']);
    errors.mockRestore();
  });

  it('a direct batch restored mid-stream ends incomplete at once (no reattach) and its cut attempts are recorded', async () => {
    const first = makeModel();
    const { batch } = first.model.generate(options);
    first.handlers().onData('1.1', encoder.encode(chunk('The Dan')));
    first.handlers().onData('2.1', encoder.encode(chunk('Rhine', 'stop') + 'data: [DONE]\n\n'));
    first.handlers().onEnd('2.1');
    const saved = first.model.save();
    expect(saved[0].transport).toBe('direct');

    const { api, calls, known } = fakeApi();
    known.add(batch.id); // recorded by the first page
    const second = makeModel();
    second.model.restore(saved);
    const restored = second.model.getBatch(batch.id)!;
    expect(restored.transport).toBe('direct');
    expect(restored.active).toBe(false);
    const [cut, whole] = restored.summary().responses;
    expect(cut).toEqual(
      expect.objectContaining({
        status: 'incomplete',
        content: 'The Dan',
        error: { message: DIRECT_INTERRUPTED, code: 'interrupted' }
      })
    );
    expect(whole.status).toBe('complete');

    const { recording } = recorder(second.model, api);
    await recording.idle();
    // The batch, then only the attempt the reload cut (the store has the other one already).
    expect(calls.map(c => [c.kind, c.response, c.body.status])).toEqual([
      ['batch', undefined, undefined],
      ['attempt', '1', 'incomplete']
    ]);
    expect(calls[1].body.text).toBe('The Dan');
  });

  it('records the whole of a restored direct batch the store did not have', async () => {
    const first = makeModel();
    const { done } = first.model.generate({ ...options, n: 1 });
    first.handlers().onData('1.1', encoder.encode(chunk('x', 'stop') + 'data: [DONE]\n\n'));
    first.handlers().onEnd('1.1');
    await done;
    const second = makeModel();
    second.model.restore(first.model.save());
    const { api, calls } = fakeApi();
    const { recording } = recorder(second.model, api);
    await recording.idle();
    expect(calls.map(c => [c.kind, c.body.status ?? null, c.body.text ?? null])).toEqual([
      ['batch', null, null],
      ['attempt', 'complete', 'x']
    ]);
  });
});

describe('recordDirectBatches and removed batches', () => {
  it('forgets a batch the page removed (nothing kept per removed id), and records a new one', async () => {
    const { model, handlers } = makeModel();
    const { api, calls } = fakeApi();
    const { recording } = recorder(model, api);
    const { batch, done } = model.generate({ ...options, n: 1 });
    handlers().onData('1.1', encoder.encode(chunk('x', 'stop') + 'data: [DONE]\n\n'));
    handlers().onEnd('1.1');
    await done;
    await recording.idle();
    model.removeBatch(batch.id);
    model.generate({ ...options, n: 1 });
    await recording.idle();
    expect(calls.map(c => [c.kind, c.id === batch.id])).toEqual([
      ['batch', true],
      ['attempt', true],
      ['attempt', true],
      ['batch', false],
      ['attempt', false]
    ]);
    expect(recording.tracked()).toEqual([model.batches[0].id]);
  });
});

describe('a direct-mode follow-up', () => {
  it('is recorded with its thread, which its requests send, scrubbed of the URL and key', async () => {
    const { model, handlers } = makeModel();
    const { api, calls } = fakeApi();
    const { recording } = recorder(model, api);
    const thread = {
      parent: { batchId: 'p-1', responseId: '2', attempt: 1 },
      messages: [
        { role: 'user' as const, content: 'Name a river' },
        { role: 'assistant' as const, content: `The Danube (as ${URL_} says).` }
      ]
    };
    const { done } = model.generate({ ...options, n: 1, prompt: 'How long is it?', thread });
    await recording.idle();
    const [batchCall, attemptCall] = calls;
    expect(batchCall.body.options.thread).toEqual({
      parent: thread.parent,
      messages: [thread.messages[0], { role: 'assistant', content: 'The Danube (as [direct URL] says).' }]
    });
    expect(attemptCall.body.request.messages).toEqual([
      ...batchCall.body.options.thread.messages,
      { role: 'user', content: 'How long is it?' }
    ]);
    handlers().onOpen('1.1', 200);
    handlers().onData('1.1', encoder.encode(chunk('2,850 km.', 'stop') + 'data: [DONE]\n\n'));
    handlers().onEnd('1.1');
    await done;
    await recording.idle();
    expect(JSON.stringify(calls)).not.toContain('gpu-7');
  });
});
