/**
 * A batch's actions as its views call them (no DOM): the Responses section and a board both
 * show a batch through {@link BatchView}, whose callbacks take a response, never a batch.
 */
import type { IBatchViewProps } from './BatchView';
import type { IFanoutPanelProps } from './FanoutPanel';

/** The actions a board and the Responses section both take, under the same name. */
type SharedAction =
  | 'onStop'
  | 'onRegenerate'
  | 'onFillGaps'
  | 'onCompare'
  | 'onInsert'
  | 'onShowAttempt'
  | 'onContinue'
  | 'stallMs'
  | 'onPick'
  | 'onRate'
  | 'onOpenBatch'
  | 'onFuse';

/** The panel's actions on a batch that a board offers too (each one of the extension's commands). */
export type BatchActions = Pick<IFanoutPanelProps, SharedAction | 'onFollowUpMode'>;

/** {@link BatchView}'s callbacks for batch `batchId`: `actions`, each bound to that batch. */
export function batchViewActions(
  actions: BatchActions,
  batchId: string
): Pick<IBatchViewProps, SharedAction | 'onFollowUp'> {
  const { onPick, onRate, onContinue, onFollowUpMode, onFuse } = actions;
  return {
    onStop: responseId => actions.onStop(batchId, responseId),
    onRegenerate: responseId => actions.onRegenerate(batchId, responseId),
    onFillGaps: () => actions.onFillGaps(batchId),
    onCompare: () => actions.onCompare(batchId),
    onInsert: (responseId, attempt) => actions.onInsert(batchId, responseId, attempt),
    onShowAttempt: (responseId, attempt) => actions.onShowAttempt(batchId, responseId, attempt),
    onContinue: onContinue ? (responseId, attempt) => onContinue(batchId, responseId, attempt) : undefined,
    stallMs: actions.stallMs?.() ?? 0,
    onPick: onPick ? (responseId, attempt) => onPick(batchId, responseId, attempt) : undefined,
    onRate: onRate ? (responseId, attempt, rating) => onRate(batchId, responseId, attempt, rating) : undefined,
    onFollowUp: onFollowUpMode ? (responseId, attempt) => onFollowUpMode(batchId, responseId, attempt) : undefined,
    onOpenBatch: actions.onOpenBatch,
    onFuse: onFuse ? () => onFuse(batchId) : undefined
  };
}
