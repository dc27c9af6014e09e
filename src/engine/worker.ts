/**
 * The Web Worker the extension streams in: a {@link StreamHost} with the real transports. The
 * main thread sends `init` (its clock's origin) and then {@link EngineRequest}s; the worker
 * answers with batched {@link EngineMessage}s, at most one every {@link UPDATE_INTERVAL_MS}
 * ({@link BUSY_UPDATE_INTERVAL_MS} while more than {@link BUSY_RUNNING} responses run).
 */
import { realTransports, SpareSockets } from './connect';
import { StreamHost } from './host';
import { BUSY_RUNNING, type EngineMessage, type EngineRequest, type IEngineInit } from './protocol';

/** About one display frame: updates more often than this could not be shown anyway. */
export const UPDATE_INTERVAL_MS = 16;

/**
 * With more than {@link BUSY_RUNNING} responses running, the sidebar renders at most five times
 * a second and the board four (widgets/sidebar.tsx, widgets/board.tsx), so updates come at
 * most every 50 ms: each message costs the page's main thread a structured
 * clone, a model update and an animation frame, and at 64 × 200 tokens/s one a frame kept it
 * busy (benchmarks/README.md, typing latency). A render is then at most 50 ms behind the stream.
 */
export const BUSY_UPDATE_INTERVAL_MS = 50;

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
      interval: UPDATE_INTERVAL_MS,
      busy: { running: BUSY_RUNNING, interval: BUSY_UPDATE_INTERVAL_MS }
    });
    scope.postMessage({ type: 'ready' });
    return;
  }
  if (!host) {
    throw new Error(`jupyterlab-fanout worker: '${message.type}' arrived before 'init'`);
  }
  host.handle(message);
};
