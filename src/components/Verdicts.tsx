/**
 * Verdicts in the views: the winner's mark, stars (to rate, or to read), and the Agreement
 * section of a batch (its responses grouped by their final answer, src/core/agreement.ts).
 */
import React, { useMemo, useState } from 'react';
import type { TranslationBundle } from '@jupyterlab/translation';

import { agreement, AgreementMethod, IAgreementInput, IAgreementResult } from '../core/agreement';
import { ChoiceOptions, Choice } from './controls';

/** "Winner": the mark of the response picked as the batch's winner. */
export function WinnerMark(props: { trans: TranslationBundle; attempt?: string }): JSX.Element {
  const { trans } = props;
  return (
    <span className="jp-Fanout-winner" title={trans.__('Picked as the winner of this batch')}>
      <span aria-hidden="true">♛ </span>
      {props.attempt ? trans.__('Winner (%1)', props.attempt) : trans.__('Winner')}
    </span>
  );
}

/** Stars read only: `★★★☆☆` (`compact`: `★3`), with the rating said in words. */
export function StarsShown(props: { rating: number; trans: TranslationBundle; compact?: boolean }): JSX.Element {
  const label = props.trans._n('%1 star', '%1 stars', props.rating);
  return (
    <span
      className={`jp-Fanout-stars-shown${props.compact ? ' jp-mod-compact' : ''}`}
      role="img"
      aria-label={label}
      title={label}
      data-rating={props.rating}
    >
      {props.compact ? `★${props.rating}` : '★'.repeat(props.rating) + '☆'.repeat(5 - props.rating)}
    </span>
  );
}

/**
 * Five star buttons: choosing one rates the shown attempt that many stars; choosing the
 * current rating again clears it.
 */
export function StarRating(props: {
  rating: number | null;
  onRate: (rating: number | null) => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { rating, trans } = props;
  return (
    <span
      className="jp-Fanout-stars"
      role="group"
      aria-label={rating ? trans._n('Rated %1 star', 'Rated %1 stars', rating) : trans.__('Not rated')}
      data-rating={rating ?? ''}
    >
      {[1, 2, 3, 4, 5].map(n => (
        <button
          key={n}
          type="button"
          className={`jp-Fanout-star${rating !== null && n <= rating ? ' jp-mod-on' : ''}`}
          aria-pressed={rating === n}
          aria-label={rating === n ? trans.__('Clear the rating') : trans._n('Rate %1 star', 'Rate %1 stars', n)}
          title={rating === n ? trans.__('Clear the rating') : trans._n('Rate %1 star', 'Rate %1 stars', n)}
          data-star={n}
          onClick={() => props.onRate(rating === n ? null : n)}
        >
          {rating !== null && n <= rating ? '★' : '☆'}
        </button>
      ))}
    </span>
  );
}

/** The Agreement section's properties. */
export interface IAgreementViewProps {
  /** The responses, each with the attempt it shows. */
  inputs: ReadonlyArray<IAgreementInput>;
  trans: TranslationBundle;
  onClose: () => void;
}

/**
 * A batch's responses grouped by their final answer: the method (last line, regular
 * expression, JSON field), the majority (or the tie), each group with its response numbers
 * (each a button that shows that response's text here), the unreadable with why, and how
 * answers were normalised. Model output is shown as text only.
 */
export function AgreementView(props: IAgreementViewProps): JSX.Element {
  const { trans, inputs } = props;
  const [by, setBy] = useState<AgreementMethod>('last-line');
  const [pattern, setPattern] = useState('');
  const [field, setField] = useState('');
  const [shown, setShown] = useState<string | null>(null);
  const outcome = useMemo((): IAgreementResult | Error | null => {
    if ((by === 'regex' && !pattern) || (by === 'json' && !field.trim())) {
      return null;
    }
    try {
      return agreement(inputs, { by, pattern, field });
    } catch (error) {
      return error as Error;
    }
  }, [inputs, by, pattern, field]);
  const methods: ChoiceOptions<AgreementMethod> = [
    ['last-line', trans.__('last line')],
    ['regex', trans.__('regular expression')],
    ['json', trans.__('JSON field')]
  ];
  const shownInput = shown === null ? undefined : inputs.find(i => i.responseId === shown);
  const number = (responseId: string, index: number) => (
    <button
      key={responseId}
      type="button"
      className="jp-Fanout-agreement-response"
      aria-pressed={shown === responseId}
      title={trans.__('Show response %1', index)}
      onClick={() => setShown(shown === responseId ? null : responseId)}
    >
      {index}
    </button>
  );
  return (
    <section className="jp-Fanout-agreement" aria-label={trans.__('Agreement')}>
      <div className="jp-Fanout-agreement-controls">
        <Choice
          label={trans.__('Answer from')}
          className="jp-Fanout-agreement-by"
          value={by}
          options={methods}
          onChange={setBy}
        />
        {by === 'regex' && (
          <label className="jp-Fanout-agreement-pattern">
            {trans.__('Pattern')}{' '}
            <input
              className="jp-mod-styled"
              type="text"
              value={pattern}
              placeholder={trans.__('e.g. Answer: (\\S+)')}
              onChange={event => setPattern(event.target.value)}
            />
          </label>
        )}
        {by === 'json' && (
          <label className="jp-Fanout-agreement-field">
            {trans.__('Field')}{' '}
            <input
              className="jp-mod-styled"
              type="text"
              value={field}
              placeholder={trans.__('e.g. result.label')}
              onChange={event => setField(event.target.value)}
            />
          </label>
        )}
        <button type="button" className="jp-Button jp-mod-minimal jp-Fanout-agreement-close" onClick={props.onClose}>
          {trans.__('Close')}
        </button>
      </div>
      {outcome === null && (
        <p className="jp-Fanout-agreement-hint">
          {by === 'regex'
            ? trans.__('Type a regular expression: its first group (of the last match) is the answer.')
            : trans.__('Type a field path, like answer or result.label.')}
        </p>
      )}
      {outcome instanceof Error && (
        <p className="jp-Fanout-agreement-error" role="alert">
          {outcome.message}
        </p>
      )}
      {outcome !== null && !(outcome instanceof Error) && (
        <>
          <p className="jp-Fanout-agreement-majority" role="status">
            {outcome.majority === null
              ? trans.__('No response has a readable answer.')
              : outcome.majority.answer !== null
                ? trans.__(
                    'Majority: %1 (%2 of %3)',
                    outcome.majority.answer,
                    outcome.majority.count,
                    outcome.majority.total
                  )
                : trans.__(
                    'Tie: %1 (%2 each, of %3)',
                    outcome.majority.tied.join(' · '),
                    outcome.majority.count,
                    outcome.majority.total
                  )}
          </p>
          <table className="jp-Fanout-agreement-groups">
            <thead>
              <tr>
                <th>{trans.__('Answer')}</th>
                <th>{trans.__('Count')}</th>
                <th>{trans.__('Responses')}</th>
              </tr>
            </thead>
            <tbody>
              {outcome.groups.map(group => (
                <tr key={group.key} className="jp-Fanout-agreement-group" data-count={group.count}>
                  <td className="jp-Fanout-agreement-answer" title={group.answer}>
                    {group.answer}
                  </td>
                  <td className="jp-Fanout-agreement-count">{group.count}</td>
                  <td>{group.responseIds.map((id, i) => number(id, group.indexes[i]))}</td>
                </tr>
              ))}
              {outcome.unreadable.length > 0 && (
                <tr className="jp-Fanout-agreement-unreadable">
                  <td>{trans.__('unreadable')}</td>
                  <td className="jp-Fanout-agreement-count">{outcome.unreadable.length}</td>
                  <td>
                    {outcome.unreadable.map(u => (
                      <span key={u.responseId} className="jp-Fanout-agreement-why" title={u.why}>
                        {number(u.responseId, u.index)}
                        <span className="jp-Fanout-agreement-why-text">{u.why}</span>
                      </span>
                    ))}
                  </td>
                </tr>
              )}
            </tbody>
          </table>
          <p className="jp-Fanout-agreement-normalisation">{trans.__(outcome.normalisation)}</p>
        </>
      )}
      {shownInput && (
        <div className="jp-Fanout-agreement-shown" aria-label={trans.__('Response %1', shownInput.index)}>
          <div className="jp-Fanout-agreement-shown-title">{trans.__('Response %1', shownInput.index)}</div>
          <pre className="jp-Fanout-response-text">{shownInput.snapshot.content}</pre>
        </div>
      )}
    </section>
  );
}
