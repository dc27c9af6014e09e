/**
 * Nothing a user generated is lost on a reload: the newest batches are saved in JupyterLab's
 * state database (the workspace) while they change, and brought back at start-up. What changed
 * since the last save when the page goes away (a reload in the middle of a batch) is written to
 * the browser's local storage at that moment, and preferred at start-up when it is newer.
 */
import type { IStateDB } from '@jupyterlab/statedb';
import type { ReadonlyPartialJSONValue } from '@lumino/coreutils';

import type { IBatchSummary, IFanoutModel } from '../tokens';

/** The workspace key of the saved batches (also read by `./migrate`). */
export const KEY = 'jupyterlab-fanout:batches';
/** The local-storage key of the snapshot taken when the page goes away with unsaved changes. */
export const UNSAVED_KEY = 'jupyterlab-fanout:unsaved';

/** What is saved: the batches and when (milliseconds since the epoch). */
interface ISaved {
  savedAt: number;
  batches: IBatchSummary[];
}

/** The snapshot kept in local storage, for one workspace. */
interface IUnsaved extends ISaved {
  workspace: string;
}

export interface IPersistOptions {
  /** Delay of a save once nothing streams (ms). */
  idleDelayMs?: number;
  /** Least time between two saves while a batch streams (ms). */
  streamingIntervalMs?: number;
  /** Where the snapshot is written when the page goes away; null: nowhere. */
  storage?: Storage | null;
  /** The workspace's name: a snapshot of another workspace is not restored here. */
  workspace?: string;
  /** What fires `pagehide` (the window). */
  page?: { addEventListener(type: 'pagehide', listener: () => void): void };
  /** Clock (ms since the epoch). */
  now?: () => number;
}

/** The saved value, as written now (`{savedAt, batches}`) or by earlier versions (an array). */
function readSaved(value: unknown): ISaved | null {
  if (Array.isArray(value)) {
    return { savedAt: 0, batches: value as IBatchSummary[] };
  }
  const saved = value as Partial<ISaved> | undefined;
  if (saved && Array.isArray(saved.batches) && typeof saved.savedAt === 'number') {
    return { savedAt: saved.savedAt, batches: saved.batches };
  }
  return null;
}

export function readUnsaved(storage: Storage | null, workspace: string): IUnsaved | null {
  const text = storage?.getItem(UNSAVED_KEY);
  if (!text) {
    return null;
  }
  try {
    const unsaved = JSON.parse(text) as Partial<IUnsaved>;
    const saved = readSaved(unsaved);
    return saved && unsaved.workspace === workspace ? { ...saved, workspace } : null;
  } catch (error) {
    console.warn('jupyterlab-fanout: ignoring an unreadable snapshot in local storage', error);
    return null;
  }
}

/**
 * Restore saved batches into `model`, then keep them saved: at once when no batch is running,
 * and at most every `streamingIntervalMs` while one is, so that the workspace is not sent to the
 * server every frame. When the page goes away with changes not yet saved, they are written to
 * local storage (synchronously, so a reload cannot cut them off) and restored from there.
 */
export async function persistBatches(
  model: IFanoutModel,
  state: IStateDB,
  options: IPersistOptions = {}
): Promise<{ dispose(): void }> {
  const idleDelay = options.idleDelayMs ?? 500;
  const streamingInterval = options.streamingIntervalMs ?? 5000;
  const storage = options.storage === undefined ? (globalThis.localStorage ?? null) : options.storage;
  const workspace = options.workspace ?? '';
  const now = options.now ?? (() => Date.now());

  const saved = readSaved(await state.fetch(KEY));
  const unsaved = readUnsaved(storage, workspace);
  const newest = unsaved && unsaved.savedAt > (saved?.savedAt ?? -1) ? unsaved : saved;
  if (newest) {
    model.restore(newest.batches);
  }
  /** When the snapshot this page restored from was taken; null once the workspace has it. */
  let taken = newest !== null && newest === unsaved ? unsaved.savedAt : null;

  let timer: ReturnType<typeof setTimeout> | null = null;
  let timerIsIdle = false;
  /** Changes since the last save that completed. */
  let changed = false;
  const save = () => {
    timer = null;
    changed = false;
    const value: ISaved = { savedAt: now(), batches: model.save() };
    state
      .save(KEY, value as unknown as ReadonlyPartialJSONValue)
      .then(() => {
        // The workspace now holds what the snapshot this page started from held (not a newer
        // snapshot another tab of the workspace may have left since).
        if (taken !== null && readUnsaved(storage, workspace)?.savedAt === taken) {
          storage?.removeItem(UNSAVED_KEY);
        }
        taken = null;
      })
      .catch(reason => {
        changed = true;
        console.error('jupyterlab-fanout: could not save the batches', reason);
      });
  };
  const schedule = () => {
    changed = true;
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
  };
  model.changed.connect(schedule);
  if (taken !== null) {
    schedule(); // Into the workspace, which then makes the snapshot unnecessary.
  }

  let disposed = false;
  (options.page ?? globalThis.window)?.addEventListener('pagehide', () => {
    if (disposed || !changed || !storage) {
      return;
    }
    const snapshot: IUnsaved = { workspace, savedAt: now(), batches: model.save() };
    try {
      storage.setItem(UNSAVED_KEY, JSON.stringify(snapshot));
    } catch (error) {
      console.error('jupyterlab-fanout: could not keep the unsaved batches in local storage', error);
    }
  });
  return {
    dispose: () => {
      disposed = true;
      model.changed.disconnect(schedule);
      if (timer !== null) {
        clearTimeout(timer);
      }
    }
  };
}
