/** One test per seed case from the predecessor that concerns the core. */
import { batchMetrics } from '../metrics';
import { ResponseStream } from '../response';
import { ResponseSnapshot } from '../types';
import { ManualClock } from './harness';
import { chunk, sse, usage } from './transcripts/build';

const encoder = new TextEncoder();

function started(clock: ManualClock): ResponseStream {
  const response = new ResponseStream({ now: clock.now });
  response.start();
  response.open(200);
  return response;
}

describe('seed cases', () => {
  it('case 003: a response is not finished when its headers arrive; only end/stop/fail end it', () => {
    const clock = new ManualClock();
    const response = started(clock);
    expect(response.ended).toBe(false);
    expect(response.snapshot().status).toBe('connecting');
    response.feed(sse([chunk({ content: 'one ' })]));
    expect(response.ended).toBe(false);
    clock.advance(10);
    response.stop();
    expect(response.ended).toBe(true);
    const stopped = response.snapshot();
    expect(stopped.status).toBe('stopped');
    expect(stopped.content).toBe('one ');
    response.feed(sse([chunk({ content: 'late' }), '[DONE]']));
    response.end();
    expect(response.snapshot()).toEqual(stopped);
  });

  it('case 007: a freshly created response exists with status pending and zero counts', () => {
    const snapshot = new ResponseStream({ now: () => 5 }).snapshot();
    expect(snapshot).toMatchObject({
      status: 'pending',
      content: '',
      reasoning: '',
      thinkingTokens: 0,
      answerTokens: 0,
      totalTokens: 0,
      promptTokens: null,
      tokensEstimated: false,
      finishReason: null,
      error: null
    });
    expect(snapshot.metrics).toEqual({
      startedAt: null,
      firstByteAt: null,
      firstTokenAt: null,
      endedAt: null,
      ttfbMs: null,
      ttftMs: null,
      tokensPerSecond: null,
      elapsedMs: null
    });
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
  });

  it('case 009: content and counts are part of every snapshot while streaming', () => {
    const response = started(new ManualClock());
    const pieces = ['Hel', 'lo, ', 'world'];
    let text = '';
    let lastTokens = 0;
    let lastVersion = response.version;
    for (const piece of pieces) {
      response.feed(sse([chunk({ content: piece })]));
      text += piece;
      const snapshot = response.snapshot();
      expect(snapshot.content).toBe(text);
      expect(snapshot.status).toBe('generating');
      expect(snapshot.answerTokens).toBeGreaterThan(lastTokens);
      expect(response.version).toBeGreaterThan(lastVersion);
      lastTokens = snapshot.answerTokens;
      lastVersion = response.version;
    }
  });

  it('case 010: data: prefixes are stripped, several events in one chunk are all read, [DONE] ends', () => {
    const response = started(new ManualClock());
    response.feed(sse([chunk({ content: 'a' }), chunk({ content: 'b' }), chunk({ content: 'c' }), '[DONE]']));
    const snapshot = response.snapshot();
    expect(snapshot.content).toBe('abc');
    expect(snapshot.status).toBe('complete');
    expect(response.ended).toBe(true);
  });

  it('case 011: several JSON objects back to back in one data payload', () => {
    const response = started(new ManualClock());
    const a = JSON.stringify(chunk({ reasoning_content: 'x' }));
    const b = JSON.stringify(chunk({ reasoning_content: 'y' }));
    const c = JSON.stringify(chunk({ content: 'z' }));
    response.feed(`data: ${a}${b} ${c}\n\ndata: [DONE]\n\n`);
    const snapshot = response.snapshot();
    expect(snapshot.reasoning).toBe('xy');
    expect(snapshot.content).toBe('z');
    expect(snapshot.error).toBeNull();
    expect(snapshot.status).toBe('complete');
  });

  it('case 012: braces and quotes inside strings do not cut a packed payload', () => {
    const response = started(new ManualClock());
    const tricky = ['{"some": "json"}', '}}{{', 'a \\"quoted\\" }', '\\'];
    const packed = tricky.map(content => JSON.stringify(chunk({ content }))).join('');
    response.feed(`data: ${packed}\n\ndata: [DONE]\n\n`);
    const snapshot = response.snapshot();
    expect(snapshot.content).toBe(tricky.join(''));
    expect(snapshot.content.startsWith('{')).toBe(true);
    expect(snapshot.status).toBe('complete');
  });

  it('case 013: batch tokens per second over the earliest start among active responses', () => {
    const clock = new ManualClock();
    const early = started(clock); // starts at 0, finishes at 1000 with 100 tokens
    clock.advance(1000);
    early.feed(sse([chunk({ content: 'x' }, { usage: usage(1, 100) }), '[DONE]']));
    const a = started(clock); // starts at 1000
    clock.advance(500);
    const b = started(clock); // starts at 1500
    clock.advance(500); // now 2000
    a.feed(sse([chunk({ content: 'x' }, { usage: usage(1, 30) })]));
    b.feed(sse([chunk({ content: 'x' }, { usage: usage(1, 10) })]));
    const pending = new ResponseStream({ now: clock.now });
    const snapshots: ResponseSnapshot[] = [early, a, b, pending].map(r => r.snapshot());
    const live = batchMetrics(snapshots, clock.time);
    // Window starts at a's start (1000): a and b started in it, 40 tokens over 1 s.
    expect(live.tokensPerSecond).toBeCloseTo(40);
    expect(live).toMatchObject({ complete: 1, ended: 1, active: 2, total: 4, totalTokens: 140 });

    clock.advance(1000); // 3000
    a.end();
    b.feed(sse(['[DONE]']));
    const done = batchMetrics(
      [early, a, b, pending].map(r => r.snapshot()),
      clock.time
    );
    // None active: all 140 tokens over the span 0 .. 3000.
    expect(done.tokensPerSecond).toBeCloseTo(140 / 3);
    expect(done).toMatchObject({ complete: 2, ended: 3, active: 0, total: 4 });
  });

  it('case 016: the letter n before a newline is never "fixed" (content is not rewritten)', () => {
    const response = started(new ManualClock());
    const text = 'wordn\nwordn- list item\nn\n\\n';
    response.feed(sse([chunk({ content: text }), '[DONE]']));
    expect(response.snapshot().content).toBe(text);
  });

  it('case 017: \\n\\n and a literal backslash-n survive byte-exact', () => {
    const response = started(new ManualClock());
    const text = 'para one\n\npara two, a literal \\n and \\\\n, \\"';
    const bytes = encoder.encode(sse([chunk({ content: text }), '[DONE]']));
    for (let i = 0; i < bytes.length; i += 3) {
      response.feed(bytes.subarray(i, i + 3));
    }
    const content = response.snapshot().content;
    expect(content).toBe(text);
    expect(content).toContain('\n\n');
    expect(content).toContain('\\n');
  });

  it('case 019: an event fragmented across chunks is buffered, never parsed in pieces', () => {
    const response = started(new ManualClock());
    const body = sse([chunk({ content: '{"starts": "with a brace"}' }), '[DONE]']);
    const cut = body.indexOf('"content"') + 4;
    response.feed(body.slice(0, cut));
    expect(response.snapshot()).toMatchObject({ content: '', error: null, status: 'connecting' });
    response.feed(body.slice(cut));
    expect(response.snapshot()).toMatchObject({
      content: '{"starts": "with a brace"}',
      error: null,
      status: 'complete'
    });
  });
});
