/**
 * The leaderboard view: per upstream and model, the Bradley-Terry score from the votes with its
 * 95% bootstrap interval and the number of votes (jupyterlab_fanout/leaderboard.py), filtered by
 * the batches' tags, exportable as CSV. It reads again after every vote cast in this page.
 */
import React, { useEffect, useState } from 'react';
import { MainAreaWidget } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import type { ISignal } from '@lumino/signaling';

import { fanoutIcon } from '../icons';
import type { ILeaderboard } from '../tokens';

export interface ILeaderboardApi {
  get: (tags: string[]) => Promise<ILeaderboard>;
  /** Save the CSV of the leaderboard with these tags (a download). */
  exportCsv: (tags: string[]) => Promise<void>;
}

const fmt = (value: number | null) => (value === null ? '–' : value.toFixed(0));

/** The table, its tag filter and Export CSV. `version` changes when a vote was cast. */
export function LeaderboardPanel(props: {
  trans: TranslationBundle;
  api: ILeaderboardApi;
  version: number;
  initialTags?: string[];
}): JSX.Element {
  const { trans, api, version } = props;
  const [tags, setTags] = useState<string[]>(props.initialTags ?? []);
  const [board, setBoard] = useState<ILeaderboard | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    api
      .get(tags)
      .then(answer => {
        if (live) {
          setBoard(answer);
          setError(null);
        }
      })
      .catch(reason => live && setError((reason as Error).message ?? String(reason)));
    return () => {
      live = false;
    };
  }, [tags.join(','), version]);

  const toggle = (tag: string) => setTags(tags.includes(tag) ? tags.filter(t => t !== tag) : [...tags, tag]);
  const known = Array.from(new Set([...(board?.all_tags ?? []), ...tags])).sort();
  return (
    <div className="jp-Fanout-leaderboard">
      <div className="jp-Fanout-leaderboard-bar">
        <span className="jp-Fanout-leaderboard-tags" role="group" aria-label={trans.__('Only batches tagged')}>
          {trans.__('Tags:')} {known.length === 0 && <em>{trans.__('no batch has tags (fanout:tag-batch)')}</em>}
          {known.map(tag => (
            <label key={tag} className="jp-Fanout-leaderboard-tag">
              <input type="checkbox" checked={tags.includes(tag)} onChange={() => toggle(tag)} />
              {tag}
            </label>
          ))}
        </span>
        <button
          className="jp-mod-styled jp-mod-reject jp-Fanout-leaderboard-export"
          onClick={() => api.exportCsv(tags).catch(reason => setError((reason as Error).message ?? String(reason)))}
        >
          {trans.__('Export CSV')}
        </button>
      </div>
      {error !== null && (
        <div className="jp-Fanout-leaderboard-error" role="alert">
          {error}
        </div>
      )}
      {board !== null && (
        <>
          <table className="jp-Fanout-leaderboard-table">
            <thead>
              <tr>
                <th scope="col">{trans.__('Rank')}</th>
                <th scope="col">{trans.__('Model')}</th>
                <th scope="col">{trans.__('Upstream')}</th>
                <th scope="col">{trans.__('Score')}</th>
                <th scope="col">{trans.__('95% CI')}</th>
                <th scope="col">{trans.__('Votes')}</th>
                <th scope="col">{trans.__('W / L / T')}</th>
              </tr>
            </thead>
            <tbody>
              {board.rows.map(row => (
                <tr key={`${row.upstream}\u0000${row.model}`} className="jp-Fanout-leaderboard-row">
                  <td>{row.rank}</td>
                  <td className="jp-Fanout-leaderboard-model">{row.model}</td>
                  <td>{row.upstream}</td>
                  <td className="jp-Fanout-leaderboard-score">{fmt(row.score)}</td>
                  <td>
                    {fmt(row.ci_low)} – {fmt(row.ci_high)}
                  </td>
                  <td className="jp-Fanout-leaderboard-votes">{row.votes}</td>
                  <td>
                    {row.wins} / {row.losses} / {row.ties}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {board.rows.length === 0 && <p>{trans.__('No votes yet (with these tags).')}</p>}
          <p className="jp-Fanout-leaderboard-note">
            {trans.__(
              'Bradley-Terry on the Elo scale; ties and "both bad" count as half a win each; 95% bootstrap interval over the votes. %1 comparisons; %2 votes between responses of one model left out.',
              board.comparisons,
              board.same_model_skipped
            )}
          </p>
        </>
      )}
    </div>
  );
}

/** The leaderboard's content: read again whenever `changed` (a vote) is emitted. */
export class LeaderboardWidget extends ReactWidget {
  constructor(
    private readonly _options: {
      trans: TranslationBundle;
      api: ILeaderboardApi;
      changed: ISignal<unknown, void>;
      tags?: string[];
    }
  ) {
    super();
    this.addClass('jp-Fanout-leaderboard-widget');
    _options.changed.connect(this._onChanged, this);
  }

  dispose(): void {
    if (!this.isDisposed) {
      this._options.changed.disconnect(this._onChanged, this);
    }
    super.dispose();
  }

  private _onChanged(): void {
    this._version++;
  }

  private _version = 0;

  protected render(): JSX.Element {
    const { trans, api, changed, tags } = this._options;
    return (
      <UseSignal signal={changed}>
        {() => <LeaderboardPanel trans={trans} api={api} version={this._version} initialTags={tags} />}
      </UseSignal>
    );
  }
}

export const LEADERBOARD_ID = 'jupyterlab-fanout-leaderboard';

export function leaderboardMainAreaWidget(content: LeaderboardWidget, trans: TranslationBundle) {
  const widget = new MainAreaWidget({ content });
  widget.id = LEADERBOARD_ID;
  widget.title.label = trans.__('Fanout leaderboard');
  widget.title.icon = fanoutIcon;
  widget.title.closable = true;
  return widget;
}
