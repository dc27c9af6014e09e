/** Where a prompt comes from when none is given: the active notebook cell. */
import type { INotebookTracker } from '@jupyterlab/notebook';

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
