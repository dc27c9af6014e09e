/**
 * The engine itself: each batch's connection and each response's {@link ResponseStream}. It
 * runs in a Web Worker in the extension ({@link ./worker}) and in place in tests
 * ({@link localEngine}); it has no DOM and sends only {@link ResponseUpdate}s out, at most one per
 * response every `interval` milliseconds (the first at once), or every `busy.interval` while more
 * than `busy.running` responses run.
 */
import { ResponseError, ResponseStream, takeUpdate } from '../core';
import type { IAttachedWire, IBatchConnection, IConnectionHandlers, IReplayStats } from './transport';
import type {
  EngineEvent,
  EngineRequest,
  IBatchDescription,
  EngineUpdate,
  IStreamEngine,
  StreamEngineFactory,
  TransportSpec
} from './protocol';

/** Opens one batch connection over `transport`. */
export type TransportConnector = (transport: TransportSpec, handlers: IConnectionHandlers) => IBatchConnection;

export interface IStreamHostOptions {
  connect: TransportConnector;
  /** Gets a transport ready ahead of a batch (a spare socket); optional. */
  prepare?: (transport: TransportSpec) => void;
  /** Receives updates; with `interval` 0 it is called synchronously from the change. */
  send: (updates: EngineUpdate[]) => void;
  /** Receives the events about batches; every update pending before one is sent first. */
  emit?: (event: EngineEvent) => void;
  /** Clock of the main thread, in milliseconds. */
  now: () => number;
  /** Least milliseconds between two sends; 0 sends every change at once. */
  interval: number;
  /**
   * While more than `running` responses run (over every batch), the least milliseconds between
   * two sends is this `interval` (when longer than the other): each send costs the receiving
   * thread a message, and what it shows of many responses is refreshed less often than that
   * anyway. Default: no such pace.
   */
  busy?: { running: number; interval: number };
  /** Timer (injected in tests); returns a handle for `clearTimer`. */
  setTimer?: (callback: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

interface IRunning {
  stream: ResponseStream;
  /** The connection this attempt runs on: a close fails only what ran on it. */
  connection: IBatchConnection;
  /**
   * This page asked to stop it and the connection's answer (`stopped`, or its end if it ended
   * first) has not come yet: the bytes forwarded before the stop are still taken.
   */
  stopping?: boolean;
  /** The timer that stops it here if the answer does not come ({@link STOP_ANSWER_MS}). */
  stopTimer?: unknown;
}

/**
 * How long a stop waits for the connection's answer before the response is stopped here anyway
 * (a server that does not answer, a connection that hangs).
 */
export const STOP_ANSWER_MS = 2000;

interface IHostBatch {
  connection: IBatchConnection | null;
  running: Map<string, IRunning>;
  /** An attach was sent on `connection` and not answered yet. */
  attaching: boolean;
  /** Reattached responses whose replayed bytes have not arrived yet (nothing to show before them). */
  replaying: Set<string>;
}

/**
 * A user-timing mark of the engine's thread (`jupyterlab-fanout:engine-<what>`), for DevTools
 * and the reattach benchmark: the answer to an attach read, every replay parsed.
 */
function mark(what: string, detail: Record<string, unknown>): void {
  if (typeof performance !== 'undefined' && typeof performance.mark === 'function') {
    performance.mark(`jupyterlab-fanout:engine-${what}`, { detail });
  }
}

/** Connections and streams of every batch; see the module comment. */
export class StreamHost {
  constructor(private readonly _options: IStreamHostOptions) {}

  handle(request: EngineRequest): void {
    switch (request.type) {
      case 'start':
        this._start(request);
        break;
      case 'stop': {
        const batch = this._batches.get(request.batch);
        const running = batch?.running.get(request.wire);
        if (running && !running.stream.ended) {
          if (running.stopping) {
            break;
          }
          // The stream ends when the connection answers (`stopped`), so that it holds exactly
          // the bytes the server forwarded before the stop, as every other tab and the store
          // do; the page shows it stopped at once meanwhile (the model ends it there).
          running.stopping = true;
          running.connection.stop(request.wire);
          running.stopTimer = (this._options.setTimer ?? setTimeout)(() => {
            running.stopTimer = undefined;
            if (!running.stream.ended) {
              running.stream.stop();
              this._changed(request.batch, request.wire);
            }
          }, STOP_ANSWER_MS);
        } else if (!running && batch?.attaching && batch.connection) {
          // Not replayed yet: the server reads the stop after the attach, and its `stopped`
          // ends the response once the replay has made it.
          batch.connection.stop(request.wire);
        }
        break;
      }
      case 'attach':
        this._attach(request.batch, request.transport);
        break;
      case 'watch':
        this._watch(request.batch, request.transport, request.describe);
        break;
      case 'close':
        this._close(request.batch);
        break;
      case 'prepare':
        this._options.prepare?.(request.transport);
        break;
    }
  }

  /** Stop every response and close every connection. */
  dispose(): void {
    for (const batch of [...this._batches.keys()]) {
      this._close(batch);
    }
  }

  private _start(request: Extract<EngineRequest, { type: 'start' }>): void {
    let batch = this._batches.get(request.batch);
    if (!batch) {
      batch = { connection: null, running: new Map(), attaching: false, replaying: new Set() };
      this._batches.set(request.batch, batch);
    }
    let connection = batch.connection;
    if (!connection) {
      connection = this._open(request.batch, batch, request.transport);
      if (request.describe) {
        connection.describe?.(request.batch, request.describe);
      }
    }
    const stream = new ResponseStream({ now: this._options.now, trackNewText: true });
    stream.start(request.startedAt);
    batch.running.set(request.wire, { stream, connection });
    connection.start(request.wire, request.upstream, request.request);
  }

  private _attach(batchId: string, transport: TransportSpec): void {
    const fail = (code: string, message: string) =>
      this._emit({ type: 'attach-failed', batch: batchId, code, message });
    if (this._batches.get(batchId)?.connection) {
      fail('attached', `Batch ${batchId} already has a connection in this page.`);
      return;
    }
    const batch: IHostBatch = this._batches.get(batchId) ?? {
      connection: null,
      running: new Map(),
      attaching: false,
      replaying: new Set()
    };
    this._batches.set(batchId, batch);
    const connection = this._open(batchId, batch, transport);
    if (!connection.attach) {
      batch.connection = null;
      connection.close();
      this._forget(batchId);
      fail('not_supported', 'Responses streamed straight from the browser to the model server cannot be reattached.');
      return;
    }
    batch.attaching = true;
    connection.attach(batchId);
  }

  /** Subscribe to an ended batch without replay (a `batch` message), unless it has a connection. */
  private _watch(batchId: string, transport: TransportSpec, description: IBatchDescription): void {
    if (this._batches.get(batchId)?.connection) {
      return;
    }
    const batch: IHostBatch = this._batches.get(batchId) ?? {
      connection: null,
      running: new Map(),
      attaching: false,
      replaying: new Set()
    };
    this._batches.set(batchId, batch);
    const connection = this._open(batchId, batch, transport);
    if (!connection.describe) {
      // Direct mode: batches are not on a server, so there is nothing to hear of.
      batch.connection = null;
      connection.close();
      this._forget(batchId);
      return;
    }
    connection.describe(batchId, description);
  }

  /** A batch with no connection and nothing running is forgotten. */
  private _forget(batchId: string): void {
    const batch = this._batches.get(batchId);
    if (batch && batch.connection === null && batch.running.size === 0) {
      this._batches.delete(batchId);
    }
  }

  /** Send `event` after every update pending before it. */
  private _emit(event: EngineEvent): void {
    this._flush();
    this._options.emit?.(event);
  }

  /**
   * A fresh stream for a response that started elsewhere (`attached` or `started`): `elapsed_ms`
   * ago, its first byte `first_byte_ms` ago; its digest, if any, applied at once. Returns the
   * milliseconds the digest took.
   */
  private _adopt(batchId: string, batch: IHostBatch, connection: IBatchConnection, response: IAttachedWire): number {
    const wire = response.id;
    const now = this._options.now();
    const stream = new ResponseStream({ now: this._options.now, trackNewText: true });
    const firstByteMs = response.first_byte_ms;
    stream.resume(now - response.elapsed_ms, firstByteMs === null ? null : now - firstByteMs);
    // Replaces whatever this page had for the wire: the replay starts from the first byte.
    batch.running.set(wire, { stream, connection });
    batch.replaying.delete(wire);
    const digest = response.digest;
    if (digest) {
      try {
        stream.applyDigest(digest);
      } catch (error) {
        // This response alone fails; its bytes after the digest are then ignored.
        stream.fail({
          message: `The digest of response ${wire} from the server could not be read (${(error as Error).message}).`,
          code: 'replay_corrupt'
        });
      }
    }
    if (response.replay && !stream.ended) {
      // The replayed record is its first update, so the page never shows it part-way.
      batch.replaying.add(wire);
    } else {
      // Nothing more to replay (or a digest it failed on): its state now.
      this._changed(batchId, wire);
    }
    return this._options.now() - now;
  }

  private _open(batchId: string, batch: IHostBatch, transport: TransportSpec): IBatchConnection {
    /** Set when the last reattached response's replay arrived (see `onData`). */
    let replayed = false;
    /** The replays of the attach: inflated bytes, compressed bytes, parse time, longest inflate wait. */
    const replay = {
      bytes: 0,
      wireBytes: 0,
      parseMs: 0,
      inflateMs: 0,
      /** Events applied from the responses' digests, and the milliseconds that took. */
      digestEvents: 0,
      digestMs: 0,
      firstArrivedAt: Infinity,
      lastArrivedAt: -Infinity
    };
    const live = (wire: string): ResponseStream | undefined => {
      const stream = batch.running.get(wire)?.stream;
      return stream && !stream.ended ? stream : undefined;
    };
    const apply = (wire: string, change: (stream: ResponseStream) => void): void => {
      const stream = live(wire);
      if (batch.replaying.delete(wire) && batch.replaying.size === 0) {
        replayed = true;
      }
      if (stream) {
        change(stream);
        this._changed(batchId, wire);
      }
    };
    const handlers: IConnectionHandlers = {
      // A reattached response's `open` is shown with its replayed bytes, which follow.
      onOpen: (wire, status) =>
        batch.replaying.has(wire) ? live(wire)?.open(status) : apply(wire, stream => stream.open(status)),
      // `[DONE]` or an error event inside the bytes can end the response.
      onData: (wire, bytes, stats?: IReplayStats) => {
        if (!batch.replaying.has(wire)) {
          apply(wire, stream => stream.feed(bytes));
          return;
        }
        // A replayed record: how many bytes and how long they take to parse, for the benchmark.
        const started = this._options.now();
        apply(wire, stream => stream.feed(bytes));
        replay.bytes += bytes.length;
        replay.parseMs += this._options.now() - started;
        replay.wireBytes += stats?.wireBytes ?? bytes.length;
        replay.inflateMs = Math.max(replay.inflateMs, stats?.inflateMs ?? 0);
        if (stats) {
          // When the compressed records arrived (this thread's `performance` clock, as the marks).
          replay.firstArrivedAt = Math.min(replay.firstArrivedAt, stats.arrivedAt);
          replay.lastArrivedAt = Math.max(replay.lastArrivedAt, stats.arrivedAt);
        }
        if (replayed) {
          replayed = false;
          mark('replayed', { batch: batchId, ...replay }); // every replay of the attach is parsed
        }
      },
      onEnd: wire => apply(wire, stream => stream.end()),
      // Already stopped here when this page asked; stopped by another tab otherwise.
      onStopped: wire => apply(wire, stream => stream.stop()),
      onError: (wire, error) => apply(wire, stream => stream.fail(error)),
      onAttached: (_batch, responses: IAttachedWire[]) => {
        mark('attached', { batch: batchId });
        batch.attaching = false;
        // The model learns of the responses before their first updates.
        this._emit({
          type: 'attached',
          batch: batchId,
          responses: responses.map(r => ({ wire: r.id, upstream: r.upstream, request: r.request, state: r.state }))
        });
        for (const response of responses) {
          replay.digestMs += this._adopt(batchId, batch, connection, response);
          replay.digestEvents += response.digest?.events ?? 0;
        }
        if (batch.replaying.size === 0 && replay.digestEvents > 0) {
          mark('replayed', { batch: batchId, ...replay }); // every digest applied, no bytes follow
        }
      },
      onStarted: (wire, upstream, request) => {
        this._emit({ type: 'started-elsewhere', batch: batchId, wire, upstream, request });
        this._adopt(batchId, batch, connection, {
          id: wire,
          upstream,
          request,
          elapsed_ms: 0,
          first_byte_ms: null,
          state: 'running'
        });
      },
      onAttachFailed: error => {
        batch.attaching = false;
        if (batch.connection === connection) {
          batch.connection = null;
        }
        connection.close();
        this._forget(batchId);
        this._emit({ type: 'attach-failed', batch: batchId, code: error.code ?? 'error', message: error.message });
      },
      onClose: error => {
        if (batch.connection === connection) {
          batch.connection = null;
        }
        if (batch.attaching) {
          batch.attaching = false;
          this._emit({
            type: 'attach-failed',
            batch: batchId,
            code: error?.code ?? 'connection',
            message: error?.message ?? 'The connection closed before the server answered the attach.'
          });
        }
        const lost: ResponseError = error ?? {
          message: 'The connection to the Jupyter server closed before this response ended.',
          code: 'connection'
        };
        // Only what ran on this connection is lost: a connection closed after its batch ended
        // may report its close while a re-generated response already runs on a newer one.
        for (const [wire, running] of batch.running) {
          if (running.connection === connection) {
            // A response this page was stopping is stopped, not lost.
            apply(wire, stream => (running.stopping ? stream.stop() : stream.fail(lost)));
          }
        }
        this._forget(batchId);
      }
    };
    const connection = this._options.connect(transport, handlers);
    batch.connection = connection;
    return connection;
  }

  private _close(batchId: string): void {
    const batch = this._batches.get(batchId);
    if (!batch) {
      return;
    }
    for (const [wire, running] of batch.running) {
      if (!running.stream.ended) {
        running.stream.stop();
        this._changed(batchId, wire);
      }
    }
    const connection = batch.connection;
    batch.connection = null;
    connection?.close();
    if (batch.running.size === 0) {
      this._batches.delete(batchId);
    }
  }

  /** A response changed: send its update at once, or at the next send. */
  private _changed(batch: string, wire: string): void {
    let wires = this._dirty.get(batch);
    if (!wires) {
      wires = new Set();
      this._dirty.set(batch, wires);
    }
    wires.add(wire);
    if (this._options.interval <= 0) {
      this._flush();
      return;
    }
    if (this._timerPending) {
      return;
    }
    this._timerPending = true;
    const wait = Math.max(0, this._lastSend + this._interval() - this._options.now());
    (this._options.setTimer ?? setTimeout)(() => {
      this._timerPending = false;
      this._flush();
    }, wait);
  }

  /** The least time between two sends now: `busy.interval` while more than `busy.running` run. */
  private _interval(): number {
    const { interval, busy } = this._options;
    if (busy) {
      let running = 0;
      for (const batch of this._batches.values()) {
        running += batch.running.size;
      }
      if (running > busy.running) {
        return Math.max(interval, busy.interval);
      }
    }
    return interval;
  }

  /** Send the updates of every changed response; a response's last update frees its stream. */
  private _flush(): void {
    if (this._flushing) {
      return; // The loop below picks up what a reentrant change added.
    }
    this._flushing = true;
    try {
      while (this._dirty.size > 0) {
        const updates: EngineUpdate[] = [];
        for (const [batchId, wires] of this._dirty) {
          const batch = this._batches.get(batchId);
          for (const wire of wires) {
            const running = batch?.running.get(wire);
            if (!running) {
              continue;
            }
            const update = takeUpdate(running.stream);
            updates.push([batchId, wire, update]);
            if (update.final) {
              batch!.running.delete(wire);
              if (running.stopTimer !== undefined) {
                (this._options.clearTimer ?? clearTimeout)(running.stopTimer as ReturnType<typeof setTimeout>);
                running.stopTimer = undefined;
              }
            }
          }
          if (batch && batch.running.size === 0 && batch.connection === null) {
            this._batches.delete(batchId);
          }
        }
        this._dirty.clear();
        this._lastSend = this._options.now();
        if (updates.length > 0) {
          this._options.send(updates);
        }
      }
    } finally {
      this._flushing = false;
    }
  }

  private readonly _batches = new Map<string, IHostBatch>();
  private readonly _dirty = new Map<string, Set<string>>();
  private _timerPending = false;
  private _flushing = false;
  private _lastSend = -Infinity;
}

/**
 * An engine that runs in place, on the calling thread, sending every change at once: for tests,
 * and for browsers where the worker cannot be created.
 */
export function localEngine(
  connect: TransportConnector,
  now: () => number,
  timers: Pick<IStreamHostOptions, 'setTimer' | 'clearTimer'> = {}
): StreamEngineFactory {
  return (onUpdates, _onFailure, onEvent): IStreamEngine => {
    const host = new StreamHost({ connect, send: onUpdates, emit: onEvent, now, interval: 0, ...timers });
    return {
      send: request => host.handle(request),
      dispose: () => host.dispose()
    };
  };
}
