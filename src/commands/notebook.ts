/**
 * The notebook's commands: insert a response into the notebook, and generate from a cell.
 */
import { Notification } from '@jupyterlab/apputils';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { CommandRegistry } from '@lumino/commands';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import {
  currentNotebook,
  focusNotebook,
  ICellSpec,
  IInsertion,
  InsertMode,
  INSERT_MODES,
  insertIntoNewNotebook,
  insertIntoNotebook,
  IProvenance,
  undoInsertion
} from '../notebook/insert';
import { isParseFailure, parseOne } from '../parse';
import { CommandIDs, IFanoutActiveCell, IFanoutModel } from '../tokens';
import { oneOf, optionalBoolean, optionalString } from './args';
import { interactiveArg, reportingFailures } from './interactive';
import { attemptArg, findAttempt, findBatch, findResponse, responseArgs } from './find';

/** What these commands need, wired by the notebook plugin. */
export interface INotebookCommandContext {
  commands: CommandRegistry;
  model: IFanoutModel;
  tracker: INotebookTracker;
  activeCell: IFanoutActiveCell;
  trans: TranslationBundle;
  /** Bring a notebook panel to the front and give it the keyboard (the shell's `activateById`). */
  activate: (panel: NotebookPanel) => void;
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

/** Register insert and generate-from-cell. */
export function registerNotebookCommands(context: INotebookCommandContext): void {
  const { commands, model, tracker, activeCell, trans } = context;

  /**
   * What was inserted, said once, with Undo (which removes the cells in one step). The
   * notification stays in JupyterLab's notification list: it names the notebook by id, so that
   * it does not keep a closed notebook in memory.
   */
  const announce = (panel: NotebookPanel, insertion: IInsertion, what: string) => {
    const panelId = panel.id;
    const path = panel.context.path;
    const id = Notification.success(what, {
      autoClose: 10000,
      actions: [
        {
          label: trans.__('Undo'),
          caption: trans.__('Remove the inserted cells'),
          callback: () => {
            Notification.dismiss(id);
            const open = tracker.find(candidate => candidate.id === panelId);
            const removed = open ? undoInsertion(open, insertion) : 0;
            if (!open || removed === 0) {
              Notification.info(trans.__('Nothing to undo: the inserted cells are no longer in %1.', path), {
                autoClose: 5000
              });
              return;
            }
            focusNotebook(open, context.activate);
          }
        }
      ]
    });
  };

  const insert = async (args: ReadonlyPartialJSONObject) => {
    const batch = findBatch(model, args);
    const response = findResponse(batch, optionalString(args, 'responseId'));
    const mode = oneOf<InsertMode>(args, 'mode', INSERT_MODES, 'below');
    const format = oneOf(args, 'format', ['cells', 'text'] as const, 'cells');
    const cellArg = args.cell;
    const attempt = findAttempt(response, args);
    const snapshot = attempt.snapshot();
    if (snapshot.content === '') {
      const why = snapshot.error ? `: ${snapshot.error.message}` : '';
      const which = response.attempts.length > 1 ? `Attempt ${attempt.attempt} of response` : 'Response';
      const hint = response.attempts.length > 1 ? ' Show another attempt (‹ ›) to insert it.' : '';
      throw new Error(`${which} ${response.id} has no text to insert (${snapshot.status}${why}).${hint}`);
    }
    const cells = cellsOf(
      snapshot.content,
      format,
      { language: activeCell.language(), structured: batch.options.structured },
      typeof cellArg === 'number' ? cellArg : undefined
    );
    const modelName = snapshot.model || response.model || null;
    const provenance: IProvenance = {
      batch: batch.id,
      response: response.id,
      attempt: attempt.attempt,
      model: modelName,
      seed: attempt.seed,
      temperature: batch.options.temperature,
      upstream: response.upstream || null
    };
    const from = modelName
      ? trans._n(
          '%1 cell from response %2 (model %3)',
          '%1 cells from response %2 (model %3)',
          cells.length,
          response.index,
          modelName
        )
      : trans._n('%1 cell from response %2', '%1 cells from response %2', cells.length, response.index);
    const quiet = optionalBoolean(args, 'notify') === false;
    if (mode === 'new-notebook') {
      const panel = await insertIntoNewNotebook(commands, cells, provenance);
      if (!quiet) {
        Notification.success(trans.__('Inserted %1 into the new notebook %2', from, panel.context.path), {
          autoClose: 10000
        });
      }
      return { path: panel.context.path, index: 0, count: cells.length, attempt: attempt.attempt };
    }
    const panel = currentNotebook(tracker);
    const insertion = insertIntoNotebook(panel, cells, mode, provenance);
    focusNotebook(panel, context.activate);
    if (!quiet) {
      announce(panel, insertion, trans.__('Inserted %1 into %2', from, panel.context.path));
    }
    return { path: panel.context.path, index: insertion.index, count: cells.length, attempt: attempt.attempt };
  };

  commands.addCommand(CommandIDs.insert, {
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
          cell: { type: 'integer', minimum: 0, description: 'Only this parsed cell (0-based).' },
          attempt: attemptArg,
          notify: {
            type: 'boolean',
            description: 'Say what was inserted in a notification with Undo (default true).'
          },
          interactive: interactiveArg
        }
      }
    },
    execute: reportingFailures(trans.__('Insert'), insert)
  });

  commands.addCommand(CommandIDs.generateFromCell, {
    label: trans.__('Generate responses from this cell'),
    describedBy: { args: { type: 'object', properties: { interactive: interactiveArg } } },
    // Run from the cell's context menu: `fanout:generate` shows its own failure (an empty cell).
    execute: args =>
      commands.execute(CommandIDs.generate, {
        prompt: activeCell.prompt(),
        ...(args.interactive === true ? { interactive: true } : {})
      })
  });
}
