/**
 * `fanout:judge`: a chosen model scores a batch's responses against its prompt, or a rubric
 * (issue 17). The server builds the judge's request from the stored batch and keeps the
 * judgement (`POST fanout/batches/<id>/judge`, jupyterlab_fanout/judge.py); the page keeps it
 * in a {@link JudgementStore}, which the compare view's judge pane shows.
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { CommandRegistry } from '@lumino/commands';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { DEFAULT_RUBRIC_TEXT, IJudgeDialogValue, JudgeDialogBody } from '../components/JudgeDialog';
import type { IJudgeRequest } from '../handler';
import { isFinal } from '../core';
import type { JudgementStore } from '../model/judgements';
import { CommandIDs, IFanoutModel, IJudgement, IUpstreamListing } from '../tokens';
import { optionalBoolean, optionalString } from './args';
import { interactiveArg, isInteractive, reportingFailures } from './interactive';

/** What `fanout:judge` calls, wired by the compare plugin. */
export interface IJudgeCommandContext {
  commands: CommandRegistry;
  model: IFanoutModel;
  judgements: JudgementStore;
  trans: TranslationBundle;
  postJudge: (batchId: string, body: IJudgeRequest) => Promise<IJudgement>;
  /** The model the sidebar's controls name (the dialog's first choice). */
  controls?: () => { upstream: string; model: string };
  /** Show the batch's compare view, where the judge pane is; false when it cannot (not in this page). */
  show?: (batchId: string) => boolean;
  /** Ask for model and rubric (the dialog); null: cancelled. Replaceable in tests. */
  ask?: (batchId: string, count: number) => Promise<IJudgeDialogValue | null>;
}

/** The arguments of `fanout:judge`, checked, as the request body (plus `batchId` and `dialog`). */
export function judgeArgs(args: ReadonlyPartialJSONObject): IJudgeRequest & { batchId?: string; dialog: boolean } {
  const out: IJudgeRequest & { batchId?: string; dialog: boolean } = {
    dialog: optionalBoolean(args, 'dialog') ?? false
  };
  for (const key of ['batchId', 'model', 'upstream'] as const) {
    const value = optionalString(args, key);
    if (value !== undefined) {
      out[key] = value;
    }
  }
  const rubric = args.rubric;
  if (rubric !== undefined && rubric !== null) {
    if (typeof rubric === 'string') {
      out.rubric = rubric;
    } else if (Array.isArray(rubric)) {
      out.rubric = rubric.map((item, i) => {
        if (typeof item === 'string') {
          return { name: item };
        }
        const c = item as { name?: unknown; description?: unknown } | null;
        if (!c || typeof c !== 'object' || typeof c.name !== 'string' || !c.name.trim()) {
          throw new Error(`Argument "rubric[${i}]" must be {name, description?} with a non-empty name.`);
        }
        if (c.description !== undefined && typeof c.description !== 'string') {
          throw new Error(`Argument "rubric[${i}].description" must be a string.`);
        }
        return c.description === undefined ? { name: c.name } : { name: c.name, description: c.description };
      });
    } else {
      throw new Error('Argument "rubric" must be a list of {name, description?} or a text, one criterion per line.');
    }
  }
  const ids = args.responseIds;
  if (ids !== undefined && ids !== null) {
    if (!Array.isArray(ids) || ids.length === 0 || !ids.every(id => typeof id === 'string' && id)) {
      throw new Error('Argument "responseIds" must be a non-empty list of response ids ("1", "2", …).');
    }
    out.responseIds = ids as string[];
  }
  const attempts = args.attempts;
  if (attempts !== undefined && attempts !== null) {
    if (typeof attempts !== 'object' || Array.isArray(attempts)) {
      throw new Error('Argument "attempts" must be an object {responseId: attempt}.');
    }
    for (const [id, n] of Object.entries(attempts)) {
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
        throw new Error(`Argument "attempts.${id}" must be a positive whole number.`);
      }
    }
    out.attempts = attempts as Record<string, number>;
  }
  return out;
}

/** The attempt each card of the page's batch shows, for the responses that ended with text. */
function shownAttempts(model: IFanoutModel, batchId: string, only?: string[]): Record<string, number> {
  const batch = model.getBatch(batchId);
  const attempts: Record<string, number> = {};
  for (const response of batch?.responses ?? []) {
    if (only && !only.includes(response.id)) {
      continue;
    }
    const snapshot = response.shownSnapshot();
    if (isFinal(snapshot.status) && snapshot.content.trim()) {
      attempts[response.id] = response.shownAttempt;
    }
  }
  return attempts;
}

let lastRubric = DEFAULT_RUBRIC_TEXT;

/** Ask for the judge model and the rubric in a dialog (the default `ask`). */
export function judgeDialog(
  commands: CommandRegistry,
  trans: TranslationBundle,
  controls?: () => { upstream: string; model: string }
): (batchId: string, count: number) => Promise<IJudgeDialogValue | null> {
  return async (_batchId, count) => {
    let listing: IUpstreamListing | null = null;
    let unavailable: string | undefined;
    try {
      listing = (await commands.execute(CommandIDs.listUpstreams)) as IUpstreamListing;
    } catch (error) {
      unavailable = (error as Error)?.message ?? String(error);
    }
    const current = controls?.() ?? { upstream: '', model: '' };
    const body = new JudgeDialogBody({
      listing,
      unavailable,
      initial: { ...current, rubric: lastRubric },
      count,
      trans
    });
    const result = await showDialog({
      title: trans.__('Judge the responses'),
      body,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: trans.__('Judge') })],
      focusNodeSelector: 'select, input'
    });
    if (!result.button.accept || !result.value) {
      return null;
    }
    lastRubric = result.value.rubric;
    return result.value;
  };
}

/** Register `fanout:judge`. */
export function registerJudgeCommands(context: IJudgeCommandContext): void {
  const { commands, model, judgements, trans } = context;
  const ask = context.ask ?? judgeDialog(commands, trans, context.controls);

  commands.addCommand(CommandIDs.judge, {
    label: args => (args.dialog ? trans.__('Judge…') : trans.__('Judge responses')),
    caption: trans.__('Have a model score the responses against the prompt or a rubric'),
    describedBy: {
      args: {
        type: 'object',
        properties: {
          batchId: {
            type: 'string',
            description: "Default: the newest in this page (else read from the server's store)."
          },
          model: { type: 'string', description: "The judge model; default the upstream's default model." },
          upstream: { type: 'string', description: "A configured upstream's name; default the server's default." },
          rubric: {
            type: ['string', 'array'],
            items: { type: 'object', properties: { name: { type: 'string' }, description: { type: 'string' } } },
            description:
              'Criteria, each scored 1 to 10: [{name, description?}] or "name: description" lines; default "overall".'
          },
          responseIds: {
            type: 'array',
            items: { type: 'string' },
            description: 'Default: every ended response with text.'
          },
          attempts: { type: 'object', description: '{responseId: attempt}; default the attempt each card shows.' },
          dialog: { type: 'boolean', description: 'Ask for the model and the rubric in a dialog first.' },
          interactive: interactiveArg
        }
      }
    },
    execute: reportingFailures(trans.__('Judge'), async args => {
      const request = judgeArgs(args);
      const { dialog } = request;
      let batchId = request.batchId;
      if (batchId === undefined) {
        batchId = model.getBatch(undefined)?.id;
        if (batchId === undefined) {
          throw new Error(trans.__('There is no batch yet: run Generate responses first.'));
        }
      }
      const here = model.getBatch(batchId);
      if (here?.active) {
        throw new Error(trans.__('Batch %1 is still running: judge it when it has ended.', batchId));
      }
      const attempts = request.attempts ?? shownAttempts(model, batchId, request.responseIds);
      const body: IJudgeRequest = {
        ...(request.model !== undefined ? { model: request.model } : {}),
        ...(request.upstream !== undefined ? { upstream: request.upstream } : {}),
        ...(request.rubric !== undefined ? { rubric: request.rubric } : {}),
        ...(request.responseIds ? { responseIds: request.responseIds } : {}),
        ...(Object.keys(attempts).length > 0 ? { attempts } : {})
      };
      if (dialog) {
        const count = request.responseIds?.length ?? (here ? Object.keys(attempts).length : 0);
        const chosen = await ask(batchId, count);
        if (chosen === null) {
          return undefined;
        }
        body.model = chosen.model || undefined;
        body.upstream = chosen.upstream || undefined;
        body.rubric = chosen.rubric;
      }
      const shown = isInteractive(args) && (context.show?.(batchId) ?? false);
      const id = batchId;
      const judgement = await judgements.track(id, () => context.postJudge(id, body));
      judgements.add(judgement);
      if (isInteractive(args) && !shown) {
        // Not in this page (read from the store only): no compare view to show it beside.
        const best = judgement.rows[0];
        Notification.info(
          best && best.total !== null
            ? trans.__('Judged batch %1: best is response %2 (total %3).', id, best.responseId, best.total)
            : trans.__('Judged batch %1 (%2 problems).', id, judgement.problems.length),
          { autoClose: 8000 }
        );
      }
      return judgement;
    })
  });
}
