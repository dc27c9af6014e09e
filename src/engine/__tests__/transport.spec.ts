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

describe('attach (server-owned batches)', () => {
  const globals = globalThis as { WebSocket?: unknown };
  const saved = globals.WebSocket;
  beforeAll(() => {
    globals.WebSocket = saved ?? { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 };
  });
  afterAll(() => {
    globals.WebSocket = saved;
  });

  function connect() {
    const sent: string[] = [];
    const socket = {
      readyState: 1,
      binaryType: '',
      send: (text: string) => sent.push(text),
      close: () => undefined
    } as unknown as WebSocket & { onmessage: (event: { data: unknown }) => void };
    const calls: unknown[][] = [];
    const log =
      (name: string) =>
      (...args: unknown[]) =>
        calls.push([name, ...args]);
    const connection = new WebSocketBatchConnection(
      'ws://x',
      {
        onOpen: log('open'),
        onData: (id, bytes) => calls.push(['data', id, new TextDecoder().decode(bytes)]),
        onEnd: log('end'),
        onStopped: log('stopped'),
        onError: log('error'),
        onClose: log('close'),
        onAttached: log('attached'),
        onStarted: log('started'),
        onAttachFailed: log('attach-failed')
      },
      () => socket
    );
    const receive = (message: unknown) =>
      socket.onmessage({ data: message instanceof ArrayBuffer ? message : JSON.stringify(message) });
    return { sent, calls, connection, receive };
  }

  it('sends attach and reports attached, the replay and later starts in order', () => {
    const { sent, calls, connection, receive } = connect();
    connection.attach('b-1');
    expect(sent.map(t => JSON.parse(t))).toEqual([{ type: 'attach', batch: 'b-1' }]);
    const listed = {
      id: '1.1',
      upstream: 'sim',
      request: { seed: 3 },
      elapsed_ms: 812.5,
      first_byte_ms: 790,
      state: 'running'
    };
    receive({ type: 'attached', batch: 'b-1', responses: [listed] });
    receive({ type: 'open', id: '1.1', status: 200 });
    receive(frame(record('1.1', encoder.encode('data: {}\n\n'))));
    receive({ type: 'started', id: '2.2', upstream: 'sim', request: { seed: 4 }, elapsed_ms: 0 });
    receive({ type: 'stopped', id: '1.1' });
    expect(calls).toEqual([
      ['attached', 'b-1', [listed]],
      ['open', '1.1', 200],
      ['data', '1.1', 'data: {}\n\n'],
      ['started', '2.2', 'sim', { seed: 4 }],
      ['stopped', '1.1']
    ]);
  });

  it('reports unknown_batch as a failed attach (the socket stays), and later id-less errors as before', () => {
    const { calls, connection, receive } = connect();
    connection.attach('b-gone');
    const refusal = {
      type: 'error',
      id: null,
      code: 'unknown_batch',
      status: 404,
      batch: 'b-gone',
      message: "batch 'b-gone' is not running on the server (it ended, or the server restarted)"
    };
    receive(refusal);
    expect(calls).toEqual([['attach-failed', { message: refusal.message, status: 404, code: 'unknown_batch' }]]);
    // Not attaching any more: an id-less error is the reason of a close, not a failed attach.
    const spy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    receive({ type: 'error', id: null, code: 'bad_request', status: 400, message: 'no' });
    expect(spy).toHaveBeenCalled();
    spy.mockRestore();
    expect(calls).toHaveLength(1);
  });
});
