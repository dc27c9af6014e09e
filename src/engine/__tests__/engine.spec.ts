/**
 * The streaming engine without a browser: the host's throttled updates, the main thread's
 * mirror rebuilding the same state, the model over an engine that answers later (as the worker
 * does), and the worker engine's fallback when the worker cannot start.
 */
import { LIVE_SNAPSHOT_MS, ResponseMirror, ResponseStream, takeUpdate } from '../../core';
import { FanoutModel } from '../../model';
import type { IBatchConnection, IConnectionHandlers } from '../transport';
import {
  EngineRequest,
  EngineUpdate,
  localEngine,
  realTransports,
  SpareSockets,
  StreamEngineFactory,
  STOP_ANSWER_MS,
  StreamHost,
  workerEngine
} from '..';
import type { IWorkerLike } from '../remote';

const encoder = new TextEncoder();

function chunk(delta: Record<string, unknown>, finish: string | null = null): string {
  return `data: ${JSON.stringify({ model: 'sim', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
}

class FakeConnection implements IBatchConnection {
  constructor(readonly handlers: IConnectionHandlers) {}
  started: string[] = [];
  stopped: string[] = [];
  described: string[] = [];
  closed = false;
  describe(batchId: string, description: { prompt: string }): void {
    this.described.push(`${batchId}: ${description.prompt}`);
  }
  start(id: string): void {
    this.started.push(id);
  }
  stop(id: string): void {
    this.stopped.push(id);
  }
  close(): void {
    this.closed = true;
  }
}

/** A connector that opens {@link FakeConnection}s and keeps them, in order. */
function fakeConnector() {
  const connections: FakeConnection[] = [];
  const connect = (_transport: unknown, handlers: IConnectionHandlers) => {
    const connection = new FakeConnection(handlers);
    connections.push(connection);
    return connection;
  };
  return { connections, connect };
}

function start(batch: string, wire: string, startedAt = 0): Extract<EngineRequest, { type: 'start' }> {
  return {
    type: 'start',
    batch,
    wire,
    upstream: '',
    request: { messages: [] },
    transport: { kind: 'proxy', url: 'ws://x' },
    startedAt
  };
}

/** A stream and its mirror, both started at 0, sharing a clock set through `clock.now`. */
function streamAndMirror() {
  const clock = { now: 0 };
  const stream = new ResponseStream({ now: () => clock.now, trackNewText: true });
  const mirror = new ResponseMirror(() => clock.now);
  stream.start(0);
  mirror.begin(0);
  /** Feed `body` to the stream and carry the update across. */
  const feed = (body: string) => {
    stream.feed(encoder.encode(body));
    mirror.apply(takeUpdate(stream));
  };
  return { clock, stream, mirror, feed };
}

describe('ResponseMirror', () => {
  it('rebuilds the stream’s snapshot from updates taken at any points', () => {
    const body =
      chunk({ reasoning: 'Rayleigh ' }) +
      chunk({ reasoning: 'scattering.' }) +
      chunk({ content: 'Blue light ' }) +
      chunk({ content: 'scatters ' }) +
      chunk({ content: 'more.' }, 'stop') +
      'data: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":9}}\n\ndata: [DONE]\n\n';
    const bytes = encoder.encode(body);
    for (const step of [1, 7, 50, bytes.length]) {
      let now = 10;
      const stream = new ResponseStream({ now: () => now, trackNewText: true });
      const mirror = new ResponseMirror(() => now);
      stream.start(10);
      mirror.begin(10);
      for (let at = 0; at < bytes.length; at += step) {
        now += 5;
        stream.feed(bytes.subarray(at, at + step));
        mirror.apply(takeUpdate(stream));
      }
      stream.end();
      mirror.apply(takeUpdate(stream));
      expect(mirror.settled).toBe(true);
      expect(mirror.snapshot()).toEqual(stream.snapshot());
      expect(mirror.snapshot().reasoning).toBe('Rayleigh scattering.');
      expect(mirror.snapshot().content).toBe('Blue light scatters more.');
    }
  });

  it('computes live figures with its own clock between updates', () => {
    const { clock, mirror, feed } = streamAndMirror();
    clock.now = 100;
    feed(chunk({ content: 'a' }));
    clock.now = 1100; // no update for a second: a stalled stream still shows its time running
    expect(mirror.snapshot().metrics.elapsedMs).toBe(1100);
  });

  it('gives the same live snapshot while nothing arrives, for a frame at most', () => {
    const { clock, mirror, feed } = streamAndMirror();
    clock.now = 100;
    feed(chunk({ content: 'a' }));
    const first = mirror.snapshot();
    clock.now = 100 + LIVE_SNAPSHOT_MS - 1;
    expect(mirror.snapshot()).toBe(first); // (read again by each view at the same update)
    clock.now = 100 + LIVE_SNAPSHOT_MS;
    const later = mirror.snapshot();
    expect(later).not.toBe(first);
    expect(later.metrics.elapsedMs).toBe(100 + LIVE_SNAPSHOT_MS);
    // Anything that arrives is in the next snapshot at once.
    feed(chunk({ content: 'b' }));
    expect(mirror.snapshot().content).toBe('ab');
    // A clock that went back (another clock's reading) is not taken as within the frame.
    clock.now = 50;
    const back = mirror.snapshot();
    expect(back.metrics.elapsedMs).toBe(50);
  });

  it('shows a stop at once and lets the last update, with what arrived meanwhile, replace it', () => {
    const { clock, stream, mirror, feed } = streamAndMirror();
    feed(chunk({ content: 'one ' }));
    clock.now = 50;
    mirror.endHere('stopped', null, false);
    expect(mirror.ended).toBe(true);
    expect(mirror.settled).toBe(false);
    expect(mirror.snapshot().status).toBe('stopped');
    expect(mirror.snapshot().metrics.endedAt).toBe(50);
    // Bytes that were already on their way when the stop was asked for:
    feed(chunk({ content: 'two' }));
    expect(mirror.snapshot().status).toBe('stopped');
    clock.now = 60;
    stream.stop();
    mirror.apply(takeUpdate(stream));
    expect(mirror.settled).toBe(true);
    expect(mirror.snapshot().content).toBe('one two');
    expect(mirror.snapshot().metrics.endedAt).toBe(60);
  });

  it('shows complete when the response completed before the stop reached it', () => {
    const { mirror, feed } = streamAndMirror();
    mirror.endHere('stopped', null, false);
    feed(chunk({ content: 'all' }, 'stop') + 'data: [DONE]\n\n');
    expect(mirror.snapshot().status).toBe('complete');
    expect(mirror.snapshot().content).toBe('all');
  });

  it('takes nothing after ending here for good', () => {
    const { mirror, feed } = streamAndMirror();
    feed(chunk({ content: 'kept' }));
    mirror.endHere('error', { message: 'worker gone', code: 'engine' }, true);
    feed(chunk({ content: ' lost' }));
    expect(mirror.snapshot()).toMatchObject({ status: 'error', content: 'kept', error: { message: 'worker gone' } });
  });

  it('refuses takeNewText on a stream that does not track it', () => {
    expect(() => new ResponseStream().takeNewText()).toThrow(/trackNewText/);
  });
});

describe('StreamHost', () => {
  function makeHost(interval: number, busy?: { running: number; interval: number }) {
    let now = 0;
    const timers: Array<{ callback: () => void; ms: number }> = [];
    const sent: EngineUpdate[][] = [];
    const { connections, connect } = fakeConnector();
    const host = new StreamHost({
      connect,
      send: updates => sent.push(updates),
      now: () => now,
      interval,
      busy,
      setTimer: (callback, ms) => timers.push({ callback, ms })
    });
    const tick = (ms: number) => {
      now += ms;
    };
    const runTimers = () => timers.splice(0).forEach(t => t.callback());
    return { host, sent, connections, timers, tick, runTimers };
  }

  it('sends the first change at once and then at most one update per response per interval', () => {
    const { host, sent, connections, timers, tick, runTimers } = makeHost(16);
    host.handle(start('b', '1.1'));
    host.handle(start('b', '2.1'));
    expect(connections).toHaveLength(1);
    expect(connections[0].started).toEqual(['1.1', '2.1']);
    const { handlers } = connections[0];
    handlers.onData('1.1', encoder.encode(chunk({ content: 'a' })));
    expect(timers[0].ms).toBe(0);
    runTimers();
    expect(sent).toHaveLength(1);
    tick(4);
    for (const letter of 'bcdef') {
      handlers.onData('1.1', encoder.encode(chunk({ content: letter })));
      handlers.onData('2.1', encoder.encode(chunk({ content: letter.toUpperCase() })));
    }
    expect(timers).toHaveLength(1);
    expect(timers[0].ms).toBe(12);
    tick(12);
    runTimers();
    expect(sent).toHaveLength(2);
    expect(sent[1].map(([batch, wire, update]) => [batch, wire, update.contentAppend])).toEqual([
      ['b', '1.1', 'bcdef'],
      ['b', '2.1', 'BCDEF']
    ]);
  });

  it('sends less often while more than busy.running responses run, and as often again once fewer do', () => {
    const { host, sent, connections, timers, tick, runTimers } = makeHost(16, { running: 2, interval: 50 });
    for (const wire of ['1.1', '2.1', '3.1']) {
      host.handle(start('b', wire));
    }
    const { handlers } = connections[0];
    handlers.onData('1.1', encoder.encode(chunk({ content: 'a' })));
    runTimers();
    expect(sent).toHaveLength(1);
    tick(4);
    handlers.onData('2.1', encoder.encode(chunk({ content: 'b' })));
    // Three running, more than two: 50 ms after the last send, not 16.
    expect(timers.map(t => t.ms)).toEqual([46]);
    tick(46);
    runTimers();
    expect(sent).toHaveLength(2);
    // One ends: its final update goes out at the busy pace (it was still running)...
    handlers.onData('3.1', encoder.encode(chunk({ content: 'c' }, 'stop') + 'data: [DONE]\n\n'));
    handlers.onEnd('3.1');
    expect(timers.map(t => t.ms)).toEqual([50]);
    tick(50);
    runTimers();
    expect(sent[2].map(([, wire, update]) => [wire, update.final])).toEqual([['3.1', true]]);
    // ...and with two left running, changes go out every 16 ms again.
    handlers.onData('1.1', encoder.encode(chunk({ content: 'd' })));
    expect(timers.map(t => t.ms)).toEqual([16]);
  });

  it('stops a response on its connection, keeps what was forwarded before the stop, and frees its stream', () => {
    const { host, sent, connections } = makeHost(0);
    host.handle(start('b', '1.1'));
    connections[0].handlers.onData('1.1', encoder.encode(chunk({ content: 'so far' })));
    host.handle({ type: 'stop', batch: 'b', wire: '1.1' });
    expect(connections[0].stopped).toEqual(['1.1']);
    // Not ended until the connection answers: bytes the server forwarded before the stop are kept.
    expect(sent[sent.length - 1][0][2]).toMatchObject({ final: false });
    connections[0].handlers.onData('1.1', encoder.encode(chunk({ content: ' in flight' })));
    expect(sent[sent.length - 1][0][2]).toMatchObject({ final: false, contentAppend: ' in flight' });
    connections[0].handlers.onStopped('1.1');
    expect(sent[sent.length - 1][0][2]).toMatchObject({ status: 'stopped', final: true });
    // Late bytes after the answer are dropped, and a second stop does nothing.
    const count = sent.length;
    connections[0].handlers.onData('1.1', encoder.encode(chunk({ content: 'late' })));
    host.handle({ type: 'stop', batch: 'b', wire: '1.1' });
    expect(sent).toHaveLength(count);
    expect(connections[0].stopped).toEqual(['1.1']);
  });

  it('stops a response here when the connection does not answer the stop in time', () => {
    const { host, sent, connections, timers, runTimers } = makeHost(0);
    host.handle(start('b', '1.1'));
    connections[0].handlers.onData('1.1', encoder.encode(chunk({ content: 'so far' })));
    host.handle({ type: 'stop', batch: 'b', wire: '1.1' });
    host.handle({ type: 'stop', batch: 'b', wire: '1.1' });
    expect(connections[0].stopped).toEqual(['1.1']);
    expect(timers.map(t => t.ms)).toEqual([STOP_ANSWER_MS]);
    runTimers();
    expect(sent[sent.length - 1][0][2]).toMatchObject({ status: 'stopped', final: true });
  });

  it('a response being stopped is stopped, not failed, when its connection closes first', () => {
    const { host, sent, connections } = makeHost(0);
    host.handle(start('b', '1.1'));
    host.handle(start('b', '2.1'));
    connections[0].handlers.onData('1.1', encoder.encode(chunk({ content: 'a' })));
    connections[0].handlers.onData('2.1', encoder.encode(chunk({ content: 'b' })));
    host.handle({ type: 'stop', batch: 'b', wire: '1.1' });
    connections[0].handlers.onClose(null);
    const finals = new Map(
      sent
        .flat()
        .filter(([, , u]) => u.final)
        .map(([, wire, u]) => [wire, u])
    );
    expect(finals.get('1.1')).toMatchObject({ status: 'stopped', error: null });
    expect(finals.get('2.1')).toMatchObject({ status: 'error', error: { code: 'connection' } });
  });

  it('describes the batch once on each connection it opens, before the first start', () => {
    const { host, connections } = makeHost(0);
    const describe = { prompt: 'p', options: { n: 2 } };
    host.handle({ ...start('b', '1.1'), describe });
    host.handle({ ...start('b', '2.1'), describe });
    expect(connections[0].described).toEqual(['b: p']);
    host.handle({ type: 'close', batch: 'b' });
    host.handle({ ...start('b', '1.2'), describe });
    expect(connections[1].described).toEqual(['b: p']);
    host.handle(start('c', '1.1'));
    expect(connections[2].described).toEqual([]);
  });

  it('fails only the responses that ran on a connection that closed', () => {
    const { host, sent, connections } = makeHost(0);
    host.handle(start('b', '1.1'));
    host.handle({ type: 'close', batch: 'b' });
    expect(connections[0].closed).toBe(true);
    host.handle(start('b', '1.2'));
    expect(connections).toHaveLength(2);
    sent.length = 0;
    connections[0].handlers.onClose({ message: 'gone', code: 'connection' });
    expect(sent).toHaveLength(0);
    connections[1].handlers.onClose({ message: 'server went away', code: 'connection' });
    expect(sent[0][0][1]).toBe('1.2');
    expect(sent[0][0][2]).toMatchObject({ status: 'error', error: { message: 'server went away' }, final: true });
  });
});

describe('FanoutModel over an engine that answers later', () => {
  /** An engine like the worker: requests and updates pass through queues. */
  function deferredEngine() {
    const toEngine: EngineRequest[] = [];
    const requests: EngineRequest[] = [];
    const toModel: EngineUpdate[][] = [];
    let fail: (message: string) => void = () => undefined;
    const { connections, connect } = fakeConnector();
    const host = new StreamHost({
      connect,
      send: updates => toModel.push(updates),
      now: () => 0,
      interval: 0,
      // The stop fallback has its own test above; here no 2-second timer is left behind.
      setTimer: () => 0,
      clearTimer: () => undefined
    });
    let deliver: (updates: EngineUpdate[]) => void = () => undefined;
    const factory: StreamEngineFactory = (onUpdates, onFailure) => {
      deliver = onUpdates;
      fail = onFailure;
      return {
        send: request => {
          requests.push(request);
          toEngine.push(request);
        },
        dispose: () => undefined
      };
    };
    const pump = () => {
      while (toEngine.length || toModel.length) {
        toEngine.splice(0).forEach(request => host.handle(request));
        toModel.splice(0).forEach(updates => deliver(updates));
      }
    };
    return { factory, pump, connections, requests, fail: (message: string) => fail(message) };
  }

  const options = { prompt: 'p', n: 2, model: '', upstream: '', maxTokens: 10, temperature: 0, systemPrompt: '' };

  it('shows a stop at once and resolves the batch with the text that arrived before the stop reached the engine', async () => {
    const engine = deferredEngine();
    const model = new FanoutModel({ engine: engine.factory, now: () => 0, schedule: () => undefined, lingerMs: 0 });
    const { batch, done } = model.generate(options);
    engine.pump();
    const handlers = engine.connections[0].handlers;
    handlers.onData('1.1', encoder.encode(chunk({ content: 'first ' })));
    engine.pump();
    model.stop(batch.id);
    expect(batch.responses.map(r => r.snapshot().status)).toEqual(['stopped', 'stopped']);
    expect(batch.active).toBe(false);
    // Still in flight when the user clicked:
    handlers.onData('1.1', encoder.encode(chunk({ content: 'second' })));
    let resolved = false;
    void done.then(() => (resolved = true));
    await Promise.resolve();
    expect(resolved).toBe(false);
    engine.pump();
    // The stops reached the connection; the server answers them.
    expect(resolved).toBe(false);
    handlers.onStopped('1.1');
    handlers.onStopped('2.1');
    engine.pump();
    const summary = await done;
    expect(summary.responses[0]).toMatchObject({ status: 'stopped', content: 'first second' });
    expect(engine.connections[0].stopped).toEqual(['1.1', '2.1']);
    expect(engine.connections[0].closed).toBe(true);
  });

  it('asks for a spare socket when created and once a batch has ended, never while a batch starts', async () => {
    const engine = deferredEngine();
    const model = new FanoutModel({ engine: engine.factory, now: () => 0, schedule: () => undefined, lingerMs: 0 });
    const { done } = model.generate(options);
    engine.pump();
    expect(engine.requests.map(r => r.type)).toEqual(['prepare', 'start', 'start']);
    const end = encoder.encode(chunk({ content: 'x' }, 'stop') + 'data: [DONE]\n\n');
    engine.connections[0].handlers.onData('1.1', end);
    engine.pump();
    expect(engine.requests.map(r => r.type)).toEqual(['prepare', 'start', 'start']); // one still runs
    engine.connections[0].handlers.onData('2.1', end);
    engine.pump();
    await done;
    expect(engine.requests.map(r => r.type)).toEqual(['prepare', 'start', 'start', 'close', 'prepare']);
  });

  it('re-generates a response stopped a moment ago without waiting for its last update', async () => {
    const engine = deferredEngine();
    const model = new FanoutModel({ engine: engine.factory, now: () => 0, schedule: () => undefined, lingerMs: 0 });
    const { batch } = model.generate(options);
    engine.pump();
    model.stop(batch.id, '1');
    const again = model.regenerate(batch.id, '1');
    engine.pump();
    expect(engine.connections[0].started).toEqual(['1.1', '2.1', '1.2']);
    // The old attempt's last update came after the new attempt began: it is not applied to it.
    expect(batch.responses[0].snapshot().status).toBe('connecting');
    engine.connections[0].handlers.onData(
      '1.2',
      encoder.encode(chunk({ content: 'new' }, 'stop') + 'data: [DONE]\n\n')
    );
    engine.pump();
    await expect(again).resolves.toMatchObject({ attempt: 2, status: 'complete', content: 'new' });
  });

  it('ends every running response with an error, keeping its text, when the engine fails', async () => {
    const engine = deferredEngine();
    const model = new FanoutModel({ engine: engine.factory, now: () => 0, schedule: () => undefined, lingerMs: 0 });
    const { done } = model.generate(options);
    engine.pump();
    engine.connections[0].handlers.onData('2.1', encoder.encode(chunk({ content: 'partial' })));
    engine.pump();
    engine.fail('The browser’s streaming worker failed (boom).');
    const summary = await done;
    expect(summary.responses.map(r => r.status)).toEqual(['error', 'error']);
    expect(summary.responses[1]).toMatchObject({ content: 'partial', error: { code: 'engine' } });
  });
});

describe('workerEngine', () => {
  class FakeWorker implements IWorkerLike {
    onmessage: ((event: MessageEvent) => void) | null = null;
    onerror: ((event: ErrorEvent) => void) | null = null;
    posted: unknown[] = [];
    terminated = false;
    postMessage(message: unknown): void {
      this.posted.push(message);
    }
    terminate(): void {
      this.terminated = true;
    }
    emit(data: unknown): void {
      this.onmessage?.({ data } as MessageEvent);
    }
  }

  function fallbackRecorder() {
    const handled: EngineRequest[] = [];
    const factory: StreamEngineFactory = () => ({ send: r => handled.push(r), dispose: () => undefined });
    return { handled, factory };
  }

  it('sends init first, then requests, and passes updates on', () => {
    const worker = new FakeWorker();
    const { factory } = fallbackRecorder();
    const received: EngineUpdate[][] = [];
    const engine = workerEngine({ createWorker: () => worker, timeOrigin: 123, fallback: factory })(
      u => received.push(u),
      () => undefined
    );
    engine.send(start('b', '1.1'));
    expect(worker.posted[0]).toEqual({ type: 'init', timeOrigin: 123 });
    expect(worker.posted[1]).toMatchObject({ type: 'start', wire: '1.1' });
    worker.emit({ type: 'ready' });
    worker.emit({ type: 'updates', updates: [['b', '1.1', { status: 'generating' }]] });
    expect(received).toHaveLength(1);
    engine.dispose();
    expect(worker.terminated).toBe(true);
  });

  it('streams in place, replaying what was asked, when the worker cannot be created or fails to start', () => {
    for (const failure of ['throws', 'error-before-ready'] as const) {
      const worker = new FakeWorker();
      const { handled, factory } = fallbackRecorder();
      const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
      const engine = workerEngine({
        createWorker: () => {
          if (failure === 'throws') {
            throw new Error('blocked by the content security policy');
          }
          return worker;
        },
        timeOrigin: 0,
        fallback: factory
      })(
        () => undefined,
        () => undefined
      );
      engine.send(start('b', '1.1'));
      if (failure === 'error-before-ready') {
        worker.onerror?.({ message: 'script failed to load' } as ErrorEvent);
        expect(worker.terminated).toBe(true);
      }
      engine.send(start('b', '2.1'));
      expect(handled.map(r => (r as { wire: string }).wire)).toEqual(['1.1', '2.1']);
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/streaming on the main thread instead/));
      warn.mockRestore();
    }
  });

  it('reports a worker that fails after it started as the engine failing', () => {
    const worker = new FakeWorker();
    const failures: string[] = [];
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    workerEngine({ createWorker: () => worker, timeOrigin: 0, fallback: fallbackRecorder().factory })(
      () => undefined,
      message => failures.push(message)
    );
    worker.emit({ type: 'ready' });
    worker.onerror?.({ message: 'out of memory' } as ErrorEvent);
    expect(failures).toEqual([expect.stringMatching(/out of memory/)]);
    error.mockRestore();
  });
});

describe('localEngine', () => {
  it('runs the host in place and sends each change at once', () => {
    const { connections, connect } = fakeConnector();
    const received: EngineUpdate[][] = [];
    const engine = localEngine(connect, () => 0)(
      u => received.push(u),
      () => undefined
    );
    engine.send(start('b', '1.1'));
    connections[0].handlers.onData('1.1', encoder.encode(chunk({ content: 'x' })));
    expect(received).toHaveLength(1);
    engine.dispose();
    expect(connections[0].closed).toBe(true);
    expect(received[1][0][2]).toMatchObject({ status: 'stopped', final: true });
  });
});

describe('SpareSockets', () => {
  class FakeSocket {
    static opened: FakeSocket[] = [];
    constructor(readonly url: string) {
      FakeSocket.opened.push(this);
    }
    readyState = 0; // CONNECTING
    onclose: (() => void) | null = null;
    closed = false;
    close(): void {
      this.closed = true;
      this.readyState = 3;
    }
  }
  const open = (url: string) => new FakeSocket(url) as unknown as WebSocket;
  (globalThis as any).WebSocket ??= { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 };

  beforeEach(() => (FakeSocket.opened = []));

  it('hands a new batch the socket opened ahead of time, and opens no other while the batch starts', () => {
    const spares = new SpareSockets(open);
    spares.prepare('ws://lab/fanout/batch');
    spares.prepare('ws://lab/fanout/batch'); // one spare per URL
    expect(FakeSocket.opened).toHaveLength(1);
    FakeSocket.opened[0].readyState = 1;
    const taken = spares.take('ws://lab/fanout/batch');
    expect(taken).toBe(FakeSocket.opened[0]);
    expect(FakeSocket.opened).toHaveLength(1); // the next spare waits for `prepare`
    const second = spares.take('ws://lab/fanout/batch'); // no spare: a socket of its own
    expect(second).toBe(FakeSocket.opened[1]);
    spares.prepare('ws://lab/fanout/batch');
    expect(spares.take('ws://lab/fanout/batch')).toBe(FakeSocket.opened[2]); // still connecting: usable
  });

  it('drops a spare that closed while idle, and opens a fresh socket for the next batch without looping', () => {
    const spares = new SpareSockets(open);
    spares.prepare('ws://lab/fanout/batch');
    const spare = FakeSocket.opened[0];
    spare.readyState = 3;
    spare.onclose?.();
    expect(FakeSocket.opened).toHaveLength(1); // not reopened on its own
    const taken = spares.take('ws://lab/fanout/batch');
    expect(taken).not.toBe(spare);
    expect(FakeSocket.opened).toHaveLength(2); // the batch's own socket
    spares.prepare('ws://lab/fanout/batch');
    spares.dispose();
    expect(FakeSocket.opened[2].closed).toBe(true);
  });

  it('opens no spare for direct mode', () => {
    const transports = realTransports(new SpareSockets(open));
    transports.prepare({ kind: 'direct', baseUrl: 'https://gpu.example/v1' });
    expect(FakeSocket.opened).toHaveLength(0);
    transports.prepare({ kind: 'proxy', url: 'ws://lab/fanout/batch' });
    expect(FakeSocket.opened).toHaveLength(1);
  });
});
