/**
 * Continuing a response cut off by max tokens, the stall clock and Fill the gaps with nothing to
 * fill: the model with a fake connection playing the proxy.
 */
import { continuedPrefix, storedSnapshot } from '../reattach';
import { restoreBatch } from '../saved';
import type { IGenerateOptions } from '../../tokens';
import { fakeModel as makeModel } from './fakeProxy';

const options: IGenerateOptions = {
  prompt: 'Count to ten.',
  n: 2,
  model: '',
  upstream: 'simulator',
  maxTokens: 8,
  temperature: 0.5,
  systemPrompt: ''
};

describe('continuing a truncated response', () => {
  it('sends the prompt and the text so far as the assistant message to continue, with the same seed', async () => {
    const { model, connections } = makeModel();
    const { batch } = model.generate(options);
    const connection = connections[0];
    connection.respond('1.1', { reasoning: 'Let me count.', content: 'One, two, three' }, 'length');
    connection.respond('2.1', { content: 'One to ten.' });
    const done = model.continueResponse(batch.id, '1');
    const all = connections[connections.length - 1].started;
    const started = all[all.length - 1];
    expect(started.id).toBe('1.2');
    expect(started.request).toMatchObject({
      seed: 100,
      max_tokens: 8,
      continue_final_message: true,
      add_generation_prompt: false,
      messages: [
        { role: 'user', content: 'Count to ten.' },
        { role: 'assistant', content: 'One, two, three' }
      ]
    });
    connections[connections.length - 1].respond('1.2', { content: ', four, five.' });
    const summary = await done;
    // One text: the earlier text, then the continuation; the reasoning and tokens add up.
    expect(summary.content).toBe('One, two, three, four, five.');
    expect(summary.reasoning).toBe('Let me count.');
    expect(summary.attempt).toBe(2);
    expect(summary.finishReason).toBe('stop');
    expect(summary.totalTokens).toBe(summary.thinkingTokens + summary.answerTokens);
    expect(summary.attempts![0]).toMatchObject({ attempt: 1, content: 'One, two, three', finishReason: 'length' });
    // The same snapshot object while nothing changes (an ended card is not rendered again).
    const response = batch.responses[0];
    expect(response.snapshot()).toBe(response.snapshot());
  });

  it('refuses a response that was not cut off, one still running, and an unknown attempt', () => {
    const { model, connections } = makeModel();
    const { batch } = model.generate(options);
    connections[0].respond('2.1', { content: 'One to ten.' });
    expect(() => model.continueResponse(batch.id, '1')).toThrow(/still running/);
    expect(() => model.continueResponse(batch.id, '2')).toThrow(
      /Attempt 1 of response 2 was not cut off by max tokens \(it ended complete, finish reason stop\)/
    );
    expect(() => model.continueResponse(batch.id, '2', 5)).toThrow(/has no attempt 5 \(its attempts: 1\)/);
  });

  it('refuses a truncated attempt with no answer text (all thinking)', () => {
    const { model, connections } = makeModel();
    const { batch } = model.generate({ ...options, n: 1 });
    connections[0].respond('1.1', { reasoning: 'Hmm, let me think about this', content: '' }, 'length');
    expect(() => model.continueResponse(batch.id, '1')).toThrow(/has no answer text to continue/);
  });
});

describe('the stall clock and fill the gaps', () => {
  it('keeps when each running response last received something', () => {
    const { model, connections, setNow } = makeModel();
    setNow(1000);
    const { batch } = model.generate(options);
    expect(batch.responses[0].lastActivityAt).toBe(1000);
    setNow(4000);
    connections[0].begin('1.1', 'One');
    expect(batch.responses[0].lastActivityAt).toBe(4000);
    expect(batch.responses[1].lastActivityAt).toBe(1000);
  });

  it('says there is nothing to fill rather than doing nothing', () => {
    const { model, connections } = makeModel();
    const { batch } = model.generate(options);
    connections[0].respond('1.1', { content: 'a' });
    connections[0].respond('2.1', { content: 'b' });
    expect(() => model.fillGaps(batch.id)).toThrow(
      `Batch ${batch.id} has no gaps to fill: no response has ended stopped, failed or incomplete.`
    );
  });
});

describe('a continued attempt read back from the store', () => {
  const request = {
    seed: 5,
    continue_final_message: true,
    add_generation_prompt: false,
    messages: [
      { role: 'user', content: 'Count to ten.' },
      { role: 'assistant', content: 'One, two, three' }
    ]
  };

  it('shows the text it continued, then its own, as it was live', () => {
    expect(continuedPrefix(request)).toBe('One, two, three');
    expect(continuedPrefix({ ...request, continue_final_message: false })).toBe('');
    expect(continuedPrefix({ messages: request.messages })).toBe('');
    expect(continuedPrefix(null)).toBe('');
    const snapshot = storedSnapshot(
      {
        attempt: 2,
        request,
        upstream: 'simulator',
        model: 'sim',
        text: ', four.',
        reasoning: '',
        usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 },
        finish_reason: 'stop',
        status: 'complete',
        error: null,
        metrics: {},
        started_at: 1,
        ended_at: 2
      } as any,
      null
    );
    expect(snapshot.content).toBe('One, two, three, four.');
    expect(snapshot.answerTokens).toBeGreaterThan(3);
    expect(snapshot.tokensEstimated).toBe(true);
  });
});

describe('a continuation reattached after a reload', () => {
  it('keeps the text it continues: the replay brings only the continuation', async () => {
    const { model, connections } = makeModel();
    const { batch } = model.generate({ ...options, n: 1 });
    connections[0].respond('1.1', { content: 'One, two, three' }, 'length');
    void model.continueResponse(batch.id, '1');
    const latest = connections[connections.length - 1];
    latest.begin('1.2', ', four');
    const [saved] = model.save();
    expect(saved.responses[0]).toMatchObject({ attempt: 2, continues: 1, content: 'One, two, three, four' });

    const restored = restoreBatch(JSON.parse(JSON.stringify(saved)), () => 0, true)!;
    const response = restored.responses[0];
    expect(response.reconnecting).toBe(true);
    expect(response.continuation).toMatchObject({ attempt: 1, content: 'One, two, three' });
    expect(response.snapshot().content).toBe('One, two, three, four');
    expect(response.summary().continues).toBe(1);
  });
});
