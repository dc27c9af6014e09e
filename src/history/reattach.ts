/**
 * A reload in the middle of a batch: the page left its batches in local storage when it went
 * away (`./persistence`), so the batches that were still running are restored, and so
 * reattached to the server, as soon as the extension starts rather than once JupyterLab has
 * restored its layout (`persistBatches` waits for that, up to seconds): the server's replay
 * then arrives while JupyterLab is still starting. Everything else is restored by
 * `persistBatches`, which skips the batches already here.
 */
import type { IFanoutModel } from '../tokens';
import { readUnsaved } from './persistence';

const RUNNING = new Set(['pending', 'connecting', 'thinking', 'generating']);

/** Restore the running batches of this workspace's snapshot in local storage, if any; how many. */
export function reattachEarly(
  model: IFanoutModel,
  workspace: string,
  storage: Storage | null = globalThis.localStorage ?? null
): number {
  const unsaved = readUnsaved(storage, workspace);
  const running = (unsaved?.batches ?? []).filter(
    batch => Array.isArray(batch?.responses) && batch.responses.some(r => RUNNING.has(r?.status))
  );
  if (running.length > 0) {
    model.restore(running);
  }
  return running.length;
}
