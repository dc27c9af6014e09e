/**
 * Follow-ups: the thread a follow-up batch sends (1- and 2-level chains, never the reasoning, the
 * parent's context kept), what the model sends for it (re-generate included), and the thread
 * read back from the store.
 */
import { buildRequest } from '../request';
import { storedSummary } from '../stored';
import { followUpOptions, followUpThread, readThread, threadTurns } from '../thread';
import type { IBatchSummary, IGenerateOptions } from '../../tokens';
import { fakeModel as makeModel } from './fakeProxy';

const options: IGenerateOptions = {
  prompt: 'Name a river.',
  n: 2,
  model: 'qwen',
  upstream: 'sim',
  maxTokens: 64,
  temperature: 0.5,
  systemPrompt: 'Be brief.',
  context: '# Cell above\n\nrivers = []'
};

const USER_WITH_CONTEXT = '# Cell above\n\nrivers = []\n\n---\n\nName a river.';

describe('the thread of a follow-up', () => {
  it('is the parent messages, with its context and system prompt, then the answer text without reasoning', async () => {
    const { model, respond } = makeModel();
    const { batch, done } = model.generate(options);
    respond('1.1', { reasoning: 'Think about Europe.', content: 'The Danube.' });
    respond('2.1', { content: 'The Rhine.' });
    await done;
    const thread = followUpThread(batch.summary(), '1');
    expect(thread.parent).toEqual({ batchId: batch.id, responseId: '1', attempt: 1 });
    expect(thread.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: USER_WITH_CONTEXT },
      { role: 'assistant', content: 'The Danube.' }
    ]);
    expect(JSON.stringify(thread)).not.toContain('Think about Europe');
  });

  it('sends [earlier turns…, the new prompt] from every response, and re-generate sends the same thread', async () => {
    const { model, respond, connections } = makeModel();
    const parent = model.generate({ ...options, systemPrompt: '', context: '' });
    respond('1.1', { content: 'The Danube.' });
    respond('2.1', { reasoning: 'Hmm, Asia.', content: 'The Mekong.' });
    await parent.done;

    const thread = followUpThread(parent.batch.summary(), '2');
    const child = model.generate(followUpOptions(parent.batch.options, thread, { prompt: 'How long is it?', n: 2 }));
    const firstLevel = [
      { role: 'user', content: 'Name a river.' },
      { role: 'assistant', content: 'The Mekong.' },
      { role: 'user', content: 'How long is it?' }
    ];
    const sent = connections
      .flatMap(c => c.started)
      .filter(s => s.id.endsWith('.1'))
      .slice(-2);
    expect(sent.map(s => s.request.messages)).toEqual([firstLevel, firstLevel]);
    expect(sent[0].request).toMatchObject({ model: 'qwen', max_tokens: 64, temperature: 0.5 });
    expect(child.batch.options.thread).toBe(thread);
    respond('1.1', { content: 'About 4,900 km.' });
    respond('2.1', { content: 'Long.' });
    await child.done;

    // Re-generate of a follow-up response re-sends the same thread.
    const again = model.regenerate(child.batch.id, '2');
    const regenerated = connections.flatMap(c => c.started).pop()!;
    expect(regenerated.id).toBe('2.2');
    expect(regenerated.request.messages).toEqual(firstLevel);
    respond('2.2', { content: 'Very long.' });
    await again;

    // Two levels: the grand-parent's turn, the parent's turn, then the new prompt.
    const thread2 = followUpThread(child.batch.summary(), '1');
    expect(thread2.parent).toEqual({ batchId: child.batch.id, responseId: '1', attempt: 1 });
    const grandchild = model.generate(followUpOptions(child.batch.options, thread2, { prompt: 'In miles?', n: 1 }));
    expect(buildRequest(grandchild.batch.options, 1).messages).toEqual([
      ...firstLevel,
      { role: 'assistant', content: 'About 4,900 km.' },
      { role: 'user', content: 'In miles?' }
    ]);
    expect(threadTurns(thread2)).toEqual([
      { prompt: 'Name a river.', answer: 'The Mekong.' },
      { prompt: 'How long is it?', answer: 'About 4,900 km.' }
    ]);
    expect(grandchild.batch.responses).toHaveLength(1);
  });

  it('uses the attempt shown, or the one named', async () => {
    const { model, respond } = makeModel();
    const { batch, done } = model.generate({ ...options, n: 1 });
    respond('1.1', { content: 'First.' });
    await done;
    const again = model.regenerate(batch.id, '1');
    respond('1.2', { content: 'Second.' });
    await again;
    expect(followUpThread(batch.summary(), '1').messages.pop()).toEqual({ role: 'assistant', content: 'Second.' });
    model.showAttempt(batch.id, '1', 1);
    expect(followUpThread(batch.summary(), '1').parent.attempt).toBe(1);
    expect(followUpThread(batch.summary(), '1', 2).messages.pop()!.content).toBe('Second.');
  });

  it('refuses an unknown response or attempt, a running one, and one without answer text', async () => {
    const { model, respond } = makeModel();
    const { batch, done } = model.generate(options);
    expect(() => followUpThread(batch.summary(), '1')).toThrow(
      'Attempt 1 of response 1 is still running: follow up on it once it has ended.'
    );
    respond('1.1', { reasoning: 'Only thinking.', content: '' }, 'length');
    respond('2.1', { content: 'The Rhine.' });
    await done;
    expect(() => followUpThread(batch.summary(), '1')).toThrow(
      'Attempt 1 of response 1 has no answer text to follow up on (it ended complete).'
    );
    expect(() => followUpThread(batch.summary(), '7')).toThrow(`Batch ${batch.id} has no response 7 (it has 1 to 2).`);
    expect(() => followUpThread(batch.summary(), '2', 4)).toThrow('Response 2 has no attempt 4 (its attempts: 1).');
  });

  it('keeps the parent options unless given, and no context of its own', () => {
    const thread = {
      parent: { batchId: 'b', responseId: '1', attempt: 1 },
      messages: [{ role: 'assistant' as const, content: 'x' }]
    };
    const kept = followUpOptions(
      { ...options, structured: true, targets: [{ upstream: 'a', model: 'm', n: 2 }] },
      thread,
      { prompt: 'Next' }
    );
    expect(kept).toMatchObject({ prompt: 'Next', n: 2, model: 'qwen', maxTokens: 64, structured: true, thread });
    expect(kept.targets).toEqual([{ upstream: 'a', model: 'm', n: 2 }]);
    expect(kept.context).toBeUndefined();
    const changed = followUpOptions({ ...options, targets: [{ upstream: 'a', model: 'm', n: 2 }] }, thread, {
      prompt: 'Next',
      n: 3,
      model: 'other',
      temperature: 0
    });
    expect(changed).toMatchObject({ n: 3, model: 'other', temperature: 0 });
    expect(changed.targets).toBeUndefined();
  });
});

describe('a follow-up read back', () => {
  const thread = {
    parent: { batchId: 'p', responseId: '2', attempt: 1 },
    messages: [
      { role: 'user', content: 'Q1' },
      { role: 'assistant', content: 'A1' }
    ]
  };

  it('from the store: the thread, from its record or its options', () => {
    const stored = {
      id: 'f',
      prompt: 'Q2',
      created_at: 1700000000,
      options: { n: 1 },
      followup: thread,
      responses: [
        {
          id: '1',
          attempts: [
            {
              attempt: 1,
              upstream: 'sim',
              model: 'm',
              request: { messages: [...thread.messages, { role: 'user', content: 'Q2' }], seed: 5 },
              status: 'complete',
              error: null,
              finish_reason: 'stop',
              text: 'A2',
              reasoning: '',
              usage: null,
              metrics: null,
              started_at: 1700000000,
              ended_at: 1700000001
            }
          ]
        }
      ]
    };
    const summary: IBatchSummary = storedSummary(stored);
    expect(summary.options.thread).toEqual(thread);
    expect(buildRequest(summary.options, 5).messages).toEqual(stored.responses[0].attempts[0].request.messages);
    const fromOptions = storedSummary({ ...stored, followup: null, options: { n: 1, thread } });
    expect(fromOptions.options.thread).toEqual(thread);
    expect(storedSummary({ ...stored, followup: null }).options.thread).toBeUndefined();
  });

  it('refuses what is not a thread', () => {
    expect(readThread(thread)).toEqual(thread);
    expect(readThread(null)).toBeNull();
    expect(readThread({ parent: thread.parent, messages: [] })).toBeNull();
    expect(readThread({ parent: thread.parent, messages: [{ role: 'tool', content: 'x' }] })).toBeNull();
    expect(readThread({ parent: { batchId: 'p' }, messages: thread.messages })).toBeNull();
  });
});
