/**
 * The compact view of a batch: one dense row per response (status, model, thinking and answer
 * progress, tokens, tokens per second), expanded into the response's full card
 * ({@link ResponseCard}) with Enter or a click.
 *
 * Keyboard: the list is one tab stop (the current row; a roving tabindex); Up/Down, Home/End
 * move between rows, Enter or Space expands and collapses, Right expands and Left collapses
 * (the treegrid pattern). The expanded card's buttons follow its row in the tab order.
 */
import React, { useEffect, useRef, useState } from 'react';
import type { TranslationBundle } from '@jupyterlab/translation';

import type { ResponseSnapshot, ResponseStatus } from '../core';
import { formatRate, percent } from './format';
import { SeenRows } from './freshness';
import { scrollRoot, statusLabel } from './ResponseCard';
import { StarsShown } from './Verdicts';

/** Properties of one row. */
export interface IResponseRowProps {
  /** The response's id (`data-response-id`, for the list's keyboard handling). */
  responseId: string;
  index: number;
  /** The model asked for, or the one that answered; empty when unknown. */
  model: string;
  snapshot: ResponseSnapshot;
  maxTokens: number;
  trans: TranslationBundle;
  expanded: boolean;
  /** The row is the list's tab stop. */
  current: boolean;
  /** "Reconnecting…" instead of the status (after a reload). */
  reconnecting?: boolean;
  /** The shown attempt among several ("2/3"), or null. */
  attempt?: string | null;
  /** This response is the batch's winner: "" for the attempt shown, else which attempt ("2/3"). */
  winner?: string | null;
  /** The shown attempt's rating (1 to 5), or null. */
  rating?: number | null;
  /** A fused response (`fanout:fuse`): what it merged, for the badge's tooltip; null otherwise. */
  fused?: string | null;
  /**
   * The row is scrolled out of view (more than {@link ROW_MARGIN} away): an empty box of its
   * height, with its name (`aria-label`), its status as data (`data-status`), its place and its
   * tab stop; no cells, and no layers or layout of its own while typing.
   */
  away?: boolean;
}

/** The shape each status shows in a row. */
const GLYPHS: Record<ResponseStatus | 'truncated', string> = {
  pending: '○',
  connecting: '◌',
  thinking: '◔',
  generating: '▶',
  complete: '✓',
  truncated: '✂',
  stopped: '■',
  error: '✕',
  incomplete: '◑'
};

/** Numbers in the user's locale: one formatter for every row (`toLocaleString` builds one each call). */
const NUMBERS = new Intl.NumberFormat();

/** "1,204" in the user's locale. */
function count(value: number): string {
  return NUMBERS.format(value);
}

/** A thin progress bar readable by screen readers: "Answer: 1,204 of 4,096 tokens". */
export function TokenProgress(props: {
  className: string;
  label: string;
  value: number;
  max: number;
  trans: TranslationBundle;
  estimated?: boolean;
}): JSX.Element {
  const { label, value, max, trans } = props;
  const text = props.estimated
    ? trans.__('%1: about %2 of %3 tokens', label, count(value), count(max))
    : trans.__('%1: %2 of %3 tokens', label, count(value), count(max));
  return (
    <div
      className={`jp-Fanout-row-bar ${props.className}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={max}
      aria-valuenow={Math.min(value, max)}
      aria-valuetext={text}
      style={{ width: `${percent(value, max)}%` }}
    />
  );
}

function sameRow(before: IResponseRowProps, after: IResponseRowProps): boolean {
  return (
    before.snapshot === after.snapshot &&
    before.responseId === after.responseId &&
    before.index === after.index &&
    before.model === after.model &&
    before.maxTokens === after.maxTokens &&
    before.trans === after.trans &&
    before.expanded === after.expanded &&
    before.current === after.current &&
    before.reconnecting === after.reconnecting &&
    before.attempt === after.attempt &&
    before.fused === after.fused &&
    before.winner === after.winner &&
    before.rating === after.rating &&
    before.away === after.away
  );
}

/**
 * One response as a dense row (a treegrid row, `aria-expanded`). Re-renders only when its
 * snapshot or its place changed: ended rows cost nothing while others stream. Out of view, an
 * empty box ({@link IResponseRowProps.away}).
 */
export const ResponseRow = React.memo(function ResponseRow(props: IResponseRowProps): JSX.Element {
  const { snapshot, trans, index, maxTokens } = props;
  const truncated = snapshot.status === 'complete' && snapshot.finishReason === 'length';
  const row = {
    className: `jp-Fanout-row jp-Fanout-status-${snapshot.status}${props.expanded ? ' jp-mod-expanded' : ''}${
      props.away ? ' jp-Fanout-row-away' : ''
    }`,
    role: 'row',
    'aria-level': 1,
    'aria-expanded': props.expanded,
    'aria-label': props.model ? trans.__('Response %1 · %2', index, props.model) : trans.__('Response %1', index),
    tabIndex: props.current ? 0 : -1,
    'data-response-index': index,
    'data-response-id': props.responseId,
    'data-status': snapshot.status,
    'data-truncated': truncated ? '' : undefined,
    'data-winner': typeof props.winner === 'string' ? '' : undefined,
    'data-rating': props.rating ?? undefined
  };
  if (props.away) {
    return <div {...row} />;
  }
  const status = props.reconnecting ? trans.__('Reconnecting…') : statusLabel(snapshot.status, trans);
  const rate = snapshot.metrics.tokensPerSecond;
  return (
    <div {...row}>
      <div className="jp-Fanout-row-line">
        <span className="jp-Fanout-row-index" role="gridcell">
          {index}
        </span>
        <span
          className="jp-Fanout-row-status"
          role="gridcell"
          data-status={truncated ? 'truncated' : snapshot.status}
          title={truncated ? trans.__('Truncated') : status}
        >
          {/* A shape per status (not only a colour); the word too when the sidebar is wide. */}
          <span className="jp-Fanout-row-glyph" aria-hidden="true">
            {props.reconnecting ? '↻' : GLYPHS[truncated ? 'truncated' : snapshot.status]}
          </span>
          <span className="jp-Fanout-row-status-label">{truncated ? trans.__('Truncated') : status}</span>
        </span>
        <span className="jp-Fanout-row-model" role="gridcell" title={props.model}>
          {typeof props.winner === 'string' && (
            <span
              className="jp-Fanout-row-winner"
              title={
                props.winner
                  ? trans.__('Winner (attempt %1)', props.winner)
                  : trans.__('Picked as the winner of this batch')
              }
              aria-label={trans.__('Winner')}
            >
              ♛{' '}
            </span>
          )}
          {props.rating ? (
            <>
              <StarsShown rating={props.rating} trans={trans} compact />{' '}
            </>
          ) : null}
          {props.fused ? (
            <>
              <span className="jp-Fanout-fusedBadge" title={props.fused}>
                {trans.__('Fused')}
              </span>{' '}
            </>
          ) : null}
          {props.attempt ? `${props.model} · ${props.attempt}` : props.model}
        </span>
        <span
          className="jp-Fanout-row-tokens"
          role="gridcell"
          title={trans.__(
            '%1 thinking + %2 answer tokens',
            count(snapshot.thinkingTokens),
            count(snapshot.answerTokens)
          )}
        >
          {snapshot.tokensEstimated ? '≈' : ''}
          {count(snapshot.totalTokens)}
        </span>
        <span className="jp-Fanout-row-rate" role="gridcell" title={trans.__('tokens per second')}>
          {trans.__('%1/s', formatRate(rate))}
        </span>
      </div>
      <div className="jp-Fanout-row-bars" role="gridcell">
        <TokenProgress
          className="jp-Fanout-row-bar-thinking"
          label={trans.__('Thinking')}
          value={snapshot.thinkingTokens}
          max={maxTokens}
          trans={trans}
          estimated={snapshot.tokensEstimated}
        />
        <TokenProgress
          className="jp-Fanout-row-bar-answer"
          label={trans.__('Answer')}
          value={snapshot.answerTokens}
          max={maxTokens}
          trans={trans}
          estimated={snapshot.tokensEstimated}
        />
      </div>
    </div>
  );
}, sameRow);

/** One row of a {@link ResponseRows} list. */
export interface IRowItem {
  /** The response's id (the key, and what expands). */
  id: string;
  row: Omit<IResponseRowProps, 'expanded' | 'current' | 'trans'>;
  /** The full card, rendered only while the row is expanded. */
  card: () => JSX.Element;
}

/**
 * Where focus goes from row `from` (of `count`) on `key`, or null for a key the list does not
 * handle.
 */
export function nextRow(key: string, from: number, count: number): number | null {
  switch (key) {
    case 'ArrowDown':
      return Math.min(count - 1, from + 1);
    case 'ArrowUp':
      return Math.max(0, from - 1);
    case 'Home':
      return 0;
    case 'End':
      return count - 1;
    default:
      return null;
  }
}

/** How near the list's visible part a row counts as in view: rows about to scroll in are filled. */
export const ROW_MARGIN = '200px';

/**
 * {@link SeenRows} for the list `list`, told which rows are in view, or within
 * {@link ROW_MARGIN} of it, by an `IntersectionObserver` on what the list scrolls in. A row
 * that comes into view renders at once; one that leaves becomes an empty box at the list's next
 * render. Not by the rows' `content-visibility` state: the browser renders 62 of 64 rows as near
 * enough, and the rows that re-render at each update went from 25 to 62.
 */
function useSeen(list: React.RefObject<HTMLDivElement>): SeenRows {
  const seen = useRef<SeenRows | null>(null);
  seen.current ??= new SeenRows();
  const [, setMoved] = useState(0);
  useEffect(() => {
    const root = list.current;
    if (!root || typeof IntersectionObserver === 'undefined') {
      return;
    }
    const observer = new IntersectionObserver(
      entries => {
        let back = false;
        for (const entry of entries) {
          const id = (entry.target as HTMLElement).dataset.responseId;
          // (A row with no box: the sidebar is hidden, and what each row shows stays as it was.)
          if (id !== undefined && entry.boundingClientRect.height > 0) {
            const changed = seen.current!.setInView(id, entry.isIntersecting);
            back ||= changed && entry.isIntersecting;
          }
        }
        if (back) {
          setMoved(moved => moved + 1); // (rows that left wait for the next render)
        }
      },
      { root: scrollRoot(root), rootMargin: ROW_MARGIN }
    );
    const observeRows = () => {
      observer.disconnect();
      root.querySelectorAll(':scope > .jp-Fanout-row').forEach(row => observer.observe(row));
    };
    observeRows();
    // Rows come and go with the batch's responses (and sorting moves them).
    const mutations = new MutationObserver(observeRows);
    mutations.observe(root, { childList: true });
    return () => {
      mutations.disconnect();
      observer.disconnect();
    };
  }, []);
  return seen.current;
}

/** The responses as rows: one tab stop, arrow keys between rows, Enter expands. */
export function ResponseRows(props: { items: IRowItem[]; trans: TranslationBundle; label: string }): JSX.Element {
  const { items, trans } = props;
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(new Set());
  const [current, setCurrent] = useState<string | null>(null);
  const list = useRef<HTMLDivElement>(null);
  const seen = useSeen(list);
  const now = performance.now();
  const shown = items.map(item => seen.pick(item.id, item.row.snapshot, now, item.row.reconnecting === true));
  seen.forgetOthers(items);
  // The tab stop: the row last focused, or the first.
  const currentId = items.some(item => item.id === current) ? current : (items[0]?.id ?? null);
  const toggle = (id: string, open?: boolean) => {
    setExpanded(before => {
      const after = new Set(before);
      if (open ?? !before.has(id)) {
        after.add(id);
      } else {
        after.delete(id);
      }
      return after;
    });
  };
  const rowOf = (target: EventTarget): HTMLElement | null => {
    const element = target as HTMLElement;
    return element.classList?.contains('jp-Fanout-row') ? element : null;
  };
  const position = (row: HTMLElement) => items.findIndex(item => item.id === row.dataset.responseId);
  const focusRow = (at: number) => {
    const rows = list.current?.querySelectorAll<HTMLElement>(':scope > .jp-Fanout-row');
    const row = rows?.[at];
    if (row) {
      setCurrent(items[at].id);
      row.focus();
    }
  };
  return (
    <div
      ref={list}
      className="jp-Fanout-rows"
      role="treegrid"
      aria-label={props.label}
      onKeyDown={event => {
        // Only keys on a row itself: inside an expanded card, keys are the card's.
        const row = rowOf(event.target);
        if (!row) {
          return;
        }
        const at = position(row);
        if (at < 0) {
          return;
        }
        const id = items[at].id;
        const next = nextRow(event.key, at, items.length);
        if (next !== null) {
          event.preventDefault();
          focusRow(next);
        } else if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          toggle(id);
        } else if (event.key === 'ArrowRight' || event.key === 'ArrowLeft') {
          event.preventDefault();
          toggle(id, event.key === 'ArrowRight');
        }
      }}
      onClick={event => {
        // A click on a row (not inside its expanded card) expands or collapses it.
        const row = (event.target as HTMLElement).closest?.('.jp-Fanout-row') as HTMLElement | null;
        if (row && row.parentElement === list.current) {
          const at = position(row);
          if (at >= 0) {
            setCurrent(items[at].id);
            toggle(items[at].id);
          }
        }
      }}
      onFocus={event => {
        const row = rowOf(event.target);
        if (row && row.parentElement === list.current) {
          const id = row.dataset.responseId ?? null;
          if (id !== null && id !== currentId) {
            setCurrent(id);
          }
        }
      }}
    >
      {items.map((item, at) => {
        const open = expanded.has(item.id);
        return (
          <React.Fragment key={item.id}>
            <ResponseRow
              {...item.row}
              away={seen.isAway(item.id)}
              snapshot={shown[at]}
              expanded={open}
              current={item.id === currentId}
              trans={trans}
            />
            {open && (
              <div className="jp-Fanout-row-card" role="row" aria-level={2}>
                <div role="gridcell">{item.card()}</div>
              </div>
            )}
          </React.Fragment>
        );
      })}
    </div>
  );
}
