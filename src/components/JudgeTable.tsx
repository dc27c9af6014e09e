/**
 * A judgement (`fanout:judge`) as a table beside the compare view: a row per judged response,
 * best first, with its model (revealed here; the judge never saw it), a score per criterion, the
 * total and the judge's rationale, the problems of reading the judge's answer above it, and the
 * raw answer below. Everything the judge wrote is shown as text (React text nodes), never HTML.
 */
import React, { useEffect, useState } from 'react';
import type { TranslationBundle } from '@jupyterlab/translation';
import { UseSignal } from '@jupyterlab/ui-components';

import type { JudgementStore } from '../model/judgements';
import type { IJudgement } from '../tokens';

/** Problems after which the raw answer is shown open: nothing (or not all) could be read. */
const UNREADABLE = new Set(['not_json', 'empty', 'partial', 'no_judgements', 'truncated']);

function score(value: number | null): string {
  return value === null || value === undefined ? '—' : String(value);
}

function when(seconds: number): string {
  return new Date(seconds * 1000).toLocaleString();
}

/** One judgement: problems, the table, the raw answer. */
export function JudgeTable(props: { judgement: IJudgement; trans: TranslationBundle }): JSX.Element {
  const { judgement, trans } = props;
  const criteria = judgement.rubric.map(c => c.name);
  const [min, max] = judgement.scale;
  const unreadable = judgement.problems.some(p => UNREADABLE.has(p.code));
  return (
    <div className="jp-Fanout-judgement" data-judgement-id={judgement.id}>
      <p className="jp-Fanout-judgement-meta">
        {trans.__(
          'Judged by %1 (upstream %2), %3. Each criterion from %4 to %5; the total is their sum.',
          judgement.model,
          judgement.upstream,
          when(judgement.created_at),
          min,
          max
        )}
      </p>
      {judgement.problems.length > 0 && (
        <div className="jp-Fanout-judge-problems" role="note" aria-label={trans.__('Problems')}>
          <p className="jp-Fanout-judge-problems-title">
            {trans._n(
              'Reading the answer found %1 problem:',
              'Reading the answer found %1 problems:',
              judgement.problems.length
            )}
          </p>
          <ul>
            {judgement.problems.map((problem, i) => (
              <li key={i} className="jp-Fanout-judge-problem" data-code={problem.code}>
                {problem.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      <table className="jp-Fanout-judge-table">
        <thead>
          <tr>
            <th scope="col">{trans.__('Response · model')}</th>
            {criteria.map(name => (
              <th
                scope="col"
                key={name}
                className="jp-Fanout-judge-score"
                title={judgement.rubric.find(c => c.name === name)?.description || undefined}
              >
                {name}
              </th>
            ))}
            <th scope="col" className="jp-Fanout-judge-score">
              {trans.__('Total')}
            </th>
          </tr>
        </thead>
        {judgement.rows.map(row => (
          <tbody key={row.responseId} className="jp-Fanout-judge-row" data-response-id={row.responseId}>
            <tr>
              <th scope="row" className="jp-Fanout-judge-response">
                {trans.__('Response %1', row.responseId)}
                {row.attempt > 1 && (
                  <span className="jp-Fanout-judge-attempt">{trans.__(' (attempt %1)', row.attempt)}</span>
                )}
                <span className="jp-Fanout-judge-model" title={trans.__('Upstream %1', row.upstream)}>
                  {row.model}
                </span>
                {row.label !== `Response ${row.responseId}` && (
                  <span className="jp-Fanout-judge-label">{trans.__('judged as %1', row.label)}</span>
                )}
              </th>
              {criteria.map(name => (
                <td
                  key={name}
                  className="jp-Fanout-judge-score"
                  data-criterion={name}
                  title={row.scores[name] === null ? trans.__('No usable score (see the problems)') : undefined}
                >
                  {score(row.scores[name])}
                </td>
              ))}
              <td className="jp-Fanout-judge-score jp-Fanout-judge-total">{score(row.total)}</td>
            </tr>
            <tr>
              <td className="jp-Fanout-judge-rationale" colSpan={criteria.length + 2}>
                {row.rationale || <span className="jp-Fanout-judge-no-rationale">{trans.__('(no rationale)')}</span>}
              </td>
            </tr>
          </tbody>
        ))}
      </table>
      <details className="jp-Fanout-judge-raw" open={unreadable}>
        <summary>{trans.__("The judge's answer as it came")}</summary>
        <pre>{judgement.raw}</pre>
      </details>
    </div>
  );
}

/** What the judge pane of a compare view needs. */
export interface IJudgePaneProps {
  store: JudgementStore;
  batchId: string;
  trans: TranslationBundle;
  /** Read the batch's stored judgements (once, when the pane first shows). */
  load?: (batchId: string) => Promise<void>;
}

/**
 * The judge pane beside a compare view: the newest judgement of the batch (or one chosen among
 * the earlier ones), "Judging…" while a judge request runs, and why the last one failed. Empty
 * (nothing rendered) while there is none of these.
 */
export function JudgePane(props: IJudgePaneProps): JSX.Element {
  const { store, batchId, trans, load } = props;
  const [chosen, setChosen] = useState<string | null>(null);
  const [hidden, setHidden] = useState(false);
  useEffect(() => {
    if (load && store.list(batchId).length === 0) {
      load(batchId).catch(reason =>
        console.warn(`jupyterlab-fanout: could not read the judgements of batch ${batchId}`, reason)
      );
    }
  }, [batchId]);
  useEffect(() => {
    // A new judge request shows the pane again, and its judgement.
    const changed = (_: unknown, id: string) => {
      if (id === batchId && store.running(batchId)) {
        setHidden(false);
        setChosen(null);
      }
    };
    store.changed.connect(changed);
    return () => {
      store.changed.disconnect(changed);
    };
  }, [store, batchId]);
  return (
    <UseSignal signal={store.changed}>
      {() => {
        const list = store.list(batchId);
        const running = store.running(batchId);
        const error = store.error(batchId);
        if (hidden || (list.length === 0 && !running && !error)) {
          return <></>;
        }
        const judgement = list.find(j => j.id === chosen) ?? list[0];
        return (
          <aside className="jp-Fanout-judge-pane" aria-label={trans.__('Judge')}>
            <header className="jp-Fanout-judge-header">
              <h3>{trans.__('Judge')}</h3>
              {list.length > 1 && (
                <label className="jp-Fanout-judge-choose">
                  {trans.__('Judgement')}{' '}
                  <select
                    className="jp-mod-styled"
                    value={judgement?.id ?? ''}
                    onChange={e => setChosen(e.target.value)}
                  >
                    {list.map(j => (
                      <option key={j.id} value={j.id}>
                        {`${when(j.created_at)} · ${j.model}`}
                      </option>
                    ))}
                  </select>
                </label>
              )}
              <button
                type="button"
                className="jp-Button jp-mod-minimal jp-Fanout-judge-hide"
                title={trans.__('Hide the judge pane (Judge… shows it again)')}
                aria-label={trans.__('Hide the judge pane')}
                onClick={() => setHidden(true)}
              >
                ×
              </button>
            </header>
            {running && (
              <p className="jp-Fanout-judge-running" role="status">
                {trans.__('Judging… (the judge reads every response; this can take a while)')}
              </p>
            )}
            {error && !running && (
              <p className="jp-Fanout-judge-error" role="alert">
                {trans.__('The judge failed: %1', error)}
              </p>
            )}
            {judgement && <JudgeTable judgement={judgement} trans={trans} />}
          </aside>
        );
      }}
    </UseSignal>
  );
}
