/** How states, failures and silences read (src/components/status.ts), and the batch size check (src/model/size.ts). */
import type { TranslationBundle } from '@jupyterlab/translation';

import type { ResponseSnapshot } from '../../core';
import {
  indexList,
  describeError,
  errorKind,
  failureGroups,
  failureSummary,
  shortError,
  shownState,
  silenceText,
  silentFor,
  sizeProblemText,
  stateLabel,
  stateTone,
  summarisedGroups
} from '../status';
import { estimatePromptTokens, SizeCheck, sizeProblems } from '../../model/size';
import type { IGenerateOptions, IUpstreamListing } from '../../tokens';

/** JupyterLab's null translator, as it formats: `%1`… are the arguments (`_n`: %1 is the count). */
const format = (text: string, args: unknown[]) =>
  text.replace(/%(\d+)/g, (_, i: string) => String(args[Number(i) - 1]));
const trans = {
  __: (text: string, ...args: unknown[]) => format(text, args),
  _n: (one: string, many: string, n: number, ...args: unknown[]) => format(n === 1 ? one : many, [n, ...args])
} as unknown as TranslationBundle;

const CONTEXT =
  "This model's maximum context length is 8192 tokens. However, your request has 24704 input tokens. Please reduce the length of the input messages.";
const TOO_LARGE =
  "'max_tokens' or 'max_completion_tokens' is too large: 4096. This model's maximum context length is 8192 tokens and your request has 7900 input tokens (4096 > 8192 - 7900).";

function snapshot(changes: Partial<ResponseSnapshot>): ResponseSnapshot {
  return {
    status: 'complete',
    content: '',
    reasoning: '',
    thinkingTokens: 0,
    answerTokens: 0,
    totalTokens: 0,
    promptTokens: null,
    tokensEstimated: false,
    splitEstimated: false,
    finishReason: 'stop',
    error: null,
    model: null,
    httpStatus: null,
    metrics: {
      startedAt: null,
      firstByteAt: null,
      firstTokenAt: null,
      endedAt: null,
      ttfbMs: null,
      ttftMs: null,
      tokensPerSecond: null,
      elapsedMs: null
    },
    ...changes
  };
}

describe('states', () => {
  it('reads a response cut off by max tokens as Truncated, in a warning tone', () => {
    const cut = snapshot({ finishReason: 'length' });
    expect(shownState(cut)).toBe('truncated');
    expect(stateLabel(shownState(cut), trans)).toBe('Truncated');
    expect(stateTone('truncated')).toBe('warning');
    expect(shownState(snapshot({}))).toBe('complete');
    expect(stateTone('complete')).toBe('success');
    // Stopped with finish reason length is still stopped (the user stopped it).
    expect(shownState(snapshot({ status: 'stopped', finishReason: 'length' }))).toBe('stopped');
  });

  it('reads the context-length errors of vLLM with their figures', () => {
    expect(errorKind({ message: CONTEXT })).toEqual({ kind: 'context', promptTokens: 24704, contextLength: 8192 });
    expect(errorKind({ message: TOO_LARGE })).toEqual({
      kind: 'max-tokens',
      maxTokens: 4096,
      promptTokens: 7900,
      contextLength: 8192
    });
    expect(errorKind({ message: 'boom' })).toEqual({ kind: 'other' });
    expect(describeError({ message: CONTEXT, status: 400 }, trans)).toBe(
      'context length exceeded: 24,704 prompt tokens, the model takes 8,192'
    );
    expect(describeError({ message: TOO_LARGE }, trans)).toBe(
      'max tokens too large: 7,900 prompt tokens + 4,096 max tokens, the model takes 8,192'
    );
    expect(shortError({ message: CONTEXT, status: 400 }, trans)).toBe('Context length exceeded');
    expect(shortError({ message: 'x'.repeat(100), status: 502 }, trans)).toBe(`502: ${'x'.repeat(59)}…`);
  });

  it('summarises a failure shared by several responses once, the largest group first', () => {
    const rows = [
      ...Array.from({ length: 16 }, (_, i) => ({
        index: i + 1,
        snapshot: snapshot({ status: 'error', error: { message: CONTEXT, status: 400, code: 'BadRequestError' } })
      })),
      { index: 17, snapshot: snapshot({ status: 'error', error: { message: 'engine died', status: 500 } }) },
      { index: 18, snapshot: snapshot({}) }
    ];
    const groups = failureGroups(rows);
    expect(groups.map(g => g.indexes.length)).toEqual([16, 1]);
    const [summarised] = summarisedGroups(groups);
    expect(summarisedGroups(groups)).toHaveLength(1);
    expect(failureSummary(summarised, trans)).toBe(
      '16 × context length exceeded: 24,704 prompt tokens, the model takes 8,192'
    );
    expect(indexList(summarised.indexes)).toBe('1–16');
    expect(indexList([1, 2, 4, 7, 8, 9])).toBe('1, 2, 4, 7–9');
  });

  it('says how long a running stream has been silent, once past the threshold', () => {
    const running = snapshot({ status: 'generating' });
    expect(silentFor(running, 1000, 10999, 10000)).toBeNull();
    expect(silentFor(running, 1000, 13500, 10000)).toBe(12500);
    expect(silentFor(snapshot({}), 1000, 13500, 10000)).toBeNull(); // ended
    expect(silentFor(running, 1000, 13500, 0)).toBeNull(); // off
    expect(silentFor(running, null, 13500, 10000)).toBeNull(); // not live here
    expect(silenceText(12500, trans)).toBe('Silent for 12 s');
    expect(silenceText(125000, trans)).toBe('Silent for 2 min 5 s');
  });
});

describe('the size check before sending', () => {
  const listing: IUpstreamListing = {
    default: 'simulator',
    upstreams: [
      {
        name: 'simulator',
        models: ['fanout-sim', 'tiny'],
        default_model: 'fanout-sim',
        error: null,
        context_lengths: { 'fanout-sim': 8192, tiny: 64 }
      },
      { name: 'other', models: ['x'], default_model: 'x', error: null }
    ],
    limits: {
      max_responses_per_batch: 64,
      max_streams_per_user: 256,
      max_tokens_limit: 32768,
      max_message_bytes: 1 << 20
    }
  };
  const base: IGenerateOptions = {
    prompt: Array(100).fill('word').join(' '),
    n: 4,
    model: '',
    upstream: '',
    maxTokens: 1024,
    temperature: 0.7,
    systemPrompt: ''
  };

  it('estimates the prompt with what a template adds per message', () => {
    expect(estimatePromptTokens({ ...base, prompt: 'hello world' })).toBe(2 + 4);
    expect(estimatePromptTokens({ ...base, prompt: 'hello world', systemPrompt: 'Be brief.' })).toBe(2 + 4 + 3 + 4);
  });

  it('finds a prompt over the context, max tokens that do not fit, and a limit', () => {
    expect(sizeProblems(base, listing)).toEqual([]);
    expect(sizeProblems({ ...base, model: 'tiny' }, listing)).toEqual([
      { kind: 'prompt', upstream: 'simulator', model: 'tiny', promptTokens: 104, contextLength: 64, responses: 4 }
    ]);
    const tight = sizeProblems({ ...base, maxTokens: 8100 }, listing);
    expect(tight).toEqual([
      {
        kind: 'total',
        upstream: 'simulator',
        model: 'fanout-sim',
        promptTokens: 104,
        maxTokens: 8100,
        contextLength: 8192,
        responses: 4
      }
    ]);
    expect(sizeProblemText(tight[0], trans)).toBe(
      'The prompt (about 104 tokens) and max tokens (8,100) come to more than the 8,192 tokens fanout-sim (upstream simulator) takes: its 4 responses would be refused. Max tokens 8,088 or less would fit.'
    );
    const [limit] = sizeProblems({ ...base, maxTokens: 40000 }, listing);
    expect(limit).toEqual({ kind: 'limit', maxTokens: 40000, limit: 32768, responses: 4 });
    // A model whose context length the server does not report is not checked.
    expect(sizeProblems({ ...base, upstream: 'other', model: 'x', prompt: 'w '.repeat(99999) }, listing)).toEqual([]);
    // Several models: each counted with its own responses.
    const mixed = sizeProblems(
      {
        ...base,
        targets: [
          { upstream: 'simulator', model: 'tiny', n: 2 },
          { upstream: 'simulator', model: 'fanout-sim', n: 3 }
        ]
      },
      listing
    );
    expect(mixed.map(p => [p.kind, p.responses])).toEqual([['prompt', 2]]);
    expect(sizeProblemText(mixed[0], trans)).toBe(
      'The prompt is about 104 tokens, and tiny (upstream simulator) takes 64: its 2 responses would fail.'
    );
  });

  it('answers at once from the last listing, reads it again when stale, and waits for the first at most so long', async () => {
    jest.useFakeTimers();
    try {
      let calls = 0;
      let now = 0;
      const check = new SizeCheck(
        () => {
          calls++;
          return Promise.resolve(listing);
        },
        30000,
        3000,
        () => now
      );
      // Before any listing: waited for.
      expect(await check.problems({ ...base, model: 'tiny' })).toHaveLength(1);
      // Then synchronous (a batch starts within the command's call).
      expect(check.problems(base)).toEqual([]);
      expect(calls).toBe(1);
      now = 31000;
      expect(check.problems({ ...base, model: 'tiny' })).toHaveLength(1); // stale: used, and read again
      expect(calls).toBe(2);
      const never = new SizeCheck(() => new Promise<IUpstreamListing>(() => undefined), 30000, 3000);
      const pending = never.problems({ ...base, model: 'tiny' });
      jest.advanceTimersByTime(3000);
      expect(await pending).toEqual([]);
      const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
      const failing = new SizeCheck(() => Promise.reject(new Error('502')), 30000, 3000);
      expect(await failing.problems(base)).toEqual([]);
      expect(warn).toHaveBeenCalled();
      warn.mockRestore();
    } finally {
      jest.useRealTimers();
    }
  });
});
