/**
 * The main thread's side of the streaming worker: requests go to the worker, updates come back.
 * Until the worker says it is ready, requests are also kept: if it cannot start (its script did
 * not load, or workers are not allowed), the engine runs in place instead and they are replayed.
 */
import type {
  EngineEvent,
  EngineMessage,
  EngineRequest,
  EngineUpdate,
  IEngineInit,
  IStreamEngine,
  StreamEngineFactory
} from './protocol';

/** What the engine needs of a `Worker`. */
export interface IWorkerLike {
  onmessage: ((event: MessageEvent) => void) | null;
  onerror: ((event: ErrorEvent) => void) | null;
  postMessage(message: EngineRequest | IEngineInit): void;
  terminate(): void;
}

export interface IWorkerEngineOptions {
  /** Creates the worker; may throw where workers are not allowed. */
  createWorker: () => IWorkerLike;
  /** The main thread's `performance.timeOrigin`: the worker converts its clock to this one. */
  timeOrigin: number;
  /** The engine to use in place when the worker cannot start. */
  fallback: StreamEngineFactory;
}

class WorkerEngine implements IStreamEngine {
  constructor(
    private readonly _options: IWorkerEngineOptions,
    private readonly _onUpdates: (updates: EngineUpdate[]) => void,
    private readonly _onFailure: (message: string) => void,
    private readonly _onEvent?: (event: EngineEvent) => void
  ) {
    try {
      this._worker = _options.createWorker();
    } catch (error) {
      this._useFallback(`the streaming worker could not be created (${(error as Error).message})`);
      return;
    }
    this._worker.onmessage = event => {
      const message = event.data as EngineMessage;
      if (message.type === 'ready') {
        this._pending = null;
      } else if (message.type === 'updates') {
        this._onUpdates(message.updates);
      } else {
        this._onEvent?.(message);
      }
    };
    this._worker.onerror = event => {
      const reason = event.message || 'unknown error';
      if (this._pending !== null) {
        this._worker?.terminate();
        this._worker = null;
        this._useFallback(`the streaming worker did not start (${reason})`);
      } else {
        console.error(`jupyterlab-fanout: the streaming worker failed: ${reason}`);
        this._onFailure(`The browser's streaming worker failed (${reason}); the text that had arrived is kept.`);
      }
    };
    this._worker.postMessage({ type: 'init', timeOrigin: _options.timeOrigin });
  }

  send(request: EngineRequest): void {
    if (this._fallback) {
      this._fallback.send(request);
      return;
    }
    this._pending?.push(request);
    this._worker?.postMessage(request);
  }

  dispose(): void {
    this._worker?.terminate();
    this._worker = null;
    this._fallback?.dispose();
  }

  private _useFallback(reason: string): void {
    console.warn(`jupyterlab-fanout: ${reason}; streaming on the main thread instead.`);
    this._fallback = this._options.fallback(this._onUpdates, this._onFailure, this._onEvent);
    const pending = this._pending ?? [];
    this._pending = null;
    for (const request of pending) {
      this._fallback.send(request);
    }
  }

  private _worker: IWorkerLike | null = null;
  private _fallback: IStreamEngine | null = null;
  /** Requests sent before the worker said it was ready; null once it has. */
  private _pending: EngineRequest[] | null = [];
}

/** An engine in a Web Worker, falling back to `options.fallback` when the worker cannot start. */
export function workerEngine(options: IWorkerEngineOptions): StreamEngineFactory {
  return (onUpdates, onFailure, onEvent) => new WorkerEngine(options, onUpdates, onFailure, onEvent);
}
