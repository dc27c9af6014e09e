/**
 * Fuse (issue 17): `fanout:fuse` merges responses of a batch into one new response of that
 * batch, streamed like the others; `fanout:fuse-checklist` asks a model for the distinct points
 * across them (the guided merge); `fanout:fuse-dialog` opens the dialog a person uses for both.
 *
 * A fused response is recorded in the server's store (`PUT .../responses/<id>/fusion`) before
 * it starts, so that the store and every later read know what it merged; with the store off
 * (404) it still runs and the page keeps it (the workspace). The checklist is one REST call
 * through the server (jupyterlab_fanout/fusions.py says why it is not a hidden response).
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import type { CommandRegistry } from '@lumino/commands';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import {
  ChecklistError,
  checklistMessages,
  DEFAULT_FUSE_INSTRUCTION,
  IChecklistPoint,
  questionOf,
  readChecklist
} from '../fuse';
import { checklistArg, fuseSources, responseIdsArg } from '../fuse/sources';
import type { IChecklistAnswer } from '../handler';
import { CommandIDs, IBatchView, IFanoutModel, IFanoutSettings, IFusion, IFusionSource } from '../tokens';
import { optionalString } from './args';
import { findBatch } from './find';
import { interactiveArg, reportingFailures } from './interactive';

export { checklistArg, fuseSources, responseIdsArg };

/** What the dialog gives back: the fuse arguments, and whether to ask for a checklist first. */
export interface IFuseChoice {
  responseIds: string[];
  model: string;
  upstream: string;
  instruction: string;
  /** The points ticked (guided merge), or null. */
  checklist: string[] | null;
}

/** What the fuse commands call (`../handler`, the dialog), and the page's batches. */
export interface IFuseCommandContext {
  commands: CommandRegistry;
  trans: TranslationBundle;
  model: IFanoutModel;
  settings: IFanoutSettings;
  recordFusion: (
    batchId: string,
    responseId: string,
    fusion: IFusion & { model: string; upstream: string }
  ) => Promise<unknown>;
  checklistCall: (upstream: string, request: Record<string, unknown>) => Promise<IChecklistAnswer>;
  /** The Fuse dialog (src/widgets/fuse.tsx): resolves with the choice, or null when cancelled. */
  showDialog?: (batch: IBatchView) => Promise<IFuseChoice | null>;
}

/** The drafts of `sources` (their text), in order. */
function draftsOf(batch: IBatchView, sources: ReadonlyArray<IFusionSource>) {
  return sources.map(({ responseId, attempt }) => {
    const response = batch.responses.find(r => r.id === responseId)!;
    const view = response.attempts.find(a => a.attempt === attempt)!;
    return { responseId, attempt, text: view.snapshot().content };
  });
}

/** True when `error` is the server's 404 (REST errors carry the response). */
function notFound(error: unknown): boolean {
  return (error as { response?: { status?: number } } | null)?.response?.status === 404;
}

/** Register `fanout:fuse`, `fanout:fuse-checklist` and `fanout:fuse-dialog`. */
export function registerFuseCommands(context: IFuseCommandContext): void {
  const { commands, trans, model, settings } = context;

  /** The batch `args.batchId` names: in this page, else opened from the store first. */
  const batchOf = async (args: ReadonlyPartialJSONObject): Promise<IBatchView> => {
    const batchId = optionalString(args, 'batchId');
    if (batchId !== undefined && !model.getBatch(batchId)) {
      await commands.execute(CommandIDs.openBatch, { batchId });
    }
    return findBatch(model, args);
  };

  /** The model and upstream asked: the arguments', else the settings'. */
  const target = (args: ReadonlyPartialJSONObject) => {
    const defaults = settings.generateDefaults();
    return {
      model: optionalString(args, 'model') ?? defaults.model,
      upstream: optionalString(args, 'upstream') ?? defaults.upstream
    };
  };

  const fuse = async (args: ReadonlyPartialJSONObject): Promise<{ batchId: string; responseId: string }> => {
    const batch = await batchOf(args);
    const sources = fuseSources(batch, responseIdsArg(args));
    const instruction = optionalString(args, 'instruction') ?? settings.fuseInstruction?.() ?? DEFAULT_FUSE_INSTRUCTION;
    if (!instruction.trim()) {
      throw new Error('The synthesis instruction is empty: write what the merge should do.');
    }
    const checklist = checklistArg(args) ?? null;
    const { model: chosenModel, upstream } = target(args);
    const responseId = String(
      Math.max(
        batch.responses.length,
        ...batch.responses.map(r => (/^[1-9][0-9]{0,8}$/.test(r.id) ? Number(r.id) : 0))
      ) + 1
    );
    const fusion = { sources, instruction, checklist, model: chosenModel, upstream };
    try {
      await context.recordFusion(batch.id, responseId, fusion);
    } catch (error) {
      if (!notFound(error)) {
        throw new Error(trans.__('The server refused the fusion: %1', (error as Error).message));
      }
      // The store is off or does not hold the batch: the page keeps the fused response.
      console.warn(`jupyterlab-fanout: batch ${batch.id}: the fusion is not kept in the server's store`, error);
    }
    const response = model.fuse(batch.id, { ...fusion, responseId });
    return { batchId: batch.id, responseId: response.id };
  };

  commands.addCommand(CommandIDs.fuse, {
    label: trans.__('Fuse responses'),
    caption: trans.__("Merge a batch's responses into one new response with a chosen model"),
    describedBy: {
      args: {
        type: 'object',
        properties: {
          batchId: { type: 'string', description: 'Default: the newest in this page.' },
          responseIds: {
            type: 'array',
            items: { type: 'string' },
            description:
              'The responses to merge (the attempt each shows); default: every ended one with text, fused ones left out.'
          },
          model: { type: 'string', description: 'Default: the model setting.' },
          upstream: { type: 'string', description: 'Default: the upstream setting.' },
          instruction: { type: 'string', description: 'Default: the fuseInstruction setting.' },
          checklist: {
            type: 'array',
            items: { type: 'string' },
            description: 'Points the merge must cover (guided merge).'
          },
          interactive: interactiveArg
        }
      }
    },
    execute: reportingFailures(trans.__('Fuse'), fuse)
  });

  const checklist = async (args: ReadonlyPartialJSONObject) => {
    const batch = await batchOf(args);
    const sources = fuseSources(batch, responseIdsArg(args));
    const drafts = draftsOf(batch, sources);
    const { model: chosenModel, upstream } = target(args);
    // No max_tokens: the server sends its default (`c.Fanout.default_max_tokens`, within its
    // limit), room for a list of points whatever the batch's own max tokens were.
    const request: Record<string, unknown> = {
      messages: checklistMessages(questionOf(batch.options), drafts),
      temperature: 0
    };
    if (chosenModel) {
      request.model = chosenModel;
    }
    const answer = await context.checklistCall(upstream, request);
    let points: IChecklistPoint[];
    try {
      points = readChecklist(
        answer.text,
        sources.map(s => s.responseId)
      );
    } catch (error) {
      if (error instanceof ChecklistError && answer.finishReason === 'length') {
        throw new ChecklistError(`${error.message} The answer was cut off by max tokens.`, error.raw);
      }
      throw error;
    }
    return {
      batchId: batch.id,
      points,
      raw: answer.text,
      model: answer.model,
      sources: sources.map(s => s.responseId)
    };
  };

  commands.addCommand(CommandIDs.fuseChecklist, {
    label: trans.__('Checklist of points across responses'),
    caption: trans.__('Ask a model for the distinct points across responses (guided merge)'),
    describedBy: {
      args: {
        type: 'object',
        properties: {
          batchId: { type: 'string' },
          responseIds: { type: 'array', items: { type: 'string' } },
          model: { type: 'string' },
          upstream: { type: 'string' },
          interactive: interactiveArg
        }
      }
    },
    execute: reportingFailures(trans.__('Checklist'), checklist)
  });

  commands.addCommand(CommandIDs.fuseDialog, {
    label: trans.__('Fuse…'),
    caption: trans.__('Choose responses, a model and an instruction, and merge them into one new response'),
    describedBy: { args: { type: 'object', properties: { batchId: { type: 'string' }, interactive: interactiveArg } } },
    execute: reportingFailures(trans.__('Fuse'), async args => {
      if (!context.showDialog) {
        throw new Error('The Fuse dialog is not available here.');
      }
      const batch = await batchOf(args);
      const choice = await context.showDialog(batch);
      if (!choice) {
        return null;
      }
      return fuse({ batchId: batch.id, ...choice, checklist: choice.checklist });
    })
  });
}
