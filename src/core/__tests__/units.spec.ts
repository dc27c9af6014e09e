/** Unit tests of the core's parts: scanner, think splitter, tokens, metrics, errors. */
import { errorFromHttpBody, errorFromPayload } from '../errors';
import { splitJsonValues } from '../json-scan';
import { ResponseStream } from '../response';
import { ThinkSplitter } from '../think';
import { estimateTokens } from '../token-count';
import { ManualClock } from './harness';
import { chunk, sse, usage } from './transcripts/build';

describe('splitJsonValues', () => {
  it('cuts back-to-back objects, ignoring braces, quotes and escapes inside strings', () => {
    const parts = ['{"a":"}{"}', '{"b":"\\"}"}', '{"c":["]",{"d":"\\\\"}]}'];
    expect(splitJsonValues(parts.join('') + ' \n')).toEqual(parts);
    expect(splitJsonValues(parts.join('\n'))).toEqual(parts);
  });

  it('keeps an unbalanced tail and stray text as their own slices', () => {
    expect(splitJsonValues('{"a":1} oops {"b":')).toEqual(['{"a":1}', 'oops', '{"b":']);
  });
});

describe('ThinkSplitter', () => {
  function split(pieces: string[], flush = true): { reasoning: string; content: string } {
    const out = { reasoning: '', content: '' };
    const splitter = new ThinkSplitter({ reasoning: t => (out.reasoning += t), content: t => (out.content += t) });
    pieces.forEach(p => splitter.push(p));
    if (flush) {
      splitter.flush();
    }
    return out;
  }

  it('splits tags cut at every position', () => {
    const text = '<think>why</think>answer';
    for (let i = 0; i <= text.length; i++) {
      for (let j = i; j <= text.length; j++) {
        expect(split([text.slice(0, i), text.slice(i, j), text.slice(j)])).toEqual({
          reasoning: 'why',
          content: 'answer'
        });
      }
    }
  });

  it('holds back a partial <thi at a piece end until decided', () => {
    expect(split(['<thi'], false)).toEqual({ reasoning: '', content: '' });
    expect(split(['<thi', 's is not a tag'])).toEqual({ reasoning: '', content: '<this is not a tag' });
  });

  it('flushes a held partial tag as content when the stream ends', () => {
    expect(split(['<thi'])).toEqual({ reasoning: '', content: '<thi' });
    expect(split(['<think>abc</thi'])).toEqual({ reasoning: 'abc</thi', content: '' });
  });

  it('leaves a <think> after answer text alone', () => {
    expect(split(['Use ', '<think>', ' tags'])).toEqual({ reasoning: '', content: 'Use <think> tags' });
  });
});

describe('token counts', () => {
  it('estimates by pre-tokens per piece, never one per event', () => {
    expect(estimateTokens('a')).toBe(1);
    expect(estimateTokens(' function')).toBe(1);
    expect(estimateTokens('\n\n')).toBe(1);
    expect(estimateTokens(' the value')).toBe(2);
    expect(estimateTokens('x'.repeat(32))).toBe(4);
    expect(estimateTokens('("x")')).toBe(5);
    expect(estimateTokens('1234567')).toBe(3);
    expect(estimateTokens(' 中文 🙂.')).toBe(4);
  });

  it('marks estimates, replaces them with the exact figure when usage arrives, then adds new text on top', () => {
    const response = new ResponseStream({ now: () => 0 });
    response.start();
    response.feed(sse([chunk({ content: 'a' + ' a'.repeat(9) })]));
    expect(response.snapshot()).toMatchObject({ answerTokens: 10, tokensEstimated: true });
    response.feed(sse([{ choices: [], usage: usage(3, 7) }]));
    expect(response.snapshot()).toMatchObject({
      answerTokens: 7,
      totalTokens: 7,
      promptTokens: 3,
      tokensEstimated: false
    });
    response.feed(sse([chunk({ content: 'abcd' })]));
    expect(response.snapshot()).toMatchObject({ answerTokens: 8, tokensEstimated: true });
  });

  it('splits completion_tokens in proportion to the estimates when reasoning_tokens is missing', () => {
    const response = new ResponseStream({ now: () => 0 });
    response.start();
    response.feed(sse([chunk({ reasoning: ' r'.repeat(3) }), chunk({ content: 'c' }, { usage: usage(1, 40) })]));
    expect(response.snapshot()).toMatchObject({
      thinkingTokens: 30,
      answerTokens: 10,
      splitEstimated: true,
      tokensEstimated: false
    });
  });
});

describe('response metrics with an injected clock', () => {
  it('gives ttfb, ttft, decode tokens per second and elapsed time', () => {
    const clock = new ManualClock();
    const response = new ResponseStream({ now: clock.now });
    clock.time = 100;
    response.start();
    clock.time = 150;
    response.open(200);
    clock.time = 180;
    response.feed(': ping\n\n');
    clock.time = 300;
    response.feed(sse([chunk({ content: 'a' }, { usage: usage(5, 2) })])); // first token event: 2 tokens
    clock.time = 800;
    response.feed(sse([chunk({ content: 'b' }, { usage: usage(5, 12) })]));
    clock.time = 1300;
    response.feed(sse([chunk({ content: 'c' }, { usage: usage(5, 22) })]));
    const live = response.snapshot().metrics;
    expect(live).toMatchObject({
      startedAt: 100,
      firstByteAt: 180,
      firstTokenAt: 300,
      endedAt: null,
      ttfbMs: 80,
      ttftMs: 200
    });
    expect(live.tokensPerSecond).toBeCloseTo(20); // 20 tokens after the first event over 1 s
    expect(live.elapsedMs).toBe(1200);
    clock.time = 2300;
    expect(response.snapshot().metrics.tokensPerSecond).toBeCloseTo(10); // live: over time since first token
    response.feed(sse(['[DONE]']));
    clock.time = 9999;
    const done = response.snapshot();
    expect(done.metrics).toMatchObject({ endedAt: 2300, elapsedMs: 2200 });
    expect(done.metrics.tokensPerSecond).toBeCloseTo(10);
    expect(response.snapshot()).toBe(done);
  });
});

describe('errors and isolation', () => {
  it('reads both error shapes and keeps the upstream message and status', () => {
    expect(errorFromPayload({ error: { message: 'm', type: 'BadRequestError', code: 400 } }, 200)).toEqual({
      message: 'm',
      status: 400,
      code: 'BadRequestError'
    });
    expect(errorFromPayload({ object: 'error', message: 'old', type: 'NotFoundError', code: 404 }, null)).toEqual({
      message: 'old',
      status: 404,
      code: 'NotFoundError'
    });
    expect(errorFromPayload({ error: { message: 'slow down', code: 'rate_limit_exceeded' } }, 429)).toEqual({
      message: 'slow down',
      status: 429,
      code: 'rate_limit_exceeded'
    });
    expect(errorFromPayload({ choices: [] }, 200)).toBeNull();
  });

  it('a response the server aborted (finish_reason "abort", then [DONE]) ends as an error', () => {
    const response = new ResponseStream({ now: () => 0 });
    response.start();
    response.open(200);
    response.feed(sse([chunk({ content: 'half an' }), chunk({ content: '' }, { finish: 'abort' }), '[DONE]']));
    expect(response.snapshot()).toMatchObject({
      status: 'error',
      content: 'half an',
      finishReason: 'abort',
      error: { code: 'abort', status: 200 }
    });
  });

  it('shows the status, not the HTML, of a proxy error page', () => {
    expect(errorFromHttpBody(502, '<html><body>Bad Gateway</body></html>')).toEqual({
      message: 'The server answered HTTP 502',
      status: 502,
      code: 'upstream_http'
    });
  });

  it('an invalid event in one response never throws and never affects another', () => {
    const bad = new ResponseStream({ now: () => 0 });
    const good = new ResponseStream({ now: () => 0 });
    for (const r of [bad, good]) {
      r.start();
    }
    expect(() => bad.feed('data: {"choices": [nope\n\ndata: \u0000\u0001\n\n')).not.toThrow();
    good.feed(sse([chunk({ content: 'fine' }), '[DONE]']));
    bad.end();
    expect(bad.snapshot().status).toBe('error');
    expect(bad.snapshot().error?.message).toContain('2 unreadable events');
    expect(good.snapshot()).toMatchObject({ status: 'complete', content: 'fine', error: null });
  });

  it('stop and fail keep everything read, including text held back by the think splitter', () => {
    const stopped = new ResponseStream({ now: () => 0 });
    stopped.start();
    stopped.feed(sse([chunk({ content: '\n<th' })]));
    expect(stopped.snapshot().content).toBe('\n');
    stopped.stop();
    expect(stopped.snapshot()).toMatchObject({ status: 'stopped', content: '\n<th' });

    const failed = new ResponseStream({ now: () => 0 });
    failed.start();
    failed.feed(sse([chunk({ content: '<thi' })]));
    failed.fail({ message: 'socket closed', code: 'upstream_unreachable' });
    expect(failed.snapshot()).toMatchObject({
      status: 'error',
      content: '<thi',
      error: { message: 'socket closed', code: 'upstream_unreachable' }
    });
  });

  it('an event: error event with non-JSON data ends the response with that text', () => {
    const response = new ResponseStream({ now: () => 0 });
    response.start();
    response.open(200);
    response.feed('event: error\ndata: model overloaded\n\n');
    expect(response.snapshot()).toMatchObject({ status: 'error', error: { message: 'model overloaded', status: 200 } });
  });
});
