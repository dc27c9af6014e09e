/**
 * Saved batches (what is kept across reloads) back into live ones: the mapping between a
 * batch's JSON summary and the model's {@link Batch}. A response that was still running when
 * the page went away comes back as incomplete, with the text that had arrived. Each response's
 * earlier attempts come back too; a batch saved before attempts were kept comes back with one
 * attempt per response.
 */
import type { ResponseSnapshot } from '../core';
import type { IAttemptSummary, IBatchSummary, IResponseSummary } from '../tokens';
import { Batch, EndedAttempt, IFusedResponse, readFusion, RUNNING } from './batch';

/** A summary as saved: each response's earlier attempts, without the latest (its own fields). */
export function savedSummary(summary: IBatchSummary): IBatchSummary {
  return {
    ...summary,
    responses: summary.responses.map(response => ({
      ...response,
      attempts: (response.attempts ?? []).filter(a => a.attempt !== response.attempt)
    }))
  };
}

/** The state a saved response or attempt comes back with: as saved, or incomplete if it was running. */
export function restoredSnapshot(saved: IResponseSummary | IAttemptSummary): ResponseSnapshot {
  const snapshot = savedSnapshot(saved);
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

/** The state of a saved response or attempt, as saved. */
function savedSnapshot(saved: IResponseSummary | IAttemptSummary): ResponseSnapshot {
  const {
    id: _id,
    index: _index,
    seed: _seed,
    attempt: _attempt,
    upstream: _upstream,
    requestedModel: _model,
    attempts: _attempts,
    shownAttempt: _shown,
    fusion: _fusion,
    ...snapshot
  } = saved as IResponseSummary;
  return snapshot;
}

/**
 * The ended batch a summary describes, or null (with a warning) when the summary does not hold
 * the responses its options ask for. With `reattach`, a response that was still running comes
 * back reconnecting (see `BatchResponse.reattach`) rather than incomplete, and the batch is not
 * done until they end.
 */
export function restoreBatch(summary: IBatchSummary, now: () => number, reattach = false): Batch | null {
  // Fused responses (`fanout:fuse`) come after those the options ask for.
  const fused: IFusedResponse[] = [];
  for (const response of summary.responses) {
    const fusion = readFusion(response.fusion);
    if (fusion) {
      fused.push({ id: response.id, upstream: response.upstream ?? '', model: response.requestedModel ?? '', fusion });
    }
  }
  const batch = new Batch(summary.batchId, summary.createdAt ?? Date.now(), summary.options, now, undefined, fused);
  batch.transport = summary.transport === 'direct' ? 'direct' : 'proxy';
  if (batch.responses.length !== summary.responses.length) {
    console.warn(`jupyterlab-fanout: not restoring batch ${summary.batchId}: its saved state is inconsistent`);
    return null;
  }
  summary.responses.forEach((saved, i) => {
    const shown = typeof saved.shownAttempt === 'number' ? saved.shownAttempt : undefined;
    const earlier = earlierAttempts(saved, summary.batchId);
    if (reattach && RUNNING.has(saved.status)) {
      batch.responses[i].reattach(saved.seed, saved.attempt, savedSnapshot(saved), earlier, shown);
      if (typeof saved.continues === 'number') {
        // The replay holds only the continuation: shown after the text it continues.
        batch.responses[i].continues(saved.continues);
      }
    } else {
      batch.responses[i].restore(saved.seed, saved.attempt, restoredSnapshot(saved), earlier, shown);
    }
  });
  batch.applyVerdicts(summary);
  if (!batch.active) {
    batch.done.resolve(batch.summary());
  }
  return batch;
}

/** True when `value` looks like a saved attempt (an object with a number, a seed, a status and text). */
function isSavedAttempt(value: unknown): value is IAttemptSummary {
  const a = value as Partial<IAttemptSummary> | null;
  return (
    typeof a === 'object' &&
    a !== null &&
    Number.isInteger(a.attempt) &&
    typeof a.seed === 'number' &&
    typeof a.status === 'string' &&
    typeof a.content === 'string' &&
    typeof a.metrics === 'object' &&
    a.metrics !== null
  );
}

/**
 * The earlier attempts of a saved response, oldest first: those numbered below its latest, each
 * once. Entries that are not attempts are left out (with a warning); a response saved by an
 * earlier version has none.
 */
export function earlierAttempts(saved: IResponseSummary, batchId: string): EndedAttempt[] {
  const list: unknown = saved.attempts;
  if (list === undefined || list === null) {
    return [];
  }
  const entries = Array.isArray(list) ? list : [list];
  const earlier: EndedAttempt[] = [];
  let skipped = !Array.isArray(list);
  for (const entry of entries) {
    if (!isSavedAttempt(entry)) {
      skipped = true;
      continue;
    }
    if (entry.attempt >= saved.attempt) {
      continue; // The latest attempt (as summaries other than saved ones hold it).
    }
    if (earlier.some(a => a.attempt === entry.attempt)) {
      skipped = true;
      continue;
    }
    earlier.push(new EndedAttempt(entry.attempt, entry.seed, restoredSnapshot(entry)));
  }
  if (skipped) {
    console.warn(
      `jupyterlab-fanout: batch ${batchId}, response ${saved.id}: some saved attempts could not be read and are left out`
    );
  }
  return earlier.sort((a, b) => a.attempt - b.attempt);
}
