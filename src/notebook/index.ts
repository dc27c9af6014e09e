/**
 * The notebook integration's helpers: the active cell as a prompt source (`./active-cell`,
 * `./prompt`) and putting a response into a notebook (`./insert`).
 */
export { ActiveCell } from './active-cell';
export { currentNotebook, INSERT_MODES, insertIntoNewNotebook, insertIntoNotebook, notebookLanguage } from './insert';
export type { ICellSpec, InsertMode } from './insert';
export {
  activeNotebookContext,
  contextFromCellsAbove,
  contextMessage,
  estimateTokenCount,
  promptFromActiveCell
} from './prompt';
