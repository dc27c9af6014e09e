/**
 * The token estimate against the simulator's own token lists
 * (fixtures/simulator-tokens.json, made by jupyterlab_fanout.simulator.text.completion_tokens):
 * within 5 % of the true count on streams of one token per delta, within 15 % on streams of
 * 2–8 tokens per delta, and the same through the whole core (ResponseStream) when the server
 * sends no usage, including a stopped and a failed response.
 */
import { ResponseStream } from '../response';
import { estimateTokens } from '../token-count';
import { chunk, sse, usage } from './transcripts/build';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const fixture = require('./fixtures/simulator-tokens.json') as {
  completions: Array<{ reasoning: string[]; content: string[] }>;
};

/** A small seeded PRNG (mulberry32): the same groupings every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `tokens` cut into deltas of `min`–`max` tokens each. */
function group(tokens: string[], min: number, max: number, seed: number): string[] {
  const next = random(seed);
  const deltas: string[] = [];
  let i = 0;
  while (i < tokens.length) {
    const size = min + Math.floor(next() * (max - min + 1));
    deltas.push(tokens.slice(i, i + size).join(''));
    i += size;
  }
  return deltas;
}

function relativeError(deltas: string[], truth: number): number {
  const estimate = deltas.reduce((sum, delta) => sum + estimateTokens(delta), 0);
  return (estimate - truth) / truth;
}

const all = fixture.completions.map(c => [...c.reasoning, ...c.content]);

describe('token estimate on the simulator streams', () => {
  it('has fixtures of several hundred tokens each', () => {
    expect(all.length).toBeGreaterThanOrEqual(6);
    for (const tokens of all) {
      expect(tokens.length).toBeGreaterThan(250);
    }
  });

  it.each(all.map((tokens, i) => [i, tokens] as const))(
    'completion %i, one token per delta: within 5 %',
    (_i, tokens) => {
      const error = relativeError(tokens, tokens.length);
      expect(Math.abs(error)).toBeLessThanOrEqual(0.05);
    }
  );

  it.each(all.map((tokens, i) => [i, tokens] as const))(
    'completion %i, 2–8 tokens per delta: within 15 %',
    (i, tokens) => {
      for (let seed = 1; seed <= 5; seed++) {
        const error = relativeError(group(tokens, 2, 8, seed * 100 + i), tokens.length);
        expect(Math.abs(error)).toBeLessThanOrEqual(0.15);
      }
    }
  );

  it('prints the measured errors', () => {
    const one = all.map(tokens => relativeError(tokens, tokens.length));
    const several = all.map((tokens, i) => relativeError(group(tokens, 2, 8, 7 + i), tokens.length));
    const fmt = (xs: number[]) => xs.map(x => `${(x * 100).toFixed(1)}%`).join(' ');
    // Shown with `jlpm jest --verbose`; the figures the README quotes.
    console.log(`one token per delta: ${fmt(one)}\n2–8 tokens per delta: ${fmt(several)}`);
    expect(one.length).toBe(all.length);
  });
});

describe('token estimate through the core, with no usage from the server', () => {
  const { reasoning, content } = fixture.completions[0];
  const truth = reasoning.length + content.length;
  const feedAll = (response: ResponseStream, deltas: Array<{ reasoning?: string; content?: string }>) => {
    response.feed(sse(deltas.map(delta => chunk(delta))));
  };
  const deltas: Array<{ reasoning?: string; content?: string }> = [
    ...group(reasoning, 2, 8, 11).map(text => ({ reasoning: text })),
    ...group(content, 2, 8, 12).map(text => ({ content: text }))
  ];

  it('a complete response: the estimate is within 15 % and marked as an estimate', () => {
    const response = new ResponseStream({ now: () => 0 });
    response.start();
    feedAll(response, deltas);
    response.end();
    const snapshot = response.snapshot();
    expect(snapshot.tokensEstimated).toBe(true);
    expect(Math.abs(snapshot.totalTokens - truth) / truth).toBeLessThanOrEqual(0.15);
  });

  it('a stopped and a failed response keep a good estimate, not an overestimate', () => {
    const half = deltas.slice(0, Math.floor(deltas.length / 2));
    const sent = half.reduce((sum, d) => sum + estimateTokens(d.reasoning ?? d.content ?? ''), 0);
    const trueHalf = tokensOf(half);
    for (const end of ['stop', 'fail'] as const) {
      const response = new ResponseStream({ now: () => 0 });
      response.start();
      feedAll(response, half);
      if (end === 'stop') {
        response.stop();
      } else {
        response.fail({ code: 'network', message: 'gone' } as any);
      }
      const snapshot = response.snapshot();
      expect(snapshot.totalTokens).toBe(sent);
      expect(snapshot.tokensEstimated).toBe(true);
      expect(Math.abs(snapshot.totalTokens - trueHalf) / trueHalf).toBeLessThanOrEqual(0.15);
    }
  });

  it('the exact count wins when the server gives usage at the end', () => {
    const response = new ResponseStream({ now: () => 0 });
    response.start();
    feedAll(response, deltas);
    response.feed(sse([{ choices: [], usage: usage(5, truth, reasoning.length) }]));
    response.end();
    expect(response.snapshot()).toMatchObject({
      totalTokens: truth,
      thinkingTokens: reasoning.length,
      tokensEstimated: false
    });
  });

  /** The true count of some deltas: how many simulator tokens they were made of. */
  function tokensOf(part: Array<{ reasoning?: string; content?: string }>): number {
    const text = part.map(d => d.reasoning ?? d.content ?? '').join('');
    const everything = [...reasoning, ...content];
    let length = 0;
    let count = 0;
    for (const token of everything) {
      if (length >= text.length) {
        break;
      }
      length += token.length;
      count++;
    }
    return count;
  }
});
