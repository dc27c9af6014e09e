/**
 * Server-owned batches, browser side, without a DOM or a server: a fake server keeps each
 * batch's bytes and subscribers as docs/protocol.md says (attach with a replay, `started` to the
 * other subscribers, `stopped` to all), and models play the tabs.
 */
import type { Batch } from '../batch';
import { getBatchSummary } from '../../commands/history';

// The commands module shows notifications; none is shown here.
jest.mock('@jupyterlab/apputils', () => ({ Notification: { error: jest.fn(), warning: jest.fn() } }));
import { FanoutModel, LINGER_MS } from '../model';
import { storedSummary } from '../stored';
import { storedSnapshot } from '../reattach';
import type { IGenerateOptions, IStoredBatch } from '../../tokens';
import {
  EngineEvent,
  EngineUpdate,
  IAttachedWire,
  IBatchConnection,
  IConnectionHandlers,
  StreamHost
} from '../../engine';

const encoder = new TextEncoder();

function chunk(delta: Record<string, unknown>, finish: string | null = null): string {
  return `data: ${JSON.stringify({ model: 'sim', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
}

interface IWire {
  upstream: string;
  request: Record<string, unknown>;
  startedAt: number;
  firstByteAt: number | null;
  bytes: string;
  opened: boolean;
  ended: 'end' | 'stopped' | null;
}

/** The server's registry of batches, each with its subscribers (one per socket). */
class FakeServer {
  clock = 10_000;
  batches = new Map<string, { subscribers: Set<FakeSocket>; wires: Map<string, IWire> }>();
  /** Attaches waiting for {@link answerAttaches}. */
  pendingAttaches: Array<() => void> = [];
  deferAttach = false;

  join(batchId: string, socket: FakeSocket): void {
    let batch = this.batches.get(batchId);
    if (!batch) {
      batch = { subscribers: new Set(), wires: new Map() };
      this.batches.set(batchId, batch);
    }
    batch.subscribers.add(socket);
    socket.batch = batchId;
  }

  attach(batchId: string, socket: FakeSocket): void {
    const answer = () => {
      const batch = this.batches.get(batchId);
      if (!batch) {
        socket.handlers.onAttachFailed!({
          code: 'unknown_batch',
          status: 404,
          message: `batch '${batchId}' is not running on the server (it ended, or the server restarted)`
        });
        return;
      }
      this.join(batchId, socket);
      const responses: IAttachedWire[] = [...batch.wires].map(([id, w]) => ({
        id,
        upstream: w.upstream,
        request: w.request,
        elapsed_ms: this.clock - w.startedAt,
        first_byte_ms: w.firstByteAt === null ? null : this.clock - w.firstByteAt,
        state: w.ended ? 'ended' : 'running',
        replay: w.bytes ? { encoding: 'deflate', bytes: encoder.encode(w.bytes).length } : null
      }));
      socket.handlers.onAttached!(batchId, responses);
      for (const [id, w] of batch.wires) {
        if (w.opened) {
          socket.handlers.onOpen(id, 200);
        }
        if (w.bytes) {
          socket.handlers.onData(id, encoder.encode(w.bytes));
        }
        if (w.ended === 'end') {
          socket.handlers.onEnd(id);
        } else if (w.ended === 'stopped') {
          socket.handlers.onStopped(id);
        }
      }
    };
    if (this.deferAttach) {
      this.pendingAttaches.push(answer);
    } else {
      answer();
    }
  }

  answerAttaches(): void {
    this.pendingAttaches.splice(0).forEach(answer => answer());
  }

  subscribers(batchId: string): FakeSocket[] {
    return [...(this.batches.get(batchId)?.subscribers ?? [])];
  }

  start(from: FakeSocket, id: string, upstream: string, request: Record<string, unknown>): void {
    const batch = this.batches.get(from.batch!)!;
    batch.wires.set(id, {
      upstream,
      request,
      startedAt: this.clock,
      firstByteAt: null,
      bytes: '',
      opened: false,
      ended: null
    });
    for (const socket of batch.subscribers) {
      if (socket !== from) {
        socket.handlers.onStarted!(id, upstream, request);
      }
    }
  }

  /** The upstream sends `text` for response `id`. */
  send(batchId: string, id: string, text: string): void {
    const wire = this.batches.get(batchId)!.wires.get(id)!;
    const first = !wire.opened;
    wire.opened = true;
    wire.firstByteAt ??= this.clock;
    wire.bytes += text;
    for (const socket of this.subscribers(batchId)) {
      if (first) {
        socket.handlers.onOpen(id, 200);
      }
      socket.handlers.onData(id, encoder.encode(text));
    }
  }

  end(batchId: string, id: string): void {
    this.batches.get(batchId)!.wires.get(id)!.ended = 'end';
    this.subscribers(batchId).forEach(s => s.handlers.onEnd(id));
  }

  stop(batchId: string, id: string): void {
    const wire = this.batches.get(batchId)!.wires.get(id)!;
    if (wire.ended) {
      return;
    }
    wire.ended = 'stopped';
    this.subscribers(batchId).forEach(s => s.handlers.onStopped(id));
  }
}

class FakeSocket implements IBatchConnection {
  constructor(
    private readonly _server: FakeServer,
    readonly handlers: IConnectionHandlers
  ) {}
  batch: string | null = null;
  sent: string[] = [];
  /** The batches named by a `batch` message (a start's, or a watch's). */
  described: string[] = [];
  closed = false;
  describe(batchId: string): void {
    this.described.push(batchId);
    this._server.join(batchId, this);
  }
  attach(batchId: string): void {
    this.sent.push(`attach ${batchId}`);
    this._server.attach(batchId, this);
  }
  start(id: string, upstream: string, request: Record<string, unknown>): void {
    this.sent.push(`start ${id}`);
    this._server.start(this, id, upstream, request);
  }
  stop(id: string): void {
    this.sent.push(`stop ${id}`);
    if (this.batch) {
      this._server.stop(this.batch, id);
    }
  }
  close(): void {
    this.closed = true;
    // Only unsubscribes: the batch goes on.
    if (this.batch) {
      this._server.batches.get(this.batch)?.subscribers.delete(this);
    }
  }
}

const options: IGenerateOptions = {
  prompt: 'Why is the sky blue?',
  n: 2,
  model: '',
  upstream: 'simulator',
  maxTokens: 256,
  temperature: 0.5,
  systemPrompt: ''
};

/** A tab: a model over sockets to `server`, with timers it runs on demand. */
function tab(server: FakeServer, storedBatch?: (id: string) => Promise<IStoredBatch>, lingerMax?: number) {
  const sockets: FakeSocket[] = [];
  let seed = 500;
  let nextTimer = 0;
  /** Pending timers by handle: what they run, after how long. */
  const timers = new Map<number, { callback: () => void; ms: number }>();
  const model = new FanoutModel({
    connect: handlers => {
      const socket = new FakeSocket(server, handlers);
      sockets.push(socket);
      return socket;
    },
    now: () => server.clock,
    schedule: () => undefined,
    nextSeed: () => seed++,
    storedBatch,
    lingerMax,
    setTimer: (callback, ms) => {
      timers.set(++nextTimer, { callback, ms });
      return nextTimer;
    },
    clearTimer: handle => timers.delete(handle as number)
  });
  /** Run every pending timer (as if their time had passed). */
  const runTimers = () => {
    const due = [...timers.values()];
    timers.clear();
    due.forEach(t => t.callback());
  };
  return { model, sockets, timers, runTimers };
}

/** A tab that generated a batch, streamed part of it, and was saved (as the page saves on a reload). */
function reloadMidBatch(server: FakeServer) {
  const first = tab(server);
  const { batch } = first.model.generate(options);
  server.clock += 100;
  server.send(batch.id, '1.1', chunk({ content: 'Rayleigh ' }));
  server.send(batch.id, '2.1', chunk({ reasoning: 'Think. ' }));
  server.clock += 50;
  server.send(batch.id, '1.1', chunk({ content: 'scattering' }));
  const saved = JSON.parse(JSON.stringify(first.model.save()));
  // The page goes away: its socket closes, which only unsubscribes it.
  first.sockets.forEach(s => s.close());
  return { batchId: batch.id, saved };
}

describe('reattaching after a reload', () => {
  it('shows the saved text as reconnecting, then the replay and the live rest; nothing lost or repeated', async () => {
    const server = new FakeServer();
    const { batchId, saved } = reloadMidBatch(server);
    server.clock += 1000;
    server.send(batchId, '1.1', chunk({ content: ' while away' })); // while no tab was attached
    server.deferAttach = true;

    const second = tab(server);
    second.model.restore(saved);
    const batch = second.model.getBatch(batchId)!;
    expect(second.sockets[0].sent).toEqual([`attach ${batchId}`]);
    expect(batch.active).toBe(true);
    expect(batch.responses.map(r => r.reconnecting)).toEqual([true, true]);
    expect(batch.responses[0].snapshot().content).toBe('Rayleigh scattering');
    expect(batch.responses[0].snapshot().status).toBe('generating');

    server.answerAttaches();
    expect(batch.responses.map(r => r.reconnecting)).toEqual([false, false]);
    expect(batch.responses[0].snapshot().content).toBe('Rayleigh scattering while away');
    expect(batch.responses[1].snapshot().reasoning).toBe('Think. ');
    // TTFT counts from the first byte on the server, not from the replay.
    expect(batch.responses[0].snapshot().metrics.ttftMs).toBe(100);
    expect(batch.responses[0].snapshot().metrics.elapsedMs).toBe(1150);

    server.send(batchId, '1.1', chunk({ content: '.' }, 'stop') + 'data: [DONE]\n\n');
    server.end(batchId, '1.1');
    server.send(batchId, '2.1', chunk({ content: 'Blue.' }, 'stop') + 'data: [DONE]\n\n');
    server.end(batchId, '2.1');
    const summary = second.model.getBatch(batchId)!.responses[1].snapshot();
    expect(summary.status).toBe('complete');
    expect(batch.responses.map(r => r.snapshot().content)).toEqual(['Rayleigh scattering while away.', 'Blue.']);
    expect(batch.responses.map(r => r.attempt)).toEqual([1, 1]);
    expect(batch.active).toBe(false);
    // Ended: its socket lingers (to hear of other tabs' re-generates), then closes (unsubscribed).
    expect(second.sockets[0].closed).toBe(false);
    expect(second.model.lingering).toEqual([batchId]);
    expect([...second.timers.values()].map(t => t.ms)).toEqual([LINGER_MS]);
    second.runTimers();
    expect(second.sockets[0].closed).toBe(true);
    expect(second.model.lingering).toEqual([]);
    // Nothing was stopped.
    expect(second.sockets.flatMap(s => s.sent).filter(m => m.startsWith('stop'))).toEqual([]);
  });

  it('a response that ended while the page was away comes back complete from the replay', () => {
    const server = new FakeServer();
    const { batchId, saved } = reloadMidBatch(server);
    server.send(batchId, '2.1', chunk({ content: 'Done.' }, 'stop') + 'data: [DONE]\n\n');
    server.end(batchId, '2.1');
    const second = tab(server);
    second.model.restore(saved);
    const batch = second.model.getBatch(batchId)!;
    expect(batch.responses[1].snapshot().status).toBe('complete');
    expect(batch.responses[1].snapshot().content).toBe('Done.');
    expect(batch.responses[0].snapshot().status).toBe('generating');
    expect(batch.active).toBe(true);
  });

  it('Stop while reconnecting reaches the server, and the response ends stopped with all its text', () => {
    const server = new FakeServer();
    const { batchId, saved } = reloadMidBatch(server);
    server.deferAttach = true;
    const second = tab(server);
    second.model.restore(saved);
    second.model.stop(batchId, '1');
    const response = second.model.getBatch(batchId)!.responses[0];
    expect(response.snapshot().status).toBe('stopped');
    expect(response.snapshot().content).toBe('Rayleigh scattering');
    expect(second.sockets[0].sent).toEqual([`attach ${batchId}`, 'stop 1.1']);
    server.answerAttaches();
    expect(response.snapshot().status).toBe('stopped');
    expect(response.snapshot().content).toBe('Rayleigh scattering');
    expect(response.reconnecting).toBe(false);
  });

  it('closing the page (dispose) stops nothing: the batch runs on', () => {
    const server = new FakeServer();
    const first = tab(server);
    const { batch } = first.model.generate(options);
    first.model.dispose();
    expect(first.sockets[0].sent).toEqual(['start 1.1', 'start 2.1']);
    expect([...server.batches.get(batch.id)!.wires.values()].map(w => w.ended)).toEqual([null, null]);
  });
});

describe('a batch the server no longer runs', () => {
  const stored = (batchId: string): IStoredBatch => ({
    id: batchId,
    title: 't',
    created_at: 1,
    updated_at: 2,
    models: ['sim'],
    n: 2,
    counts: { complete: 1, stopped: 1 },
    prompt: options.prompt,
    options: {},
    responses: [
      {
        id: '1',
        status: 'complete',
        model: 'sim',
        upstream: 'simulator',
        attempts: [
          {
            attempt: 1,
            upstream: 'simulator',
            model: 'sim',
            request: { seed: 500 },
            status: 'complete',
            error: null,
            finish_reason: 'stop',
            text: 'Rayleigh scattering, all of it.',
            reasoning: '',
            usage: { prompt_tokens: 9, completion_tokens: 6 },
            metrics: { ttft: 0.1, elapsed: 2.5, tokens_per_second: 2.5 },
            started_at: 1,
            ended_at: 3.5
          }
        ]
      },
      {
        id: '2',
        status: 'stopped',
        model: 'sim',
        upstream: 'simulator',
        attempts: [
          {
            attempt: 1,
            upstream: 'simulator',
            model: 'sim',
            request: { seed: 501 },
            status: 'stopped',
            error: { code: 'detached_timeout', message: 'no tab was attached for 600 s' },
            finish_reason: null,
            text: '',
            reasoning: 'Think. Think more.',
            usage: null,
            metrics: { elapsed: 600 },
            started_at: 1,
            ended_at: 601
          }
        ]
      }
    ]
  });

  it('takes each response’s final state from the store', async () => {
    const server = new FakeServer();
    const { batchId, saved } = reloadMidBatch(server);
    server.batches.delete(batchId); // ended and dropped, or the server restarted
    const asked: string[] = [];
    const second = tab(server, async id => {
      asked.push(id);
      return stored(id);
    });
    second.model.restore(saved);
    const batch = second.model.getBatch(batchId)!;
    expect(batch.responses.map(r => r.reconnecting)).toEqual([true, true]);
    const summary = await (batch as Batch).done.promise;
    expect(asked).toEqual([batchId]);
    expect(summary.responses.map(r => [r.status, r.content, r.reasoning])).toEqual([
      ['complete', 'Rayleigh scattering, all of it.', ''],
      ['stopped', '', 'Think. Think more.']
    ]);
    expect(summary.responses[0].totalTokens).toBe(6);
    expect(summary.responses[0].promptTokens).toBe(9);
    expect(summary.responses[0].metrics.ttftMs).toBe(100);
    expect(summary.responses[1].error).toEqual({ message: 'no tab was attached for 600 s', code: 'detached_timeout' });
    expect(batch.responses.map(r => r.reconnecting)).toEqual([false, false]);
  });

  it('comes back incomplete with the saved text and both reasons when the store cannot be read either', async () => {
    const server = new FakeServer();
    const { batchId, saved } = reloadMidBatch(server);
    server.batches.delete(batchId);
    const spy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const second = tab(server, () => Promise.reject(new Error('GET fanout/batches/x failed (500): disk')));
    second.model.restore(saved);
    const summary = await (second.model.getBatch(batchId) as Batch).done.promise;
    spy.mockRestore();
    expect(summary.responses.map(r => [r.status, r.content])).toEqual([
      ['incomplete', 'Rayleigh scattering'],
      ['incomplete', '']
    ]);
    const message = summary.responses[0].error!.message;
    expect(message).toMatch(/could not be reattached \(batch '.*' is not running on the server/);
    expect(message).toMatch(/nor read from the server's store \(GET fanout\/batches\/x failed \(500\): disk\)/);
    expect(summary.responses[0].error!.code).toBe('interrupted');
  });

  it('a response whose start never reached the server comes back incomplete', () => {
    const server = new FakeServer();
    const { batchId, saved } = reloadMidBatch(server);
    server.batches.get(batchId)!.wires.delete('2.1');
    const second = tab(server);
    second.model.restore(saved);
    const batch = second.model.getBatch(batchId)!;
    expect(batch.responses[1].snapshot().status).toBe('incomplete');
    expect(batch.responses[1].snapshot().error?.message).toMatch(/no record of this response running/);
    expect(batch.responses[0].snapshot().status).toBe('generating');
  });
});

describe('two tabs on one batch', () => {
  it('stop in one and re-generate in the other: both end with the same attempts and text', async () => {
    const server = new FakeServer();
    const one = tab(server);
    const { batch } = one.model.generate(options);
    server.send(batch.id, '1.1', chunk({ content: 'first ' }));
    server.send(batch.id, '2.1', chunk({ content: 'other ' }));
    // The second tab opens the batch from the saved workspace.
    const two = tab(server);
    two.model.restore(JSON.parse(JSON.stringify(one.model.save())));
    const other = two.model.getBatch(batch.id)!;
    expect(other.responses.map(r => r.snapshot().content)).toEqual(['first ', 'other ']);

    one.model.stop(batch.id, '1');
    expect(other.responses[0].snapshot().status).toBe('stopped');
    const again = two.model.regenerate(batch.id, '1');
    expect(two.sockets[0].sent).toEqual([`attach ${batch.id}`, 'start 1.2']);
    // The first tab learns of the new attempt.
    expect(one.model.getBatch(batch.id)!.responses[0].attempt).toBe(2);
    server.send(batch.id, '1.2', chunk({ content: 'second' }, 'stop') + 'data: [DONE]\n\n');
    server.end(batch.id, '1.2');
    server.send(batch.id, '2.1', chunk({ content: 'end' }, 'stop') + 'data: [DONE]\n\n');
    server.end(batch.id, '2.1');
    expect((await again).content).toBe('second');

    const [a, b] = [one.model.getBatch(batch.id)!, other].map(x =>
      x.responses.map(r => r.attempts.map(t => [t.attempt, t.seed, t.snapshot().status, t.snapshot().content]))
    );
    expect(a).toEqual(b);
    expect(a).toEqual([
      [
        [1, 500, 'stopped', 'first '],
        [2, 500, 'complete', 'second']
      ],
      [[1, 501, 'complete', 'other end']]
    ]);
    expect(one.model.getBatch(batch.id)!.active).toBe(false);
    expect(other.active).toBe(false);
  });
});

describe('the engine host', () => {
  it('sends every pending update before an event, so an attempt’s last update precedes the next attempt', () => {
    const server = new FakeServer();
    const sent: Array<string> = [];
    const timers: Array<() => void> = [];
    let socket: FakeSocket | null = null;
    const host = new StreamHost({
      connect: (_transport, handlers) => (socket = new FakeSocket(server, handlers)),
      send: (updates: EngineUpdate[]) => updates.forEach(([, wire, u]) => sent.push(`${wire} ${u.status}`)),
      emit: (event: EngineEvent) => sent.push(event.type),
      now: () => server.clock,
      interval: 16,
      setTimer: callback => timers.push(callback)
    });
    host.handle({ type: 'attach', batch: 'b', transport: { kind: 'proxy', url: 'ws://x' } });
    expect(sent).toEqual(['attach-failed']);
    server.join('b', new FakeSocket(server, {} as IConnectionHandlers));
    const other = [...server.batches.get('b')!.subscribers][0];
    server.batches.get('b')!.wires.set('1.1', {
      upstream: '',
      request: {},
      startedAt: server.clock,
      firstByteAt: null,
      bytes: '',
      opened: false,
      ended: null
    });
    sent.length = 0;
    host.handle({ type: 'attach', batch: 'b', transport: { kind: 'proxy', url: 'ws://x' } });
    expect(sent).toEqual(['attached']); // its update waits for the timer
    socket!.handlers.onStopped('1.1'); // stopped by another tab
    server.start(other, '1.2', '', { seed: 1 });
    expect(sent).toEqual(['attached', '1.1 stopped', 'started-elsewhere']);
    timers.splice(0).forEach(t => t());
    expect(sent.slice(3)).toEqual(['1.2 connecting']);
  });
});

describe('the replay', () => {
  it('is a response’s first update when it has bytes: the page never shows it empty in between', () => {
    const server = new FakeServer();
    const sent: string[] = [];
    let socket: FakeSocket | null = null;
    const host = new StreamHost({
      connect: (_transport, handlers) => (socket = new FakeSocket(server, handlers)),
      send: updates => updates.forEach(([, wire, u]) => sent.push(`${wire} ${u.status} ${u.contentAppend}`)),
      emit: event => sent.push(event.type),
      now: () => server.clock,
      interval: 0
    });
    server.deferAttach = true;
    host.handle({ type: 'attach', batch: 'b', transport: { kind: 'proxy', url: 'ws://x' } });
    const wire = (id: string, firstByteMs: number | null): IAttachedWire => ({
      id,
      upstream: '',
      request: {},
      elapsed_ms: 500,
      first_byte_ms: firstByteMs,
      state: 'running',
      replay: firstByteMs === null ? null : { encoding: 'deflate', bytes: 100 }
    });
    socket!.handlers.onAttached!('b', [wire('1.1', 400), wire('2.1', null)]);
    // The one waiting for its first byte is connecting; the other waits for its replay.
    expect(sent).toEqual(['attached', '2.1 connecting ']);
    socket!.handlers.onOpen('1.1', 200);
    socket!.handlers.onData('1.1', encoder.encode(chunk({ content: 'all so far' })));
    expect(sent.slice(2)).toEqual(['1.1 generating all so far']);
  });

  /** A host attached to batch 'b' whose updates are logged as `wire status content`. */
  function attachedHost(): { sent: string[]; handlers: () => IConnectionHandlers; host: StreamHost } {
    const server = new FakeServer();
    const sent: string[] = [];
    let socket: FakeSocket | null = null;
    const host = new StreamHost({
      connect: (_transport, handlers) => (socket = new FakeSocket(server, handlers)),
      send: updates =>
        updates.forEach(([, wire, u]) =>
          sent.push(`${wire} ${u.status} ${u.contentAppend}${u.error ? ` ${u.error.code}` : ''}`)
        ),
      emit: event => sent.push(event.type),
      now: () => server.clock,
      interval: 0
    });
    server.deferAttach = true;
    host.handle({ type: 'attach', batch: 'b', transport: { kind: 'proxy', url: 'ws://x' } });
    return { sent, host, handlers: () => socket!.handlers };
  }

  const digested = (id: string, entries: unknown[], tail: number | null): IAttachedWire => ({
    id,
    upstream: '',
    request: {},
    elapsed_ms: 500,
    first_byte_ms: 400,
    state: 'running',
    replay: tail === null ? null : { encoding: 'deflate', bytes: tail },
    digest: { model: 'sim', offset: 1000, events: entries.length, entries }
  });

  it('with a digest, shows the digest and the bytes after it as one first update', () => {
    const { sent, handlers } = attachedHost();
    handlers().onAttached!('b', [
      digested(
        '1.1',
        [
          ['Hello', [1, 5]],
          [' world', 1]
        ],
        40
      )
    ]);
    expect(sent).toEqual(['attached']); // its tail follows
    handlers().onOpen('1.1', 200);
    handlers().onData('1.1', encoder.encode(chunk({ content: ', again' })));
    expect(sent.slice(1)).toEqual(['1.1 generating Hello world, again']);
  });

  it('with a digest and no bytes after it, shows the digest at once', () => {
    const { sent, handlers } = attachedHost();
    handlers().onAttached!('b', [digested('1.1', [['Hello', [1, 5]]], null)]);
    expect(sent).toEqual(['attached', '1.1 generating Hello']);
  });

  it('a digest that cannot be read fails its response alone', () => {
    const { sent, handlers } = attachedHost();
    handlers().onAttached!('b', [digested('1.1', [['a', 1]], 40), digested('2.1', [['Fine']], 40)]);
    expect(sent).toEqual(['attached', '1.1 error  replay_corrupt']); // at once, with why
    handlers().onOpen('1.1', 200);
    handlers().onData('1.1', encoder.encode(chunk({ content: 'ignored' })));
    handlers().onOpen('2.1', 200);
    handlers().onData('2.1', encoder.encode(chunk({ content: ' too' })));
    expect(sent.slice(2)).toEqual(['2.1 generating Fine too']);
  });
});

describe('an attempt as the store kept it', () => {
  const attempt = {
    attempt: 1,
    upstream: 'simulator',
    model: 'sim',
    request: { seed: 1 },
    status: 'stopped',
    error: { code: 'stopped_by_user', message: 'stopped by the user' },
    finish_reason: null,
    text: 'Half',
    reasoning: '',
    usage: null,
    metrics: { elapsed: 1.5 },
    started_at: 1,
    ended_at: 2.5
  };

  it('a stop the user asked for shows no error, as a live stop; a kept reason does', () => {
    expect(storedSnapshot(attempt, 0)).toMatchObject({ status: 'stopped', error: null, content: 'Half' });
    expect(storedSnapshot(attempt, 0).metrics.elapsedMs).toBe(1500);
    const detached = { ...attempt, error: { code: 'detached_timeout', message: 'no tab for 600 s' } };
    expect(storedSnapshot(detached, 0).error).toEqual({ code: 'detached_timeout', message: 'no tab for 600 s' });
  });

  it('one the store still has as running (the server died) is incomplete, with why', () => {
    const snapshot = storedSnapshot({ ...attempt, status: 'running', error: null }, null);
    expect(snapshot.status).toBe('incomplete');
    expect(snapshot.error?.code).toBe('interrupted');
    expect(snapshot.totalTokens).toBeGreaterThan(0);
    expect(snapshot.tokensEstimated).toBe(true);
  });
});

/**
 * The store's copy of a batch the fake server runs (`GET fanout/batches/<id>`): every wire's
 * text so far, `running` unless `ended` says otherwise.
 */
function storedCopy(
  server: FakeServer,
  batchId: string,
  texts: Record<string, string>,
  ended: Record<string, string> = {}
): IStoredBatch {
  const byResponse = new Map<string, any[]>();
  for (const [wire, w] of server.batches.get(batchId)?.wires ?? new Map<string, IWire>()) {
    const [id, attempt] = wire.split('.');
    const list = byResponse.get(id) ?? [];
    const status = ended[wire] ?? 'running';
    list.push({
      attempt: Number(attempt),
      upstream: w.upstream,
      model: 'sim',
      request: w.request,
      status,
      error: null,
      finish_reason: status === 'complete' ? 'stop' : null,
      text: texts[wire] ?? '',
      reasoning: '',
      usage: null,
      metrics: {},
      started_at: 1_700_000_000,
      ended_at: status === 'running' ? null : 1_700_000_001
    });
    byResponse.set(id, list);
  }
  return {
    id: batchId,
    title: options.prompt,
    prompt: options.prompt,
    options: { n: options.n, upstream: options.upstream, maxTokens: options.maxTokens, temperature: 0.5 },
    created_at: 1_700_000_000,
    updated_at: 1_700_000_001,
    models: ['sim'],
    n: byResponse.size,
    counts: {},
    responses: [...byResponse].map(([id, attempts]) => ({
      id,
      status: attempts[attempts.length - 1].status,
      model: 'sim',
      upstream: 'simulator',
      attempts
    }))
  } as unknown as IStoredBatch;
}

describe('a running batch opened from the store (History, fanout:open-batch, fanout:get-batch)', () => {
  /** One tab runs a batch; text has arrived on both responses. */
  function running(server: FakeServer) {
    const one = tab(server);
    const { batch } = one.model.generate(options);
    server.send(batch.id, '1.1', chunk({ content: 'Rayleigh ' }));
    server.send(batch.id, '2.1', chunk({ reasoning: 'Think. ' }));
    return { one, batchId: batch.id };
  }

  it('comes back live through the reload path: the replay, then the rest, Stop reaching the server', () => {
    const server = new FakeServer();
    const { one, batchId } = running(server);
    server.deferAttach = true;
    const two = tab(server);
    const summary = storedSummary(storedCopy(server, batchId, { '1.1': 'Rayl' }));
    expect(summary.responses.map(r => r.status)).toEqual(['generating', 'connecting']);
    const batch = two.model.open(summary);
    expect(two.sockets[0].sent).toEqual([`attach ${batchId}`]);
    expect(batch.active).toBe(true);
    expect(batch.responses.map(r => r.reconnecting)).toEqual([true, true]);
    // The store's text so far, in the page's clock (not epoch times), until the replay.
    expect(batch.responses[0].snapshot().content).toBe('Rayl');
    expect(batch.responses[0].snapshot().metrics.startedAt).toBeLessThan(server.clock + 1);

    server.answerAttaches();
    expect(batch.responses.map(r => r.reconnecting)).toEqual([false, false]);
    expect(batch.responses[0].snapshot().content).toBe('Rayleigh ');
    expect(batch.responses[1].snapshot().reasoning).toBe('Think. ');
    server.send(batchId, '1.1', chunk({ content: 'scattering' }));
    expect(batch.responses[0].snapshot().content).toBe('Rayleigh scattering');

    // Stop in the tab that opened it: the server stops it, for both tabs.
    two.model.stop(batchId, '1');
    expect(two.sockets[0].sent).toEqual([`attach ${batchId}`, 'stop 1.1']);
    expect(server.batches.get(batchId)!.wires.get('1.1')!.ended).toBe('stopped');
    expect(one.model.getBatch(batchId)!.responses[0].snapshot().status).toBe('stopped');
    // Stop all, then a re-generate from there: on the same socket, seen by the first tab.
    two.model.stop(batchId);
    expect(server.batches.get(batchId)!.wires.get('2.1')!.ended).toBe('stopped');
    void two.model.regenerate(batchId, '2');
    expect(two.sockets[0].sent.slice(-1)).toEqual(['start 2.2']);
    expect(one.model.getBatch(batchId)!.responses[1].attempt).toBe(2);
    expect(two.sockets).toHaveLength(1);
  });

  it('fanout:get-batch resolves with the live state once the replay arrived', async () => {
    const server = new FakeServer();
    const { batchId } = running(server);
    server.deferAttach = true;
    const two = tab(server);
    const got = getBatchSummary(two.model, async () => storedCopy(server, batchId, { '1.1': 'Ray' }), batchId);
    await Promise.resolve();
    await Promise.resolve();
    let settled = false;
    void got.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false); // Waits for the replay, not the store's text.
    server.answerAttaches();
    const summary = await got;
    expect(summary.responses.map(r => [r.status, r.content, r.reasoning])).toEqual([
      ['generating', 'Rayleigh ', ''],
      ['thinking', '', 'Think. ']
    ]);
    expect(two.model.getBatch(batchId)!.active).toBe(true);
  });

  it('a batch the server no longer runs takes its final state from the store; one left running there is incomplete, never live', async () => {
    const server = new FakeServer();
    const { batchId } = running(server);
    // The store's first read said running; the batch then ended and left the registry.
    const first = storedCopy(server, batchId, { '1.1': 'Rayleigh', '2.1': '' });
    const later = storedCopy(server, batchId, { '1.1': 'Rayleigh scattering.', '2.1': '' }, { '1.1': 'complete' });
    server.batches.delete(batchId);
    const two = tab(server, async () => later);
    const batch = two.model.open(storedSummary(first)) as Batch;
    const summary = await batch.done.promise;
    expect(summary.responses.map(r => [r.status, r.content])).toEqual([
      ['complete', 'Rayleigh scattering.'],
      ['incomplete', '']
    ]);
    // Still `running` in the store although the server does not run it (a server that died
    // without marking it): incomplete, with why.
    expect(summary.responses[1].error).toEqual({
      message: 'The server stopped before this response ended; the text it had kept is shown.',
      code: 'interrupted'
    });
    expect(batch.active).toBe(false);
    await two.model.whenLive(batchId); // resolves: nothing is reconnecting any more
  });

  it('a batch that has ended opens complete and hears of another tab’s re-generate', () => {
    const server = new FakeServer();
    const { one, batchId } = running(server);
    for (const wire of ['1.1', '2.1']) {
      server.send(batchId, wire, chunk({ content: 'done' }, 'stop') + 'data: [DONE]\n\n');
      server.end(batchId, wire);
    }
    const ended = storedCopy(
      server,
      batchId,
      { '1.1': 'Rayleigh done', '2.1': 'done' },
      {
        '1.1': 'complete',
        '2.1': 'complete'
      }
    );
    const two = tab(server);
    const batch = two.model.open(storedSummary(ended));
    expect(batch.active).toBe(false);
    // Subscribed without a replay (`batch`), and lingering.
    expect(two.sockets[0].described).toEqual([batchId]);
    expect(two.sockets[0].sent).toEqual([]);
    expect(two.model.lingering).toEqual([batchId]);

    void one.model.regenerate(batchId, '1');
    expect(batch.active).toBe(true);
    expect(batch.responses[0].attempt).toBe(2);
    expect(two.model.lingering).toEqual([]); // Runs again: not lingering until it ends.
    server.send(batchId, '1.2', chunk({ content: 'Again' }));
    expect(batch.responses[0].snapshot().content).toBe('Again');
    // Stop from the tab that only watched: reaches the server, and the first tab.
    two.model.stop(batchId, '1');
    expect(two.sockets[0].sent).toEqual(['stop 1.2']);
    expect(one.model.getBatch(batchId)!.responses[0].snapshot().status).toBe('stopped');
    expect(batch.responses[0].attempts.map(a => [a.attempt, a.snapshot().status])).toEqual([
      [1, 'complete'],
      [2, 'stopped']
    ]);
    expect(two.model.lingering).toEqual([batchId]);
  });
});

describe('an ended batch’s connection (lingering)', () => {
  /** A tab whose batch ran to its end; the server still holds it. */
  function ended(server: FakeServer, one = tab(server, undefined, 2)) {
    const { batch } = one.model.generate(options);
    for (const wire of ['1.1', '2.1']) {
      server.send(batch.id, wire, chunk({ content: `end ${wire}` }, 'stop') + 'data: [DONE]\n\n');
      server.end(batch.id, wire);
    }
    return { ...one, batchId: batch.id };
  }

  it('a tab that saw its batch end shows a re-generate from another tab live, and its Stop stops it', () => {
    const server = new FakeServer();
    const a = ended(server);
    expect(a.sockets[0].closed).toBe(false);
    const b = tab(server);
    b.model.restore(JSON.parse(JSON.stringify(a.model.save())));
    const again = b.model.regenerate(a.batchId, '2');
    expect(b.sockets[0].sent).toEqual(['start 2.2']);
    const seen = a.model.getBatch(a.batchId)!;
    expect(seen.active).toBe(true);
    expect(seen.responses[1].attempts.map(t => t.attempt)).toEqual([1, 2]);
    expect(seen.responses[1].shownAttempt).toBe(2);
    server.send(a.batchId, '2.2', chunk({ content: 'live' }));
    expect(seen.responses[1].snapshot().content).toBe('live');
    a.model.stop(a.batchId, '2');
    expect(a.sockets[0].sent.slice(-1)).toEqual(['stop 2.2']);
    expect(server.batches.get(a.batchId)!.wires.get('2.2')!.ended).toBe('stopped');
    expect(b.model.getBatch(a.batchId)!.responses[1].snapshot().status).toBe('stopped');
    expect(again).toBeInstanceOf(Promise);
    expect(seen.active).toBe(false);
    expect(a.model.lingering).toEqual([a.batchId]);
  });

  it('is bounded: at most lingerMax batches, the oldest closed first, each for lingerMs', () => {
    const server = new FakeServer();
    const t = tab(server, undefined, 2);
    const ids = [ended(server, t).batchId, ended(server, t).batchId];
    expect(t.model.lingering).toEqual(ids);
    expect(t.sockets.map(s => s.closed)).toEqual([false, false]);
    const third = ended(server, t).batchId;
    expect(t.model.lingering).toEqual([ids[1], third]);
    expect(t.sockets.map(s => s.closed)).toEqual([true, false, false]);
    expect(t.timers.size).toBe(2); // The evicted one's timer was cleared.
    expect(server.subscribers(ids[0])).toEqual([]);
    t.runTimers();
    expect(t.sockets.map(s => s.closed)).toEqual([true, true, true]);
    expect(t.model.lingering).toEqual([]);
    expect(t.timers.size).toBe(0);
  });

  it('leaks nothing when its batch is removed (or deleted) or the page goes away', () => {
    const server = new FakeServer();
    const a = ended(server);
    expect(a.timers.size).toBe(1);
    a.model.removeBatch(a.batchId);
    expect(a.sockets[0].closed).toBe(true);
    expect(a.timers.size).toBe(0);
    expect(a.model.lingering).toEqual([]);
    expect(server.subscribers(a.batchId)).toEqual([]);
    // A batch opened ended from the store (watched), then removed: its socket closes too.
    const b = tab(server);
    b.model.open(storedSummary(storedCopy(server, a.batchId, {}, { '1.1': 'complete', '2.1': 'complete' })));
    expect(server.subscribers(a.batchId)).toEqual([b.sockets[0]]);
    b.model.removeBatch(a.batchId);
    expect(b.sockets[0].closed).toBe(true);
    expect(b.timers.size).toBe(0);
    // dispose: every lingering timer cleared.
    const c = ended(server);
    expect(c.timers.size).toBe(1);
    c.model.dispose();
    expect(c.timers.size).toBe(0);
    // A re-generate in the closed batch afterwards opens a new socket and reaches the server.
    const d = ended(server);
    d.runTimers();
    expect(d.sockets[0].closed).toBe(true);
    void d.model.regenerate(d.batchId, '1');
    expect(d.sockets).toHaveLength(2);
    expect(d.sockets[1].described).toEqual([d.batchId]);
    expect(d.sockets[1].sent).toEqual(['start 1.2']);
  });

  it('with lingerMs 0 a batch’s connection closes as soon as it ends', () => {
    const server = new FakeServer();
    const sockets: FakeSocket[] = [];
    const model = new FanoutModel({
      connect: handlers => {
        const socket = new FakeSocket(server, handlers);
        sockets.push(socket);
        return socket;
      },
      now: () => server.clock,
      schedule: () => undefined,
      lingerMs: 0
    });
    const { batch } = model.generate(options);
    for (const wire of ['1.1', '2.1']) {
      server.end(batch.id, wire);
    }
    expect(sockets[0].closed).toBe(true);
    expect(model.lingering).toEqual([]);
  });
});

describe('a batch whose attach failed', () => {
  it('does not linger once its final states came from the store (it has no socket)', async () => {
    const server = new FakeServer();
    const { batchId, saved } = reloadMidBatch(server);
    const ended = storedCopy(server, batchId, { '1.1': 'a', '2.1': 'b' }, { '1.1': 'complete', '2.1': 'complete' });
    server.batches.delete(batchId);
    const two = tab(server, async () => ended);
    two.model.restore(saved);
    await (two.model.getBatch(batchId) as Batch).done.promise;
    expect(two.model.lingering).toEqual([]);
    expect(two.timers.size).toBe(0);
  });
});
