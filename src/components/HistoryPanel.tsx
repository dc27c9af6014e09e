import React, { useEffect, useRef, useState } from 'react';
import type { TranslationBundle } from '@jupyterlab/translation';
import { deleteIcon, downloadIcon, editIcon, redoIcon, tagIcon } from '@jupyterlab/ui-components';
import type { ISignal } from '@lumino/signaling';

import type { IStoredBatchSummary, IStoreState } from '../tokens';
import { StarsShown } from './Verdicts';

/** Batches listed at first, and added by each Show more. */
export const HISTORY_PAGE = 50;

/** Wait after the last keystroke in the search box before asking the server. */
export const SEARCH_DEBOUNCE_MS = 300;

/** Properties of the History section: where the list comes from and where its actions go. */
export interface IHistoryPanelProps {
  trans: TranslationBundle;
  /** `fanout:list-batches`. */
  list: (query: string, limit: number) => Promise<IStoredBatchSummary[]>;
  /** `GET fanout/store`: null when the store is off. */
  storeState: () => Promise<IStoreState | null>;
  /** Emitted when the list may have changed (a batch ended, was renamed, deleted, moved in). */
  refresh: ISignal<unknown, void>;
  onOpen: (batch: IStoredBatchSummary) => void;
  onRename: (batch: IStoredBatchSummary) => void;
  onDelete: (batch: IStoredBatchSummary) => void;
  /** Put the batch's prompt and options back into the Responses section's prompt box (`fanout:edit-prompt`). */
  onEditPrompt?: (batch: IStoredBatchSummary) => void;
  /** Open a batch by id (a follow-up's parent). */
  onOpenBatchId?: (batchId: string) => void;
  /** Open the export menu for `batch` at the button. */
  onExport: (batch: IStoredBatchSummary, anchor: HTMLElement) => void;
  /** Edit the batch's tags (`fanout:tag-batch` with its dialog). */
  onEditTags?: (batch: IStoredBatchSummary) => void;
  /** A blind vote of this batch is open and not yet voted: its models are not named. */
  isBlind?: (batchId: string) => boolean;
}

/** A file name from a batch's title: letters, digits, `-` and `_`, at most 60 characters. */
export function exportName(batch: Pick<IStoredBatchSummary, 'id' | 'title'>): string {
  const slug = batch.title
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '');
  return `fanout-${slug || batch.id.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 60)}`;
}

/** Statuses in the order their counts are shown. */
const STATUS_ORDER = ['running', 'complete', 'stopped', 'incomplete', 'error'];

function statusLabel(trans: TranslationBundle, status: string, count: number): string {
  switch (status) {
    case 'running':
      return trans.__('%1 running', count);
    case 'complete':
      return trans.__('%1 complete', count);
    case 'stopped':
      return trans.__('%1 stopped', count);
    case 'incomplete':
      return trans.__('%1 incomplete', count);
    case 'error':
      return trans.__('%1 failed', count);
    default:
      return trans.__('%1 %2', count, status);
  }
}

function formatTime(seconds: number): string {
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime())
    ? ''
    : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/**
 * A stored batch's verdicts: the winner (its response number, model and stars), else how many
 * responses are rated and the best rating; nothing when there are none.
 */
function HistoryVerdict(props: {
  batch: IStoredBatchSummary;
  trans: IHistoryPanelProps['trans'];
  blind?: boolean;
}): JSX.Element | null {
  const { batch, trans } = props;
  const ratings = Array.isArray(batch.ratings) ? batch.ratings : [];
  const pick = batch.pick ?? null;
  if (!pick && ratings.length === 0) {
    return null;
  }
  if (pick) {
    const rating = ratings.find(r => r.responseId === pick.responseId && r.attempt === pick.attempt)?.rating;
    const which =
      pick.attempt > 1
        ? trans.__('Winner: response %1 (attempt %2)', pick.responseId, pick.attempt)
        : trans.__('Winner: response %1', pick.responseId);
    return (
      <div className="jp-Fanout-historyItem-verdict" data-pick={pick.responseId}>
        <span className="jp-Fanout-historyItem-winner">
          <span aria-hidden="true">♛ </span>
          {which}
        </span>
        {rating ? (
          <>
            {' '}
            <StarsShown rating={rating} trans={trans} />
          </>
        ) : null}
        {pick.model && !props.blind && (
          <span className="jp-Fanout-historyItem-winner-model" title={pick.model}>
            {' · '}
            {pick.model}
          </span>
        )}
      </div>
    );
  }
  const best = Math.max(...ratings.map(r => r.rating));
  return (
    <div className="jp-Fanout-historyItem-verdict">
      <span className="jp-Fanout-historyItem-rated">
        {trans._n('%1 response rated, best', '%1 responses rated, best', ratings.length)}{' '}
      </span>
      <StarsShown rating={best} trans={trans} />
    </div>
  );
}

/** A follow-up batch's mark in History: ↳ and the response it follows up on (a click opens that batch). */
function HistoryThreadMark(props: {
  followup: NonNullable<IStoredBatchSummary['followup']>;
  trans: TranslationBundle;
  onOpen?: (batchId: string) => void;
}): JSX.Element {
  const { followup, trans } = props;
  const parentTitle = followup.title ?? null;
  const text = parentTitle
    ? trans.__('Follow-up of response %1 of “%2”', followup.responseId, parentTitle)
    : trans.__('Follow-up of response %1 (its batch is no longer stored)', followup.responseId);
  return (
    <div className="jp-Fanout-historyItem-thread" data-parent-batch={followup.batchId}>
      <span className="jp-Fanout-historyItem-thread-mark" aria-hidden="true">
        ↳
      </span>
      {props.onOpen && parentTitle ? (
        <button
          type="button"
          className="jp-Fanout-historyItem-thread-parent"
          title={trans.__('Open the batch this follows up on')}
          onClick={() => props.onOpen!(followup.batchId)}
        >
          {text}
        </button>
      ) : (
        <span className="jp-Fanout-historyItem-thread-parent">{text}</span>
      )}
    </div>
  );
}

/** One stored batch: its title (opens it), its actions, when, models, N, counts by status. */
function HistoryItem(props: { batch: IStoredBatchSummary } & IHistoryPanelProps): JSX.Element {
  const { batch, trans } = props;
  const statuses = Object.keys(batch.counts ?? {}).sort(
    (a, b) => (STATUS_ORDER.indexOf(a) + 1 || 99) - (STATUS_ORDER.indexOf(b) + 1 || 99)
  );
  const blind = props.isBlind?.(batch.id) ?? false;
  const models = blind
    ? trans.__('hidden until you vote')
    : (batch.models ?? []).filter(Boolean).join(', ') || trans.__('default model');
  const tags = Array.isArray(batch.tags) ? batch.tags : [];
  return (
    <li className="jp-Fanout-historyItem" data-batch-id={batch.id}>
      <div className="jp-Fanout-historyItem-head">
        <button
          className="jp-Fanout-historyItem-title"
          data-action="open"
          title={trans.__('Open “%1” in the Responses section', batch.title)}
          onClick={() => props.onOpen(batch)}
        >
          {batch.title}
        </button>
        <div className="jp-Fanout-historyItem-actions">
          {props.onEditPrompt && (
            <button
              className="jp-Fanout-historyItem-action"
              data-action="edit-prompt"
              aria-label={trans.__('Edit the prompt of “%1” and send again', batch.title)}
              title={trans.__(
                'Edit prompt: put it back into the prompt box, with its N, model, temperature and max tokens'
              )}
              onClick={() => props.onEditPrompt!(batch)}
            >
              <redoIcon.react tag="span" elementSize="small" />
            </button>
          )}
          <button
            className="jp-Fanout-historyItem-action"
            data-action="rename"
            aria-label={trans.__('Rename “%1”', batch.title)}
            title={trans.__('Rename')}
            onClick={() => props.onRename(batch)}
          >
            <editIcon.react tag="span" elementSize="small" />
          </button>
          <button
            className="jp-Fanout-historyItem-action"
            data-action="export"
            aria-haspopup="menu"
            aria-label={trans.__('Export “%1”', batch.title)}
            title={trans.__('Export as JSON, Markdown or a notebook')}
            onClick={event => props.onExport(batch, event.currentTarget)}
          >
            <downloadIcon.react tag="span" elementSize="small" />
          </button>
          {props.onEditTags && (
            <button
              className="jp-Fanout-historyItem-action"
              data-action="tags"
              aria-label={trans.__('Edit the tags of “%1”', batch.title)}
              title={trans.__('Tags: the leaderboard can be filtered by them')}
              onClick={() => props.onEditTags!(batch)}
            >
              <tagIcon.react tag="span" elementSize="small" />
            </button>
          )}
          <button
            className="jp-Fanout-historyItem-action"
            data-action="delete"
            aria-label={trans.__('Delete “%1”', batch.title)}
            title={trans.__('Delete')}
            onClick={() => props.onDelete(batch)}
          >
            <deleteIcon.react tag="span" elementSize="small" />
          </button>
        </div>
      </div>
      <div className="jp-Fanout-historyItem-meta">
        <span className="jp-Fanout-historyItem-time">{formatTime(batch.created_at)}</span>
        <span className="jp-Fanout-historyItem-models" title={models}>
          {models}
        </span>
        <span className="jp-Fanout-historyItem-n">{trans.__('N = %1', batch.n)}</span>
      </div>
      {batch.followup && <HistoryThreadMark followup={batch.followup} trans={trans} onOpen={props.onOpenBatchId} />}
      {tags.length > 0 && (
        <div className="jp-Fanout-historyItem-tags" aria-label={trans.__('Tags')}>
          {tags.map(tag => (
            <span key={tag} className="jp-Fanout-tag">
              {tag}
            </span>
          ))}
        </div>
      )}
      <HistoryVerdict batch={batch} trans={trans} blind={blind} />
      <div className="jp-Fanout-historyItem-counts">
        {statuses.map(status => (
          <span key={status} className="jp-Fanout-historyItem-count" data-status={status}>
            {statusLabel(trans, status, batch.counts[status])}
          </span>
        ))}
      </div>
    </li>
  );
}

/**
 * What the History section says about the store (`GET fanout/store`): null while it works or is
 * not known yet (undefined).
 */
export function storeNotice(store: IStoreState | null | undefined, trans: TranslationBundle): string | null {
  if (store === null) {
    return trans.__('The batch store is off on this server (c.Fanout.store_path is empty): batches are not kept.');
  }
  if (store && !store.ok) {
    return trans.__(
      'The batch store cannot keep batches: %1. Streaming still works; what was stored before is listed below.',
      store.error ?? trans.__('unknown error')
    );
  }
  return null;
}

/** What the list shows: the batches, or why there are none. */
type ListState =
  | { kind: 'loading' }
  | { kind: 'off' }
  | { kind: 'ready'; batches: IStoredBatchSummary[]; query: string; limit: number }
  | { kind: 'failed'; message: string };

/**
 * The History section: the stored batches, newest first, a debounced search over prompts and
 * responses, and per batch Open, Rename, Export and Delete. It lists at most
 * {@link HISTORY_PAGE} batches more per Show more, so a store of thousands stays fast.
 */
export function HistoryPanel(props: IHistoryPanelProps): JSX.Element {
  const { trans } = props;
  const [input, setInput] = useState('');
  const [query, setQuery] = useState('');
  const [limit, setLimit] = useState(HISTORY_PAGE);
  const [list, setList] = useState<ListState>({ kind: 'loading' });
  const [store, setStore] = useState<IStoreState | null | undefined>(undefined);
  const [generation, setGeneration] = useState(0);
  /** Only the newest request's answer is shown. */
  const latest = useRef(0);

  // The search waits for typing to pause.
  useEffect(() => {
    const timer = setTimeout(() => {
      setQuery(input.trim());
      setLimit(HISTORY_PAGE);
    }, SEARCH_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [input]);

  useEffect(() => {
    const bump = () => setGeneration(g => g + 1);
    props.refresh.connect(bump);
    return () => {
      props.refresh.disconnect(bump);
    };
  }, [props.refresh]);

  useEffect(() => {
    const request = ++latest.current;
    const current = () => request === latest.current;
    const load = async () => {
      let state: IStoreState | null | undefined;
      try {
        state = await props.storeState();
      } catch {
        state = undefined; // Not known: the list's own error says what is wrong.
      }
      if (!current()) {
        return;
      }
      setStore(state);
      if (state === null) {
        setList({ kind: 'off' }); // Nothing to list: the notice says why.
        return;
      }
      try {
        const batches = await props.list(query, limit);
        if (current()) {
          setList({ kind: 'ready', batches, query, limit });
        }
      } catch (error) {
        if (current()) {
          setList({ kind: 'failed', message: (error as Error)?.message ?? String(error) });
        }
      }
    };
    void load();
  }, [query, limit, generation]);

  const notice = storeNotice(store, trans);

  let body: JSX.Element | null;
  if (list.kind === 'off') {
    body = null;
  } else if (list.kind === 'loading') {
    body = <p className="jp-Fanout-history-state">{trans.__('Loading the stored batches…')}</p>;
  } else if (list.kind === 'failed') {
    body = (
      <div className="jp-Fanout-history-state jp-Fanout-history-error" role="alert">
        <p>{trans.__('Could not list the stored batches: %1', list.message)}</p>
        <button className="jp-Button jp-mod-styled" onClick={() => setGeneration(g => g + 1)}>
          {trans.__('Try again')}
        </button>
      </div>
    );
  } else if (list.batches.length === 0) {
    body = (
      <p className="jp-Fanout-history-state jp-Fanout-history-empty">
        {list.query
          ? trans.__('No stored batch matches “%1”.', list.query)
          : trans.__('No stored batches yet: every batch you generate is kept here.')}
      </p>
    );
  } else {
    body = (
      <>
        <ul className="jp-Fanout-history-list" aria-label={trans.__('Stored batches')}>
          {list.batches.map(batch => (
            <HistoryItem key={batch.id} batch={batch} {...props} />
          ))}
        </ul>
        {list.batches.length >= list.limit && (
          <button
            className="jp-Button jp-mod-styled jp-Fanout-history-more"
            onClick={() => setLimit(list.limit + HISTORY_PAGE)}
          >
            {trans.__('Show more')}
          </button>
        )}
      </>
    );
  }

  return (
    <div className="jp-Fanout-historyPanel">
      <input
        type="search"
        className="jp-Fanout-history-search"
        aria-label={trans.__('Search stored batches')}
        placeholder={trans.__('Search prompts and responses')}
        value={input}
        onChange={event => setInput(event.target.value)}
      />
      {notice && (
        <div className="jp-Fanout-notice" role="status">
          {notice}
        </div>
      )}
      {body}
    </div>
  );
}
