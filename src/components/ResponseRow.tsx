/**
 * The compact view of a batch: one dense row per response (status, model, thinking and answer
 * progress, tokens, tokens per second), expanded into the response's full card
 * ({@link ResponseCard}) with Enter or a click.
 *
 * Keyboard: the list is one tab stop (the current row; a roving tabindex); Up/Down, Home/End
 * move between rows, Enter or Space expands and collapses, Right expands and Left collapses
 * (the treegrid pattern). The expanded card's buttons follow its row in the tab order.
 */
import React, { useEffect, useMemo, useRef, useState } from 'react';
import type { TranslationBundle } from '@jupyterlab/translation';

import type { ResponseSnapshot, ResponseStatus } from '../core';
import { formatRate, percent } from './format';
import { SeenRows } from './freshness';
import { IN_VIEW_MARGIN, watchInView } from './inView';
import { stateLabel } from './status';
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
   * The row is scrolled out of view (more than {@link IN_VIEW_MARGIN} away): an empty box of its
   * height, with its name (`aria-label`), its status as data (`data-status`), its place and its
   * tab stop; no cells, and no layers or layout of its own while typing.
   */
  away?: boolean;
  /** Told the row's element (and null when it goes): what watches it come into view. */
  rowRef?: (element: HTMLDivElement | null) => void;
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

/** The words every row shows, in the user's language. */
interface IRowWords {
  thinking: string;
  answer: string;
  truncated: string;
  reconnecting: string;
  tokensPerSecond: string;
  winner: string;
  pickedAsWinner: string;
  fused: string;
  status: Record<ResponseStatus, string>;
}

const ROW_WORDS = new WeakMap<TranslationBundle, IRowWords>();

/**
 * {@link IRowWords} in `trans`, looked up once per bundle: the rows in view render five times a
 * second while a batch streams, and each lookup formats and allocates.
 */
function rowWords(trans: TranslationBundle): IRowWords {
  let words = ROW_WORDS.get(trans);
  if (words === undefined) {
    const statuses = Object.keys(GLYPHS).filter(status => status !== 'truncated') as ResponseStatus[];
    words = {
      thinking: trans.__('Thinking'),
      answer: trans.__('Answer'),
      truncated: trans.__('Truncated'),
      reconnecting: trans.__('Reconnecting…'),
      tokensPerSecond: trans.__('tokens per second'),
      winner: trans.__('Winner'),
      pickedAsWinner: trans.__('Picked as the winner of this batch'),
      fused: trans.__('Fused'),
      status: Object.fromEntries(statuses.map(status => [status, stateLabel(status, trans)])) as Record<
        ResponseStatus,
        string
      >
    };
    ROW_WORDS.set(trans, words);
  }
  return words;
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
    before.away === after.away &&
    before.rowRef === after.rowRef
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
  const words = rowWords(trans);
  const name = useMemo(
    () => (props.model ? trans.__('Response %1 · %2', index, props.model) : trans.__('Response %1', index)),
    [trans, index, props.model]
  );
  const row = {
    ref: props.rowRef,
    className: `jp-Fanout-row jp-Fanout-status-${snapshot.status}${props.expanded ? ' jp-mod-expanded' : ''}${
      props.away ? ' jp-Fanout-row-away' : ''
    }`,
    role: 'row',
    'aria-level': 1,
    'aria-expanded': props.expanded,
    'aria-label': name,
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
  const status = props.reconnecting ? words.reconnecting : words.status[snapshot.status];
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
          title={truncated ? words.truncated : status}
        >
          {/* A shape per status (not only a colour); the word too when the sidebar is wide. */}
          <span className="jp-Fanout-row-glyph" aria-hidden="true">
            {props.reconnecting ? '↻' : GLYPHS[truncated ? 'truncated' : snapshot.status]}
          </span>
          <span className="jp-Fanout-row-status-label">{truncated ? words.truncated : status}</span>
        </span>
        <span className="jp-Fanout-row-model" role="gridcell" title={props.model}>
          {typeof props.winner === 'string' && (
            <span
              className="jp-Fanout-row-winner"
              title={props.winner ? trans.__('Winner (attempt %1)', props.winner) : words.pickedAsWinner}
              aria-label={words.winner}
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
                {words.fused}
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
        <span className="jp-Fanout-row-rate" role="gridcell" title={words.tokensPerSecond}>
          {trans.__('%1/s', formatRate(rate))}
        </span>
      </div>
      <div className="jp-Fanout-row-bars" role="gridcell">
        <TokenProgress
          className="jp-Fanout-row-bar-thinking"
          label={words.thinking}
          value={snapshot.thinkingTokens}
          max={maxTokens}
          trans={trans}
          estimated={snapshot.tokensEstimated}
        />
        <TokenProgress
          className="jp-Fanout-row-bar-answer"
          label={words.answer}
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

/** A row's ref, and how to stop watching its element (null: not watched). */
interface IRowWatch {
  ref: (element: HTMLDivElement | null) => void;
  stop: (() => void) | null;
}

/**
 * {@link SeenRows} for a list, told which rows are in view, or within {@link IN_VIEW_MARGIN} of
 * it (by {@link watchInView}: the one observer of what the list scrolls in), and the ref each
 * row is given (one per response, the same at each render). A row that comes into view renders
 * at once; one that leaves becomes an empty box at the list's next render; a row with no box
 * (the sidebar hidden) changes nothing, so what each row shows stays as it was. Not by the rows'
 * `content-visibility` state: the browser renders 62 of 64 rows as near enough, and the rows
 * that re-render at each update went from 25 to 62.
 */
function useSeen(): [SeenRows, (id: string) => (element: HTMLDivElement | null) => void] {
  const seen = useRef<SeenRows | null>(null);
  seen.current ??= new SeenRows();
  const [, setMoved] = useState(0);
  /** Per response: its row's ref (the same at every render) and how to stop watching the row. */
  const rows = useRef(new Map<string, IRowWatch>());
  const refOf = (id: string) => {
    let row = rows.current.get(id);
    if (row === undefined) {
      const entry: IRowWatch = {
        ref: element => {
          entry.stop?.();
          entry.stop = null;
          if (element === null) {
            rows.current.delete(id); // (its row is gone: a row of that id again gets a new ref)
            return;
          }
          entry.stop = watchInView(element, (inView, hasBox) => {
            if (hasBox && seen.current!.setInView(id, inView) && inView) {
              setMoved(moved => moved + 1); // (rows that left wait for the next render)
            }
          });
        },
        stop: null
      };
      rows.current.set(id, entry);
      row = entry;
    }
    return row.ref;
  };
  useEffect(
    () => () => {
      rows.current.forEach(row => {
        row.stop?.();
        row.stop = null;
      });
    },
    []
  );
  return [seen.current, refOf];
}

/** The responses as rows: one tab stop, arrow keys between rows, Enter expands. */
export function ResponseRows(props: { items: IRowItem[]; trans: TranslationBundle; label: string }): JSX.Element {
  const { items, trans } = props;
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(new Set());
  const [current, setCurrent] = useState<string | null>(null);
  const list = useRef<HTMLDivElement>(null);
  const [seen, rowRef] = useSeen();
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
              rowRef={rowRef(item.id)}
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
