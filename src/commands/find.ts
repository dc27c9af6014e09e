/** Finding the batch and the response a command's arguments name, with specific errors. */
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import type { IAttemptView, IBatchView, IFanoutModel, IResponseView } from '../tokens';
import { optionalNumber, optionalString } from './args';

/** The batch `args.batchId` names, or the newest one. */
export function findBatch(model: IFanoutModel, args: ReadonlyPartialJSONObject): IBatchView {
  const batchId = optionalString(args, 'batchId');
  const batch = model.getBatch(batchId);
  if (!batch) {
    throw new Error(batchId ? `There is no batch ${batchId}.` : 'There is no batch yet: run Generate responses first.');
  }
  return batch;
}

/** The response `responseId` of `batch`. */
export function findResponse(batch: IBatchView, responseId: string | undefined): IResponseView {
  if (!responseId) {
    throw new Error('This command needs a responseId ("1", "2", …).');
  }
  const response = batch.responses.find(r => r.id === responseId);
  if (!response) {
    throw new Error(`Batch ${batch.id} has no response ${responseId} (it has 1 to ${batch.responses.length}).`);
  }
  return response;
}

/**
 * The attempt of `response` that `args.attempt` names, or the one shown when it names none; a
 * specific error when the response has no such attempt.
 */
export function findAttempt(response: IResponseView, args: ReadonlyPartialJSONObject): IAttemptView {
  const number = optionalNumber(args, 'attempt') ?? response.shownAttempt;
  const attempt = response.attempts.find(a => a.attempt === number);
  if (!attempt) {
    const numbers = response.attempts.map(a => a.attempt).join(', ');
    throw new Error(`Response ${response.id} has no attempt ${number} (its attempts: ${numbers}).`);
  }
  return attempt;
}

/** The argument that names an attempt, as the commands describe it. */
export const attemptArg = {
  type: 'integer',
  minimum: 1,
  description: 'The attempt (1 for the first generation, 2 for the first re-generate, …); default: the one shown.'
};

/** The arguments that name a response, as the commands describe them. */
export const responseArgs = {
  batchId: { type: 'string', description: 'The batch; default: the newest.' },
  responseId: { type: 'string', description: 'The response ("1", "2", …).' }
};
