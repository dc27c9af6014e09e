/**
 * The blind vote: two responses of a stored batch side by side, labelled only A and B, the four
 * buttons, then the models revealed and the next pair. Until the vote is cast nothing in this
 * view names a model or a response: not the text, not a title, not an attribute (a response's
 * number would tell, since a batch numbers its responses target by target). The names are kept
 * in memory and rendered only after the vote.
 */
import React, { useCallback, useEffect, useState } from 'react';
import { MainAreaWidget } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';

import { countModels, IContender, IPair, schedulePairs } from '../arena/pairs';
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
}

interface IEntry extends IContender {
  text: string;
}

interface IReady {
  prompt: string;
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
}): JSX.Element {
  const { batchId, trans, api, random } = props;
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
  if (pair === null) {
    return (
      <div className="jp-Fanout-vote jp-Fanout-vote-empty">
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

/** The vote view of one stored batch, in the main area. */
export class VoteWidget extends ReactWidget {
  constructor(private readonly _options: { batchId: string; trans: TranslationBundle; api: IVoteApi }) {
    super();
    this.addClass('jp-Fanout-vote-widget');
  }

  protected render(): JSX.Element {
    return <VotePanel {...this._options} />;
  }
}

/** Wrap a vote view in a main-area widget. Its title names the prompt, never a model. */
export function voteMainAreaWidget(content: VoteWidget, batchId: string, title: string, trans: TranslationBundle) {
  const widget = new MainAreaWidget({ content });
  widget.id = `jupyterlab-fanout-vote-${batchId}`;
  widget.title.label = trans.__('Vote: %1', title.length > 30 ? `${title.slice(0, 30)}…` : title);
  widget.title.caption = trans.__('Blind vote: %1', title);
  widget.title.icon = fanoutIcon;
  widget.title.closable = true;
  return widget;
}
