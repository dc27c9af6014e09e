/**
 * A digest (jupyterlab_fanout/digest.py) and the bytes after it bring a response to the state
 * its bytes alone do. The cases, with the digests the server's Digester wrote for them, are in
 * digest-cases.json (pytest checks that file is what the Digester writes today).
 */
import { type IStreamDigest, readDigest } from '../digest';
import { ResponseStream } from '../response';
import cases from './digest-cases.json';

interface ICase {
  name: string;
  sse: string;
  digest: IStreamDigest;
}

function bytesOf(base64: string): Uint8Array {
  return new Uint8Array(Buffer.from(base64, 'base64'));
}

/**
 * A reattached stream as the engine has it: resumed, its digest, `open`, then bytes cut every
 * `cut` (all read at one moment: a replay arrives at once), then the clock moves on.
 */
function reattached(digest: IStreamDigest | null, bytes: Uint8Array, cut: number): ResponseStream {
  let time = 1000;
  const stream = new ResponseStream({ now: () => time, trackNewText: true });
  stream.resume(10, 20);
  if (digest !== null) {
    stream.applyDigest(digest);
  }
  stream.open(200);
  for (let at = 0; at < bytes.length; at += cut) {
    stream.feed(bytes.subarray(at, at + cut));
  }
  time = 2000;
  return stream;
}

describe('a digest and the bytes after it', () => {
  const all = cases as ICase[];

  it('has cases: some digested to their end, some stopped early, some not at all', () => {
    expect(all.length).toBeGreaterThan(30);
    const whole = all.filter(c => c.digest.events > 0 && bytesOf(c.sse).length - c.digest.offset <= 14);
    expect(whole.length).toBeGreaterThan(3);
    expect(all.some(c => c.digest.events === 0)).toBe(true);
  });

  it.each(all.map(c => [c.name, c] as const))('%s: the same state as every byte', (_name, c) => {
    const bytes = bytesOf(c.sse);
    for (const cut of [bytes.length || 1, 5, 97]) {
      const full = reattached(null, bytes, cut);
      const digested = reattached(c.digest, bytes.subarray(c.digest.offset), cut);
      expect(digested.snapshot()).toEqual(full.snapshot());
      expect(digested.takeNewText()).toEqual(full.takeNewText());
      full.end();
      digested.end();
      expect(digested.snapshot()).toEqual(full.snapshot());
      expect(digested.timing()).toEqual(full.timing());
    }
  });

  it('changes the state: text, counts and the first token come from it', () => {
    const c = (cases as ICase[]).find(c => c.name.startsWith('vllm'))!;
    const stream = reattached(c.digest, new Uint8Array(0), 1);
    const snapshot = stream.snapshot();
    expect(snapshot.reasoning).toBe(' step 0 step 1 step 2');
    expect(snapshot.content).toContain(' word7 é 漢');
    expect(snapshot.totalTokens).toBe(8);
    expect(snapshot.finishReason).toBe('stop');
    expect(snapshot.model).toBe('m');
    expect(stream.timing().firstTokenAt).toBe(20); // the first byte's time, not the replay's
  });
});

describe('readDigest', () => {
  const digest = (entries: unknown[], more: Partial<IStreamDigest> = {}): IStreamDigest => ({
    model: null,
    offset: 10,
    events: entries.length,
    entries,
    ...more
  });

  it('reads the usage codes: none, one more token, written whole', () => {
    const events = readDigest(digest([['a', [3, 12]], ['b', 1], ['c'], ['', [9, null, 2], 'r', 'stop']]));
    expect(events.map(e => e.usage)).toEqual([
      { completionTokens: 3, promptTokens: 12, reasoningTokens: null },
      { completionTokens: 4, promptTokens: 12, reasoningTokens: null },
      null,
      { completionTokens: 9, promptTokens: null, reasoningTokens: 2 }
    ]);
    expect(events[3]).toMatchObject({ content: '', reasoning: 'r', finishReason: 'stop' });
  });

  it.each([
    ['a count that is not the entries', digest([['a']], { events: 2 }), /holds 1 entries, not 2/],
    ['entries that are not a list', { ...digest([]), entries: 'x' as unknown as unknown[] }, /holds no entries/],
    ['a model that is not text', digest([], { model: 5 as unknown as string }), /model is not text/],
    ['an entry that is not a list', digest([{ content: 'a' }]), /entry 0 is not an event/],
    ['an empty entry', digest([[]]), /entry 0 is not an event/],
    ['one more token than none', digest([['a', 1]]), /entry 0: one more token than no usage/],
    ['a usage code it does not know', digest([['a', 2]]), /entry 0: its usage is not one/],
    ['a negative count', digest([['a', [-1]]]), /entry 0: its usage is not one/],
    ['a prompt count that is text', digest([['a', [1, '2']]]), /entry 0: its prompt tokens is not a count/],
    ['content that is not text', digest([['a'], [5]]), /entry 1: its content is not text/],
    ['a finish reason that is not text', digest([['a', 0, '', 7]]), /entry 0: its finish reason is not text/]
  ])('names what is wrong: %s', (_name, bad, message) => {
    expect(() => readDigest(bad)).toThrow(message);
  });
});
