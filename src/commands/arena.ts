/**
 * The arena's commands: a blind vote between a batch's responses (`fanout:vote`), the
 * leaderboard from the votes (`fanout:leaderboard`), and a batch's tags that filter it
 * (`fanout:tag-batch`). The votes live in the server's store (jupyterlab_fanout/votes.py).
 */
import type { CommandRegistry } from '@lumino/commands';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import type { TranslationBundle } from '@jupyterlab/translation';

import { CommandIDs, ILeaderboard, IStoredBatch, IVote, VoteOutcome } from '../tokens';
import type { IFanoutModel } from '../tokens';
import { oneOf, optionalBoolean, optionalString } from './args';
import { interactiveArg, isInteractive, reportingFailures } from './interactive';

export const OUTCOMES: ReadonlyArray<VoteOutcome> = ['a', 'b', 'tie', 'both-bad'];

/** The vote view's two modes: one pair at a time, or every response put in order. */
export type VoteMode = 'pairs' | 'rank';
export const VOTE_MODES: ReadonlyArray<VoteMode> = ['pairs', 'rank'];

/** The REST calls (`../handler`) and the views, wired by the arena plugin. */
export interface IArenaCommandContext {
  commands: CommandRegistry;
  trans: TranslationBundle;
  model: Pick<IFanoutModel, 'getBatch'>;
  getStoredBatch: (id: string) => Promise<IStoredBatch>;
  postVote: (vote: Record<string, unknown>) => Promise<{ id: string; votes: IVote[] }>;
  getLeaderboard: (tags: string[]) => Promise<ILeaderboard>;
  getLeaderboardCsv: (tags: string[]) => Promise<string>;
  setBatchTags: (id: string, tags: string[]) => Promise<{ id: string; tags: string[] }>;
  /** Show the blind vote view of a stored batch, on pairs or on "Rank all". */
  openVote: (batch: IStoredBatch, mode: VoteMode) => void | Promise<void>;
  /** Show the leaderboard view, filtered by these tags. */
  openLeaderboard: (tags: string[]) => void | Promise<void>;
  /**
   * Ask a person for a batch's tags (`fanout:tag-batch` run without `tags`): the new list, or
   * null when they cancelled.
   */
  askTags?: (title: string, current: string[]) => Promise<string[] | null>;
  /** A vote was cast or a batch's tags changed: the leaderboard reads again. */
  changed: () => void;
}

/** `args[key]` as a list of strings (absent: undefined), or a specific error. */
export function optionalStrings(args: ReadonlyPartialJSONObject, key: string, what: string): string[] | undefined {
  const value = args[key];
  if (value === undefined || value === null) {
    return undefined;
  }
  if (!Array.isArray(value) || !value.every(v => typeof v === 'string')) {
    throw new Error(`${what}: argument "${key}" must be a list of strings, not ${JSON.stringify(value)}.`);
  }
  return value as string[];
}

function required(args: ReadonlyPartialJSONObject, key: string, what: string): string {
  const value = optionalString(args, key);
  if (value === undefined || value === '') {
    throw new Error(`${what} needs "${key}".`);
  }
  return value;
}

/** Register fanout:vote, fanout:leaderboard and fanout:tag-batch. */
export function registerArenaCommands(context: IArenaCommandContext): void {
  const { commands, trans } = context;

  commands.addCommand(CommandIDs.vote, {
    label: args =>
      args.mode === 'rank' ? trans.__('Blind vote: rank all responses of a batch') : trans.__('Blind vote on a batch'),
    describedBy: {
      args: {
        type: 'object',
        properties: {
          batchId: { type: 'string', description: 'A stored batch (default: the newest of this page).' },
          a: { type: 'string', description: 'Response id of side A.' },
          b: { type: 'string', description: 'Response id of side B.' },
          outcome: { type: 'string', enum: [...OUTCOMES] },
          ranking: { type: 'array', items: { type: 'string' }, description: 'Response ids, best first.' },
          mode: {
            type: 'string',
            enum: [...VOTE_MODES],
            description: 'Opening the view: one pair at a time (default) or "Rank all".'
          },
          interactive: interactiveArg
        }
      }
    },
    execute: reportingFailures(trans.__('Vote'), async args => {
      const what = 'Vote';
      const ranking = optionalStrings(args, 'ranking', what);
      const pairGiven = ['a', 'b', 'outcome'].some(k => args[k] !== undefined && args[k] !== null);
      if (ranking !== undefined || pairGiven) {
        const batchId = required(args, 'batchId', what);
        let body: Record<string, unknown>;
        if (ranking !== undefined) {
          if (pairGiven) {
            throw new Error('Vote: give either "ranking" or "a", "b" and "outcome", not both.');
          }
          body = { batchId, ranking };
        } else {
          const outcome = oneOf<VoteOutcome>(args, 'outcome', OUTCOMES, '' as VoteOutcome);
          body = { batchId, a: required(args, 'a', what), b: required(args, 'b', what), outcome };
        }
        const answer = await context.postVote(body);
        context.changed();
        return answer;
      }
      const batchId = optionalString(args, 'batchId') || context.model.getBatch(undefined)?.id;
      if (!batchId) {
        throw new Error('Vote needs a batchId: there is no batch in this page.');
      }
      const mode = oneOf<VoteMode>(args, 'mode', VOTE_MODES, 'pairs');
      await context.openVote(await context.getStoredBatch(batchId), mode);
      return { batchId };
    })
  });

  commands.addCommand(CommandIDs.leaderboard, {
    label: trans.__('Show the leaderboard'),
    describedBy: {
      args: {
        type: 'object',
        properties: {
          tags: { type: 'array', items: { type: 'string' } },
          format: { type: 'string', enum: ['table', 'csv'] },
          open: { type: 'boolean', description: 'Show the leaderboard view too.' },
          interactive: interactiveArg
        }
      }
    },
    execute: reportingFailures(trans.__('Leaderboard'), async args => {
      const tags = optionalStrings(args, 'tags', 'Leaderboard') ?? [];
      const format = oneOf<'table' | 'csv'>(args, 'format', ['table', 'csv'], 'table');
      const result = format === 'csv' ? await context.getLeaderboardCsv(tags) : await context.getLeaderboard(tags);
      if (optionalBoolean(args, 'open') || isInteractive(args)) {
        await context.openLeaderboard(tags);
      }
      return result as unknown as ReadonlyPartialJSONObject;
    })
  });

  commands.addCommand(CommandIDs.tagBatch, {
    label: trans.__('Tag a stored batch'),
    describedBy: {
      args: {
        type: 'object',
        properties: {
          batchId: { type: 'string' },
          tags: {
            type: 'array',
            items: { type: 'string' },
            description: 'The new tags, replacing the old ones; without it, run by a person, a dialog asks.'
          },
          interactive: interactiveArg
        },
        required: ['batchId']
      }
    },
    execute: reportingFailures(trans.__('Tag batch'), async args => {
      const batchId = required(args, 'batchId', 'Tag batch');
      let tags = optionalStrings(args, 'tags', 'Tag batch');
      if (tags === undefined) {
        if (!isInteractive(args) || !context.askTags) {
          throw new Error('Tag batch needs "tags" (a list of strings; [] removes them all).');
        }
        const batch = await context.getStoredBatch(batchId);
        const answer = await context.askTags(batch.title, batch.tags ?? []);
        if (answer === null) {
          return undefined;
        }
        tags = answer;
      }
      const answer = await context.setBatchTags(batchId, tags);
      context.changed();
      commands.notifyCommandChanged(CommandIDs.listBatches);
      return answer;
    })
  });
}
