/**
 * The commands that take a response into the notebook: compare, parse and insert.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Clipboard, Notification } from '@jupyterlab/apputils';
import type { INotebookTracker } from '@jupyterlab/notebook';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { oneOf, optionalString } from './args';
import { CompareWidget, compareMainAreaWidget } from './compare';
import type { CompareLayout, CompareView, ICompareActions } from './components/ComparePanel';
import {
  currentNotebook,
  ICellSpec,
  InsertMode,
  INSERT_MODES,
  insertIntoNewNotebook,
  insertIntoNotebook,
  notebookLanguage
} from './notebook';
import { isParseFailure, parseOne } from './parse';
import { CommandIDs, IBatchView, IFanoutModel, IResponseView } from './tokens';

/** What these commands need, wired by the plugin. */
export interface INotebookCommandContext {
  app: JupyterFrontEnd;
  model: IFanoutModel;
  tracker: INotebookTracker;
  /** A registry whose sanitizer refuses the command linker: model output is untrusted. */
  rendermime: IRenderMimeRegistry;
  trans: TranslationBundle;
}

function findBatch(model: IFanoutModel, args: ReadonlyPartialJSONObject): IBatchView {
  const batchId = optionalString(args, 'batchId');
  const batch = model.getBatch(batchId);
  if (!batch) {
    throw new Error(batchId ? `There is no batch ${batchId}.` : 'There is no batch yet: run Generate responses first.');
  }
  return batch;
}

function findResponse(batch: IBatchView, responseId: string | undefined): IResponseView {
  if (!responseId) {
    throw new Error('This command needs a responseId ("1", "2", …).');
  }
  const response = batch.responses.find(r => r.id === responseId);
  if (!response) {
    throw new Error(`Batch ${batch.id} has no response ${responseId} (it has 1 to ${batch.responses.length}).`);
  }
  return response;
}

/** The cells a response becomes: parsed (prose → markdown, code → code) or as one markdown cell. */
export function cellsOf(
  content: string,
  format: 'cells' | 'text',
  options: { language: string; structured?: boolean },
  cell?: number
): ICellSpec[] {
  if (format === 'text') {
    return [{ type: 'markdown', source: content }];
  }
  const outcome = parseOne(content, options);
  if (isParseFailure(outcome)) {
    throw new Error(`${outcome.error} Insert it as text instead, or edit it after inserting.`);
  }
  const cells: ICellSpec[] = outcome.cells.map(c => ({ type: c.type, source: c.source }));
  if (cell === undefined) {
    return cells;
  }
  if (!Number.isInteger(cell) || cell < 0 || cell >= cells.length) {
    throw new Error(`The response parses into ${cells.length} cells; there is no cell ${cell}.`);
  }
  return [cells[cell]];
}

const responseArgs = {
  batchId: { type: 'string', description: 'The batch; default: the newest.' },
  responseId: { type: 'string', description: 'The response ("1", "2", …).' }
};

/** Register compare, parse and insert. */
export function registerNotebookCommands(context: INotebookCommandContext): void {
  const { app, model, tracker, trans } = context;
  const language = () => notebookLanguage(tracker.currentWidget);

  const insert = async (args: ReadonlyPartialJSONObject) => {
    const batch = findBatch(model, args);
    const response = findResponse(batch, optionalString(args, 'responseId'));
    const mode = oneOf<InsertMode>(args, 'mode', INSERT_MODES, 'below');
    const format = oneOf(args, 'format', ['cells', 'text'] as const, 'cells');
    const cellArg = args.cell;
    const cells = cellsOf(
      response.snapshot().content,
      format,
      { language: language(), structured: batch.options.structured },
      typeof cellArg === 'number' ? cellArg : undefined
    );
    if (mode === 'new-notebook') {
      const panel = await insertIntoNewNotebook(app.commands, cells);
      return { path: panel.context.path, index: 0, count: cells.length };
    }
    const panel = currentNotebook(tracker);
    const index = insertIntoNotebook(panel, cells, mode);
    return { path: panel.context.path, index, count: cells.length };
  };

  const actionsFor = (batchId: string): ICompareActions => ({
    insert: (responseId, mode, format, cell) => {
      app.commands
        .execute(CommandIDs.insert, { batchId, responseId, mode, format, ...(cell === undefined ? {} : { cell }) })
        .catch(reason => Notification.error(trans.__('Insert: %1', (reason as Error).message), { autoClose: 8000 }));
    },
    copy: text => Clipboard.copyToSystem(text),
    activeCellSource: () => (tracker.activeCell ? tracker.activeCell.model.sharedModel.getSource() : null),
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
    execute: args => {
      const batch = findBatch(model, args);
      const view = oneOf<CompareView>(args, 'view', ['rendered', 'parsed', 'raw'], 'rendered');
      const layout = oneOf<CompareLayout>(args, 'layout', ['tabs', 'side-by-side'], 'tabs');
      openCompare(batch, view, layout);
      return { batchId: batch.id };
    }
  });

  app.commands.addCommand(CommandIDs.parse, {
    label: args =>
      args.responseId ? trans.__('Parse response into cells') : trans.__('Parse all responses into cells'),
    describedBy: { args: { type: 'object', properties: responseArgs } },
    execute: args => {
      const batch = findBatch(model, args);
      const responseId = optionalString(args, 'responseId');
      const parse = (response: IResponseView) => ({
        responseId: response.id,
        ...parseOne(response.snapshot().content, { language: language(), structured: batch.options.structured })
      });
      if (responseId) {
        return parse(findResponse(batch, responseId));
      }
      // Parse all: every response is parsed here, and the parsed view is shown at once (case 015).
      const results = batch.responses.map(parse);
      openCompare(batch, 'parsed', 'side-by-side');
      return { batchId: batch.id, responses: results };
    }
  });

  app.commands.addCommand(CommandIDs.insert, {
    label: trans.__('Insert response into the notebook'),
    describedBy: {
      args: {
        type: 'object',
        required: ['responseId'],
        properties: {
          ...responseArgs,
          mode: { type: 'string', enum: [...INSERT_MODES], description: 'below (default), replace, new-notebook' },
          format: {
            type: 'string',
            enum: ['cells', 'text'],
            description: 'cells (parsed, default) or text (one markdown cell)'
          },
          cell: { type: 'integer', minimum: 0, description: 'Only this parsed cell (0-based).' }
        }
      }
    },
    execute: insert
  });
}
