import React, { useCallback, useEffect, useRef, useState } from 'react';
import type { TranslationBundle } from '@jupyterlab/translation';

import { isFinal } from '../core';
import type { ResponseSnapshot } from '../core';
import { ActionButton } from './controls';
import { StarRating, StarsShown, WinnerMark } from './Verdicts';
import { formatDuration, formatRate, percent } from './format';
import { IShown, nextShown } from './freshness';
import { watchInView } from './inView';
import { describeError, isTruncated, shortError, shownState, silenceText, stateLabel, stateTone } from './status';

/** Properties of one response's progress card. */
export interface IResponseCardProps {
  index: number;
  /** The model asked for, or the one that answered; empty when unknown. */
  model: string;
  snapshot: ResponseSnapshot;
  maxTokens: number;
  trans: TranslationBundle;
  onStop: () => void;
  onRegenerate: () => void;
  onInsert: () => void;
  /**
   * True while the response's latest attempt runs (its card offers Stop); default: whether the
   * snapshot's status is running. The snapshot is the shown attempt's, which may be an earlier one.
   */
  running?: boolean;
  /** The shown attempt's position among the response's attempts (1-based) and how many there are. */
  attemptPosition?: number;
  attemptCount?: number;
  /** The attempt numbers before and after the shown one, or null at either end. */
  previousAttempt?: number | null;
  nextAttempt?: number | null;
  /** Show another attempt (by its number). */
  onShowAttempt?: (attempt: number) => void;
  /**
   * True while the page reattaches to the server's stream of the shown attempt (after a
   * reload): the card shows the text saved before, labelled "Reconnecting…".
   */
  reconnecting?: boolean;
  /**
   * Continue the shown attempt (cut off by `max_tokens`): offered on a truncated card, beside
   * Re-generate.
   */
  onContinue?: () => void;
  /**
   * Follow up on the shown attempt (`fanout:follow-up`): offered on an ended attempt with
   * answer text; puts the sidebar's prompt box in follow-up mode.
   */
  onFollowUp?: () => void;
  /**
   * How long the running stream has been silent (ms), once that is long enough to say so
   * (the `stallSeconds` setting); null or absent otherwise.
   */
  silentMs?: number | null;
  /**
   * True when the batch summarises this card's error once for all the responses that share it:
   * the card then shows a short reference, the whole message in its tooltip.
   */
  errorSummarised?: boolean;
  /**
   * Lay the card out at once (the first cards of a batch). Otherwise it starts as an empty box
   * with its status and fills in when first scrolled near, so a batch of 64 opens quickly.
   */
  eager?: boolean;
  /** A fused response (`fanout:fuse`): what it merged, for the badge's tooltip; null otherwise. */
  fused?: string | null;
  /** The shown attempt is the batch's winner (`fanout:pick`). */
  winner?: boolean;
  /** Pick the shown attempt as the winner, or (when it is) clear the pick; absent: not offered. */
  onPick?: () => void;
  /** The shown attempt's rating (1 to 5), or null. */
  rating?: number | null;
  /** Rate the shown attempt (null clears); absent: stars are shown read only. */
  onRate?: (rating: number | null) => void;
}

/** The bar: thinking, answer and unused tokens against max_tokens, readable by screen readers. */
function TokenBar(props: {
  snapshot: ResponseSnapshot;
  maxTokens: number;
  label: string;
  trans: TranslationBundle;
}): JSX.Element {
  const { snapshot, maxTokens, trans } = props;
  return (
    <div
      className="jp-Fanout-bar"
      role="progressbar"
      aria-label={props.label}
      aria-valuemin={0}
      aria-valuemax={maxTokens}
      aria-valuenow={snapshot.totalTokens}
      aria-valuetext={trans.__(
        '%1 thinking + %2 answer of %3 tokens',
        snapshot.thinkingTokens.toLocaleString(),
        snapshot.answerTokens.toLocaleString(),
        maxTokens.toLocaleString()
      )}
    >
      <div className="jp-Fanout-bar-thinking" style={{ width: `${percent(snapshot.thinkingTokens, maxTokens)}%` }} />
      <div className="jp-Fanout-bar-answer" style={{ width: `${percent(snapshot.answerTokens, maxTokens)}%` }} />
    </div>
  );
}

/** A response's error (with the upstream's status), and its thinking folded away. */
export function ResponseDetails(props: {
  snapshot: ResponseSnapshot;
  trans: TranslationBundle;
  /** The batch says this error once for all who share it: a short reference here. */
  errorSummarised?: boolean;
}): JSX.Element {
  const { snapshot, trans } = props;
  // Like the answer's preview: while it streams, only the newest lines of the reasoning.
  const reasoning = isFinal(snapshot.status) ? snapshot.reasoning : previewOf(snapshot.reasoning);
  const error = snapshot.error;
  return (
    <>
      {error &&
        (props.errorSummarised ? (
          <div
            className="jp-Fanout-response-error jp-mod-summarised"
            title={describeError(error, trans)}
            data-error={error.message}
          >
            {trans.__('%1 (see the batch above)', shortError(error, trans))}
          </div>
        ) : (
          <div className="jp-Fanout-response-error" role="alert">
            {error.status ? `${error.status}: ` : ''}
            {error.message}
          </div>
        ))}
      {snapshot.reasoning && (
        <details className="jp-Fanout-response-reasoning">
          <summary>{trans.__('Thinking')}</summary>
          <pre>{reasoning}</pre>
        </details>
      )}
    </>
  );
}

/** How much of a running response the card shows: its last lines, not the whole text. */
const PREVIEW_LINES = 8;
const PREVIEW_CHARS = 800;

/**
 * The end of `text`: at most its last {@link PREVIEW_LINES} lines and {@link PREVIEW_CHARS}
 * characters. Laying out only this while tokens stream keeps every frame cheap, however long
 * the responses grow; the whole text is shown once the response has ended.
 */
export function previewOf(text: string): string {
  let start = Math.max(0, text.length - PREVIEW_CHARS);
  let newlines = 0;
  for (let i = text.length - 1; i >= start; i--) {
    if (text.charCodeAt(i) === 10 && ++newlines === PREVIEW_LINES) {
      start = i + 1;
      break;
    }
  }
  return start > 0 ? '…' + text.slice(start) : text;
}

/** Lines per block of an ended response's text (see {@link WholeText}). */
const LINES_PER_BLOCK = 20;

/**
 * `text` cut after every {@link LINES_PER_BLOCK}th line break; the blocks join back to `text`.
 */
export function textBlocks(text: string): string[] {
  const blocks: string[] = [];
  let start = 0;
  let lines = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) {
    if (++lines === LINES_PER_BLOCK) {
      blocks.push(text.slice(start, i + 1));
      start = i + 1;
      lines = 0;
    }
  }
  if (start < text.length || blocks.length === 0) {
    blocks.push(text.slice(start));
  }
  return blocks;
}

/**
 * An ended response's whole text, in blocks of lines that the browser lays out only when they
 * are scrolled into the preview box (`content-visibility: auto`): when dozens of responses end
 * together, each card lays out the few lines it shows, not thousands. The text content is the
 * whole text, unchanged (for find, copy and screen readers).
 */
function WholeText(props: { text: string }): JSX.Element {
  const blocks = React.useMemo(() => textBlocks(props.text), [props.text]);
  return (
    <pre className="jp-Fanout-response-text">
      {blocks.map((block, i) => (
        <span key={i} className="jp-Fanout-response-text-block">
          {block}
        </span>
      ))}
    </pre>
  );
}

/** A card as laid out: its response's properties, the ref that watches it, whether it is in view. */
interface ICardViewProps extends IResponseCardProps {
  sectionRef: (element: HTMLElement | null) => void;
  /** In view (or near it): it shows its response's newest state (`data-in-view`). */
  inView?: boolean;
}

/**
 * Cards re-render only when what they show changed: an ended response's snapshot is the same
 * object from one render to the next, so ended cards cost nothing while others stream.
 */
function sameCard(before: ICardViewProps, after: ICardViewProps): boolean {
  return (
    before.snapshot === after.snapshot &&
    before.index === after.index &&
    before.model === after.model &&
    before.maxTokens === after.maxTokens &&
    before.trans === after.trans &&
    before.running === after.running &&
    before.reconnecting === after.reconnecting &&
    before.attemptPosition === after.attemptPosition &&
    before.attemptCount === after.attemptCount &&
    before.previousAttempt === after.previousAttempt &&
    before.nextAttempt === after.nextAttempt &&
    // A silent stream's counter moves once a second.
    Math.floor((before.silentMs ?? -1000) / 1000) === Math.floor((after.silentMs ?? -1000) / 1000) &&
    before.errorSummarised === after.errorSummarised &&
    before.inView === after.inView &&
    before.winner === after.winner &&
    before.fused === after.fused &&
    (before.rating ?? null) === (after.rating ?? null) &&
    (before.onPick === undefined) === (after.onPick === undefined) &&
    (before.onRate === undefined) === (after.onRate === undefined) &&
    (before.onContinue === undefined) === (after.onContinue === undefined) &&
    (before.onFollowUp === undefined) === (after.onFollowUp === undefined)
  );
}

const CardView = React.memo(ResponseCardView, sameCard);

/**
 * `‹ 2/3 ›`: the shown attempt among a response's attempts, and buttons to the previous and next.
 * At either end the button stays focusable (so the keyboard does not lose its place) and says
 * why it does nothing; the arrow keys move between attempts too.
 */
export function AttemptSwitch(props: {
  position: number;
  count: number;
  previous: number | null;
  next: number | null;
  onShow: (attempt: number) => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { position, count, previous, next, onShow, trans } = props;
  const go = (attempt: number | null) => {
    if (attempt !== null) {
      onShow(attempt);
    }
  };
  return (
    <span
      className="jp-Fanout-attempts"
      role="group"
      aria-label={trans.__('Attempts')}
      onKeyDown={event => {
        if (event.key === 'ArrowLeft' || event.key === 'ArrowRight') {
          event.preventDefault();
          go(event.key === 'ArrowLeft' ? previous : next);
        }
      }}
    >
      <button
        type="button"
        className="jp-Fanout-attempt-previous"
        aria-label={trans.__('Previous attempt')}
        aria-disabled={previous === null}
        title={previous === null ? trans.__('This is the first attempt') : trans.__('Show attempt %1', position - 1)}
        onClick={() => go(previous)}
      >
        ‹
      </button>
      <span className="jp-Fanout-attempt-position" title={trans.__('Attempt %1 of %2', position, count)}>
        {`${position}/${count}`}
      </span>
      <button
        type="button"
        className="jp-Fanout-attempt-next"
        aria-label={trans.__('Next attempt')}
        aria-disabled={next === null}
        title={next === null ? trans.__('This is the latest attempt') : trans.__('Show attempt %1', position + 1)}
        onClick={() => go(next)}
      >
        ›
      </button>
    </span>
  );
}

/**
 * One response: status, counts, bar, metrics, text, and Stop or Re-generate.
 *
 * A card scrolled out of view re-renders at most once a second (and at once when its status
 * changes, once its response has ended, or when it comes back from reconnecting after a
 * reload: {@link nextShown}): with dozens of responses streaming, only the visible few
 * re-render every time, and what the page holds for the others is at most a second old.
 */
export function ResponseCard(props: IResponseCardProps): JSX.Element {
  const [inView, node] = useInView(props.eager ?? true);
  const everInView = useRef(inView);
  everInView.current ||= inView;
  const shown = useRef<IShown>();
  shown.current = nextShown(shown.current, inView, props.snapshot, props.reconnecting === true, performance.now());
  if (!everInView.current) {
    const status = props.snapshot.status;
    return (
      <section
        ref={node}
        className={`jp-Fanout-response jp-Fanout-response-placeholder jp-Fanout-status-${status}`}
        data-response-index={props.index}
        data-status={status}
        data-reconnecting={props.reconnecting ? '' : undefined}
        aria-label={props.trans.__('Response %1', props.index)}
      />
    );
  }
  return <CardView {...props} snapshot={shown.current.snapshot} sectionRef={node} inView={inView} />;
}

/**
 * Whether an element is in view, or within 200 px of it in what it scrolls in (the board, the
 * sidebar), and the ref that says which element: whatever element it is attached to now is the
 * one watched. (A card starts as a placeholder and becomes its full form, another element: an
 * observer kept on the placeholder saw it leave the page and held the card as out of view for
 * good, a second behind while on screen. Watched against the window, the 200 px did not apply
 * inside a scrolled list: a card filled in only once on screen.)
 */
function useInView(initial: boolean): [boolean, (element: HTMLElement | null) => void] {
  const [inView, setInView] = useState(initial);
  const unwatch = useRef<(() => void) | null>(null);
  const watch = useCallback((element: HTMLElement | null) => {
    unwatch.current?.();
    unwatch.current = element === null ? null : watchInView(element, shown => setInView(shown));
  }, []);
  useEffect(() => () => unwatch.current?.(), []);
  return [inView, watch];
}

function ResponseCardView(props: ICardViewProps): JSX.Element {
  const { snapshot, trans, maxTokens, index } = props;
  // The response runs (Stop) / the shown attempt's text still streams (its newest lines).
  const running = props.running ?? !isFinal(snapshot.status);
  const streaming = !isFinal(snapshot.status);
  const attempts = props.attemptCount ?? 1;
  const estimated = snapshot.tokensEstimated ? ' ≈' : '';
  const counts = trans.__(
    '(%1 + %2 = %3 / %4)%5',
    snapshot.thinkingTokens,
    snapshot.answerTokens,
    snapshot.totalTokens,
    maxTokens,
    estimated
  );
  const title = props.model ? trans.__('Response %1 · %2', index, props.model) : trans.__('Response %1', index);
  const state = shownState(snapshot);
  const truncated = isTruncated(snapshot);
  const silent = props.silentMs ?? null;
  return (
    <section
      ref={props.sectionRef}
      className={`jp-Fanout-response jp-Fanout-status-${snapshot.status}${truncated ? ' jp-Fanout-status-truncated' : ''}`}
      data-response-index={index}
      data-status={snapshot.status}
      data-state={state}
      data-silent={silent !== null ? '' : undefined}
      data-in-view={props.inView ? '' : undefined}
      data-running={running ? '' : undefined}
      data-reconnecting={props.reconnecting ? '' : undefined}
      data-attempt={attempts > 1 ? `${props.attemptPosition ?? attempts}/${attempts}` : undefined}
      data-winner={props.winner ? '' : undefined}
      data-rating={props.rating ?? undefined}
      aria-label={props.winner ? trans.__('%1 (winner)', title) : title}
    >
      <header className={`jp-Fanout-response-header${attempts > 1 ? ' jp-mod-attempts' : ''}`}>
        <span className="jp-Fanout-response-title" title={title}>
          {title}
        </span>
        {attempts > 1 && props.onShowAttempt && (
          <AttemptSwitch
            position={props.attemptPosition ?? attempts}
            count={attempts}
            previous={props.previousAttempt ?? null}
            next={props.nextAttempt ?? null}
            onShow={props.onShowAttempt}
            trans={trans}
          />
        )}
        {props.fused && (
          <span className="jp-Fanout-fusedBadge" title={props.fused}>
            {trans.__('Fused')}
          </span>
        )}
        {props.winner && <WinnerMark trans={trans} />}
        <span
          className="jp-Fanout-response-status"
          data-status={snapshot.status}
          data-state={state}
          data-tone={stateTone(state)}
          title={
            truncated
              ? trans.__('Cut off by the maximum tokens (%1): Continue asks for the rest', maxTokens)
              : undefined
          }
        >
          <span className="jp-Fanout-status-icon" aria-hidden="true" />
          {props.reconnecting && running ? trans.__('Reconnecting…') : stateLabel(state, trans)}
        </span>
      </header>
      {silent !== null && (
        <div className="jp-Fanout-response-silent" role="status">
          {silenceText(silent, trans)}
        </div>
      )}
      <TokenBar snapshot={snapshot} maxTokens={maxTokens} label={trans.__('Tokens of %1', title)} trans={trans} />
      <div className="jp-Fanout-response-footer">
        <div className="jp-Fanout-response-figures">
          <span className="jp-Fanout-response-counts" title={trans.__('(thinking + answer = total / max tokens)')}>
            {counts}
          </span>
          <span className="jp-Fanout-response-metrics">
            <span>{trans.__('TTFT %1', formatDuration(snapshot.metrics.ttftMs))}</span>
            <span>{trans.__('%1 tok/s', formatRate(snapshot.metrics.tokensPerSecond))}</span>
            <span>{trans.__('elapsed %1', formatDuration(snapshot.metrics.elapsedMs))}</span>
            {snapshot.finishReason && <span>{trans.__('finish: %1', snapshot.finishReason)}</span>}
          </span>
        </div>
        <div className="jp-Fanout-response-actions">
          {running ? (
            <>
              {!streaming && (
                <ActionButton
                  className="jp-Fanout-insert"
                  title={trans.__('Insert this attempt below the active cell, parsed into cells')}
                  onClick={props.onInsert}
                  label={trans.__('Insert')}
                />
              )}
              <ActionButton className="jp-Fanout-stop" warn onClick={props.onStop} label={trans.__('Stop')} />
            </>
          ) : (
            <>
              <ActionButton
                className="jp-Fanout-insert"
                title={trans.__('Insert this response below the active cell, parsed into cells')}
                onClick={props.onInsert}
                label={trans.__('Insert')}
              />
              {truncated && props.onContinue && (
                <ActionButton
                  className="jp-Fanout-continue"
                  title={trans.__('Ask the model to continue this response where max tokens cut it off')}
                  onClick={props.onContinue}
                  label={trans.__('Continue')}
                />
              )}
              <ActionButton
                className="jp-Fanout-regenerate"
                onClick={props.onRegenerate}
                label={trans.__('Re-generate')}
              />
              {props.onFollowUp && snapshot.content.trim() !== '' && (
                <ActionButton
                  className="jp-Fanout-follow-up"
                  title={trans.__(
                    'Follow up: ask again with this answer as the conversation so far (a new batch, shown as a thread)'
                  )}
                  onClick={props.onFollowUp}
                  label={trans.__('Follow up')}
                />
              )}
            </>
          )}
        </div>
      </div>
      {/* Verdicts on an ended attempt only: a running one's text is not its answer yet. */}
      {!streaming && (props.onPick || props.onRate || props.rating) && (
        <div className="jp-Fanout-response-verdict">
          {props.onRate ? (
            <StarRating rating={props.rating ?? null} onRate={props.onRate} trans={trans} />
          ) : (
            props.rating && <StarsShown rating={props.rating} trans={trans} />
          )}
          {props.onPick && (
            <button
              type="button"
              className={`jp-Button jp-mod-minimal jp-Fanout-pick${props.winner ? ' jp-mod-active' : ''}`}
              aria-pressed={props.winner === true}
              title={
                props.winner
                  ? trans.__('Clear the pick: no winner for this batch')
                  : trans.__("Pick this attempt as the batch's winner")
              }
              onClick={props.onPick}
            >
              {props.winner ? trans.__('Unpick') : trans.__('Pick as winner')}
            </button>
          )}
        </div>
      )}
      <ResponseDetails snapshot={snapshot} trans={trans} errorSummarised={props.errorSummarised} />
      {/* The newest lines stay in view (column-reverse keeps the scroll at the end). */}
      <div className="jp-Fanout-response-preview">
        {streaming ? (
          <pre className="jp-Fanout-response-text">{previewOf(snapshot.content)}</pre>
        ) : (
          <WholeText text={snapshot.content} />
        )}
      </div>
    </section>
  );
}
