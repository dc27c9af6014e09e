/**
 * Putting a response into a notebook: below the active cell, in place of it, or into a new
 * notebook, always as one undo step. Inserting never runs anything, and inserted markdown
 * carries nothing that acts when rendered or clicked.
 */
import type { CommandRegistry } from '@lumino/commands';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

import { neutraliseMarkdown } from './neutralise';

/** One cell to insert. */
export interface ICellSpec {
  type: 'markdown' | 'code';
  source: string;
}

/** Where inserted cells go. */
export type InsertMode = 'below' | 'replace' | 'new-notebook';

export const INSERT_MODES: ReadonlyArray<InsertMode> = ['below', 'replace', 'new-notebook'];

/** The kernel's language of a notebook (language_info, then kernelspec), or python. */
export function notebookLanguage(panel: NotebookPanel | null | undefined): string {
  const model = panel?.content.model;
  const info = model?.getMetadata('language_info') as { name?: string } | undefined;
  const spec = model?.getMetadata('kernelspec') as { language?: string } | undefined;
  return (info?.name || spec?.language || 'python').toLowerCase();
}

/**
 * The cells as the shared model takes them. Markdown comes from a model and is untrusted:
 * it is neutralised (no command links, active HTML or remote images; see neutralise.ts).
 */
function toShared(cells: ReadonlyArray<ICellSpec>) {
  return cells.map(cell =>
    cell.type === 'code'
      ? { cell_type: 'code', source: cell.source, metadata: {}, outputs: [], execution_count: null }
      : { cell_type: 'markdown', source: neutraliseMarkdown(cell.source), metadata: {} }
  );
}

/**
 * Insert `cells` into `panel` relative to its active cell, in one transaction, so that one
 * undo undoes the whole insertion. Returns the index of the first inserted cell.
 */
export function insertIntoNotebook(
  panel: NotebookPanel,
  cells: ReadonlyArray<ICellSpec>,
  mode: 'below' | 'replace'
): number {
  const notebook = panel.content;
  const shared = notebook.model?.sharedModel;
  if (!shared) {
    throw new Error('The notebook is not ready yet.');
  }
  if (cells.length === 0) {
    throw new Error('There is nothing to insert: the response is empty.');
  }
  const active = Math.max(0, notebook.activeCellIndex);
  const hasCells = shared.cells.length > 0;
  const at = mode === 'replace' || !hasCells ? active : active + 1;
  shared.transact(() => {
    shared.insertCells(at, toShared(cells));
    if (mode === 'replace' && hasCells) {
      shared.deleteCell(at + cells.length);
    }
  });
  notebook.activeCellIndex = at + cells.length - 1;
  return at;
}

/** Create a new notebook holding exactly `cells`; resolves with its panel. */
export async function insertIntoNewNotebook(
  commands: CommandRegistry,
  cells: ReadonlyArray<ICellSpec>
): Promise<NotebookPanel> {
  const panel = (await commands.execute('notebook:create-new', {})) as NotebookPanel;
  await panel.context.ready;
  const shared = panel.content.model!.sharedModel;
  shared.transact(() => {
    const existing = shared.cells.length;
    shared.insertCells(existing, toShared(cells));
    for (let i = existing - 1; i >= 0; i--) {
      shared.deleteCell(i);
    }
  });
  // A new notebook starts with no history: the insertion is not something to undo.
  shared.clearUndoHistory();
  return panel;
}

/** The notebook panel the commands act on: the current one of the tracker. */
export function currentNotebook(tracker: INotebookTracker): NotebookPanel {
  const panel = tracker.currentWidget;
  if (!panel) {
    throw new Error('Open a notebook first: there is no notebook to insert into.');
  }
  return panel;
}
