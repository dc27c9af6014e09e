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

/**
 * Where an inserted cell came from, kept in its metadata as `metadata.fanout`: the batch, the
 * response and its attempt, the model that answered, the seed and temperature sent, and the
 * upstream's name (null: the server's default upstream). Never an address or a key.
 */
export interface IProvenance {
  batch: string;
  response: string;
  attempt: number;
  model: string | null;
  seed: number;
  temperature: number;
  upstream: string | null;
}

/** What one insertion did: where, which cells (by id), and the cell it replaced, if any. */
export interface IInsertion {
  /** Index of the first inserted cell. */
  index: number;
  /** The inserted cells' ids, in order. */
  cellIds: string[];
  /** The cell the insertion replaced (`replace` mode), as JSON, to put back on undo. */
  replaced: Record<string, unknown> | null;
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
function toShared(cells: ReadonlyArray<ICellSpec>, provenance?: IProvenance) {
  const metadata = () => (provenance ? { fanout: { ...provenance } } : {});
  return cells.map(cell =>
    cell.type === 'code'
      ? { cell_type: 'code', source: cell.source, metadata: metadata(), outputs: [], execution_count: null }
      : { cell_type: 'markdown', source: neutraliseMarkdown(cell.source), metadata: metadata() }
  );
}

/**
 * Insert `cells` into `panel` relative to its active cell, in one transaction, so that one
 * undo (JupyterLab's own, or {@link undoInsertion}) undoes the whole insertion. Each cell gets
 * `provenance` as `metadata.fanout`. Returns what was inserted where.
 */
export function insertIntoNotebook(
  panel: NotebookPanel,
  cells: ReadonlyArray<ICellSpec>,
  mode: 'below' | 'replace',
  provenance?: IProvenance
): IInsertion {
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
  const replaced = mode === 'replace' && hasCells ? (shared.getCell(at).toJSON() as Record<string, unknown>) : null;
  shared.transact(() => {
    shared.insertCells(at, toShared(cells, provenance));
    if (replaced) {
      shared.deleteCell(at + cells.length);
    }
  });
  notebook.activeCellIndex = at + cells.length - 1;
  const cellIds = shared.cells.slice(at, at + cells.length).map(cell => cell.id);
  return { index: at, cellIds, replaced };
}

/**
 * Undo `insertion` in one step: remove its cells (found by id, wherever they are now) and put
 * back the cell it replaced. Returns how many cells were removed; 0 when none is left (already
 * undone), and then nothing changes.
 */
export function undoInsertion(panel: NotebookPanel, insertion: IInsertion): number {
  const shared = panel.content.model?.sharedModel;
  if (!shared) {
    return 0;
  }
  const ids = new Set(insertion.cellIds);
  const positions = shared.cells.flatMap((cell, i) => (ids.has(cell.id) ? [i] : []));
  if (positions.length === 0) {
    return 0;
  }
  const first = positions[0];
  shared.transact(() => {
    for (const i of [...positions].reverse()) {
      shared.deleteCell(i);
    }
    if (insertion.replaced) {
      shared.insertCell(first, insertion.replaced as any);
    }
  });
  // The cell put back, or the one the cells were inserted below.
  panel.content.activeCellIndex = Math.max(
    0,
    Math.min(insertion.replaced ? first : first - 1, shared.cells.length - 1)
  );
  return positions.length;
}

/** Give the keyboard back to the notebook, in command mode, on its active cell (after an insert). */
export function focusNotebook(panel: NotebookPanel, activate: (panel: NotebookPanel) => void): void {
  panel.content.mode = 'command';
  activate(panel);
  const cell = panel.content.activeCell;
  cell?.node.scrollIntoView?.({ block: 'nearest' });
  // The active cell holds the keyboard in command mode (JupyterLab's Z and this extension's
  // Ctrl+Z, undo cell operation, are bound to a focused element inside the notebook).
  (cell?.node ?? panel.content.node).focus();
}

/** Create a new notebook holding exactly `cells`; resolves with its panel. */
export async function insertIntoNewNotebook(
  commands: CommandRegistry,
  cells: ReadonlyArray<ICellSpec>,
  provenance?: IProvenance
): Promise<NotebookPanel> {
  const panel = (await commands.execute('notebook:create-new', {})) as NotebookPanel;
  await panel.context.ready;
  const shared = panel.content.model!.sharedModel;
  shared.transact(() => {
    const existing = shared.cells.length;
    shared.insertCells(existing, toShared(cells, provenance));
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
