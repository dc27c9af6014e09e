/**
 * Which responses a fuse merges, and the fuse commands' list arguments, checked: DOM-free.
 */
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import type { IBatchView, IFusionSource } from '../tokens';

/** The ids of `args[key]`, checked: a list of distinct non-empty strings, or undefined. */
export function responseIdsArg(args: ReadonlyPartialJSONObject, key = 'responseIds'): string[] | undefined {
  const value = args[key];
  if (value === undefined || value === null) {
    return undefined;
  }
  if (!Array.isArray(value) || !value.every(v => typeof v === 'string' && v !== '')) {
    throw new Error(`Argument "${key}" must be a list of response ids ("1", "2", …), not ${JSON.stringify(value)}.`);
  }
  const ids = value as string[];
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice !== undefined) {
    throw new Error(`Argument "${key}" names response ${twice} twice.`);
  }
  return ids;
}

/** The `checklist` argument: a list of non-empty strings, or undefined. */
export function checklistArg(args: ReadonlyPartialJSONObject): string[] | undefined {
  const value = args.checklist;
  if (value === undefined || value === null) {
    return undefined;
  }
  if (!Array.isArray(value) || !value.every(v => typeof v === 'string' && v.trim() !== '')) {
    throw new Error(`Argument "checklist" must be a list of points (non-empty strings), not ${JSON.stringify(value)}.`);
  }
  if (value.length === 0) {
    throw new Error('Argument "checklist" is empty: tick at least one point, or leave it out.');
  }
  return value as string[];
}

/**
 * The responses a fuse merges, as sources (each the attempt it shows): those named, or by
 * default every ended response with answer text that is not itself fused. Throws naming the
 * response for one that does not exist, still runs or has no text, and when fewer than two
 * are left.
 */
export function fuseSources(batch: IBatchView, responseIds?: ReadonlyArray<string>): IFusionSource[] {
  let chosen;
  if (responseIds) {
    chosen = responseIds.map(id => {
      const response = batch.responses.find(r => r.id === id);
      if (!response) {
        throw new Error(`Batch ${batch.id} has no response ${id} (it has 1 to ${batch.responses.length}).`);
      }
      const snapshot = response.shownSnapshot();
      if (
        response.shownAttempt === response.attempt &&
        ['pending', 'connecting', 'thinking', 'generating'].includes(snapshot.status)
      ) {
        throw new Error(`Response ${id} of batch ${batch.id} is still running: fuse it once it has ended.`);
      }
      if (!snapshot.content.trim()) {
        throw new Error(`Response ${id} of batch ${batch.id} has no answer text to fuse.`);
      }
      return response;
    });
  } else {
    chosen = batch.responses.filter(r => {
      const snapshot = r.shownSnapshot();
      const running =
        r.shownAttempt === r.attempt && ['pending', 'connecting', 'thinking', 'generating'].includes(snapshot.status);
      return !r.fusion && !running && snapshot.content.trim() !== '';
    });
  }
  if (chosen.length < 2) {
    throw new Error(
      `Fuse needs at least two responses with answer text; ${responseIds ? 'the ones named give' : `batch ${batch.id} has`} ${chosen.length}.`
    );
  }
  return chosen.map(r => ({ responseId: r.id, attempt: r.shownAttempt }));
}
