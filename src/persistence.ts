/**
 * Nothing a user generated is lost on a reload: the newest batches are saved in JupyterLab's
 * state database (the workspace) while they change, and brought back at start-up.
 */
import type { IStateDB } from '@jupyterlab/statedb';
import type { ReadonlyPartialJSONValue } from '@lumino/coreutils';

import type { IBatchSummary, IFanoutModel } from './tokens';

const KEY = 'jupyterlab-fanout:batches';

/**
 * Restore saved batches into `model`, then keep them saved: at once when no batch is running,
 * and at most every `streamingIntervalMs` while one is, so that a reload loses at most that much
 * of a streaming response without saving (and sending the workspace to the server) every frame.
 */
export async function persistBatches(
  model: IFanoutModel,
  state: IStateDB,
  options: { idleDelayMs?: number; streamingIntervalMs?: number } = {}
): Promise<void> {
  const idleDelay = options.idleDelayMs ?? 500;
  const streamingInterval = options.streamingIntervalMs ?? 5000;
  const saved = (await state.fetch(KEY)) as unknown as IBatchSummary[] | undefined;
  if (Array.isArray(saved)) {
    model.restore(saved);
  }
  let timer: ReturnType<typeof setTimeout> | null = null;
  let timerIsIdle = false;
  const save = () => {
    timer = null;
    state.save(KEY, model.save() as unknown as ReadonlyPartialJSONValue).catch(reason => {
      console.error('jupyterlab-fanout: could not save the batches', reason);
    });
  };
  model.changed.connect(() => {
    const streaming = model.batches.some(batch => batch.active);
    if (!streaming && timer !== null && !timerIsIdle) {
      // Everything has just ended: save soon rather than at the end of the streaming interval.
      clearTimeout(timer);
      timer = null;
    }
    if (timer === null) {
      timerIsIdle = !streaming;
      timer = setTimeout(save, streaming ? streamingInterval : idleDelay);
    }
  });
}
