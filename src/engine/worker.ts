/**
 * The Web Worker the extension streams in: a {@link StreamHost} with the real transports. The
 * main thread sends `init` (its clock's origin) and then {@link EngineRequest}s; the worker
 * answers with batched {@link EngineMessage}s, at most one every {@link UPDATE_INTERVAL_MS}.
 */
import { realTransports, SpareSockets } from './connect';
import { StreamHost } from './host';
import type { EngineMessage, EngineRequest, IEngineInit } from './protocol';

/** About one display frame: updates more often than this could not be shown anyway. */
export const UPDATE_INTERVAL_MS = 16;

interface IWorkerScope {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: EngineMessage): void;
}

const scope = self as unknown as IWorkerScope;
let host: StreamHost | null = null;

scope.onmessage = (event: MessageEvent) => {
  const message = event.data as EngineRequest | IEngineInit;
  if (message.type === 'init') {
    // The worker's clock starts when the worker does: convert to the main thread's.
    const offset = performance.timeOrigin - message.timeOrigin;
    host = new StreamHost({
      ...realTransports(new SpareSockets()),
      send: updates => scope.postMessage({ type: 'updates', updates }),
      emit: event => scope.postMessage(event),
      now: () => performance.now() + offset,
      interval: UPDATE_INTERVAL_MS
    });
    scope.postMessage({ type: 'ready' });
    return;
  }
  if (!host) {
    throw new Error(`jupyterlab-fanout worker: '${message.type}' arrived before 'init'`);
  }
  host.handle(message);
};
