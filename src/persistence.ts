/**
 * Nothing a user generated is lost on a reload: the newest batches are saved in JupyterLab's
 * state database (the workspace) while they change, and brought back at start-up.
 */
import type { IStateDB } from '@jupyterlab/statedb';
import type { ReadonlyPartialJSONValue } from '@lumino/coreutils';

import type { IBatchSummary, IFanoutModel } from './tokens';

const KEY = 'jupyterlab-fanout:batches';

/** Restore saved batches into `model`, then keep saving at most every `intervalMs`. */
export async function persistBatches(model: IFanoutModel, state: IStateDB, intervalMs = 1000): Promise<void> {
  const saved = (await state.fetch(KEY)) as unknown as IBatchSummary[] | undefined;
  if (Array.isArray(saved)) {
    model.restore(saved);
  }
  let timer: ReturnType<typeof setTimeout> | null = null;
  const save = () => {
    timer = null;
    state.save(KEY, model.save() as unknown as ReadonlyPartialJSONValue).catch(reason => {
      console.error('jupyterlab-fanout: could not save the batches', reason);
    });
  };
  model.changed.connect(() => {
    if (timer === null) {
      timer = setTimeout(save, intervalMs);
    }
  });
}
