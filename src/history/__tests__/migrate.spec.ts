/**
 * Moving the batches earlier versions kept in the workspace into the server's store: the
 * conversion to the import shape, and the run (409 counts as moved, a failure leaves the
 * workspace as it was and is reported once, the marker keeps it from running again).
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { storedSummary } from '../../model/stored';
import { IImportBatch, importShape, migrateWorkspaceBatches, MIGRATED_KEY, UnreadableBatchError } from '../migrate';

const trans = {
  __: (text: string, ...args: unknown[]) => text.replace(/%(\d+)/g, (_, i: string) => String(args[Number(i) - 1]))
} as unknown as TranslationBundle;

function response(id: string, attempt: number, content: string, status = 'complete', extra: object = {}) {
  return {
    id,
    index: Number(id),
    seed: 40 + attempt,
    attempt,
    upstream: 'simulator',
    requestedModel: '',
    status,
    content,
    reasoning: 'hmm',
    thinkingTokens: 2,
    answerTokens: 5,
    totalTokens: 7,
    promptTokens: 11,
    tokensEstimated: false,
    splitEstimated: false,
    finishReason: status === 'complete' ? 'stop' : null,
    error: null,
    model: 'sim-model',
    httpStatus: 200,
    metrics: {
      startedAt: 5,
      firstByteAt: 6,
      firstTokenAt: 7,
      endedAt: 9,
      ttfbMs: 30,
      ttftMs: 40,
      tokensPerSecond: 25,
      elapsedMs: 2000
    },
    ...extra
  };
}

/** A batch as `FanoutModel.save` kept it: the latest attempt its own fields, earlier ones in `attempts`. */
function saved(batchId = 'b1'): any {
  const {
    id: _id,
    index: _index,
    upstream: _u,
    requestedModel: _r,
    ...first
  } = response('2', 1, 'first try', 'error', {
    error: { message: 'boom', status: 500 }
  });
  return {
    batchId,
    createdAt: 1_700_000_000_000,
    prompt: 'Tell me\nmore',
    options: {
      prompt: 'Tell me\nmore',
      n: 2,
      model: '',
      upstream: 'simulator',
      maxTokens: 64,
      temperature: 0.3,
      systemPrompt: 'Short.'
    },
    metrics: { tokensPerSecond: 1, complete: 2, ended: 2, total: 2, active: 0, totalTokens: 14 },
    responses: [response('1', 1, 'one'), { ...response('2', 2, 'second try', 'generating'), attempts: [first] }]
  };
}

describe('importShape', () => {
  it('converts a saved batch to what POST fanout/batches takes, every attempt included', () => {
    const batch = importShape(saved());
    expect(batch).toMatchObject({ id: 'b1', prompt: 'Tell me\nmore', created_at: 1_700_000_000 });
    expect(batch.options).toEqual({
      n: 2,
      model: '',
      upstream: 'simulator',
      maxTokens: 64,
      temperature: 0.3,
      systemPrompt: 'Short.'
    });
    expect(batch.responses.map(r => [r.id, r.attempts.map(a => [a.attempt, a.status, a.text])])).toEqual([
      ['1', [[1, 'complete', 'one']]],
      [
        '2',
        [
          [1, 'error', 'first try'],
          [2, 'incomplete', 'second try']
        ]
      ]
    ]);
    const [failed, cut] = batch.responses[1].attempts;
    expect(failed.error).toEqual({ message: 'boom', status: 500 });
    expect(cut.error).toMatchObject({ code: 'interrupted' });
    expect(cut.request).toEqual({
      messages: [
        { role: 'system', content: 'Short.' },
        { role: 'user', content: 'Tell me\nmore' }
      ],
      max_tokens: 64,
      temperature: 0.3,
      seed: 42
    });
    expect(cut).toMatchObject({
      upstream: 'simulator',
      model: 'sim-model',
      reasoning: 'hmm',
      usage: { prompt_tokens: 11, completion_tokens: 7, completion_tokens_details: { reasoning_tokens: 2 } },
      metrics: { elapsed: 2, ttft: 0.04, tokens_per_second: 25 },
      started_at: 1_700_000_000,
      ended_at: 1_700_000_002
    });
  });

  it('round-trips: the store shape reads back as the same texts and statuses', () => {
    const batch = importShape(saved());
    // The store answers what was imported (running statuses already incomplete).
    const summary = storedSummary({ ...batch, responses: batch.responses.map(r => ({ ...r })) });
    expect(summary.responses.map(r => [r.id, r.status, r.content, r.attempts!.length])).toEqual([
      ['1', 'complete', 'one', 1],
      ['2', 'incomplete', 'second try', 2]
    ]);
    expect(summary.responses[0]).toMatchObject({ thinkingTokens: 2, answerTokens: 5, tokensEstimated: false });
  });

  it('reads batches saved before attempts were kept, and full summaries that repeat the latest', () => {
    const old = saved();
    delete old.responses[1].attempts;
    expect(importShape(old).responses[1].attempts.map(a => a.attempt)).toEqual([2]);
    const full = saved();
    full.responses[1].attempts.push({ ...full.responses[1], attempts: undefined });
    expect(importShape(full).responses[1].attempts.map(a => a.attempt)).toEqual([1, 2]);
  });

  it.each([
    [null, 'Saved batch #1 is not an object.'],
    [{ batchId: '' }, 'Saved batch #1 has no batchId of 1 to 256 characters.'],
    [{ ...saved(), createdAt: 'yesterday' }, 'Saved batch b1 cannot be moved to the store: it has no createdAt.'],
    [
      { ...saved(), responses: [] },
      'Saved batch b1 cannot be moved to the store: its responses are not a non-empty list.'
    ],
    [{ ...saved(), responses: [7] }, 'Saved batch b1 cannot be moved to the store: responses[0] is not an object.'],
    [
      { ...saved(), responses: [response('1', 1, 'x', 'weird')] },
      'Saved batch b1 cannot be moved to the store: responses[0].status is not a status.'
    ],
    [
      { ...saved(), responses: [{ ...response('1', 1, 'x'), content: null }] },
      'Saved batch b1 cannot be moved to the store: responses[0].content is not a string.'
    ],
    [
      { ...saved(), responses: [response('1', 0, 'x')] },
      'Saved batch b1 cannot be moved to the store: responses[0].attempt is not a positive whole number.'
    ],
    [
      { ...saved(), responses: [response('1', 1, 'x'), response('1', 1, 'y')] },
      'Saved batch b1 cannot be moved to the store: two responses have the same id.'
    ]
  ])('rejects malformed saved batch %#, naming the batch and the field', (value, message) => {
    expect(() => importShape(value)).toThrow(new UnreadableBatchError(message));
  });
});

describe('migrateWorkspaceBatches', () => {
  function workspace(initial: Record<string, unknown>) {
    const values = new Map(Object.entries(initial).map(([k, v]) => [k, JSON.stringify(v)]));
    return {
      values,
      state: {
        fetch: jest.fn(async (key: string) => (values.has(key) ? JSON.parse(values.get(key)!) : undefined)),
        save: jest.fn(async (key: string, value: unknown) => {
          values.set(key, JSON.stringify(value));
        })
      }
    };
  }

  /** An error like the handler's for a status. */
  function httpError(status: number, message: string) {
    return Object.assign(new Error(message), { response: { status } });
  }

  it('posts every batch once; 409 counts as moved; then the marker keeps it from running again', async () => {
    const { state, values } = workspace({
      'jupyterlab-fanout:batches': { savedAt: 1, batches: [saved('b1'), saved('b2')] }
    });
    const posted: IImportBatch[] = [];
    const importBatch = jest.fn(async (batch: IImportBatch) => {
      posted.push(batch);
      if (batch.id === 'b2') {
        throw httpError(409, "POST fanout/batches failed (409): batch 'b2' already exists");
      }
    });
    const report = jest.fn();
    const result = await migrateWorkspaceBatches({ state, importBatch, report, trans, now: () => 99 });
    expect(result).toEqual({ imported: ['b1'], present: ['b2'], unreadable: [], failed: [] });
    expect(posted.map(b => b.id)).toEqual(['b1', 'b2']);
    expect(report).not.toHaveBeenCalled();
    expect(JSON.parse(values.get(MIGRATED_KEY)!)).toEqual({
      migratedAt: 99,
      imported: 1,
      present: 1,
      unreadable: [],
      unsaved: false
    });
    // The workspace's batches are left as they were.
    expect(JSON.parse(values.get('jupyterlab-fanout:batches')!).batches).toHaveLength(2);

    await expect(migrateWorkspaceBatches({ state, importBatch, report, trans })).resolves.toBeNull();
    expect(importBatch).toHaveBeenCalledTimes(2);
  });

  it('reads the list earlier versions saved, and marks a workspace with nothing to move', async () => {
    const listed = workspace({ 'jupyterlab-fanout:batches': [saved('old')] });
    const importBatch = jest.fn(async () => undefined);
    await expect(
      migrateWorkspaceBatches({ state: listed.state, importBatch, report: jest.fn(), trans })
    ).resolves.toMatchObject({
      imported: ['old']
    });
    const empty = workspace({});
    const report = jest.fn();
    await expect(migrateWorkspaceBatches({ state: empty.state, importBatch, report, trans })).resolves.toEqual({
      imported: [],
      present: [],
      unreadable: [],
      failed: []
    });
    expect(empty.values.has(MIGRATED_KEY)).toBe(true);
    expect(report).not.toHaveBeenCalled();
  });

  it('a store failure moves the rest, leaves the workspace untouched, sets no marker, and is reported once', async () => {
    const { state, values } = workspace({
      'jupyterlab-fanout:batches': { savedAt: 1, batches: [saved('b1'), saved('b2'), saved('b3')] }
    });
    const before = values.get('jupyterlab-fanout:batches');
    const importBatch = jest.fn(async (batch: IImportBatch) => {
      if (batch.id !== 'b2') {
        throw httpError(503, 'POST fanout/batches failed (503): the batch store is unavailable: disk full');
      }
    });
    const report = jest.fn();
    const result = await migrateWorkspaceBatches({ state, importBatch, report, trans });
    expect(result).toEqual({ imported: ['b2'], present: [], unreadable: [], failed: ['b1', 'b3'] });
    expect(values.has(MIGRATED_KEY)).toBe(false);
    expect(values.get('jupyterlab-fanout:batches')).toBe(before);
    expect(report).toHaveBeenCalledTimes(1);
    expect(report.mock.calls[0][0]).toBe(
      "Fanout moved 1 batches kept in this workspace into the server's store; 2 could not be moved (b1: POST fanout/batches failed (503): the batch store is unavailable: disk full; b3: POST fanout/batches failed (503): the batch store is unavailable: disk full). They stay in the workspace and are tried again at the next start."
    );
    // The next start tries again, and only what is missing gets in.
    importBatch.mockImplementation(async (batch: IImportBatch) => {
      if (batch.id === 'b2') {
        throw httpError(409, 'exists');
      }
    });
    await expect(migrateWorkspaceBatches({ state, importBatch, report, trans })).resolves.toEqual({
      imported: ['b1', 'b3'],
      present: ['b2'],
      unreadable: [],
      failed: []
    });
    expect(values.has(MIGRATED_KEY)).toBe(true);
    expect(report).toHaveBeenCalledTimes(1);
  });

  it('an unreadable batch fails only itself: the others move, it is reported once and not tried again', async () => {
    const broken = { ...saved('bad'), responses: 'lost' };
    const { state, values } = workspace({
      'jupyterlab-fanout:batches': { savedAt: 1, batches: [broken, saved('good')] }
    });
    const importBatch = jest.fn(async () => undefined);
    const report = jest.fn();
    const result = await migrateWorkspaceBatches({ state, importBatch, report, trans });
    expect(result).toEqual({ imported: ['good'], present: [], unreadable: ['bad'], failed: [] });
    expect(report).toHaveBeenCalledTimes(1);
    expect(report.mock.calls[0][0]).toContain(
      '1 could not be read and stay in the workspace only (Saved batch bad cannot be moved to the store: its responses are not a non-empty list.)'
    );
    expect(JSON.parse(values.get(MIGRATED_KEY)!).unreadable).toEqual(['bad']);
  });

  it('never rejects: a workspace that cannot be read is reported once', async () => {
    const state = { fetch: jest.fn(async () => Promise.reject(new Error('workspace unavailable'))), save: jest.fn() };
    const report = jest.fn();
    const importBatch = jest.fn();
    await expect(migrateWorkspaceBatches({ state, importBatch, report, trans })).resolves.toMatchObject({
      failed: ['(workspace)']
    });
    expect(report).toHaveBeenCalledTimes(1);
    expect(report.mock.calls[0][0]).toContain('workspace unavailable');
    expect(importBatch).not.toHaveBeenCalled();
    expect(state.save).not.toHaveBeenCalled();
  });
  describe('with the local-storage snapshot of unsaved changes', () => {
    function storage(value: unknown) {
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      return { getItem: jest.fn((key: string) => (key === 'jupyterlab-fanout:unsaved' ? text : null)) };
    }

    it('moves batches only in the snapshot too, the newer copy of a batch in both, once', async () => {
      const newer = saved('b1');
      newer.responses[0].content = 'one, finished later';
      const { state, values } = workspace({
        'jupyterlab-fanout:batches': { savedAt: 10, batches: [saved('b1'), saved('b2')] }
      });
      const unsaved = {
        storage: storage({ workspace: 'lab', savedAt: 20, batches: [newer, saved('only-here')] }),
        workspace: 'lab'
      };
      const posted: IImportBatch[] = [];
      const importBatch = jest.fn(async (batch: IImportBatch) => {
        posted.push(batch);
      });
      const report = jest.fn();
      const result = await migrateWorkspaceBatches({ state, importBatch, report, trans, unsaved, now: () => 5 });
      expect(result).toEqual({ imported: ['b1', 'b2', 'only-here'], present: [], unreadable: [], failed: [] });
      expect(posted[0].responses[0].attempts[0].text).toBe('one, finished later');
      expect(report).not.toHaveBeenCalled();
      expect(JSON.parse(values.get(MIGRATED_KEY)!)).toMatchObject({ imported: 3, unsaved: true });
      // Once: the marker stops the next start.
      await expect(migrateWorkspaceBatches({ state, importBatch, report, trans, unsaved })).resolves.toBeNull();
      expect(importBatch).toHaveBeenCalledTimes(3);
    });

    it("an older snapshot does not replace the workspace copy; another workspace's snapshot is not read", async () => {
      const stale = saved('b1');
      stale.responses[0].content = 'stale';
      const { state } = workspace({ 'jupyterlab-fanout:batches': { savedAt: 30, batches: [saved('b1')] } });
      const posted: IImportBatch[] = [];
      const importBatch = jest.fn(async (batch: IImportBatch) => {
        posted.push(batch);
      });
      await migrateWorkspaceBatches({
        state,
        importBatch,
        report: jest.fn(),
        trans,
        unsaved: { storage: storage({ workspace: 'lab', savedAt: 20, batches: [stale] }), workspace: 'lab' }
      });
      expect(posted.map(b => b.responses[0].attempts[0].text)).toEqual(['one']);

      const other = workspace({});
      const none = jest.fn(async () => undefined);
      await migrateWorkspaceBatches({
        state: other.state,
        importBatch: none,
        report: jest.fn(),
        trans,
        unsaved: { storage: storage({ workspace: 'other', savedAt: 20, batches: [saved('x')] }), workspace: 'lab' }
      });
      expect(none).not.toHaveBeenCalled();
    });

    it('after a marker of an earlier version (workspace only), moves the snapshot once, 409 counting as moved', async () => {
      const { state, values } = workspace({
        'jupyterlab-fanout:batches': { savedAt: 10, batches: [saved('w')] },
        [MIGRATED_KEY]: { migratedAt: 1, imported: 1, present: 0, unreadable: [] }
      });
      const unsaved = {
        storage: storage({ workspace: 'lab', savedAt: 20, batches: [saved('w'), saved('s')] }),
        workspace: 'lab'
      };
      const importBatch = jest.fn(async (batch: IImportBatch) => {
        if (batch.id === 'w') {
          throw httpError(409, 'exists');
        }
      });
      const result = await migrateWorkspaceBatches({ state, importBatch, report: jest.fn(), trans, unsaved });
      expect(result).toEqual({ imported: ['s'], present: ['w'], unreadable: [], failed: [] });
      expect(JSON.parse(values.get(MIGRATED_KEY)!)).toMatchObject({ imported: 2, present: 1, unsaved: true });
      await expect(
        migrateWorkspaceBatches({ state, importBatch, report: jest.fn(), trans, unsaved })
      ).resolves.toBeNull();
    });

    it('a malformed snapshot entry, or a snapshot that is not JSON, is reported and skipped; the rest moves', async () => {
      const { state, values } = workspace({ 'jupyterlab-fanout:batches': { savedAt: 1, batches: [saved('good')] } });
      const importBatch = jest.fn(async () => undefined);
      const report = jest.fn();
      const result = await migrateWorkspaceBatches({
        state,
        importBatch,
        report,
        trans,
        unsaved: {
          storage: storage({
            workspace: 'lab',
            savedAt: 2,
            batches: [{ batchId: 'broken', responses: 7 }, saved('fine')]
          }),
          workspace: 'lab'
        }
      });
      expect(result).toEqual({ imported: ['good', 'fine'], present: [], unreadable: ['broken'], failed: [] });
      expect(report).toHaveBeenCalledTimes(1);
      expect(report.mock.calls[0][0]).toContain('Saved batch broken cannot be moved to the store');
      expect(JSON.parse(values.get(MIGRATED_KEY)!).unreadable).toEqual(['broken']);

      const second = workspace({ 'jupyterlab-fanout:batches': { savedAt: 1, batches: [saved('good')] } });
      const report2 = jest.fn();
      const result2 = await migrateWorkspaceBatches({
        state: second.state,
        importBatch,
        report: report2,
        trans,
        unsaved: { storage: storage('{not json'), workspace: 'lab' }
      });
      expect(result2).toEqual({
        imported: ['good'],
        present: [],
        unreadable: ['(local-storage snapshot)'],
        failed: []
      });
      expect(report2).toHaveBeenCalledTimes(1);
      expect(report2.mock.calls[0][0]).toContain('The snapshot of unsaved batches in local storage is not JSON');
    });
  });
});
