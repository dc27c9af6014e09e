/**
 * The blind vote: two responses of a stored batch side by side, labelled only A and B, the four
 * buttons, then the models revealed and the next pair; or "Rank all": every ended response,
 * shuffled and labelled A, B, C…, put in order (buttons or Alt+Up/Down) and cast as one ranking
 * (`../arena/ranking`, no ties), then the models revealed beside the labels. Until the vote is cast nothing in this
 * view names a model or a response: not the text, not a title, not an attribute (a response's
 * number would tell, since a batch numbers its responses target by target). The names are kept
 * in memory and rendered only after the vote.
 */
import React, { useCallback, useEffect, useRef, useState } from 'react';
import { MainAreaWidget } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';

import { countModels, IContender, IPair, schedulePairs } from '../arena/pairs';
import { moveItem, rankLabel, shuffled } from '../arena/ranking';
import type { VoteMode } from '../commands/arena';
import { fanoutIcon } from '../icons';
import type { IStoredBatch, IVote, VoteOutcome } from '../tokens';

/** What the view needs from the server (`../handler`), through the extension's commands. */
export interface IVoteApi {
  getBatch: (id: string) => Promise<IStoredBatch>;
  listVotes: (batchId: string) => Promise<IVote[]>;
  /** `fanout:vote {batchId, a, b, outcome}`. */
  vote: (batchId: string, a: string, b: string, outcome: VoteOutcome) => Promise<unknown>;
  /** `fanout:leaderboard` with the view. */
  showLeaderboard: () => void;
  /** `fanout:vote {batchId, ranking}` (response ids, best first). */
  rank?: (batchId: string, ranking: string[]) => Promise<unknown>;
  /**
   * The view's screen is blind (true) or not any more (false): the other views of the batch
   * hide its models meanwhile (`IFanoutModel.blind`). Called with false when the view closes.
   */
  setBlind?: (blind: boolean) => void;
  /** `fanout:tag-batch {batchId, interactive}`: the dialog; the new tags, or undefined. */
  editTags?: () => Promise<string[] | undefined>;
}

interface IEntry extends IContender {
  text: string;
}

interface IReady {
  prompt: string;
  /** Every ended response's id, shuffled: the order "Rank all" starts from and its labels. */
  shuffled: string[];
  tags: string[];
  entries: Map<string, IEntry>;
  pairs: IPair[];
  models: number;
}

/** The statuses a response can be voted on in (not running). */
const ENDED = new Set(['complete', 'stopped', 'error', 'incomplete']);

/** The vote view's content (see the module comment). */
export function VotePanel(props: {
  batchId: string;
  trans: TranslationBundle;
  api: IVoteApi;
  random?: () => number;
  initialMode?: VoteMode;
}): JSX.Element {
  const { batchId, trans, api, random } = props;
  const [mode, setMode] = useState<VoteMode>(props.initialMode ?? 'pairs');
  const [tags, setTags] = useState<string[] | null>(null);
  const [ready, setReady] = useState<IReady | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [index, setIndex] = useState(0);
  const [cast, setCast] = useState<VoteOutcome | null>(null);
  const [busy, setBusy] = useState(false);
  const [voteError, setVoteError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    Promise.all([api.getBatch(batchId), api.listVotes(batchId)])
      .then(([batch, votes]) => {
        if (!live) {
          return;
        }
        const entries = new Map<string, IEntry>();
        for (const r of batch.responses) {
          const latest = r.attempts[r.attempts.length - 1];
          if (latest && ENDED.has(latest.status)) {
            entries.set(r.id, { id: r.id, upstream: latest.upstream, model: latest.model, text: latest.text });
          }
        }
        const contenders = Array.from(entries.values());
        const voted = votes.map(v => [v.a.response, v.b.response] as [string, string]);
        setReady({
          prompt: batch.prompt,
          shuffled: shuffled(Array.from(entries.keys()), random),
          tags: batch.tags ?? [],
          entries,
          pairs: schedulePairs(contenders, voted, random),
          models: countModels(contenders)
        });
      })
      .catch(reason => live && setError((reason as Error).message ?? String(reason)));
    return () => {
      live = false;
    };
  }, [batchId]);

  const pair = ready && index < ready.pairs.length ? ready.pairs[index] : null;
  const [ranked, setRanked] = useState(false);
  // Blind while loading (nothing is named yet) and while the screen's vote is not cast.
  const blind =
    error === null &&
    (ready === null || (ready.models >= 2 && (mode === 'rank' ? !ranked : pair !== null && cast === null)));
  useEffect(() => {
    if (!blind || !api.setBlind) {
      return;
    }
    api.setBlind(true);
    return () => api.setBlind!(false);
  }, [blind]);

  const onVote = useCallback(
    (outcome: VoteOutcome) => {
      if (!pair || cast || busy) {
        return;
      }
      setBusy(true);
      setVoteError(null);
      api
        .vote(batchId, pair.a, pair.b, outcome)
        .then(() => setCast(outcome))
        .catch(reason => setVoteError((reason as Error).message ?? String(reason)))
        .finally(() => setBusy(false));
    },
    [pair, cast, busy, batchId]
  );

  const next = () => {
    setCast(null);
    setIndex(index + 1);
  };

  if (error !== null) {
    return (
      <div className="jp-Fanout-vote" role="alert">
        {trans.__('The batch cannot be voted on: %1', error)}
      </div>
    );
  }
  if (ready === null) {
    return <div className="jp-Fanout-vote">{trans.__('Loading…')}</div>;
  }
  const shownTags = tags ?? ready.tags;
  const header = (
    <div className="jp-Fanout-vote-top">
      <div className="jp-Fanout-vote-modes" role="group" aria-label={trans.__('How to vote')}>
        {(
          [
            ['pairs', trans.__('One pair at a time')],
            ['rank', trans.__('Rank all')]
          ] as Array<[VoteMode, string]>
        ).map(([value, label]) => (
          <button
            key={value}
            className={`jp-mod-styled ${mode === value ? 'jp-mod-accept' : 'jp-mod-reject'} jp-Fanout-vote-mode-${value}`}
            aria-pressed={mode === value}
            onClick={() => setMode(value)}
          >
            {label}
          </button>
        ))}
      </div>
      <div className="jp-Fanout-vote-tags">
        <span className="jp-Fanout-vote-tags-label">{trans.__('Tags:')}</span>
        {shownTags.length === 0 && <em>{trans.__('none')}</em>}
        {shownTags.map(tag => (
          <span key={tag} className="jp-Fanout-tag">
            {tag}
          </span>
        ))}
        {api.editTags && (
          <button
            className="jp-mod-styled jp-mod-reject jp-Fanout-vote-edit-tags"
            onClick={() =>
              api.editTags!()
                .then(next => next !== undefined && setTags(next))
                .catch(reason => setVoteError((reason as Error).message ?? String(reason)))
            }
          >
            {trans.__('Edit tags…')}
          </button>
        )}
      </div>
    </div>
  );
  if (ready.models < 2) {
    return (
      <div className="jp-Fanout-vote jp-Fanout-vote-empty">
        {trans.__(
          'A blind vote needs ended responses of at least two models (upstream and model) in one batch; this batch has %1.',
          ready.models
        )}
      </div>
    );
  }
  if (mode === 'rank') {
    return (
      <div className="jp-Fanout-vote">
        {header}
        <RankAll
          prompt={ready.prompt}
          entries={ready.entries}
          initial={ready.shuffled}
          ranked={ranked}
          trans={trans}
          submit={ranking => {
            if (!api.rank) {
              return Promise.reject(new Error('This view cannot cast a ranking.'));
            }
            return api.rank(batchId, ranking).then(() => setRanked(true));
          }}
          showLeaderboard={api.showLeaderboard}
        />
        {voteError !== null && (
          <div className="jp-Fanout-vote-error" role="alert">
            {voteError}
          </div>
        )}
      </div>
    );
  }
  if (pair === null) {
    return (
      <div className="jp-Fanout-vote jp-Fanout-vote-empty">
        {header}
        <p>
          {index === 0
            ? trans.__('Every pair of this batch has been voted on.')
            : trans.__('That was the last pair of this batch.')}
        </p>
        <button className="jp-mod-styled jp-mod-accept" onClick={api.showLeaderboard}>
          {trans.__('Show the leaderboard')}
        </button>
      </div>
    );
  }
  const a = ready.entries.get(pair.a)!;
  const b = ready.entries.get(pair.b)!;
  const outcomes: Array<[VoteOutcome, string]> = [
    ['a', trans.__('A is better')],
    ['b', trans.__('B is better')],
    ['tie', trans.__('Tie')],
    ['both-bad', trans.__('Both are bad')]
  ];
  const side = (label: string, entry: IEntry, won: boolean) => (
    <section className={`jp-Fanout-vote-side${cast !== null && won ? ' jp-mod-winner' : ''}`} aria-label={label}>
      <h3 className="jp-Fanout-vote-label">
        {label}
        {cast !== null && (
          <span className="jp-Fanout-vote-model">
            {' · '}
            {entry.model} ({entry.upstream})
          </span>
        )}
      </h3>
      <div className="jp-Fanout-vote-text">{entry.text || trans.__('(no text)')}</div>
    </section>
  );
  return (
    <div className="jp-Fanout-vote">
      {header}
      <div className="jp-Fanout-vote-header">
        <div className="jp-Fanout-vote-prompt">{ready.prompt}</div>
        <div className="jp-Fanout-vote-progress">{trans.__('Pair %1 of %2', index + 1, ready.pairs.length)}</div>
      </div>
      <div className="jp-Fanout-vote-sides">
        {side('A', a, cast === 'a')}
        {side('B', b, cast === 'b')}
      </div>
      <div className="jp-Fanout-vote-buttons" role="group" aria-label={trans.__('Your vote')}>
        {outcomes.map(([outcome, label]) => (
          <button
            key={outcome}
            className={`jp-mod-styled ${cast === outcome ? 'jp-mod-accept' : 'jp-mod-reject'} jp-Fanout-vote-${outcome}`}
            disabled={cast !== null || busy}
            aria-pressed={cast === outcome}
            onClick={() => onVote(outcome)}
          >
            {label}
          </button>
        ))}
        {cast !== null && (
          <button className="jp-mod-styled jp-mod-accept jp-Fanout-vote-next" onClick={next} autoFocus>
            {index + 1 < ready.pairs.length ? trans.__('Next pair') : trans.__('Done')}
          </button>
        )}
      </div>
      {voteError !== null && (
        <div className="jp-Fanout-vote-error" role="alert">
          {voteError}
        </div>
      )}
    </div>
  );
}

/** Where the keyboard goes after a move: the moved item, or one of its buttons. */
interface IFocus {
  id: string;
  part: 'item' | 'up' | 'down';
}

/**
 * "Rank all": the responses in a list, best first, each labelled by its place in the shuffle
 * (A, B, C…; the label stays with the response as it moves). Move up / Move down buttons and
 * Alt+Up / Alt+Down on an item move it, and the keyboard stays on it; "Submit ranking" casts the
 * order, then each label shows its model.
 */
function RankAll(props: {
  prompt: string;
  entries: Map<string, IEntry>;
  initial: string[];
  ranked: boolean;
  trans: TranslationBundle;
  submit: (ranking: string[]) => Promise<void>;
  showLeaderboard: () => void;
}): JSX.Element {
  const { entries, ranked, trans } = props;
  const [order, setOrder] = useState<string[]>(props.initial);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [said, setSaid] = useState('');
  const focus = useRef<IFocus | null>(null);
  const nodes = useRef(new Map<string, HTMLLIElement>());
  const labels = new Map(props.initial.map((id, i) => [id, rankLabel(i)]));

  useEffect(() => {
    const want = focus.current;
    focus.current = null;
    const item = want && nodes.current.get(want.id);
    if (!want || !item) {
      return;
    }
    const button = want.part === 'item' ? null : item.querySelector<HTMLButtonElement>(`.jp-Fanout-rank-${want.part}`);
    (button && !button.disabled ? button : item).focus();
  }, [order]);

  const move = (index: number, delta: number, part: IFocus['part']) => {
    if (ranked || busy) {
      return;
    }
    const next = moveItem(order, index, delta);
    if (next.index === index) {
      return;
    }
    focus.current = { id: order[index], part };
    setOrder(next.order);
    setSaid(trans.__('%1 moved to place %2 of %3', labels.get(order[index]) ?? '', next.index + 1, order.length));
  };

  const submit = () => {
    setBusy(true);
    setError(null);
    props
      .submit(order)
      .catch(reason => setError((reason as Error).message ?? String(reason)))
      .finally(() => setBusy(false));
  };

  return (
    <div className="jp-Fanout-rank">
      <div className="jp-Fanout-vote-header">
        <div className="jp-Fanout-vote-prompt">{props.prompt}</div>
        <div className="jp-Fanout-vote-progress">
          {ranked
            ? trans.__('Ranking cast: %1 responses', order.length)
            : trans.__(
                'Put the %1 responses in order, best first (no ties): Alt+Up and Alt+Down move the one focused.',
                order.length
              )}
        </div>
      </div>
      <ol className="jp-Fanout-rank-list" aria-label={trans.__('Your ranking, best first')}>
        {order.map((id, index) => {
          const entry = entries.get(id)!;
          const label = labels.get(id)!;
          return (
            <li
              key={id}
              ref={node => {
                if (node) {
                  nodes.current.set(id, node);
                } else {
                  nodes.current.delete(id);
                }
              }}
              className="jp-Fanout-rank-item"
              tabIndex={0}
              aria-label={trans.__('%1, place %2 of %3', label, index + 1, order.length)}
              onKeyDown={event => {
                if (event.altKey && (event.key === 'ArrowUp' || event.key === 'ArrowDown')) {
                  event.preventDefault();
                  // Anywhere in the item (its buttons too): the keyboard stays where it is.
                  const target = event.target as HTMLElement;
                  const part = target.classList.contains('jp-Fanout-rank-up')
                    ? 'up'
                    : target.classList.contains('jp-Fanout-rank-down')
                      ? 'down'
                      : 'item';
                  move(index, event.key === 'ArrowUp' ? -1 : 1, part);
                }
              }}
            >
              <div className="jp-Fanout-rank-head">
                <span className="jp-Fanout-rank-place">{index + 1}.</span>
                <h3 className="jp-Fanout-vote-label">
                  {label}
                  {ranked && (
                    <span className="jp-Fanout-vote-model">
                      {' · '}
                      {entry.model} ({entry.upstream})
                    </span>
                  )}
                </h3>
                <span className="jp-Fanout-rank-moves">
                  <button
                    className="jp-mod-styled jp-mod-reject jp-Fanout-rank-up"
                    aria-label={trans.__('Move %1 up', label)}
                    title={trans.__('Move up (Alt+Up)')}
                    disabled={ranked || busy || index === 0}
                    onClick={() => move(index, -1, 'up')}
                  >
                    ↑
                  </button>
                  <button
                    className="jp-mod-styled jp-mod-reject jp-Fanout-rank-down"
                    aria-label={trans.__('Move %1 down', label)}
                    title={trans.__('Move down (Alt+Down)')}
                    disabled={ranked || busy || index === order.length - 1}
                    onClick={() => move(index, 1, 'down')}
                  >
                    ↓
                  </button>
                </span>
              </div>
              <div className="jp-Fanout-vote-text">{entry.text || trans.__('(no text)')}</div>
            </li>
          );
        })}
      </ol>
      <div className="jp-Fanout-sr-only" aria-live="polite">
        {said}
      </div>
      <div className="jp-Fanout-vote-buttons">
        {ranked ? (
          <button className="jp-mod-styled jp-mod-accept" onClick={props.showLeaderboard}>
            {trans.__('Show the leaderboard')}
          </button>
        ) : (
          <button className="jp-mod-styled jp-mod-accept jp-Fanout-rank-submit" disabled={busy} onClick={submit}>
            {trans.__('Submit ranking')}
          </button>
        )}
      </div>
      {error !== null && (
        <div className="jp-Fanout-vote-error" role="alert">
          {error}
        </div>
      )}
    </div>
  );
}

/** The vote view of one stored batch, in the main area. */
export class VoteWidget extends ReactWidget {
  constructor(
    private readonly _options: { batchId: string; trans: TranslationBundle; api: IVoteApi; initialMode?: VoteMode }
  ) {
    super();
    this.addClass('jp-Fanout-vote-widget');
  }

  protected render(): JSX.Element {
    return <VotePanel {...this._options} />;
  }
}

/** The id of a batch's vote view in the main area. */
export function voteWidgetId(batchId: string): string {
  return `jupyterlab-fanout-vote-${batchId}`;
}

/** Wrap a vote view in a main-area widget. Its title names the prompt, never a model. */
export function voteMainAreaWidget(content: VoteWidget, batchId: string, title: string, trans: TranslationBundle) {
  const widget = new MainAreaWidget({ content });
  widget.id = voteWidgetId(batchId);
  widget.title.label = trans.__('Vote: %1', title.length > 30 ? `${title.slice(0, 30)}…` : title);
  widget.title.caption = trans.__('Blind vote: %1', title);
  widget.title.icon = fanoutIcon;
  widget.title.closable = true;
  return widget;
}
