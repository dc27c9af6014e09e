import { describeBatch } from '../protocol';
import { decodeDataFrame, WebSocketBatchConnection } from '../transport';

const encoder = new TextEncoder();

function record(id: string, bytes: Uint8Array): Uint8Array {
  const rawId = encoder.encode(id);
  const out = new Uint8Array(2 + rawId.length + 4 + bytes.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, rawId.length);
  out.set(rawId, 2);
  view.setUint32(2 + rawId.length, bytes.length);
  out.set(bytes, 6 + rawId.length);
  return out;
}

function frame(...records: Uint8Array[]): ArrayBuffer {
  const total = records.reduce((n, r) => n + r.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const r of records) {
    out.set(r, at);
    at += r.length;
  }
  return out.buffer;
}

describe('binary frames of the batch protocol', () => {
  it('splits a frame into its records, in order, bytes untouched (even a cut UTF-8 character)', () => {
    const euro = encoder.encode('€'); // three bytes, cut after the first
    const decoded = decodeDataFrame(
      frame(
        record('1.1', encoder.encode('data: {}\n\n')),
        record('ré.2', euro.slice(0, 1)),
        record('1.1', new Uint8Array())
      )
    );
    expect(decoded.map(r => [r.id, Array.from(r.bytes)])).toEqual([
      ['1.1', Array.from(encoder.encode('data: {}\n\n'))],
      ['ré.2', [euro[0]]],
      ['1.1', []]
    ]);
  });

  it('refuses a frame whose record overruns it, with where', () => {
    const bad = record('1.1', encoder.encode('abc')).slice(0, -1);
    expect(() => decodeDataFrame(bad.buffer)).toThrow(/a record of 3 bytes at 0 exceeds the frame \(11 bytes\)/);
    expect(() => decodeDataFrame(new Uint8Array([0]).buffer)).toThrow(/ends inside a record header at 0/);
  });
});

describe('the batch message (the server store keeps the batch under its id)', () => {
  const globals = globalThis as { WebSocket?: unknown };
  const saved = globals.WebSocket;
  beforeAll(() => {
    globals.WebSocket = saved ?? { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 };
  });
  afterAll(() => {
    globals.WebSocket = saved;
  });

  it('is sent before the first start, once per connection that a batch opens', () => {
    const sent: string[] = [];
    const socket = {
      readyState: 1,
      binaryType: '',
      send: (text: string) => sent.push(text),
      close: () => undefined
    } as unknown as WebSocket;
    const noop = () => undefined;
    const connection = new WebSocketBatchConnection(
      'ws://x',
      { onOpen: noop, onData: noop, onEnd: noop, onStopped: noop, onError: noop, onClose: noop },
      () => socket
    );
    connection.describe(
      'b-7',
      describeBatch({
        prompt: 'Why?\nSay',
        n: 2,
        temperature: 0.5,
        model: '',
        upstream: 'sim',
        maxTokens: 5,
        systemPrompt: ''
      })
    );
    connection.start('1.1', 'sim', { max_tokens: 5 });
    expect(sent.map(text => JSON.parse(text))).toEqual([
      {
        type: 'batch',
        id: 'b-7',
        prompt: 'Why?\nSay',
        options: { n: 2, temperature: 0.5, model: '', upstream: 'sim', maxTokens: 5, systemPrompt: '' }
      },
      { type: 'start', id: '1.1', upstream: 'sim', request: { max_tokens: 5 } }
    ]);
  });
});
