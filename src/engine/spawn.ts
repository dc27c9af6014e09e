/**
 * Starts the streaming worker. Kept apart because `import.meta.url` is for the bundler (which
 * emits the worker as its own file next to the extension's); unit tests never load this module.
 */
import type { IWorkerLike } from './remote';

export function createStreamingWorker(): IWorkerLike {
  return new Worker(new URL('./worker.js', import.meta.url), { name: 'jupyterlab-fanout-streams' });
}
