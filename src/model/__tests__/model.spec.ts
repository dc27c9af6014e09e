/**
 * The model without a DOM or a server: a fake connection plays the proxy.
 */
import { FanoutModel } from '../model';
import { buildRequest } from '../request';
import type { IGenerateOptions } from '../../tokens';
import { chunk, encoder, fakeModel as makeModel } from './fakeProxy';

const options: IGenerateOptions = {
  prompt: 'Why is the sky blue?',
  n: 3,
  model: '',
  upstream: 'simulator',
  maxTokens: 256,
  temperature: 0.5,
  systemPrompt: 'Be brief.'
};

describe('FanoutModel', () => {
  it('starts one request per response over one connection, each with its own seed', () => {
    const { model, connections } = makeModel();
    const { batch } = model.generate(options);
    expect(connections).toHaveLength(1);
    expect(connections[0].started.map(s => s.id)).toEqual(['1.1', '2.1', '3.1']);
    expect(connections[0].started.map(s => s.request.seed)).toEqual([100, 101, 102]);
    expect(connections[0].started.every(s => s.upstream === 'simulator')).toBe(true);
    // Case 007: every response exists from the start, pending or connecting, with zero counts.
    expect(batch.responses.map(r => r.snapshot().status)).toEqual(['connecting', 'connecting', 'connecting']);
    expect(batch.responses.every(r => r.snapshot().totalTokens === 0)).toBe(true);
  });

  it('sends the notebook context before the prompt, in the user message', () => {
    expect(buildRequest({ ...options, systemPrompt: '', context: 'Context: a = 1' }, 3).messages).toEqual([
      { role: 'user', content: 'Context: a = 1\n\n---\n\nWhy is the sky blue?' }
    ]);
  });

  it('builds the chat request from the options, leaving the model to the server when empty', () => {
    expect(buildRequest(options, 7)).toEqual({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Why is the sky blue?' }
      ],
      max_tokens: 256,
      temperature: 0.5,
      seed: 7
    });
    expect(buildRequest({ ...options, model: 'qwen', systemPrompt: '' }, 1)).toMatchObject({
      model: 'qwen',
      messages: [{ role: 'user', content: 'Why is the sky blue?' }]
    });
  });

  it('resolves the batch with every response once all have ended, and closes the connection', async () => {
    const { model, connections } = makeModel();
    const { done } = model.generate(options);
    const connection = connections[0];
    connection.respond('1.1', 'one');
    connection.respond('3.1', 'three');
    expect(connection.closed).toBe(false);
    connection.respond('2.1', 'two');
    const summary = await done;
    expect(summary.responses.map(r => [r.id, r.status, r.content])).toEqual([
      ['1', 'complete', 'one'],
      ['2', 'complete', 'two'],
      ['3', 'complete', 'three']
    ]);
    expect(summary.prompt).toBe(options.prompt);
    expect(summary.metrics.complete).toBe(3);
    expect(connection.closed).toBe(true);
  });

  it('case 006: stopping one response stops only that one and keeps its text', async () => {
    const { model, connections } = makeModel();
    const { batch, done } = model.generate(options);
    const connection = connections[0];
    connection.handlers.onOpen('2.1', 200);
    connection.handlers.onData(
      '2.1',
      encoder.encode(chunk({ role: 'assistant', content: '' }) + chunk({ content: 'partial' }))
    );
    model.stop(batch.id, '2');
    expect(connection.stopped).toEqual(['2.1']);
    expect(batch.responses[1].snapshot().status).toBe('stopped');
    // Bytes the server forwarded before it read the stop are kept (as in every other tab and the
    // store); those after its answer are not.
    connection.handlers.onData('2.1', encoder.encode(chunk({ content: ' more' })));
    connection.handlers.onStopped('2.1');
    connection.handlers.onData('2.1', encoder.encode(chunk({ content: ' late' })));
    connection.respond('1.1', 'one');
    connection.respond('3.1', 'three');
    const summary = await done;
    expect(summary.responses.map(r => r.status)).toEqual(['complete', 'stopped', 'complete']);
    expect(summary.responses[1].content).toBe('partial more');
  });

  it('stop without a response stops every running response of the batch', async () => {
    const { model, connections } = makeModel();
    const { batch, done } = model.generate(options);
    connections[0].respond('1.1', 'one');
    model.stop(batch.id);
    expect(connections[0].stopped).toEqual(['2.1', '3.1']);
    expect((await done).responses.map(r => r.status)).toEqual(['complete', 'stopped', 'stopped']);
  });

  it('case 002: re-generate really sends a new request with a new seed, on a new connection if needed', async () => {
    const { model, connections } = makeModel();
    const { batch, done } = model.generate(options);
    connections[0].respond('1.1', 'one');
    connections[0].handlers.onError('2.1', { message: 'boom', status: 500 });
    connections[0].respond('3.1', 'three');
    await done;
    expect(connections[0].closed).toBe(true);

    const again = model.regenerate(batch.id, '2');
    expect(connections).toHaveLength(2);
    expect(connections[1].started).toHaveLength(1);
    expect(connections[1].started[0].id).toBe('2.2');
    expect(connections[1].started[0].request.seed).toBe(103);
    expect(batch.responses[1].snapshot().status).toBe('connecting');
    connections[1].respond('2.2', 'two, at last');
    const summary = await again;
    expect(summary).toMatchObject({ id: '2', attempt: 2, status: 'complete', content: 'two, at last' });
    expect(batch.responses.map(r => r.snapshot().content)).toEqual(['one', 'two, at last', 'three']);
  });

  it('refuses to re-generate a running response', () => {
    const { model } = makeModel();
    const { batch } = model.generate(options);
    expect(() => model.regenerate(batch.id, '1')).toThrow(/still running/);
  });

  it('a lost connection ends every running response as an error and keeps what had arrived', async () => {
    const { model, connections } = makeModel();
    const { done } = model.generate(options);
    const connection = connections[0];
    connection.respond('1.1', 'one');
    connection.handlers.onOpen('2.1', 200);
    connection.handlers.onData('2.1', encoder.encode(chunk({ content: 'half' })));
    connection.handlers.onClose({
      message: 'The connection to the Jupyter server closed (code 1006).',
      code: 'connection'
    });
    const summary = await done;
    expect(summary.responses.map(r => r.status)).toEqual(['complete', 'error', 'error']);
    expect(summary.responses[1].content).toBe('half');
    expect(summary.responses[1].error?.message).toContain('1006');
  });

  it('an error on one response touches no other', async () => {
    const { model, connections } = makeModel();
    const { done } = model.generate(options);
    const connection = connections[0];
    connection.handlers.onError('1.1', { message: 'The model `x` does not exist.', status: 404 });
    connection.respond('2.1', 'two');
    connection.respond('3.1', 'three');
    const summary = await done;
    expect(summary.responses[0]).toMatchObject({
      status: 'error',
      error: { message: 'The model `x` does not exist.', status: 404 }
    });
    expect(summary.responses.slice(1).map(r => r.status)).toEqual(['complete', 'complete']);
  });

  it('tells views of changes coalesced, not once per chunk', () => {
    const { model, connections, flush } = makeModel();
    let emitted = 0;
    model.changed.connect(() => emitted++);
    model.generate(options);
    const connection = connections[0];
    connection.handlers.onOpen('1.1', 200);
    for (let i = 0; i < 50; i++) {
      connection.handlers.onData('1.1', encoder.encode(chunk({ content: `t${i} ` })));
    }
    expect(emitted).toBe(0);
    flush();
    expect(emitted).toBe(1);
    flush();
    expect(emitted).toBe(1);
  });

  it("names the batches each change is about, so that a view of one batch skips the others'", () => {
    const { model, connections, flush } = makeModel();
    const seen: string[][] = [];
    model.changed.connect((_, change) => seen.push([...change.batchIds].sort()));
    const first = model.generate(options).batch;
    const second = model.generate({ ...options, n: 1 }).batch;
    flush();
    expect(seen).toEqual([[first.id, second.id].sort()]);

    // Tokens of the second batch only: only it is named.
    connections[1].handlers.onOpen('1.1', 200);
    connections[1].handlers.onData('1.1', encoder.encode(chunk({ content: 'x' })));
    flush();
    expect(seen[1]).toEqual([second.id]);

    // Actions name their batch: a stop, a pick, a blind vote, a removal.
    model.stop(first.id);
    flush();
    expect(seen[2]).toEqual([first.id]);
    model.blind.hold(second.id);
    flush();
    expect(seen[3]).toEqual([second.id]);
    model.setPick(first.id, null);
    model.blind.release(second.id);
    flush();
    expect(seen[4]).toEqual([first.id, second.id].sort());
    model.removeBatch(first.id);
    flush();
    expect(seen[5]).toEqual([first.id]);
    expect(seen).toHaveLength(6);
  });

  it('rejects an empty prompt and a bad number of responses with a clear error', () => {
    const { model } = makeModel();
    expect(() => model.generate({ ...options, prompt: '  ' })).toThrow(/prompt is empty/);
    expect(() => model.generate({ ...options, n: 0 })).toThrow(/at least 1/);
  });
});

describe('FanoutModel across a reload', () => {
  it('saves batches and restores them; a running response that cannot be reattached comes back incomplete with its text', async () => {
    const first = makeModel();
    const { batch } = first.model.generate(options);
    first.connections[0].respond('1.1', 'one');
    first.connections[0].handlers.onOpen('2.1', 200);
    first.connections[0].handlers.onData('2.1', encoder.encode(chunk({ content: 'half way' })));
    const saved = JSON.parse(JSON.stringify(first.model.save()));

    // This fake connection cannot attach (as a direct one): see reattach.spec.ts for the proxy's.
    const second = makeModel();
    second.model.restore(saved);
    const restored = second.model.getBatch(batch.id)!;
    expect(restored.options.prompt).toBe(options.prompt);
    expect(restored.active).toBe(false);
    const statuses = restored.responses.map(r => r.snapshot().status);
    expect(statuses).toEqual(['complete', 'incomplete', 'incomplete']);
    expect(restored.responses[0].snapshot().content).toBe('one');
    expect(restored.responses[1].snapshot().content).toBe('half way');
    expect(restored.responses[1].snapshot().error?.message).toMatch(/could not be reattached.*cannot be reattached/);
    expect(restored.responses[1].snapshot().error?.code).toBe('interrupted');
    // Restoring twice adds nothing.
    second.model.restore(saved);
    expect(second.model.batches).toHaveLength(1);

    // A restored response can be re-generated.
    const again = second.model.regenerate(batch.id, '2');
    second.connections[second.connections.length - 1].respond('2.2', 'whole');
    expect((await again).content).toBe('whole');
  });

  it('fill the gaps re-generates only stopped, failed and incomplete responses', async () => {
    const { model, connections } = makeModel();
    const { batch, done } = model.generate({ ...options, n: 4 });
    const c = connections[0];
    c.respond('1.1', 'one');
    c.handlers.onError('2.1', { message: 'boom' });
    c.handlers.onOpen('3.1', 200);
    c.handlers.onEnd('3.1');
    model.stop(batch.id, '4');
    expect((await done).responses.map(r => r.status)).toEqual(['complete', 'error', 'incomplete', 'stopped']);

    const filled = model.fillGaps(batch.id);
    expect(connections[1].started.map(s => s.id)).toEqual(['2.2', '3.2', '4.2']);
    connections[1].respond('2.2', 'two');
    connections[1].respond('3.2', 'three');
    connections[1].respond('4.2', 'four');
    expect((await filled).map(r => r.content)).toEqual(['two', 'three', 'four']);
    expect(batch.responses[0].attempt).toBe(1);
  });
});

describe('several models in one batch', () => {
  it('asks each response from its own upstream and model, in order, and keeps that across a reload', async () => {
    const { model, connections } = makeModel();
    const { batch, done } = model.generate({
      ...options,
      targets: [
        { upstream: 'gpu', model: 'qwen', n: 2 },
        { upstream: 'cloud', model: 'llama', n: 1 }
      ]
    });
    const started = connections[0].started;
    expect(started.map(s => [s.id, s.upstream, s.request.model])).toEqual([
      ['1.1', 'gpu', 'qwen'],
      ['2.1', 'gpu', 'qwen'],
      ['3.1', 'cloud', 'llama']
    ]);
    expect(batch.responses.map(r => [r.upstream, r.model])).toEqual([
      ['gpu', 'qwen'],
      ['gpu', 'qwen'],
      ['cloud', 'llama']
    ]);
    ['1.1', '2.1', '3.1'].forEach(id => connections[0].respond(id, id));
    const summary = await done;
    expect(summary.responses.map(r => r.requestedModel)).toEqual(['qwen', 'qwen', 'llama']);

    const again = makeModel();
    again.model.restore(JSON.parse(JSON.stringify(model.save())));
    const restored = again.model.getBatch(batch.id)!;
    expect(restored.responses.map(r => [r.upstream, r.model, r.snapshot().content])).toEqual([
      ['gpu', 'qwen', '1.1'],
      ['gpu', 'qwen', '2.1'],
      ['cloud', 'llama', '3.1']
    ]);
    // Re-generating asks the same upstream and model again.
    void again.model.regenerate(batch.id, '3');
    expect(again.connections[0].started[0]).toMatchObject({ upstream: 'cloud', request: { model: 'llama' } });
  });

  it('refuses a target with no responses', () => {
    const { model } = makeModel();
    expect(() => model.generate({ ...options, targets: [{ upstream: '', model: 'x', n: 0 }] })).toThrow(/at least 1/);
  });
});

describe('connections over a batch’s life', () => {
  it('the late close of an earlier connection does not touch a response re-generated on a newer one', async () => {
    const { model, connections } = makeModel();
    const { batch, done } = model.generate({ ...options, n: 2 });
    connections[0].respond('1.1', 'one');
    connections[0].respond('2.1', 'two');
    await done;
    expect(connections[0].closed).toBe(true);

    const again = model.regenerate(batch.id, '2');
    expect(connections).toHaveLength(2);
    // The first socket's close arrives only now (the close handshake is asynchronous).
    connections[0].handlers.onClose(null);
    expect(batch.responses[1].snapshot().status).toBe('connecting');
    connections[1].respond('2.2', 'two again');
    expect((await again).status).toBe('complete');
    expect((await again).content).toBe('two again');
  });
});

describe('attempts are versions', () => {
  /** A batch of `n` whose responses all completed with "r1", "r2", …; and its model. */
  async function completed(n = 2) {
    const made = makeModel();
    const { batch, done } = made.model.generate({ ...options, n });
    batch.responses.forEach(r => made.connections[0].respond(`${r.id}.1`, `r${r.id}`));
    await done;
    return { ...made, batch };
  }

  it('the issue: a re-generate against an upstream that fails keeps the earlier text as attempt 1', async () => {
    const { model, connections, batch } = await completed(2);
    const before = batch.responses[1].snapshot();
    const again = model.regenerate(batch.id, '2');
    connections[1].handlers.onError('2.2', { message: 'upstream unreachable', status: 502 });
    const summary = await again;
    const response = batch.responses[1];
    // The latest attempt is the failure, and it is shown (a new attempt is shown when it starts).
    expect(summary).toMatchObject({ attempt: 2, status: 'error', content: '' });
    expect(response.shownAttempt).toBe(2);
    expect(response.shownSnapshot().status).toBe('error');
    // Nothing was replaced: attempt 1 is kept as it ended, and can be shown again.
    expect(response.attempts.map(a => [a.attempt, a.snapshot().status, a.snapshot().content])).toEqual([
      [1, 'complete', 'r2'],
      [2, 'error', '']
    ]);
    expect(response.attempts[0].snapshot()).toBe(before);
    model.showAttempt(batch.id, '2', 1);
    expect(response.shownAttempt).toBe(1);
    expect(response.shownSnapshot().content).toBe('r2');
    // The response's own state stays its latest attempt's.
    expect(response.snapshot().status).toBe('error');
    expect(response.attempt).toBe(2);
  });

  it('shown attempt: the latest by default, any kept attempt on request, the new one when it starts', async () => {
    const { model, connections, flush, batch } = await completed(2);
    const response = batch.responses[0];
    expect(response.attempts).toHaveLength(1);
    expect(response.shownAttempt).toBe(1);
    expect(response.shownSnapshot()).toBe(response.snapshot());

    let emitted = 0;
    model.changed.connect(() => emitted++);
    const second = model.regenerate(batch.id, '1');
    connections[1].respond('1.2', 'second');
    await second;
    flush();
    emitted = 0;
    model.showAttempt(batch.id, '1', 1);
    flush();
    expect(emitted).toBe(1);
    expect(response.shownSnapshot().content).toBe('r1');

    // Showing one that does not exist says which do.
    expect(() => model.showAttempt(batch.id, '1', 3)).toThrow(/no attempt 3 \(its attempts: 1, 2\)/);
    expect(() => model.showAttempt(batch.id, '9', 1)).toThrow(/no response 9/);
    expect(response.shownAttempt).toBe(1);

    // A third attempt is shown as soon as it starts, while it streams.
    const third = model.regenerate(batch.id, '1');
    expect(response.shownAttempt).toBe(3);
    expect(response.shownSnapshot().status).toBe('connecting');
    expect(response.attempts.map(a => a.snapshot().status)).toEqual(['complete', 'complete', 'connecting']);
    // An earlier one can be shown while it runs; the response still runs.
    model.showAttempt(batch.id, '1', 2);
    expect(response.shownSnapshot().content).toBe('second');
    expect(batch.active).toBe(true);
    connections[2].respond('1.3', 'third');
    await third;
    expect(response.shownAttempt).toBe(2);
    expect(response.attempts.map(a => a.snapshot().content)).toEqual(['r1', 'second', 'third']);
    expect(response.attempts.map(a => a.seed)).toEqual([100, 102, 103]);
    // The other response is untouched.
    expect(batch.responses[1].attempts).toHaveLength(1);
  });

  it('fill the gaps keeps the attempts it replaces', async () => {
    const { model, connections } = makeModel();
    const { batch, done } = model.generate({ ...options, n: 3 });
    const c = connections[0];
    c.respond('1.1', 'one');
    c.handlers.onOpen('2.1', 200);
    c.handlers.onData('2.1', encoder.encode(chunk({ role: 'assistant', content: '' }) + chunk({ content: 'half' })));
    model.stop(batch.id, '2');
    c.handlers.onError('3.1', { message: 'boom' });
    await done;
    const filled = model.fillGaps(batch.id);
    connections[1].handlers.onError('2.2', { message: 'down' });
    connections[1].respond('3.2', 'three');
    await filled;
    expect(
      batch.responses.map(r => r.attempts.map(a => [a.attempt, a.snapshot().status, a.snapshot().content]))
    ).toEqual([
      [[1, 'complete', 'one']],
      [
        [1, 'stopped', 'half'],
        [2, 'error', '']
      ],
      [
        [1, 'error', ''],
        [2, 'complete', 'three']
      ]
    ]);
  });

  it('summaries: the latest attempt at the top level, as before, and every attempt in `attempts`', async () => {
    const { model, connections, batch } = await completed(2);
    const again = model.regenerate(batch.id, '2');
    connections[1].respond('2.2', 'two again');
    await again;
    model.showAttempt(batch.id, '2', 1);
    const summary = batch.summary();
    const [first, second] = summary.responses;
    expect(first).toMatchObject({ id: '1', attempt: 1, seed: 100, status: 'complete', content: 'r1' });
    expect(first.attempts).toEqual([{ attempt: 1, seed: 100, ...batch.responses[0].snapshot() }]);
    expect(first.shownAttempt).toBeUndefined();
    expect(second).toMatchObject({ id: '2', attempt: 2, seed: 102, status: 'complete', content: 'two again' });
    expect(second.shownAttempt).toBe(1);
    expect(
      second.attempts!.map(a => [a.attempt, a.seed, a.status, a.content, a.reasoning, a.totalTokens, a.finishReason])
    ).toEqual([
      [1, 101, 'complete', 'r2', '', 1, 'stop'],
      [2, 102, 'complete', 'two again', '', 2, 'stop']
    ]);
    expect(second.attempts![0]).toHaveProperty('metrics');
    expect(second.attempts![0]).toHaveProperty('error', null);
    // JSON all the way (what the commands resolve with).
    expect(JSON.parse(JSON.stringify(summary))).toEqual(summary);
  });

  it('saves and restores every attempt and the one shown; the latest is not saved twice', async () => {
    const { model, connections, batch } = await completed(2);
    const again = model.regenerate(batch.id, '2');
    connections[1].handlers.onError('2.2', { message: 'upstream unreachable', status: 502 });
    await again;
    model.showAttempt(batch.id, '2', 1);
    const saved = JSON.parse(JSON.stringify(model.save()));
    expect(saved[0].responses[1].attempts.map((a: { attempt: number }) => a.attempt)).toEqual([1]);
    expect(saved[0].responses[1]).toMatchObject({ attempt: 2, status: 'error', shownAttempt: 1 });

    // This fake connection cannot attach (as a direct one): see reattach.spec.ts for the proxy's.
    const second = makeModel();
    second.model.restore(saved);
    const restored = second.model.getBatch(batch.id)!;
    const response = restored.responses[1];
    expect(response.attempts.map(a => [a.attempt, a.seed, a.snapshot().status, a.snapshot().content])).toEqual([
      [1, 101, 'complete', 'r2'],
      [2, 102, 'error', '']
    ]);
    expect(response.shownAttempt).toBe(1);
    expect(response.shownSnapshot().content).toBe('r2');
    expect(restored.summary().responses[1].attempts).toEqual(batch.summary().responses[1].attempts);

    // A restored response re-generated keeps all three.
    const third = second.model.regenerate(batch.id, '2');
    expect(second.connections[0].started[0].id).toBe('2.3');
    second.connections[0].respond('2.3', 'at last');
    await third;
    expect(response.attempts.map(a => a.snapshot().content)).toEqual(['r2', '', 'at last']);
    expect(response.shownAttempt).toBe(3);
  });

  it('restores batches saved before attempts were kept (one attempt each), and full summaries too', async () => {
    const { model, batch } = await completed(2);
    const old = JSON.parse(JSON.stringify(model.save()));
    for (const response of old[0].responses) {
      delete response.attempts;
      delete response.shownAttempt;
    }
    old[0].responses[1].attempt = 4; // Re-generated three times by an earlier version.
    const second = makeModel();
    second.model.restore(old);
    const restored = second.model.getBatch(batch.id)!;
    expect(restored.responses.map(r => [r.attempt, r.shownAttempt, r.attempts.length])).toEqual([
      [1, 1, 1],
      [4, 4, 1]
    ]);
    expect(restored.responses[1].shownSnapshot().content).toBe('r2');
    expect(restored.summary().responses[1].attempts!.map(a => a.attempt)).toEqual([4]);

    // The generate command's summary (latest attempt included in `attempts`) restores the same.
    const third = makeModel();
    third.model.restore([JSON.parse(JSON.stringify(batch.summary()))]);
    expect(third.model.getBatch(batch.id)!.responses.map(r => r.attempts.length)).toEqual([1, 1]);
  });

  it('leaves out saved attempts it cannot read, and a running one comes back incomplete', async () => {
    const { model, connections, batch } = await completed(1);
    const again = model.regenerate(batch.id, '1');
    connections[1].respond('1.2', 'two');
    await again;
    const saved = JSON.parse(JSON.stringify(model.save()));
    const response = saved[0].responses[0];
    response.attempt = 4;
    response.attempts = [
      { ...response.attempts[0], status: 'generating' },
      'nonsense',
      { attempt: 2 },
      { ...response.attempts[0], attempt: 3, metrics: null }
    ];
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const second = makeModel();
    second.model.restore(saved);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('some saved attempts could not be read'));
    warn.mockRestore();
    const restored = second.model.getBatch(batch.id)!.responses[0];
    expect(restored.attempts.map(a => [a.attempt, a.snapshot().status])).toEqual([
      [1, 'incomplete'],
      [4, 'complete']
    ]);
  });

  it('a list of attempts taken before a re-generate still reads each attempt as it was', async () => {
    const { model, connections, batch } = await completed(1);
    const before = batch.responses[0].attempts;
    const again = model.regenerate(batch.id, '1');
    connections[1].respond('1.2', 'two');
    await again;
    expect(before.map(a => [a.attempt, a.snapshot().content])).toEqual([[1, 'r1']]);
    expect(batch.responses[0].attempts.map(a => [a.attempt, a.snapshot().content])).toEqual([
      [1, 'r1'],
      [2, 'two']
    ]);
  });

  it('removing a batch frees its attempts', async () => {
    const { model, connections, batch } = await completed(1);
    const again = model.regenerate(batch.id, '1');
    connections[1].respond('1.2', 'two');
    await again;
    model.removeBatch(batch.id);
    expect(model.getBatch(batch.id)).toBeUndefined();
    expect(() => model.showAttempt(batch.id, '1', 1)).toThrow(/no batch/);
    expect(model.save()).toEqual([]);
  });
});
