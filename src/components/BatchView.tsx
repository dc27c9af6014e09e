import { editIcon } from '@jupyterlab/ui-components';
import React, { useState } from 'react';
import type { TranslationBundle } from '@jupyterlab/translation';

import { isFinal } from '../core';
import type { ResponseSnapshot } from '../core';
import type { IFanoutModel, IResponseView, ResponseViewMode } from '../tokens';
import { ActionButton, Choice, ChoiceOptions, IconActionButton } from './controls';
import { BoardIcon, FuseIcon, JudgeIcon } from './actionIcons';
import { formatRate } from './format';
import { ResponseCard } from './ResponseCard';
import { failureGroups, failureSummary, indexList, silentFor, summarisedGroups } from './status';
import { IRowItem, ResponseRows } from './ResponseRow';
import { ThreadView } from './ThreadView';
import { AgreementView, WinnerMark } from './Verdicts';

/** Properties of one batch's view. */
export interface IBatchViewProps {
  model: IFanoutModel;
  /**
   * The batch, by id: React keeps a render's props until the next render, and a batch held in
   * them would keep a removed batch's text in memory until then.
   */
  batchId: string;
  trans: TranslationBundle;
  onStop: (responseId?: string) => void;
  onRegenerate: (responseId: string) => void;
  onFillGaps: () => void;
  onCompare: () => void;
  /** Insert attempt `attempt` of a response (the one its card shows). */
  onInsert: (responseId: string, attempt: number) => void;
  onShowAttempt: (responseId: string, attempt: number) => void;
  /** Continue attempt `attempt` of a response, cut off by `max_tokens`. */
  onContinue?: (responseId: string, attempt: number) => void;
  /** Milliseconds without a byte before a running response shows as silent; 0: never. */
  stallMs?: number;
  /**
   * Rows (`compact`: one dense row per response, expanded into its card) or full cards; default
   * cards.
   */
  view?: ResponseViewMode;
  /** Switch the view (the header offers it when given). */
  onView?: (view: ResponseViewMode) => void;
  /** Open the batch as a board in the main area (the header offers it when given). */
  onBoard?: () => void;
  /** Have a model judge the responses (`fanout:judge` with its dialog); offered once the batch has ended. */
  onJudge?: () => void;
  /** Put the batch's prompt and options back into the prompt box (the header offers it when given). */
  onEditPrompt?: () => void;
  /**
   * Pick attempt `attempt` of a response as the winner, or clear the pick (`responseId`
   * null); cards offer it when given (`fanout:pick`).
   */
  onPick?: (responseId: string | null, attempt?: number) => void;
  /** Rate attempt `attempt` of a response (null clears); cards offer stars when given (`fanout:rate`). */
  onRate?: (responseId: string, attempt: number, rating: number | null) => void;
  /** Follow up on attempt `attempt` of a response (`fanout:follow-up`); cards offer it when given. */
  onFollowUp?: (responseId: string, attempt: number) => void;
  /** Show another batch (a thread's parent: `fanout:open`). */
  onOpenBatch?: (batchId: string) => void;
  /** Open the Fuse dialog (`fanout:fuse-dialog`); the header offers *Fuse…* when given. */
  onFuse?: () => void;
}

/** How the responses are ordered. */
export type ResponseOrder = 'generated' | 'total' | 'answer';

const GAPS = ['stopped', 'error', 'incomplete'];

/** Cards laid out as soon as a batch opens; the others when first scrolled near. */
const EAGER_CARDS = 8;

/** How many of a batch's responses ended each way that needs the user's eye. */
export function endedCounts(snapshots: ReadonlyArray<ResponseSnapshot>): {
  stopped: number;
  failed: number;
  truncated: number;
  incomplete: number;
} {
  const counts = { stopped: 0, failed: 0, truncated: 0, incomplete: 0 };
  for (const snapshot of snapshots) {
    if (snapshot.status === 'stopped') {
      counts.stopped++;
    } else if (snapshot.status === 'error') {
      counts.failed++;
    } else if (snapshot.status === 'incomplete') {
      counts.incomplete++;
    } else if (snapshot.status === 'complete' && snapshot.finishReason === 'length') {
      counts.truncated++;
    }
  }
  return counts;
}

/**
 * A batch: its header (X/N complete, stopped, failed and truncated counts, batch tokens per
 * second, Stop all; pinned while the responses scroll) and its responses, as rows or cards.
 */
export function BatchView(props: IBatchViewProps): JSX.Element | null {
  const { trans } = props;
  const [order, setOrder] = useState<ResponseOrder>('generated');
  const [agreementOpen, setAgreementOpen] = useState(false);
  const batch = props.model.getBatch(props.batchId);
  if (!batch) {
    return null;
  }
  const metrics = batch.metrics();
  // Each card shows its response's shown attempt; gaps are the latest attempts'.
  const rows = batch.responses.map(response => ({ response, snapshot: response.shownSnapshot() }));
  if (order === 'total') {
    rows.sort((a, b) => b.snapshot.totalTokens - a.snapshot.totalTokens);
  } else if (order === 'answer') {
    rows.sort((a, b) => b.snapshot.answerTokens - a.snapshot.answerTokens);
  }
  const orders: ChoiceOptions<ResponseOrder> = [
    ['generated', trans.__('as generated')],
    ['total', trans.__('by total tokens')],
    ['answer', trans.__('by answer tokens')]
  ];
  const sortChoice = { label: trans.__('Sort'), className: 'jp-Fanout-batch-order', options: orders };
  const hasGaps = rows.some(row => GAPS.includes(row.response.snapshot().status));
  // Failures shared by several responses are said once, here; their cards keep a reference.
  const summarised = summarisedGroups(
    failureGroups(batch.responses.map(r => ({ index: r.index, snapshot: r.shownSnapshot() })))
  );
  const summarisedIndexes = new Set(summarised.flatMap(group => group.indexes));
  const stallMs = props.stallMs ?? 0;
  const now = performance.now();
  const ended = endedCounts(batch.responses.map(r => r.snapshot()));
  const view = props.view ?? 'cards';
  const views: ChoiceOptions<ResponseViewMode> = [
    ['compact', trans.__('rows')],
    ['cards', trans.__('cards')]
  ];
  const pick = batch.pick;
  // A blind vote of this batch is open and not yet voted (`fanout:vote`): no model is named.
  const modelOf = (response: IResponseView, snapshot: ResponseSnapshot) =>
    props.model.blind?.has(batch.id) ? trans.__('hidden until you vote') : response.model || snapshot.model || '';
  /** The tooltip of a fused response's badge: what it merged (null for the others). */
  const fusedFrom = (response: IResponseView): string | null => {
    const fusion = response.fusion;
    if (!fusion) {
      return null;
    }
    const indexes = fusion.sources.map(s => batch.responses.find(r => r.id === s.responseId)?.index ?? s.responseId);
    return fusion.checklist
      ? trans.__('Fused from responses %1, covering %2 ticked points', indexes.join(', '), fusion.checklist.length)
      : trans.__('Fused from responses %1', indexes.join(', '));
  };
  const card = (response: IResponseView, snapshot: ResponseSnapshot, eager: boolean) => {
    const attempts = response.attempts;
    const shown = response.shownAttempt;
    const at = attempts.findIndex(a => a.attempt === shown);
    return (
      <ResponseCard
        key={`${batch.id}:${response.id}`}
        eager={eager}
        index={response.index}
        model={modelOf(response, snapshot)}
        snapshot={snapshot}
        maxTokens={batch.options.maxTokens}
        trans={trans}
        onStop={() => props.onStop(response.id)}
        onRegenerate={() => props.onRegenerate(response.id)}
        onInsert={() => props.onInsert(response.id, shown)}
        running={!isFinal(response.snapshot().status)}
        attemptPosition={at + 1}
        attemptCount={attempts.length}
        previousAttempt={at > 0 ? attempts[at - 1].attempt : null}
        nextAttempt={at >= 0 && at < attempts.length - 1 ? attempts[at + 1].attempt : null}
        onShowAttempt={attempt => props.onShowAttempt(response.id, attempt)}
        onContinue={props.onContinue ? () => props.onContinue!(response.id, shown) : undefined}
        onFollowUp={props.onFollowUp ? () => props.onFollowUp!(response.id, shown) : undefined}
        silentMs={shown === response.attempt ? silentFor(snapshot, response.lastActivityAt, now, stallMs) : null}
        errorSummarised={summarisedIndexes.has(response.index)}
        reconnecting={response.reconnecting === true && shown === response.attempt}
        winner={pick !== null && pick.responseId === response.id && pick.attempt === shown}
        onPick={
          props.onPick
            ? () =>
                pick !== null && pick.responseId === response.id && pick.attempt === shown
                  ? props.onPick!(null)
                  : props.onPick!(response.id, shown)
            : undefined
        }
        rating={batch.ratingOf(response.id, shown)}
        onRate={props.onRate ? rating => props.onRate!(response.id, shown, rating) : undefined}
        fused={fusedFrom(response)}
      />
    );
  };
  const items: IRowItem[] =
    view === 'compact'
      ? rows.map(({ response, snapshot }) => {
          const attempts = response.attempts;
          const at = attempts.findIndex(a => a.attempt === response.shownAttempt);
          return {
            id: response.id,
            row: {
              responseId: response.id,
              index: response.index,
              model: modelOf(response, snapshot),
              snapshot,
              maxTokens: batch.options.maxTokens,
              reconnecting: response.reconnecting === true && response.shownAttempt === response.attempt,
              attempt: attempts.length > 1 ? `${at + 1}/${attempts.length}` : null,
              winner:
                pick === null || pick.responseId !== response.id
                  ? null
                  : pick.attempt === response.shownAttempt
                    ? ''
                    : `${attempts.findIndex(a => a.attempt === pick.attempt) + 1}/${attempts.length}`,
              rating: batch.ratingOf(response.id, response.shownAttempt),
              fused: fusedFrom(response)
            },
            card: () => card(response, snapshot, true)
          };
        })
      : [];
  const figures: string[] = [];
  if (ended.stopped) {
    figures.push(trans.__('%1 stopped', ended.stopped));
  }
  if (ended.failed) {
    figures.push(trans.__('%1 failed', ended.failed));
  }
  if (ended.incomplete) {
    figures.push(trans.__('%1 incomplete', ended.incomplete));
  }
  if (ended.truncated) {
    figures.push(trans.__('%1 truncated', ended.truncated));
  }
  return (
    <div className={`jp-Fanout-batch jp-mod-${view}`} data-batch-id={batch.id}>
      <div className="jp-Fanout-batch-header">
        <span className="jp-Fanout-batch-prompt-line">
          <span className="jp-Fanout-batch-prompt" title={batch.options.prompt}>
            {batch.options.prompt}
          </span>
          {props.onEditPrompt && (
            <button
              className="jp-Fanout-edit-prompt"
              aria-label={trans.__('Edit prompt')}
              title={trans.__(
                "Edit prompt: put this batch's prompt, N, model, temperature and max tokens back above, to edit and send again"
              )}
              onClick={props.onEditPrompt}
            >
              <editIcon.react tag="span" elementSize="small" />
              {trans.__('Edit')}
            </button>
          )}
        </span>
        <span className="jp-Fanout-batch-figures">
          <span className="jp-Fanout-batch-progress">
            {trans.__('%1/%2 complete', metrics.complete, metrics.total)}
          </span>
          {figures.length > 0 && (
            <span
              className="jp-Fanout-batch-ended"
              data-stopped={ended.stopped}
              data-failed={ended.failed}
              data-truncated={ended.truncated}
            >
              {figures.join(' · ')}
            </span>
          )}
          <span className="jp-Fanout-batch-rate">{trans.__('%1 tok/s', formatRate(metrics.tokensPerSecond))}</span>
        </span>
        <span className="jp-Fanout-batch-actions">
          {batch.active && (
            <ActionButton
              className="jp-Fanout-stop-all"
              warn
              onClick={() => props.onStop()}
              label={trans.__('Stop all')}
            />
          )}
          {hasGaps && (
            <ActionButton
              className="jp-Fanout-fill-gaps"
              title={trans.__('Re-generate every stopped, failed or incomplete response')}
              onClick={props.onFillGaps}
              label={trans.__('Fill the gaps')}
            />
          )}
          <ActionButton className="jp-Fanout-compare-open" onClick={props.onCompare} label={trans.__('Compare')} />
          {/* Once the batch has ended (in the place of Stop all), or while it is open. */}
          {(!batch.active || agreementOpen) && (
            <button
              type="button"
              className={`jp-Button jp-mod-styled jp-Fanout-agreement-open${agreementOpen ? ' jp-mod-active' : ''}`}
              aria-expanded={agreementOpen}
              title={trans.__('Group the responses by their final answer (self-consistency)')}
              onClick={() => setAgreementOpen(!agreementOpen)}
            >
              {trans.__('Agreement')}
            </button>
          )}
          {/* Icons, labelled (actionIcons.tsx): an ended batch's actions keep one row. */}
          {props.onJudge && !batch.active && (
            <IconActionButton
              className="jp-Fanout-judge-open"
              label={trans.__('Judge…')}
              title={trans.__('Judge…: have a model score the responses against the prompt or a rubric')}
              onClick={props.onJudge}
              icon={<JudgeIcon />}
            />
          )}
          {/* Once the batch has ended, with two responses or more to merge. */}
          {props.onFuse &&
            !batch.active &&
            batch.responses.filter(r => /\S/.test(r.shownSnapshot().content)).length >= 2 && (
              <IconActionButton
                className="jp-Fanout-fuse-open"
                label={trans.__('Fuse…')}
                title={trans.__('Fuse…: merge responses into one new response with a chosen model')}
                onClick={props.onFuse}
                icon={<FuseIcon />}
              />
            )}
          {props.onBoard && (
            <IconActionButton
              className="jp-Fanout-board-open"
              label={trans.__('Board')}
              title={trans.__('Board: every response as a card, in the main area')}
              onClick={props.onBoard}
              icon={<BoardIcon />}
            />
          )}
        </span>
        <span className="jp-Fanout-batch-options">
          <Choice {...sortChoice} value={order} onChange={setOrder} />
          {props.onView && (
            <Choice
              label={trans.__('Show')}
              className="jp-Fanout-batch-view"
              value={view}
              options={views}
              onChange={props.onView}
            />
          )}
        </span>
      </div>
      {batch.options.thread && (
        <ThreadView thread={batch.options.thread} trans={trans} onOpenBatch={props.onOpenBatch} />
      )}
      {pick !== null && (
        <div className="jp-Fanout-batch-pick">
          <WinnerMark trans={trans} />{' '}
          {trans.__(
            'response %1, attempt %2',
            batch.responses.find(r => r.id === pick.responseId)?.index ?? pick.responseId,
            pick.attempt
          )}
        </div>
      )}
      {agreementOpen && (
        <AgreementView
          inputs={batch.responses.map(r => ({ responseId: r.id, index: r.index, snapshot: r.shownSnapshot() }))}
          trans={trans}
          onClose={() => setAgreementOpen(false)}
        />
      )}
      {summarised.length > 0 && (
        <ul className="jp-Fanout-batch-failures" aria-label={trans.__('Failures')}>
          {summarised.map(group => (
            <li key={group.key} className="jp-Fanout-batch-failure" title={group.error.message}>
              <span className="jp-Fanout-batch-failure-text">{failureSummary(group, trans)}</span>{' '}
              <span className="jp-Fanout-batch-failure-which">
                {trans.__('(responses %1)', indexList(group.indexes))}
              </span>
            </li>
          ))}
        </ul>
      )}
      {view === 'compact' ? (
        <ResponseRows items={items} trans={trans} label={trans.__('Responses')} />
      ) : (
        <div className="jp-Fanout-cards">
          {rows.map(({ response, snapshot }, position) => card(response, snapshot, position < EAGER_CARDS))}
        </div>
      )}
    </div>
  );
}
