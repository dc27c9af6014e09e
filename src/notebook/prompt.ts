/** Where a prompt comes from when none is given: the active notebook cell. */
import type { INotebookTracker } from '@jupyterlab/notebook';

import type { INotebookContext } from '../tokens';

/** The active cell's selected text, or its whole source when nothing is selected; '' without one. */
export function promptFromActiveCell(tracker: INotebookTracker): string {
  const cell = tracker.activeCell;
  if (!cell) {
    return '';
  }
  const source = cell.model.sharedModel.getSource();
  const editor = cell.editor;
  if (editor) {
    const { start, end } = editor.getSelection();
    const from = editor.getOffsetAt(start);
    const to = editor.getOffsetAt(end);
    if (to > from) {
      return source.slice(from, to);
    }
  }
  return source;
}

/** About four characters per token: the estimate shown before sending. */
export function estimateTokenCount(text: string): number {
  return Math.ceil(text.length / 4);
}

/**
 * Take cells above the active one, nearest first, while they fit `budget` tokens, and give
 * them back in notebook order. Cells are read through `cellAt` one at a time, so only those
 * walked are read: the sidebar shows this figure on every render.
 */
export function contextFromCellsAbove(
  cellAt: (index: number) => { type: string; source: string },
  activeIndex: number,
  budget: number,
  language: string
): INotebookContext {
  const parts: string[] = [];
  let tokens = 0;
  for (let i = activeIndex - 1; i >= 0; i--) {
    const { type, source } = cellAt(i);
    if (!source.trim()) {
      continue;
    }
    const part = type === 'code' ? '```' + language + '\n' + source + '\n```' : source;
    const cost = estimateTokenCount(part);
    if (tokens + cost > budget) {
      break;
    }
    parts.unshift(part);
    tokens += cost;
  }
  return { text: parts.join('\n\n'), cells: parts.length, tokens };
}

/** The context as it is sent before the prompt; empty when there is none. */
export function contextMessage(context: INotebookContext | null): string {
  return context && context.cells > 0 ? `Context: the notebook cells above my question.\n\n${context.text}` : '';
}

/** The context of the current notebook's active cell, or null without a notebook. */
export function activeNotebookContext(
  tracker: INotebookTracker,
  budget: number,
  language: string
): INotebookContext | null {
  const panel = tracker.currentWidget;
  const notebook = panel?.content;
  if (!notebook?.model) {
    return null;
  }
  const cells = notebook.model.sharedModel.cells;
  const cellAt = (i: number) => ({ type: cells[i].cell_type, source: cells[i].getSource() });
  return contextFromCellsAbove(cellAt, notebook.activeCellIndex, budget, language);
}
