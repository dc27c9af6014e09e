/**
 * Saved batches (what is kept across reloads) back into live ones: the mapping between a
 * batch's JSON summary and the model's {@link Batch}. A response that was still running when
 * the page went away comes back as incomplete, with the text that had arrived.
 */
import type { ResponseSnapshot } from '../core';
import type { IBatchSummary, IResponseSummary } from '../tokens';
import { Batch, RUNNING } from './batch';

/** The state a saved response comes back with: as saved, or incomplete if it was running. */
export function restoredSnapshot(saved: IResponseSummary): ResponseSnapshot {
  const {
    id: _id,
    index: _index,
    seed: _seed,
    attempt: _attempt,
    upstream: _upstream,
    requestedModel: _model,
    ...snapshot
  } = saved;
  if (!RUNNING.has(snapshot.status)) {
    return snapshot;
  }
  return {
    ...snapshot,
    status: 'incomplete',
    error: snapshot.error ?? {
      message: 'The page was closed or reloaded while this response was streaming; the text that had arrived is kept.',
      code: 'interrupted'
    }
  };
}

/**
 * The ended batch a summary describes, or null (with a warning) when the summary does not hold
 * the responses its options ask for.
 */
export function restoreBatch(summary: IBatchSummary, now: () => number): Batch | null {
  const batch = new Batch(summary.batchId, summary.createdAt ?? Date.now(), summary.options, now);
  if (batch.responses.length !== summary.responses.length) {
    console.warn(`jupyterlab-fanout: not restoring batch ${summary.batchId}: its saved state is inconsistent`);
    return null;
  }
  summary.responses.forEach((saved, i) =>
    batch.responses[i].restore(saved.seed, saved.attempt, restoredSnapshot(saved))
  );
  batch.done.resolve(batch.summary());
  return batch;
}
