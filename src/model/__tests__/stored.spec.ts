/**
 * A stored batch (`GET fanout/batches/<id>`) into the model's shape: the summary `fanout:get-batch`
 * resolves with, the batch Open puts in the sidebar, and hostile input failing only itself.
 */
import type { IBatchConnection, IConnectionHandlers } from '../../engine';
import { FanoutModel } from '../model';
import { batchFromSummary, RUNNING_ON_SERVER, StoredBatchError, storedSummary } from '../stored';

/** An attempt as the store answers it. */
function attempt(number: number, text: string, extra: Record<string, unknown> = {}) {
  return {
    attempt: number,
    upstream: 'simulator',
    model: 'Qwen/Qwen3-8B',
    request: { messages: [{ role: 'user', content: 'Why?' }], max_tokens: 256, temperature: 0.5, seed: 100 + number },
    status: 'complete',
    error: null,
    finish_reason: 'stop',
    text,
    reasoning: '',
    usage: { prompt_tokens: 12, completion_tokens: 30, completion_tokens_details: { reasoning_tokens: 10 } },
    metrics: { ttft: 0.05, elapsed: 1.5, tokens_per_second: 20, bytes: 900 },
    started_at: 1_700_000_000 + number,
    ended_at: 1_700_000_001.5 + number,
    ...extra
  };
}

/** A stored batch of three responses; the second was re-generated once. */
function stored(): any {
  return {
    id: 'lq3-1',
    title: 'Why?',
    prompt: 'Why?',
    options: { n: 3, model: '', upstream: 'simulator', maxTokens: 256, temperature: 0.5, systemPrompt: 'Be brief.' },
    created_at: 1_700_000_000,
    updated_at: 1_700_000_010,
    models: ['Qwen/Qwen3-8B'],
    n: 3,
    responses: [
      {
        id: '2',
        status: 'stopped',
        attempts: [attempt(1, 'first try'), attempt(2, 'second try', { status: 'stopped' })]
      },
      { id: '1', status: 'complete', attempts: [attempt(1, 'one')] },
      {
        id: '3',
        status: 'running',
        attempts: [attempt(1, 'so far', { status: 'running', usage: null, metrics: null })]
      }
    ]
  };
}

describe('storedSummary', () => {
  it('gives the shape fanout:generate resolves with, every attempt included, responses in order', () => {
    const summary = storedSummary(stored(), 1_700_000_100_000);
    expect(summary.batchId).toBe('lq3-1');
    expect(summary.createdAt).toBe(1_700_000_000_000);
    expect(summary.prompt).toBe('Why?');
    expect(summary.options).toMatchObject({ prompt: 'Why?', n: 3, upstream: 'simulator', systemPrompt: 'Be brief.' });
    expect(summary.options.targets).toBeUndefined();
    expect(summary.responses.map(r => [r.id, r.index, r.attempt, r.status, r.content])).toEqual([
      ['1', 1, 1, 'complete', 'one'],
      ['2', 2, 2, 'stopped', 'second try'],
      ['3', 3, 1, 'generating', 'so far']
    ]);
    const second = summary.responses[1];
    expect(second.attempts!.map(a => [a.attempt, a.seed, a.status, a.content])).toEqual([
      [1, 101, 'complete', 'first try'],
      [2, 102, 'stopped', 'second try']
    ]);
    expect(second.seed).toBe(102);
    expect(second.upstream).toBe('simulator');
    expect(second.model).toBe('Qwen/Qwen3-8B');
    // The server's counts: 10 thinking of 30.
    expect([second.thinkingTokens, second.answerTokens, second.totalTokens, second.promptTokens]).toEqual([
      10, 20, 30, 12
    ]);
    expect(second.tokensEstimated).toBe(false);
    expect(second.metrics).toMatchObject({ ttftMs: 50, elapsedMs: 1500, tokensPerSecond: 20 });
    // A response still streaming on the server: its text so far, running (opened, it is reattached).
    expect(summary.responses[2].error).toBeNull();
    expect(summary.responses[2].tokensEstimated).toBe(true);
    expect(summary.metrics).toMatchObject({ complete: 1, ended: 2, total: 3 });
  });

  it('makes one target per response when the options do not fit the responses stored', () => {
    const batch = stored();
    batch.options = {}; // A batch the browser did not describe.
    batch.responses[1].attempts[0].request.model = 'other-model';
    const summary = storedSummary(batch);
    expect(summary.options.targets).toEqual([
      { upstream: 'simulator', model: 'other-model', n: 1 },
      { upstream: 'simulator', model: '', n: 2 }
    ]);
  });

  it.each([
    [null, 'A stored batch must be an object, not null.'],
    [[], 'A stored batch must be an object, not a list.'],
    [{ id: 7 }, 'A stored batch needs an id of 1 to 256 characters, not number 7.'],
    [{ id: 'b', responses: {} }, 'Stored batch b cannot be read: responses must be a list, not an object.'],
    [{ id: 'b', responses: [] }, 'Stored batch b cannot be read: responses is empty.'],
    [{ id: 'b', prompt: 3, responses: [] }, 'Stored batch b cannot be read: prompt must be a string, not number 3.'],
    [{ id: 'b', responses: ['x'] }, 'Stored batch b cannot be read: responses[0] must be an object, not string "x".'],
    [
      { id: 'b', responses: [{ id: '1', attempts: [] }] },
      'Stored batch b cannot be read: responses[0].attempts must be a list of at least one attempt.'
    ],
    [
      { id: 'b', responses: [{ id: '1', attempts: [attempt(1, 'x', { text: 5 })] }] },
      'Stored batch b cannot be read: responses[0].attempts[0].text must be a string, not number 5.'
    ],
    [
      { id: 'b', responses: [{ id: '1', attempts: [attempt(1, 'x', { status: 'exploded' })] }] },
      'Stored batch b cannot be read: responses[0].attempts[0].status is not a status ("exploded").'
    ],
    [
      { id: 'b', responses: [{ id: '1', attempts: [attempt(0, 'x')] }] },
      'Stored batch b cannot be read: responses[0].attempts[0].attempt must be a positive whole number, not number 0.'
    ],
    [
      { id: 'b', responses: [{ id: '1', attempts: [attempt(1, 'x'), attempt(1, 'y')] }] },
      'Stored batch b cannot be read: responses[0].attempts number attempt 1 twice.'
    ],
    [
      {
        id: 'b',
        responses: [
          { id: '1', attempts: [attempt(1, 'x')] },
          { id: '1', attempts: [attempt(1, 'y')] }
        ]
      },
      'Stored batch b cannot be read: responses hold the same response id twice.'
    ]
  ])('rejects malformed batch %# with a message naming the batch and the field', (value, message) => {
    expect(() => storedSummary(value)).toThrow(new StoredBatchError(message));
  });

  it('reads what it can of odd but harmless fields', () => {
    const batch = stored();
    batch.options = 'not an object';
    batch.responses[0].attempts[0].usage = 'nonsense';
    batch.responses[0].attempts[0].metrics = [1, 2];
    batch.responses[0].attempts[0].error = 'upstream went away';
    batch.responses[0].attempts[0].request = null;
    const summary = storedSummary(batch);
    const first = summary.responses.find(r => r.id === '2')!.attempts![0];
    expect(first.error).toEqual({ message: 'upstream went away' });
    expect(first.seed).toBe(0);
    expect(first.tokensEstimated).toBe(true);
    expect(first.metrics.elapsedMs).toBe(1500); // From started_at and ended_at.
  });
});

describe('batchFromSummary and the model', () => {
  function model() {
    const connection: IBatchConnection = { start: () => undefined, stop: () => undefined, close: () => undefined };
    return new FanoutModel({
      connect: (_handlers: IConnectionHandlers) => connection,
      schedule: callback => callback(),
      now: () => 0,
      lingerMs: 0 // no timer left behind (lingering: ./reattach.spec.ts)
    });
  }

  it('opens a stored batch with every attempt, the latest shown, in its place by time', () => {
    const m = model();
    const summary = storedSummary(stored());
    const view = m.open(summary);
    expect(m.batches).toEqual([view]);
    expect(view.active).toBe(false);
    const second = view.responses[1];
    expect(second.id).toBe('2');
    expect(second.attempts.map(a => [a.attempt, a.seed, a.snapshot().content])).toEqual([
      [1, 101, 'first try'],
      [2, 102, 'second try']
    ]);
    expect(second.shownAttempt).toBe(2);
    m.showAttempt(view.id, '2', 1);
    expect(second.shownSnapshot().content).toBe('first try');
    // Its summary is the stored one's, attempts included.
    const again = view.summary();
    expect(again.responses.map(r => [r.id, r.content, r.attempts!.length])).toEqual([
      ['1', 'one', 1],
      ['2', 'second try', 2],
      ['3', 'so far', 1]
    ]);
    // The same upstream and model as asked for, before and after opening.
    expect(again.responses.map(r => [r.upstream, r.requestedModel])).toEqual(
      summary.responses.map(r => [r.upstream, r.requestedModel])
    );
    const byDefault = stored();
    byDefault.id = 'default-upstream';
    byDefault.options.upstream = '';
    const asked = storedSummary(byDefault);
    expect(asked.responses.map(r => r.upstream)).toEqual(['', '', '']);
    expect(
      m
        .open(asked)
        .summary()
        .responses.map(r => r.upstream)
    ).toEqual(['', '', '']);
    m.removeBatch('default-upstream');
    // Opening it again gives the same batch; an older one goes below it.
    expect(m.open(summary)).toBe(view);
    const older = stored();
    older.id = 'older';
    older.created_at -= 100;
    const newer = stored();
    newer.id = 'newer';
    newer.created_at += 100;
    m.open(storedSummary(older));
    m.open(storedSummary(newer));
    expect(m.batches.map(b => b.id)).toEqual(['newer', 'lq3-1', 'older']);
  });

  it('keeps the ids of responses that are not numbered 1 to N', () => {
    const batch = stored();
    batch.responses = [
      { id: 'a', attempts: [attempt(1, 'A')] },
      { id: 'b', attempts: [attempt(1, 'B')] }
    ];
    const view = batchFromSummary(storedSummary(batch), () => 0);
    expect(view.responses.map(r => [r.id, r.index, r.snapshot().content])).toEqual([
      ['a', 1, 'A'],
      ['b', 2, 'B']
    ]);
  });
});
