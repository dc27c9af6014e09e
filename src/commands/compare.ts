/**
 * Compare's commands: compare a batch's responses in the main area, parse them into cells, and
 * copy a response or one of its cells.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import type { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type { TranslationBundle } from '@jupyterlab/translation';

import type { CompareLayout, CompareView, ICompareActions } from '../components/ComparePanel';
import { copyTextOf } from '../components/diff';
import { parseOne } from '../parse';
import { CommandIDs, IBatchView, IFanoutActiveCell, IFanoutModel, IResponseView } from '../tokens';
import type { JudgementStore } from '../model/judgements';
import { CompareWidget, compareMainAreaWidget, compareWidgetId } from '../widgets/compare';
import { showInMainArea } from '../widgets/mainArea';
import { oneOf, optionalString } from './args';
import { attemptArg, findAttempt, findBatch, findResponse, responseArgs } from './find';
import { interactiveArg, reportingFailures } from './interactive';

/** What these commands need, wired by the compare plugin. */
export interface ICompareCommandContext {
  app: JupyterFrontEnd;
  model: IFanoutModel;
  /** The active cell (to diff against, and its notebook's language); null without notebooks. */
  activeCell: IFanoutActiveCell | null;
  /** A registry whose sanitizer refuses the command linker: model output is untrusted. */
  rendermime: IRenderMimeRegistry;
  trans: TranslationBundle;
  /** JupyterLab's language registry, to highlight parsed code; null without it (plain text). */
  languages?: IEditorLanguageRegistry | null;
  /** The judge's judgements, shown beside the view, and how to read a batch's stored ones. */
  judgements?: JudgementStore;
  loadJudgements?: (batchId: string) => Promise<void>;
}

/**
 * Put `text` on the system clipboard (`navigator.clipboard`) and say so in a notification. On
 * failure it rejects with an error naming `what` and the reason, for the caller to report once.
 */
export async function copyToClipboard(text: string, what: string, trans: TranslationBundle): Promise<void> {
  try {
    if (!navigator.clipboard?.writeText) {
      throw new Error(trans.__('this browser gives no clipboard access here (it needs a secure context)'));
    }
    await navigator.clipboard.writeText(text);
  } catch (error) {
    throw new Error(trans.__('Could not copy %1: %2', what, (error as Error)?.message ?? String(error)));
  }
  Notification.success(trans.__('Copied %1 (%2 characters)', what, text.length), { autoClose: 3000 });
}

/** Register compare and parse. */
export function registerCompareCommands(context: ICompareCommandContext): void {
  const { app, model, activeCell, trans } = context;
  const language = () => activeCell?.language() ?? 'python';

  const actionsFor = (batchId: string): ICompareActions => ({
    insert: (responseId, mode, format, cell, attempt) => {
      const extra = { ...(cell === undefined ? {} : { cell }), ...(attempt === undefined ? {} : { attempt }) };
      app.commands
        .execute(CommandIDs.insert, { batchId, responseId, mode, format, ...extra })
        .catch(reason => Notification.error(trans.__('Insert: %1', (reason as Error).message), { autoClose: 8000 }));
    },
    copy: text =>
      copyToClipboard(text, trans.__('the code block'), trans).catch(reason =>
        Notification.error((reason as Error).message, { autoClose: 8000 })
      ),
    copyResponse: (responseId, attempt, cell) => {
      const extra = { ...(cell === undefined ? {} : { cell }), ...(attempt === undefined ? {} : { attempt }) };
      app.commands
        .execute(CommandIDs.copy, { batchId, responseId, ...extra, interactive: true })
        .catch(reason => Notification.error(trans.__('Copy: %1', (reason as Error).message), { autoClose: 8000 }));
    },
    activeCellSource: () => activeCell?.source() ?? null,
    language
  });

  const openCompare = (batch: IBatchView, view?: CompareView, layout?: CompareLayout) =>
    showInMainArea(app, compareWidgetId(batch.id), () => {
      const content = new CompareWidget({
        model,
        batchId: batch.id,
        rendermime: context.rendermime,
        trans,
        actions: actionsFor(batch.id),
        view,
        layout,
        languages: context.languages ?? null,
        judge: context.judgements
          ? {
              store: context.judgements,
              run: () => {
                app.commands
                  .execute(CommandIDs.judge, { batchId: batch.id, dialog: true, interactive: true })
                  .catch(reason =>
                    Notification.error(trans.__('Judge: %1', (reason as Error).message), { autoClose: 8000 })
                  );
              },
              load: context.loadJudgements
            }
          : undefined
      });
      return compareMainAreaWidget(content, batch.id, batch.options.prompt, trans);
    });

  app.commands.addCommand(CommandIDs.compare, {
    label: trans.__('Compare responses'),
    describedBy: {
      args: {
        type: 'object',
        properties: {
          batchId: responseArgs.batchId,
          view: { type: 'string', enum: ['rendered', 'parsed', 'raw'] },
          layout: { type: 'string', enum: ['tabs', 'side-by-side'] }
        }
      }
    },
    isEnabled: args => model.getBatch(optionalString(args, 'batchId')) !== undefined,
    execute: reportingFailures(trans.__('Compare responses'), async args => {
      const batch = findBatch(model, args);
      const view = oneOf<CompareView>(args, 'view', ['rendered', 'parsed', 'raw'], 'rendered');
      const layout = oneOf<CompareLayout>(args, 'layout', ['tabs', 'side-by-side'], 'tabs');
      await openCompare(batch, view, layout);
      return { batchId: batch.id };
    })
  });

  app.commands.addCommand(CommandIDs.parse, {
    label: args =>
      args.responseId ? trans.__('Parse response into cells') : trans.__('Parse all responses into cells'),
    describedBy: { args: { type: 'object', properties: { ...responseArgs, attempt: attemptArg } } },
    execute: reportingFailures(trans.__('Parse responses'), async args => {
      const batch = findBatch(model, args);
      const responseId = optionalString(args, 'responseId');
      const parse = (response: IResponseView, attempt = findAttempt(response, {})) => ({
        responseId: response.id,
        attempt: attempt.attempt,
        ...parseOne(attempt.snapshot().content, { language: language(), structured: batch.options.structured })
      });
      if (responseId) {
        const response = findResponse(batch, responseId);
        return parse(response, findAttempt(response, args));
      }
      if (args.attempt !== undefined && args.attempt !== null) {
        throw new Error('Parse: "attempt" names an attempt of one response; give its responseId too.');
      }
      // Parse all: every response is parsed here, and the parsed view is shown at once (case 015).
      const results = batch.responses.map(response => parse(response));
      await openCompare(batch, 'parsed', 'side-by-side');
      return { batchId: batch.id, responses: results };
    })
  });

  app.commands.addCommand(CommandIDs.copy, {
    label: args => (args.cell !== undefined ? trans.__('Copy cell of response') : trans.__('Copy response')),
    describedBy: {
      args: {
        type: 'object',
        properties: {
          ...responseArgs,
          attempt: attemptArg,
          cell: {
            type: 'integer',
            minimum: 0,
            description: "A cell of the parsed response (0-based, as insert's); default: the whole response."
          },
          interactive: interactiveArg
        }
      }
    },
    execute: reportingFailures(trans.__('Copy'), async args => {
      const batch = findBatch(model, args);
      const response = findResponse(batch, optionalString(args, 'responseId'));
      const attempt = findAttempt(response, args);
      const cell = args.cell === undefined || args.cell === null ? undefined : (args.cell as number);
      const text = copyTextOf(attempt.snapshot().content, cell, {
        language: language(),
        structured: batch.options.structured
      });
      const what =
        cell === undefined
          ? trans.__('response %1', response.id)
          : trans.__('cell %1 of response %2', cell, response.id);
      await copyToClipboard(text, what, trans);
      return {
        batchId: batch.id,
        responseId: response.id,
        attempt: attempt.attempt,
        ...(cell === undefined ? {} : { cell }),
        text
      };
    })
  });
}
