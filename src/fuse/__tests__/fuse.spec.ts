/**
 * Fuse and the guided merge: the prompts (drafts from the ticked responses, exactly the ticked
 * points), reading the checklist defensively (bare, fenced, wrapped, thinking, broken), choosing
 * the responses to merge, and a fused response in the model: added to an ended batch, started
 * with the fuse request, re-generated the same way, saved and restored, read from the store.
 */
import { FakeConnection, fakeModel as makeModel } from '../../model/__tests__/fakeProxy';
import { checklistArg, fuseSources, responseIdsArg } from '../sources';
import { FanoutModel } from '../../model/model';
import { restoreBatch, savedSummary } from '../../model/saved';
import { batchFromSummary, storedSummary } from '../../model/stored';
import type { IGenerateOptions } from '../../tokens';
import {
  ChecklistError,
  CHECKLIST_MARKER,
  checklistMessages,
  FUSE_MARKER,
  fuseMessages,
  fuseRequest,
  readChecklist,
  viewDrafts
} from '..';

const options: IGenerateOptions = {
  prompt: 'Add two numbers.',
  n: 3,
  model: '',
  upstream: 'simulator',
  maxTokens: 64,
  temperature: 0.5,
  systemPrompt: ''
};

describe('fuse prompts', () => {
  const drafts = [
    { responseId: '1', attempt: 1, text: 'def add(a, b):\n    return a + b\n' },
    { responseId: '3', attempt: 2, text: 'Use the + operator.' }
  ];

  it('numbers the drafts with their response ids and starts with the fuse marker', () => {
    const [system, user] = fuseMessages('Add two numbers.', drafts, 'Merge them.', null);
    expect(system.role).toBe('system');
    expect(system.content.startsWith(FUSE_MARKER)).toBe(true);
    expect(user.content).toBe(
      'Question:\nAdd two numbers.\n\n' +
        '=== Draft 1 (response 1) ===\ndef add(a, b):\n    return a + b\n=== End of draft 1 ===\n\n' +
        '=== Draft 2 (response 3) ===\nUse the + operator.\n=== End of draft 2 ===\n\n' +
        'Instruction:\nMerge them.'
    );
  });

  it('lists exactly the ticked points, one line each', () => {
    const user = fuseMessages('Q', drafts, 'Merge.', ['Use a function', 'Name it\nadd'])[1].content;
    expect(user.endsWith('Cover exactly these points:\n- Use a function\n- Name it add')).toBe(true);
    expect(user).not.toContain('Cover exactly these points:\n- Use a function\n- Name it add\n-');
  });

  it('builds the request with the batch settings, the seed and the chosen model', () => {
    const request = fuseRequest(
      options,
      { sources: [], instruction: 'Merge.', checklist: null },
      drafts,
      7,
      'big-model'
    );
    expect(request).toMatchObject({ max_tokens: 64, temperature: 0.5, seed: 7, model: 'big-model' });
    expect(fuseRequest(options, { sources: [], instruction: 'M', checklist: null }, drafts, 7, '').model).toBe(
      undefined
    );
  });

  it('asks for the checklist with its own marker and the drafts', () => {
    const [system, user] = checklistMessages('Q', drafts);
    expect(system.content.startsWith(CHECKLIST_MARKER)).toBe(true);
    expect(system.content).toContain('"points"');
    expect(user.content).toContain('=== Draft 2 (response 3) ===');
  });
});

describe('reading the checklist', () => {
  const ids = ['1', '3', '4'];
  const json = '{"points": [{"text": "Use a function", "drafts": [1, 2]}, {"text": "Add tests", "drafts": [3, 9]}]}';

  it('reads bare JSON, mapping draft numbers to response ids (out of range dropped)', () => {
    expect(readChecklist(json, ids)).toEqual([
      { id: 'p1', text: 'Use a function', sources: ['1', '3'] },
      { id: 'p2', text: 'Add tests', sources: ['4'] }
    ]);
  });

  it('reads a fenced block with text around it, and skips thinking', () => {
    const wrapped = `<think>Let me see {"no": 1}</think>Here are the points:\n\n\`\`\`json\n${json}\n\`\`\`\nTick some.`;
    expect(readChecklist(wrapped, ids).map(p => p.text)).toEqual(['Use a function', 'Add tests']);
    expect(readChecklist(`Sure! ${json} Hope it helps.`, ids)).toHaveLength(2);
  });

  it('accepts a bare list and strings, and gives a repeated point once', () => {
    const points = readChecklist('[{"text": "A"}, "b point", {"text": " a "}]', ids);
    expect(points.map(p => p.text)).toEqual(['A', 'b point']);
    expect(points[0].sources).toEqual([]);
  });

  it('fails with a clear reason and keeps the raw text', () => {
    const broken = '{"points": [{"text": "An unfinished point", "drafts": [1';
    let error: unknown;
    try {
      readChecklist(broken, ids);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ChecklistError);
    expect((error as ChecklistError).message).toMatch(/^The checklist is not valid JSON \(/);
    expect((error as ChecklistError).raw).toBe(broken);
    expect(() => readChecklist('I cannot help with that.', ids)).toThrow(/holds no JSON object/);
    expect(() => readChecklist('   ', ids)).toThrow(/answered nothing/);
    expect(() => readChecklist('{"items": []}', ids)).toThrow(/has no "points" list/);
    expect(() => readChecklist('{"points": [{"txt": "x"}]}', ids)).toThrow(/points\[0\] has no "text" string/);
    expect(() => readChecklist('{"points": []}', ids)).toThrow(/lists no points/);
  });
});

describe('a fused response in the model', () => {
  function endedBatch() {
    const context = makeModel();
    const { batch } = context.model.generate(options);
    context.respond('1.1', 'First answer.\nMore.');
    context.respond('2.1', 'Second answer.');
    context.respond('3.1', 'Third answer.');
    return { ...context, batch };
  }

  it('chooses every ended response with text by default, and refuses what cannot be merged', () => {
    const { model, batch, respond } = endedBatch();
    expect(fuseSources(batch)).toEqual([
      { responseId: '1', attempt: 1 },
      { responseId: '2', attempt: 1 },
      { responseId: '3', attempt: 1 }
    ]);
    expect(() => fuseSources(batch, ['1'])).toThrow(/at least two responses with answer text; the ones named give 1/);
    expect(() => fuseSources(batch, ['1', '7'])).toThrow(/has no response 7/);
    model.regenerate(batch.id, '2');
    expect(() => fuseSources(batch, ['1', '2'])).toThrow(/Response 2 of batch .* is still running/);
    respond('2.2', 'Again.');
    // A fused response is left out by default, kept when named.
    model.fuse(batch.id, {
      sources: fuseSources(batch),
      instruction: 'Merge.',
      checklist: null,
      model: '',
      upstream: ''
    });
    respond('4.1', 'Fused.');
    expect(fuseSources(batch).map(s => s.responseId)).toEqual(['1', '2', '3']);
    expect(fuseSources(batch, ['4', '1']).map(s => s.responseId)).toEqual(['4', '1']);
  });

  it('adds response 4 to the ended batch with the fuse request, streams, re-generates the same way', async () => {
    const { model, batch, started, respond } = endedBatch();
    const sources = [
      { responseId: '1', attempt: 1 },
      { responseId: '3', attempt: 1 }
    ];
    const response = model.fuse(batch.id, {
      sources,
      instruction: 'Merge them.',
      checklist: ['Point A', 'Point B'],
      model: 'big',
      upstream: 'simulator-b'
    });
    expect(response.id).toBe('4');
    expect(response.index).toBe(4);
    const sent = started()[started().length - 1];
    expect(sent.id).toBe('4.1');
    expect(sent.upstream).toBe('simulator-b');
    expect(sent.request).toMatchObject({ model: 'big', max_tokens: 64, seed: 103 });
    const user = (sent.request.messages as Array<{ content: string }>)[1].content;
    expect(user).toContain('=== Draft 1 (response 1) ===\nFirst answer.\nMore.\n=== End of draft 1 ===');
    expect(user).toContain('=== Draft 2 (response 3) ===\nThird answer.\n');
    expect(user).not.toContain('Second answer.');
    expect(user).toContain('Cover exactly these points:\n- Point A\n- Point B');
    expect(batch.active).toBe(true);
    respond('4.1', 'Merged answer.');
    const summary = batch.summary().responses[3];
    expect(summary).toMatchObject({
      id: '4',
      content: 'Merged answer.',
      requestedModel: 'big',
      upstream: 'simulator-b',
      fusion: { sources, instruction: 'Merge them.', checklist: ['Point A', 'Point B'] }
    });
    // Re-generate sends the same merge with a new seed.
    const again = model.regenerate(batch.id, '4');
    const resent = started()[started().length - 1];
    expect(resent.id).toBe('4.2');
    expect((resent.request.messages as Array<{ content: string }>)[1].content).toBe(user);
    respond('4.2', 'Merged again.');
    expect((await again).content).toBe('Merged again.');
  });

  it('refuses a source that is running or has no text, and an empty instruction', () => {
    const { model, batch } = endedBatch();
    const base = { instruction: 'M', checklist: null, model: '', upstream: '' };
    expect(() => model.fuse(batch.id, { ...base, sources: [{ responseId: '9', attempt: 1 }] })).toThrow(
      /has no response 9/
    );
    expect(() => model.fuse(batch.id, { ...base, sources: [{ responseId: '1', attempt: 3 }] })).toThrow(
      /Response 1 has no attempt 3/
    );
    expect(() =>
      model.fuse(batch.id, { ...base, instruction: ' ', sources: [{ responseId: '1', attempt: 1 }] })
    ).toThrow(/instruction is empty/);
    expect(batch.responses).toHaveLength(3);
  });

  it('comes back after a reload (saved) and from the store, still fused', () => {
    const { model, batch, respond } = endedBatch();
    const fusion = {
      sources: [
        { responseId: '1', attempt: 1 },
        { responseId: '2', attempt: 1 }
      ],
      instruction: 'Merge.',
      checklist: null
    };
    model.fuse(batch.id, { ...fusion, model: 'big', upstream: '' });
    respond('4.1', 'Merged.');
    const restored = restoreBatch(savedSummary(batch.summary()), () => 0)!;
    expect(restored.responses.map(r => r.id)).toEqual(['1', '2', '3', '4']);
    expect(restored.responses[3].fusion).toEqual(fusion);
    expect(restored.responses[3].model).toBe('big');
    expect(restored.responses[3].snapshot().content).toBe('Merged.');

    const attempt = (text: string, model = 'sim', request: Record<string, unknown> = { seed: 1 }) => ({
      attempt: 1,
      upstream: 'simulator',
      model,
      request,
      status: 'complete',
      error: null,
      finish_reason: 'stop',
      text,
      reasoning: '',
      usage: null,
      metrics: null,
      started_at: 1,
      ended_at: 2
    });
    const stored = {
      id: 'b1',
      prompt: 'Add two numbers.',
      created_at: 1,
      options: { n: 3, maxTokens: 64 },
      responses: [
        { id: '1', attempts: [attempt('A')] },
        {
          id: '4',
          attempts: [attempt('Merged.', 'big', { seed: 5, model: 'big' })],
          fusion: { ...fusion, model: 'big', upstream: 'gpu' }
        },
        { id: '2', attempts: [attempt('B')] },
        { id: '3', attempts: [attempt('C')] }
      ]
    };
    const summary = storedSummary(stored);
    expect(summary.options.targets).toBeUndefined();
    expect(summary.responses.map(r => [r.id, r.index, !!r.fusion])).toEqual([
      ['1', 1, false],
      ['2', 2, false],
      ['3', 3, false],
      ['4', 4, true]
    ]);
    expect(summary.responses[3]).toMatchObject({ upstream: 'gpu', requestedModel: 'big' });
    const opened = batchFromSummary(summary, () => 0);
    expect(opened.responses[3].fusion).toEqual(fusion);
    expect(opened.responses[3].upstream).toBe('gpu');
  });
});

describe("the fuse commands' arguments", () => {
  it('reads response ids and points, refusing what is not a list of strings', () => {
    expect(responseIdsArg({})).toBeUndefined();
    expect(responseIdsArg({ responseIds: ['1', '3'] })).toEqual(['1', '3']);
    expect(() => responseIdsArg({ responseIds: '1' })).toThrow(/must be a list of response ids/);
    expect(() => responseIdsArg({ responseIds: ['1', ''] })).toThrow(/must be a list of response ids/);
    expect(() => responseIdsArg({ responseIds: ['1', '1'] })).toThrow(/names response 1 twice/);
    expect(checklistArg({ checklist: null })).toBeUndefined();
    expect(checklistArg({ checklist: ['A'] })).toEqual(['A']);
    expect(() => checklistArg({ checklist: [] })).toThrow(/is empty: tick at least one point/);
    expect(() => checklistArg({ checklist: ['A', ' '] })).toThrow(/must be a list of points/);
  });

  it('reads the drafts a record names from the views, leaving out what is gone', () => {
    const responses = [
      { id: '1', attempts: [{ attempt: 1, snapshot: () => ({ content: 'one' }) }] },
      { id: '2', attempts: [{ attempt: 2, snapshot: () => ({ content: 'two' }) }] }
    ];
    const fusion = {
      sources: [
        { responseId: '2', attempt: 2 },
        { responseId: '1', attempt: 5 },
        { responseId: '1', attempt: 1 }
      ],
      instruction: 'M',
      checklist: null
    };
    expect(viewDrafts(responses, fusion)).toEqual([
      { responseId: '2', attempt: 2, text: 'two' },
      { responseId: '1', attempt: 1, text: 'one' }
    ]);
  });
});

describe('a fused response another tab started', () => {
  it('shows here live, learns its sources from the store, and cannot be re-generated before', async () => {
    const connections: FakeConnection[] = [];
    const fusion = {
      sources: [
        { responseId: '1', attempt: 1 },
        { responseId: '2', attempt: 1 }
      ],
      instruction: 'Merge.',
      checklist: null
    };
    let answer: (value: any) => void = () => undefined;
    const model = new FanoutModel({
      connect: handlers => {
        const connection = new FakeConnection(handlers);
        connections.push(connection);
        return connection;
      },
      now: () => 0,
      schedule: () => undefined,
      nextSeed: () => 7,
      // The ended batch's connection lingers (no timer in the test): the other tab's start arrives on it.
      setTimer: () => 0,
      clearTimer: () => undefined,
      storedBatch: () => new Promise(resolve => (answer = resolve))
    });
    const { batch } = model.generate({ ...options, n: 2 });
    const connection = connections[0];
    connection.respond('1.1', 'One.');
    connection.respond('2.1', 'Two.');
    expect(batch.active).toBe(false);

    const request = {
      model: 'big',
      seed: 42,
      messages: fuseMessages('Add two numbers.', [], 'Merge.', null)
    };
    connection.handlers.onStarted!('3.1', 'simulator-b', request);
    const fused = batch.responses.find(r => r.id === '3')!;
    expect(fused).toBeDefined();
    expect(fused.model).toBe('big');
    expect(fused.upstream).toBe('simulator-b');
    expect(fused.seed).toBe(42);
    connection.respond('3.1', 'Merged elsewhere.');
    expect(fused.snapshot().content).toBe('Merged elsewhere.');
    expect(() => model.regenerate(batch.id, '3')).toThrow(/not known in this page yet/);

    answer({
      id: batch.id,
      responses: [{ id: '3', fusion: { ...fusion, model: 'big', upstream: 'simulator-b' } }]
    });
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(fused.fusion).toEqual(fusion);
    expect(batch.summary().responses[2].fusion).toEqual(fusion);

    // Any other response started elsewhere that the page does not have is still ignored.
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    connection.handlers.onStarted!('9.1', 'simulator', { messages: [{ role: 'user', content: 'x' }] });
    expect(batch.responses.map(r => r.id)).toEqual(['1', '2', '3']);
    warn.mockRestore();
    model.dispose();
  });
});
