/**
 * Verdicts on a batch (issue 17): `fanout:pick` (the winner), `fanout:rate` (stars on a
 * response) and `fanout:agreement` (responses grouped by their final answer). Pick and rate
 * are kept in the server's store (`PUT fanout/batches/<id>/pick`,
 * `PUT fanout/batches/<id>/responses/<rid>/rating`) and then shown by the page's model;
 * agreement is computed in the page (src/core/agreement.ts) from the attempt each response shows.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import type { CommandRegistry } from '@lumino/commands';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { agreement, AGREEMENT_METHODS, IAgreementInput, IAgreementResult } from '../core/agreement';
import { CommandIDs, IBatchSummary, IFanoutModel } from '../tokens';
import { optionalNumber, optionalString } from './args';
import { findBatch } from './find';
import { interactiveArg, reportingFailures } from './interactive';
import { getBatchSummary } from './history';

/** What the verdict commands call (`../handler`), and the page's batches. */
export interface IVerdictCommandContext {
  commands: CommandRegistry;
  trans: TranslationBundle;
  model: IFanoutModel;
  getStoredBatch: (id: string) => Promise<unknown>;
  pickResponse: (
    id: string,
    responseId: string | null,
    attempt: number | undefined
  ) => Promise<{ batchId: string; responseId: string | null; attempt: number | null }>;
  rateResponse: (
    id: string,
    responseId: string,
    attempt: number | undefined,
    rating: number | null
  ) => Promise<{ batchId: string; responseId: string; attempt: number; rating: number | null }>;
}

function requiredBatchId(args: ReadonlyPartialJSONObject, what: string): string {
  const batchId = optionalString(args, 'batchId');
  if (batchId === undefined || batchId.trim() === '') {
    throw new Error(`${what} needs a batchId.`);
  }
  return batchId;
}

function optionalAttempt(args: ReadonlyPartialJSONObject): number | undefined {
  const attempt = optionalNumber(args, 'attempt');
  if (attempt !== undefined && (!Number.isInteger(attempt) || attempt < 1)) {
    throw new Error(`Argument "attempt" must be a positive whole number, not ${attempt}.`);
  }
  return attempt;
}

/** The arguments of `fanout:pick`, checked: `responseId` null (or absent) clears the pick. */
export function pickArgs(args: ReadonlyPartialJSONObject): {
  batchId: string;
  responseId: string | null;
  attempt?: number;
} {
  const batchId = requiredBatchId(args, 'Pick');
  if (!('responseId' in args)) {
    throw new Error('Pick needs a responseId (or responseId: null to clear the pick).');
  }
  const responseId = optionalString(args, 'responseId') ?? null;
  if (responseId === '') {
    throw new Error('Argument "responseId" must not be empty (null clears the pick).');
  }
  const attempt = optionalAttempt(args);
  if (responseId === null && attempt !== undefined) {
    throw new Error('Argument "attempt" makes no sense with responseId: null (which clears the pick).');
  }
  return { batchId, responseId, attempt };
}

/** The arguments of `fanout:rate`, checked: `rating` 1 to 5, or null to clear. */
export function rateArgs(args: ReadonlyPartialJSONObject): {
  batchId: string;
  responseId: string;
  attempt?: number;
  rating: number | null;
} {
  const batchId = requiredBatchId(args, 'Rate');
  const responseId = optionalString(args, 'responseId');
  if (!responseId) {
    throw new Error('Rate needs a responseId.');
  }
  if (!('rating' in args)) {
    throw new Error('Rate needs a rating (1 to 5 stars, or null to clear it).');
  }
  const rating = args.rating ?? null;
  if (rating !== null && (typeof rating !== 'number' || !Number.isInteger(rating) || rating < 1 || rating > 5)) {
    throw new Error(`Argument "rating" must be a whole number from 1 to 5, or null, not ${JSON.stringify(rating)}.`);
  }
  return { batchId, responseId, attempt: optionalAttempt(args), rating };
}

/** True when `error` is the server's 404 (REST errors carry the response). */
function notFound(error: unknown): boolean {
  return (error as { response?: { status?: number } } | null)?.response?.status === 404;
}

/** The attempt a verdict is on: the one asked for, else the one the page shows, else (undefined) the store's latest. */
function attemptFor(model: IFanoutModel, batchId: string, responseId: string, attempt?: number): number | undefined {
  if (attempt !== undefined) {
    return attempt;
  }
  const response = model.getBatch(batchId)?.responses.find(r => r.id === responseId);
  return response?.shownAttempt;
}

/** The responses of a batch as agreement reads them: the attempt each shows (the latest for a stored batch). */
export function agreementInputs(model: IFanoutModel, summary: IBatchSummary): IAgreementInput[] {
  const here = model.getBatch(summary.batchId);
  if (here) {
    return here.responses.map(r => ({ responseId: r.id, index: r.index, snapshot: r.shownSnapshot() }));
  }
  return summary.responses.map(r => ({ responseId: r.id, index: r.index, snapshot: r }));
}

/** Register `fanout:pick`, `fanout:rate` and `fanout:agreement`. */
export function registerVerdictCommands(context: IVerdictCommandContext): void {
  const { commands, trans, model } = context;

  /** A failure of the store's call, said plainly (404: the store does not hold the batch). */
  const explain = (batchId: string, error: unknown): Error => {
    if (notFound(error)) {
      return new Error(
        trans.__(
          "Batch %1 is not in the server's store (the store is off, or it was deleted): %2",
          batchId,
          (error as Error).message
        )
      );
    }
    return error as Error;
  };

  /**
   * Show a verdict the store kept in this page's copy of the batch. One on an attempt this page
   * does not have (another tab re-generated it) is kept in the store all the same: said in the
   * console, and shown when the batch is next read from the store.
   */
  const shownHere = (batchId: string, show: () => void) => {
    try {
      show();
    } catch (error) {
      console.warn(`jupyterlab-fanout: batch ${batchId}: the verdict is kept in the store, not shown here`, error);
    }
  };

  commands.addCommand(CommandIDs.pick, {
    label: args => (args.responseId === null ? trans.__('Clear the winner') : trans.__('Pick as winner')),
    caption: trans.__("Mark one response as the batch's winner, kept in the server's store"),
    describedBy: {
      args: {
        type: 'object',
        required: ['batchId', 'responseId'],
        properties: {
          batchId: { type: 'string' },
          responseId: { type: ['string', 'null'], description: 'The winner; null clears the pick.' },
          attempt: {
            type: 'integer',
            minimum: 1,
            description: "Which attempt of it (default: the one shown, else the store's latest)."
          },
          interactive: interactiveArg
        }
      }
    },
    execute: reportingFailures(trans.__('Pick'), async args => {
      const { batchId, responseId, attempt } = pickArgs(args);
      const on = responseId === null ? undefined : attemptFor(model, batchId, responseId, attempt);
      let kept;
      try {
        kept = await context.pickResponse(batchId, responseId, on);
      } catch (error) {
        throw explain(batchId, error);
      }
      model.setPick(
        batchId,
        kept.responseId === null || kept.attempt === null
          ? null
          : { responseId: kept.responseId, attempt: kept.attempt }
      );
      commands.notifyCommandChanged(CommandIDs.listBatches);
      return { batchId, responseId: kept.responseId, attempt: kept.attempt };
    })
  });

  commands.addCommand(CommandIDs.rate, {
    label: args =>
      args.rating === null
        ? trans.__('Clear the rating')
        : typeof args.rating === 'number'
          ? trans._n('Rate %1 star', 'Rate %1 stars', args.rating)
          : trans.__('Rate response'),
    caption: trans.__("Rate a response 1 to 5 stars, kept in the server's store"),
    describedBy: {
      args: {
        type: 'object',
        required: ['batchId', 'responseId', 'rating'],
        properties: {
          batchId: { type: 'string' },
          responseId: { type: 'string' },
          attempt: { type: 'integer', minimum: 1, description: "Default: the one shown, else the store's latest." },
          rating: { type: ['integer', 'null'], minimum: 1, maximum: 5, description: 'Stars; null clears.' },
          interactive: interactiveArg
        }
      }
    },
    execute: reportingFailures(trans.__('Rate'), async args => {
      const { batchId, responseId, attempt, rating } = rateArgs(args);
      const on = attemptFor(model, batchId, responseId, attempt);
      let kept;
      try {
        kept = await context.rateResponse(batchId, responseId, on, rating);
      } catch (error) {
        throw explain(batchId, error);
      }
      shownHere(batchId, () => model.setRating(batchId, kept.responseId, kept.attempt, kept.rating));
      commands.notifyCommandChanged(CommandIDs.listBatches);
      return { batchId, responseId: kept.responseId, attempt: kept.attempt, rating: kept.rating };
    })
  });

  commands.addCommand(CommandIDs.agreement, {
    label: trans.__('Agreement of responses'),
    caption: trans.__("Group a batch's responses by their final answer (self-consistency)"),
    describedBy: {
      args: {
        type: 'object',
        properties: {
          batchId: {
            type: 'string',
            description: "Default: the newest in this page; else read from the server's store."
          },
          by: {
            type: 'string',
            enum: [...AGREEMENT_METHODS],
            description: 'How the final answer is read (default last-line).'
          },
          pattern: {
            type: 'string',
            description: 'For regex: its first capture group (of the last match) is the answer.'
          },
          field: { type: 'string', description: 'For json: a path like answer or result.label.' }
        }
      }
    },
    execute: async (args): Promise<IAgreementResult> => {
      const batchId = optionalString(args, 'batchId');
      const by = optionalString(args, 'by') ?? 'last-line';
      const options = {
        by: by as never,
        pattern: optionalString(args, 'pattern'),
        field: optionalString(args, 'field')
      };
      if (batchId === undefined) {
        findBatch(model, {}); // Throws when there is no batch.
      }
      const summary = await getBatchSummary(model, context.getStoredBatch, batchId);
      return agreement(agreementInputs(model, summary), options);
    }
  });
}
