/**
 * Nothing a user generated is lost on a reload: the newest batches are saved in JupyterLab's
 * state database (the workspace) while they change, and brought back at start-up. What changed
 * since the last save when the page goes away (a reload in the middle of a batch) is written to
 * the browser's local storage at that moment, and preferred at start-up when it is newer. So is
 * what was saved shortly before (`settleMs`): `IStateDB.save` resolves before the workspace
 * reaches the server (JupyterLab sends it after a pause), so a reload right after a save would
 * otherwise find the workspace of before it.
 *
 * With a working store (`options.stored`), an ended batch the store is seen to hold whole (each
 * response's latest attempt there, ended) is saved as a reference only (`refs`: its id, when,
 * the attempt shown of each response) and read back from the store at start-up. So is a batch
 * that runs on the server (not in direct mode) once the store is seen to record it (each
 * response there at its attempt): the server keeps running it without the page and the store
 * keeps its text (flushed about every second), so a page that went away reattaches to it from
 * the reference, and the workspace does not carry text that grows at every save (JupyterLab
 * copies the whole workspace and sends it to the server after each save: at 64 responses
 * streaming, a main-thread task of 50-90 ms every five seconds). A new running batch is saved
 * soon (its text is short then) and the store asked once; when it ends, it stays a reference
 * unless the store is then seen lacking it (asked again while the store has not written its
 * end, which it does about every second). Batches the store does not hold (store off or
 * failing, a record that failed) and running direct ones are saved whole as before. A save that
 * would write the same references again is not made. A reference the store cannot answer for
 * now (503, the network) is kept and tried again at the next start, reported once; one the
 * store no longer has (deleted elsewhere) is dropped.
 *
 * The store is the truth for what a batch holds (its responses, attempts, texts, verdicts); what
 * the workspace adds is the view: which batches the page shows and the attempt each response
 * shows. So an ended batch the workspace kept whole is read from the store too at start-up, and
 * the store's copy is shown when it holds every attempt the workspace's copy has (a stale
 * workspace copy, written before a fuse or a re-generate reached it, does not hide them); the
 * workspace's copy only when the store lacks something of it or cannot answer.
 */
import type { IStateDB } from '@jupyterlab/statedb';
import type { ReadonlyPartialJSONValue } from '@lumino/coreutils';

import type { IBatchSummary, IBatchView, IFanoutModel } from '../tokens';

/** The workspace key of the saved batches (also read by `./migrate`). */
export const KEY = 'jupyterlab-fanout:batches';
/** The local-storage key of the snapshot taken when the page goes away with unsaved changes. */
export const UNSAVED_KEY = 'jupyterlab-fanout:unsaved';

/** An ended batch the store holds, saved by reference: what the page needs to put it back. */
export interface IBatchRef {
  batchId: string;
  /** When it was started (epoch ms): its place in the list. */
  createdAt: number;
  /** The attempt shown of each response where it is not the latest (`fanout:show-attempt`). */
  shown?: Record<string, number>;
}

/** What is saved: the batches (whole), the references, and when (milliseconds since the epoch). */
interface ISaved {
  savedAt: number;
  batches: IBatchSummary[];
  refs?: IBatchRef[];
}

/** The server's store, as persistence uses it. */
export interface IStoredBatches {
  /** Whether the store keeps batches (asked once at start-up). */
  works: Promise<boolean>;
  /** A stored batch as a summary (`GET fanout/batches/<id>`); its error carries `response.status`. */
  read: (batchId: string) => Promise<IBatchSummary>;
  /** The one report of references that could not be read. */
  report?: (message: string) => void;
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
  /**
   * How long after a save the workspace may still not be on the server (ms): a page that goes
   * away within it leaves its batches in local storage too.
   */
  settleMs?: number;
  /** The server's store: ended batches it holds are saved by reference. */
  stored?: IStoredBatches;
  /**
   * How long before the store is asked again for an ended batch whose end it had not written
   * yet (ms); it writes about every second.
   */
  retryMs?: number;
}

/** How many times the store is asked again for the end of a batch it was seen recording. */
export const ENDING_RETRIES = 5;

/** The saved value, as written now (`{savedAt, batches}`) or by earlier versions (an array). */
function readSaved(value: unknown): ISaved | null {
  if (Array.isArray(value)) {
    return { savedAt: 0, batches: value as IBatchSummary[] };
  }
  const saved = value as Partial<ISaved> | undefined;
  if (saved && Array.isArray(saved.batches) && typeof saved.savedAt === 'number') {
    const refs = Array.isArray(saved.refs)
      ? saved.refs.filter(
          (r): r is IBatchRef =>
            typeof r?.batchId === 'string' && r.batchId.length > 0 && typeof r.createdAt === 'number'
        )
      : [];
    return { savedAt: saved.savedAt, batches: saved.batches, refs };
  }
  return null;
}

const RUNNING = new Set(['pending', 'connecting', 'thinking', 'generating']);

/** True when every response of `summary` has ended. */
function ended(summary: IBatchSummary): boolean {
  return Array.isArray(summary?.responses) && summary.responses.every(r => !RUNNING.has(r?.status));
}

/**
 * Whether the store's `copy` of a batch can stand in for the workspace's `whole` copy: it has
 * every response of it, each at the same attempt or a later one, and an attempt the workspace
 * has as ended the store has ended too (the store has caught up with everything the page saw).
 */
export function storeCovers(copy: IBatchSummary, whole: IBatchSummary): boolean {
  return whole.responses.every(saved => {
    const there = copy.responses.find(r => r.id === saved.id);
    if (!there || there.attempt < saved.attempt) {
      return false;
    }
    return there.attempt > saved.attempt || !RUNNING.has(there.status) || RUNNING.has(saved.status);
  });
}

/** What the workspace had of a batch: a reference, or (`whole`) the ended batch itself. */
interface IRestoring {
  ref: IBatchRef;
  whole?: IBatchSummary;
}

/**
 * Put the batches the workspace had back, read from the store, each in its place by time with the
 * attempts shown it had: the references (`pending`; what was read leaves it) and the ended batches
 * it kept whole (`whole`: the store's copy when it holds all of it, else the workspace's). One
 * report for references that could not be read now (they stay in `pending`, saved again); those
 * the store no longer has are dropped. A whole batch the store cannot give is restored as kept.
 */
async function restoreFromStore(
  model: IFanoutModel,
  stored: IStoredBatches,
  pending: Map<string, IBatchRef>,
  whole: IBatchSummary[],
  seen: (copy: IBatchSummary) => void
): Promise<void> {
  const restoring: IRestoring[] = [
    ...[...pending.values()].map(ref => ({ ref })),
    ...whole.map(summary => ({ ref: { batchId: summary.batchId, createdAt: summary.createdAt ?? 0 }, whole: summary }))
  ];
  const failed: string[] = [];
  const read = await Promise.all(
    restoring.map(async ({ ref, whole }) => {
      try {
        return await stored.read(ref.batchId);
      } catch (error) {
        if (whole) {
          console.debug(`jupyterlab-fanout: batch ${ref.batchId} is restored as the workspace kept it`, error);
        } else if ((error as { response?: { status?: number } })?.response?.status === 404) {
          console.warn(`jupyterlab-fanout: batch ${ref.batchId} is no longer in the store: not restored`);
          pending.delete(ref.batchId);
        } else {
          failed.push(`${ref.batchId}: ${(error as Error)?.message ?? error}`);
        }
        return null;
      }
    })
  );
  // Newest first, so that each goes after those already put back (as the saved list was).
  const order = restoring.map((entry, i) => ({ ...entry, copy: read[i] }));
  order.sort((a, b) => b.ref.createdAt - a.ref.createdAt);
  for (const { ref, whole, copy } of order) {
    let shown: Record<string, number> = ref.shown ?? {};
    if (!whole) {
      if (!copy) {
        continue;
      }
      pending.delete(ref.batchId);
    } else {
      shown = {};
      for (const r of whole.responses) {
        // The attempt shown, unless the store has a later attempt (shown as it began).
        const there = copy?.responses.find(c => c.id === r.id);
        if (typeof r.shownAttempt === 'number' && (!there || there.attempt === r.attempt)) {
          shown[r.id] = r.shownAttempt;
        }
      }
    }
    // Already here when the page opened it from the store first (a command run at start-up):
    // it is not opened twice, and still shows the attempts the workspace had shown.
    if (!model.batches.some(b => b.id === ref.batchId)) {
      if (copy && (!whole || storeCovers(copy, whole))) {
        try {
          model.open(copy);
          seen(copy);
        } catch (error) {
          console.warn(`jupyterlab-fanout: batch ${ref.batchId} could not be opened from the store`, error);
          if (whole) {
            model.restore([whole]);
          }
        }
      } else if (whole) {
        model.restore([whole]);
      }
    }
    for (const [responseId, attempt] of Object.entries(shown)) {
      try {
        model.showAttempt(ref.batchId, responseId, attempt);
      } catch (error) {
        console.warn(`jupyterlab-fanout: batch ${ref.batchId}: attempt ${attempt} of ${responseId} not shown`, error);
      }
    }
  }
  if (failed.length && stored.report) {
    stored.report(
      `Fanout could not read ${failed.length} batches of this workspace from the server's store (${failed
        .slice(0, 3)
        .join('; ')}${failed.length > 3 ? ' …' : ''}); they are kept and read again at the next start.`
    );
  }
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
  const settleMs = options.settleMs ?? 10_000;
  const retryMs = options.retryMs ?? 1500;

  const saved = readSaved(await state.fetch(KEY));
  const unsaved = readUnsaved(storage, workspace);
  const newest = unsaved && unsaved.savedAt > (saved?.savedAt ?? -1) ? unsaved : saved;
  const stored = options.stored ?? null;
  /**
   * The ended batches the workspace kept whole, while the store is asked for its copy (with a
   * store): saved again as they were until then. Running ones are restored at once (reattached).
   */
  const held = new Map<string, IBatchSummary>();
  if (newest) {
    const now_: IBatchSummary[] = [];
    for (const summary of newest.batches) {
      if (stored && ended(summary) && typeof summary.batchId === 'string') {
        held.set(summary.batchId, summary);
      } else {
        now_.push(summary);
      }
    }
    model.restore(now_);
  }
  /** Batch id → the attempt numbers of the store's copy, seen ended (what a reference needs). */
  const verified = new Map<string, string>();
  /** References not read back yet (the store could not answer): saved again as they were. */
  const pending = new Map<string, IBatchRef>();
  for (const ref of newest?.refs ?? []) {
    // Also those already here (opened while the workspace was read): they take the attempts shown.
    pending.set(ref.batchId, ref);
  }
  let storeWorks = false;
  /** Batch id → the attempt numbers the store did not have (not asked again for those). */
  const lacking = new Map<string, string>();
  /** Batches being looked up in the store (so that each is asked once at a time). */
  const checking = new Set<string>();
  /** When the snapshot this page restored from was taken; null once the workspace has it. */
  let taken = newest !== null && newest === unsaved ? unsaved.savedAt : null;

  /** The attempt numbers of each response, as the store's copy must have them to stand in. */
  const signature = (summary: IBatchSummary) => summary.responses.map(r => `${r.id}:${r.attempt}`).join(' ');
  /**
   * Running batches the store is seen to record (batch id → attempt numbers), saved by reference
   * while they run; and those it was not (not asked again until their attempts change).
   */
  const recording = new Map<string, string>();
  const unrecorded = new Map<string, string>();
  /** Running batches being looked up in the store. */
  const checkingRunning = new Set<string>();
  /** Running batches on the server that a save has seen (a new one is saved soon). */
  const seenRunning = new Set<string>();
  /** Whether a running batch of this page could be saved by reference: it runs on the server. */
  const onServer = (summary: { transport?: string }) => summary.transport !== 'direct';

  const retryTimers = new Set<ReturnType<typeof setTimeout>>();
  /** How many times the store was asked again about a batch's attempts (per kind of question). */
  const endRetries = new Map<string, { sig: string; count: number }>();
  const startRetries = new Map<string, { sig: string; count: number }>();
  /**
   * Ask the store about batch `id` (at attempts `sig`) again in `retryMs`, with the batch as it is
   * then (`ask`: it may have ended, been re-generated or removed meanwhile); false when `sig` has
   * had `limit` retries already.
   */
  const retry = (
    counts: Map<string, { sig: string; count: number }>,
    id: string,
    sig: string,
    limit: number,
    ask: (batch: IBatchView | undefined) => void
  ): boolean => {
    const before = counts.get(id);
    const count = before?.sig === sig ? before.count : 0;
    if (disposed || count >= limit) {
      return false;
    }
    counts.set(id, { sig, count: count + 1 });
    const timer = setTimeout(() => {
      retryTimers.delete(timer);
      ask(model.getBatch(id));
    }, retryMs);
    retryTimers.add(timer);
    return true;
  };

  /**
   * Look the ended `summary` up in the store; once it holds it whole, save again (by reference).
   * While the store's copy has its attempts but not yet their end (it writes about every second)
   * it is asked again, up to {@link ENDING_RETRIES} times, and saved whole once the store is seen
   * lacking it; one the store was seen recording while it ran stays a reference meanwhile.
   */
  const verify = (summary: IBatchSummary) => {
    const id = summary.batchId;
    const sig = signature(summary);
    if (!stored || disposed || checking.has(id) || lacking.get(id) === sig) {
      return;
    }
    checking.add(id);
    const lacks = () => {
      checking.delete(id);
      endRetries.delete(id);
      lacking.set(id, sig);
      // Saved whole if it was a reference; and a later attempt that ended meanwhile is looked up.
      schedule();
    };
    stored
      .read(id)
      .then(copy => {
        const whole = copy.responses.every(r => !RUNNING.has(r.status));
        if (whole && signature(copy) === sig) {
          checking.delete(id);
          endRetries.delete(id);
          verified.set(id, sig);
          schedule();
          return;
        }
        // The store has these attempts and has not written their end yet: asked again.
        const later =
          !whole &&
          signature(copy) === sig &&
          retry(endRetries, id, sig, ENDING_RETRIES, batch => {
            checking.delete(id);
            if (batch !== undefined && !batch.active) {
              verify(batch.summary()); // (as it is now: re-generated since, its latest attempts)
            }
          });
        if (!later) {
          lacks();
        }
      })
      .catch(reason => {
        // Not (yet) in the store: kept whole in the workspace, which is what was done anyway;
        // asked again once it changes (a new attempt) or at the next start, not at every save.
        console.debug(`jupyterlab-fanout: batch ${id} is kept whole (not in the store)`, reason);
        lacks();
      });
  };

  /**
   * Look the running `summary` up in the store: once it is seen recording every response at its
   * attempt (or a later one), it is saved by reference from the next save, made soon. Asked once
   * more in `retryMs` when it is not (yet) there: the page may ask before its socket's `start`
   * has reached the server.
   */
  const verifyRunning = (summary: IBatchSummary) => {
    const id = summary.batchId;
    const sig = signature(summary);
    if (!stored || disposed || checkingRunning.has(id) || unrecorded.get(id) === sig) {
      return;
    }
    checkingRunning.add(id);
    const notThere = (reason: unknown) => {
      const later = retry(startRetries, id, sig, 1, batch => {
        checkingRunning.delete(id);
        if (batch?.active) {
          verifyRunning(batch.summary());
        }
      });
      if (!later) {
        checkingRunning.delete(id);
        startRetries.delete(id);
        unrecorded.set(id, sig);
        console.debug(`jupyterlab-fanout: running batch ${id} is kept whole (the store does not record it)`, reason);
      }
    };
    stored
      .read(id)
      .then(copy => {
        const recorded =
          onServer(copy) &&
          summary.responses.every(r => (copy.responses.find(c => c.id === r.id)?.attempt ?? -1) >= r.attempt);
        if (!recorded) {
          notThere('its attempts are not in the store');
          return;
        }
        checkingRunning.delete(id);
        startRetries.delete(id);
        recording.set(id, sig);
        schedule(true);
      })
      .catch(notThere);
  };

  /** What the workspace keeps: running batches and those the store lacks whole, the rest by reference. */
  const value = (): ISaved => {
    const summaries = model.save();
    if (!storeWorks) {
      // (With the batches still waiting for the store's answer, as they were.)
      const waiting = [...held.values()].filter(h => !summaries.some(s => s.batchId === h.batchId));
      return {
        savedAt: now(),
        batches: [...summaries, ...waiting],
        ...(pending.size ? { refs: [...pending.values()] } : {})
      };
    }
    const batches: IBatchSummary[] = [];
    const refs: IBatchRef[] = [];
    for (const summary of summaries) {
      const id = summary.batchId;
      const sig = signature(summary);
      const ended = summary.responses.every(r => !RUNNING.has(r.status));
      let byReference: boolean;
      if (ended) {
        // Seen whole in the store, or seen recording while it ran and not seen lacking since.
        byReference = verified.get(id) === sig || (recording.get(id) === sig && lacking.get(id) !== sig);
        if (verified.get(id) !== sig) {
          verify(summary);
        }
      } else {
        // Seen recording (or opened from the store's copy, running, at these attempts).
        byReference = onServer(summary) && recording.get(id) === sig;
        if (!byReference && onServer(summary)) {
          verifyRunning(summary);
        }
      }
      if (byReference) {
        const shown: Record<string, number> = {};
        for (const r of summary.responses) {
          if (typeof r.shownAttempt === 'number') {
            shown[r.id] = r.shownAttempt;
          }
        }
        refs.push({
          batchId: summary.batchId,
          createdAt: summary.createdAt ?? 0,
          ...(Object.keys(shown).length ? { shown } : {})
        });
      } else {
        batches.push(summary);
      }
    }
    for (const ref of pending.values()) {
      if (!summaries.some(s => s.batchId === ref.batchId)) {
        refs.push(ref);
      }
    }
    for (const summary of held.values()) {
      if (!summaries.some(s => s.batchId === summary.batchId)) {
        batches.push(summary);
      }
    }
    seenRunning.clear();
    for (const batch of model.batches) {
      if (batch.active && onServer(batch)) {
        seenRunning.add(batch.id);
      }
    }
    // Nothing kept about batches no longer saved (removed, or beyond the newest kept).
    for (const kept of [verified, lacking, recording, unrecorded, endRetries, startRetries]) {
      for (const id of kept.keys()) {
        if (!summaries.some(s => s.batchId === id)) {
          kept.delete(id);
        }
      }
    }
    return { savedAt: now(), batches, refs };
  };

  let disposed = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let timerIsIdle = false;
  /** Changes since the last save that completed. */
  let changed = false;
  /** When the last save was handed to the state database (it reaches the server later). */
  let lastSave: number | null = null;
  /**
   * The references the state database holds, when that is all it holds of the batches (null:
   * not known, or batches whole): the last save made, once it has succeeded.
   */
  let savedRefs: string | null = null;
  let saves = 0;
  const save = () => {
    timer = null;
    changed = false;
    const saving = value();
    const refs = saving.batches.length === 0 ? JSON.stringify(saving.refs ?? []) : null;
    if (refs !== null && refs === savedRefs && taken === null) {
      // The workspace holds these already: JupyterLab would send it to the server for nothing.
      return;
    }
    const made = ++saves;
    savedRefs = null;
    lastSave = now();
    state
      .save(KEY, saving as unknown as ReadonlyPartialJSONValue)
      .then(() => {
        if (made === saves) {
          savedRefs = refs;
        }
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
  /**
   * Save at once when nothing streams, else at most every `streamingInterval`; `soon`, or when a
   * batch began on the server since the last save (its text is short then, and the store is
   * asked whether it records it), after `idleDelay`.
   */
  const schedule = (soon = false) => {
    if (disposed) {
      return; // (An answer of the store that came after.)
    }
    changed = true;
    const streaming = model.batches.some(batch => batch.active);
    const begun =
      storeWorks && model.batches.some(batch => batch.active && onServer(batch) && !seenRunning.has(batch.id));
    const hurry = soon || !streaming || begun;
    if (hurry && timer !== null && !timerIsIdle) {
      // Everything has just ended (or a batch began): save soon rather than at the end of the
      // streaming interval.
      clearTimeout(timer);
      timer = null;
    }
    if (timer === null) {
      timerIsIdle = hurry;
      timer = setTimeout(save, hurry ? idleDelay : streamingInterval);
    }
  };
  const onChange = () => schedule();
  model.changed.connect(onChange);
  if (taken !== null) {
    schedule(); // Into the workspace, which then makes the snapshot unnecessary.
  }
  if (stored) {
    storeWorks = await stored.works.catch(() => false);
    const whole = [...held.values()];
    if (!storeWorks) {
      model.restore(whole);
    }
    // What was opened from the store's copy needs no look-up: ended, it holds it whole; running
    // on the server, it records it (its end is still looked up).
    const seen = (copy: IBatchSummary) => {
      if (ended(copy)) {
        verified.set(copy.batchId, signature(copy));
      } else if (onServer(copy)) {
        recording.set(copy.batchId, signature(copy));
      }
    };
    await restoreFromStore(model, stored, pending, storeWorks ? whole : [], seen);
    held.clear();
    if (storeWorks) {
      schedule(); // Ended batches the store holds become references.
    }
  }

  (options.page ?? globalThis.window)?.addEventListener('pagehide', () => {
    // Also right after a save: the workspace may not have reached the server yet.
    const settling = lastSave !== null && now() - lastSave < settleMs;
    if (disposed || !(changed || settling) || !storage) {
      return;
    }
    const batches = model.save();
    for (const summary of held.values()) {
      if (!batches.some(s => s.batchId === summary.batchId)) {
        batches.push(summary);
      }
    }
    const snapshot: IUnsaved = { workspace, savedAt: now(), batches, refs: [...pending.values()] };
    try {
      storage.setItem(UNSAVED_KEY, JSON.stringify(snapshot));
    } catch (error) {
      console.error('jupyterlab-fanout: could not keep the unsaved batches in local storage', error);
    }
  });
  return {
    dispose: () => {
      disposed = true;
      model.changed.disconnect(onChange);
      if (timer !== null) {
        clearTimeout(timer);
      }
      retryTimers.forEach(clearTimeout);
      retryTimers.clear();
    }
  };
}
