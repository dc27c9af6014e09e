/**
 * Compare's commands: compare a batch's responses in the main area, and parse them into cells.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Clipboard, Notification } from '@jupyterlab/apputils';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type { TranslationBundle } from '@jupyterlab/translation';

import type { CompareLayout, CompareView, ICompareActions } from '../components/ComparePanel';
import { parseOne } from '../parse';
import { CommandIDs, IBatchView, IFanoutActiveCell, IFanoutModel, IResponseView } from '../tokens';
import { CompareWidget, compareMainAreaWidget } from '../widgets/compare';
import { oneOf, optionalString } from './args';
import { attemptArg, findAttempt, findBatch, findResponse, responseArgs } from './find';
import { reportingFailures } from './interactive';

/** What these commands need, wired by the compare plugin. */
export interface ICompareCommandContext {
  app: JupyterFrontEnd;
  model: IFanoutModel;
  /** The active cell (to diff against, and its notebook's language); null without notebooks. */
  activeCell: IFanoutActiveCell | null;
  /** A registry whose sanitizer refuses the command linker: model output is untrusted. */
  rendermime: IRenderMimeRegistry;
  trans: TranslationBundle;
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
    copy: text => Clipboard.copyToSystem(text),
    activeCellSource: () => activeCell?.source() ?? null,
    language
  });

  const openCompare = (batch: IBatchView, view?: CompareView, layout?: CompareLayout) => {
    const id = `jupyterlab-fanout-compare-${batch.id}`;
    const existing = Array.from(app.shell.widgets('main')).find(w => w.id === id);
    existing?.dispose();
    const content = new CompareWidget({
      model,
      batchId: batch.id,
      rendermime: context.rendermime,
      trans,
      actions: actionsFor(batch.id),
      view,
      layout
    });
    const widget = compareMainAreaWidget(content, batch.id, batch.options.prompt, trans);
    app.shell.add(widget, 'main');
    app.shell.activateById(widget.id);
    return widget;
  };

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
    execute: reportingFailures(trans.__('Compare responses'), args => {
      const batch = findBatch(model, args);
      const view = oneOf<CompareView>(args, 'view', ['rendered', 'parsed', 'raw'], 'rendered');
      const layout = oneOf<CompareLayout>(args, 'layout', ['tabs', 'side-by-side'], 'tabs');
      openCompare(batch, view, layout);
      return { batchId: batch.id };
    })
  });

  app.commands.addCommand(CommandIDs.parse, {
    label: args =>
      args.responseId ? trans.__('Parse response into cells') : trans.__('Parse all responses into cells'),
    describedBy: { args: { type: 'object', properties: { ...responseArgs, attempt: attemptArg } } },
    execute: reportingFailures(trans.__('Parse responses'), args => {
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
      openCompare(batch, 'parsed', 'side-by-side');
      return { batchId: batch.id, responses: results };
    })
  });
}
