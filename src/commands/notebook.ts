/**
 * The notebook's commands: insert a response into the notebook, and generate from a cell.
 */
import type { INotebookTracker } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { CommandRegistry } from '@lumino/commands';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import {
  currentNotebook,
  ICellSpec,
  InsertMode,
  INSERT_MODES,
  insertIntoNewNotebook,
  insertIntoNotebook
} from '../notebook/insert';
import { isParseFailure, parseOne } from '../parse';
import { CommandIDs, IFanoutActiveCell, IFanoutModel } from '../tokens';
import { oneOf, optionalString } from './args';
import { attemptArg, findAttempt, findBatch, findResponse, responseArgs } from './find';

/** What these commands need, wired by the notebook plugin. */
export interface INotebookCommandContext {
  commands: CommandRegistry;
  model: IFanoutModel;
  tracker: INotebookTracker;
  activeCell: IFanoutActiveCell;
  trans: TranslationBundle;
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
    if (mode === 'new-notebook') {
      const panel = await insertIntoNewNotebook(commands, cells);
      return { path: panel.context.path, index: 0, count: cells.length, attempt: attempt.attempt };
    }
    const panel = currentNotebook(tracker);
    const index = insertIntoNotebook(panel, cells, mode);
    return { path: panel.context.path, index, count: cells.length, attempt: attempt.attempt };
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
          attempt: attemptArg
        }
      }
    },
    execute: insert
  });

  commands.addCommand(CommandIDs.generateFromCell, {
    label: trans.__('Generate responses from this cell'),
    execute: () => commands.execute(CommandIDs.generate, { prompt: activeCell.prompt() })
  });
}
