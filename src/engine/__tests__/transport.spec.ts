import { deflateSync, inflateSync } from 'zlib';
import { describeBatch } from '../protocol';
import { inflateDeflate, type Inflate } from '../inflate';
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

describe('the compressed replay of an attach', () => {
  const globals = globalThis as { WebSocket?: unknown };
  const saved = globals.WebSocket;
  beforeAll(() => {
    globals.WebSocket = saved ?? { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 };
  });
  afterAll(() => {
    globals.WebSocket = saved;
  });

  /** The SSE of one response, as the server forwarded it. */
  function sse(id: string, tokens: number): Uint8Array {
    let text = '';
    for (let i = 0; i < tokens; i++) {
      text += `data: {"id":"${id}","choices":[{"index":0,"delta":{"content":"word ${i} é "}}],"usage":{"completion_tokens":${i + 1}}}\n\n`;
    }
    return encoder.encode(text);
  }

  function listed(id: string, raw: Uint8Array | null) {
    return {
      id,
      upstream: 'sim',
      request: {},
      elapsed_ms: 100,
      first_byte_ms: 90,
      state: 'running',
      replay: raw ? { encoding: 'deflate', bytes: raw.length } : null
    };
  }

  function connect(inflate: Inflate = inflateDeflate) {
    // Every inflate under way, so a test can wait for them rather than for a guessed time.
    const pending = new Set<Promise<Uint8Array>>();
    const tracked: Inflate = bytes => {
      const inflated = inflate(bytes);
      pending.add(inflated);
      const forget = () => pending.delete(inflated);
      inflated.then(forget, forget);
      return inflated;
    };
    /** Every inflate under way has ended and what waited for it has run. */
    const settle = async () => {
      while (pending.size) {
        await Promise.allSettled([...pending]);
      }
      await turns();
    };
    const socket = {
      readyState: 1,
      binaryType: '',
      send: () => undefined,
      close: () => undefined
    } as unknown as WebSocket & {
      onmessage: (event: { data: unknown }) => void;
      onclose: (event: { code: number; reason: string }) => void;
    };
    const calls: unknown[][] = [];
    const log =
      (name: string) =>
      (...args: unknown[]) =>
        calls.push([name, ...args]);
    const connection = new WebSocketBatchConnection(
      'ws://x',
      {
        onOpen: log('open'),
        onData: (id, bytes, stats) =>
          calls.push(['data', id, new TextDecoder().decode(bytes), stats ? stats.wireBytes : null]),
        onEnd: log('end'),
        onStopped: log('stopped'),
        onError: (id, error) => calls.push(['error', id, error.code, error.message]),
        onClose: log('close'),
        onAttached: (batch, responses) => calls.push(['attached', batch, responses.map(r => r.id)])
      },
      () => socket,
      tracked
    );
    const receive = (message: unknown) =>
      socket.onmessage({ data: message instanceof ArrayBuffer ? message : JSON.stringify(message) });
    return { calls, connection, receive, socket, settle };
  }

  /** A few turns of the event loop: the promise chains after an inflate have run. */
  const turns = async () => {
    for (let i = 0; i < 5; i++) {
      await new Promise(resolve => setTimeout(resolve, 0));
    }
  };

  it("is inflated with the browser's DecompressionStream, byte-equal, then the live bytes follow in order", async () => {
    const { calls, connection, receive, settle } = connect();
    connection.attach('b-1');
    const one = sse('1.1', 300);
    const two = sse('2.1', 7);
    const oneZ = new Uint8Array(deflateSync(one));
    expect(oneZ.length).toBeLessThan(one.length / 5);
    receive({ type: 'attached', batch: 'b-1', responses: [listed('1.1', one), listed('2.1', two)] });
    receive({ type: 'open', id: '1.1', status: 200 });
    // The replay of 1.1, a live record of 1.1 in the same frame, then 2.1's replay and end.
    receive(frame(record('1.1', oneZ), record('1.1', encoder.encode('data: [DONE]\n\n'))));
    receive({ type: 'open', id: '2.1', status: 200 });
    receive(frame(record('2.1', new Uint8Array(deflateSync(two)))));
    receive({ type: 'end', id: '2.1' });
    receive({ type: 'end', id: '1.1' });
    // Until inflated, nothing of a replayed response after its open is delivered.
    expect(calls).toEqual([
      ['attached', 'b-1', ['1.1', '2.1']],
      ['open', '1.1', 200],
      ['open', '2.1', 200]
    ]);
    await settle();
    const of = (id: string) => calls.filter(c => c[1] === id);
    expect(of('1.1')).toEqual([
      ['open', '1.1', 200],
      ['data', '1.1', new TextDecoder().decode(one), oneZ.length],
      ['data', '1.1', 'data: [DONE]\n\n', null],
      ['end', '1.1']
    ]);
    expect(of('2.1').map(c => c[0])).toEqual(['open', 'data', 'end']);
    expect(of('2.1')[1][2]).toEqual(new TextDecoder().decode(two));
  });

  it('a corrupt or truncated replay fails that response alone, with a clear error; the others go on', async () => {
    const { calls, connection, receive, settle } = connect();
    connection.attach('b-2');
    const good = sse('1.1', 50);
    const cut = sse('2.1', 50);
    const bad = sse('3.1', 50);
    const cutZ = new Uint8Array(deflateSync(cut)).slice(0, 40); // truncated
    const badZ = new Uint8Array(deflateSync(bad));
    badZ[10] ^= 0xff; // corrupt
    badZ[11] ^= 0xff;
    receive({
      type: 'attached',
      batch: 'b-2',
      responses: [listed('1.1', good), listed('2.1', cut), listed('3.1', bad)]
    });
    receive(
      frame(
        record('1.1', new Uint8Array(deflateSync(good))),
        record('2.1', cutZ),
        record('3.1', badZ),
        record('2.1', encoder.encode('data: live\n\n'))
      )
    );
    receive({ type: 'end', id: '2.1' });
    receive(frame(record('1.1', encoder.encode('data: [DONE]\n\n'))));
    receive({ type: 'end', id: '1.1' });
    await settle();
    expect(calls.filter(c => c[1] === '1.1').map(c => c[0])).toEqual(['data', 'data', 'end']);
    const errors = calls.filter(c => c[0] === 'error');
    expect(errors.map(c => [c[1], c[2]])).toEqual(
      expect.arrayContaining([
        ['2.1', 'replay_corrupt'],
        ['3.1', 'replay_corrupt']
      ])
    );
    expect(errors).toHaveLength(2);
    for (const [, id, , message] of errors as string[][]) {
      expect(message).toMatch(
        new RegExp(
          `^The replay of response ${id.replace('.', '\\.')} from the server could not be read \\(its \\d+ compressed bytes are not a complete deflate stream: .+\\)\\.$`
        )
      );
    }
    // Nothing of a failed response is delivered after its error (its live bytes and end were dropped).
    expect(calls.filter(c => c[1] === '2.1').map(c => c[0])).toEqual(['error']);
  });

  it('a replay whose size or encoding differs from the announced one fails that response alone', async () => {
    const { calls, connection, receive, settle } = connect();
    connection.attach('b-3');
    const raw = sse('1.1', 20);
    const other = sse('2.1', 20);
    receive({
      type: 'attached',
      batch: 'b-3',
      responses: [
        { ...listed('1.1', raw), replay: { encoding: 'deflate', bytes: raw.length + 1 } },
        { ...listed('2.1', other), replay: { encoding: 'br', bytes: other.length } }
      ]
    });
    receive(frame(record('1.1', new Uint8Array(deflateSync(raw))), record('2.1', new Uint8Array(deflateSync(other)))));
    await settle();
    // Each fails on its own (in whichever order their inflates end).
    expect(calls.slice(1).sort((a, b) => String(a[1]).localeCompare(String(b[1])))).toEqual([
      [
        'error',
        '1.1',
        'replay_corrupt',
        `The replay of response 1.1 from the server could not be read (it inflates to ${raw.length} bytes, not the ${raw.length + 1} the server announced).`
      ],
      [
        'error',
        '2.1',
        'replay_corrupt',
        "The replay of response 2.1 from the server could not be read (its encoding 'br' is not one this page reads)."
      ]
    ]);
  });

  it('a socket closing while a replay is inflated reports the close after the replay', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>(resolve => (release = resolve));
    const raw = sse('1.1', 5);
    const { calls, connection, receive, socket, settle } = connect(async bytes => {
      await gate;
      return new Uint8Array(inflateSync(bytes));
    });
    connection.attach('b-4');
    receive({ type: 'attached', batch: 'b-4', responses: [listed('1.1', raw)] });
    receive(frame(record('1.1', new Uint8Array(deflateSync(raw)))));
    receive({ type: 'end', id: '1.1' });
    socket.onclose({ code: 1001, reason: 'going away' });
    await turns(); // the inflate is held: nothing may be delivered meanwhile
    expect(calls.map(c => c[0])).toEqual(['attached']);
    release();
    await settle();
    expect(calls.map(c => c[0])).toEqual(['attached', 'data', 'end', 'close']);
  });
});
