/**
 * The body of the "Judge…" dialog: which model judges (chosen from the server's model list, as
 * the sidebar's controls list them; typed when the list is empty or unreadable) and the rubric,
 * one criterion per line `name: description`. Renders and reports values only; `fanout:judge`
 * does the rest.
 */
import React, { useState } from 'react';
import { ReactWidget } from '@jupyterlab/ui-components';
import type { TranslationBundle } from '@jupyterlab/translation';

import type { IUpstreamListing } from '../tokens';
import { buildModelList, choiceKey, parseChoiceKey } from './controlValues';

/** The default rubric's text (one criterion, as the server's default). */
export const DEFAULT_RUBRIC_TEXT = 'overall: how well the response answers the prompt: correct, complete and clear';

/** What the dialog gives `fanout:judge`. */
export interface IJudgeDialogValue {
  upstream: string;
  model: string;
  rubric: string;
}

function Body(props: {
  listing: IUpstreamListing | null;
  unavailable?: string;
  initial: IJudgeDialogValue;
  count: number;
  trans: TranslationBundle;
  onChange: (value: IJudgeDialogValue) => void;
}): JSX.Element {
  const { trans, listing, initial } = props;
  const [value, setValue] = useState(initial);
  const update = (change: Partial<IJudgeDialogValue>) => {
    const next = { ...value, ...change };
    setValue(next);
    props.onChange(next);
  };
  const list = buildModelList(listing, { upstream: initial.upstream, model: initial.model }, props.unavailable);
  const key = choiceKey(listing && value.upstream === listing.default ? '' : value.upstream, value.model);
  return (
    <div className="jp-Fanout-judge-dialog">
      <p className="jp-Fanout-judge-dialog-note">
        {trans._n(
          'The judge scores %1 response against the prompt and each criterion below, from 1 to 10. It sees it as "Response 1", without its model.',
          'The judge scores %1 responses against the prompt and each criterion below, from 1 to 10. It sees them as "Response 1" to "Response %1", without their models.',
          props.count
        )}
      </p>
      <label className="jp-Fanout-judge-dialog-field">
        <span>{trans.__('Judge model')}</span>
        {list.freeText === null ? (
          <select
            className="jp-mod-styled jp-Fanout-judge-model-select"
            value={key}
            onChange={e => update(parseChoiceKey(e.target.value))}
          >
            {list.groups.map(group => {
              const options = group.choices.map(choice => (
                <option key={choice.key} value={choice.key} disabled={choice.disabled}>
                  {choice.label}
                </option>
              ));
              return list.grouped ? (
                <optgroup key={group.label} label={group.label}>
                  {options}
                </optgroup>
              ) : (
                options
              );
            })}
          </select>
        ) : (
          <>
            <input
              className="jp-mod-styled jp-Fanout-judge-model-input"
              value={value.model}
              placeholder={trans.__("The upstream's default model")}
              onChange={e => update({ model: e.target.value })}
            />
            <span className="jp-Fanout-judge-dialog-hint">{list.freeText}</span>
          </>
        )}
      </label>
      <label className="jp-Fanout-judge-dialog-field">
        <span>{trans.__('Rubric: one criterion per line, "name: description"')}</span>
        <textarea
          className="jp-mod-styled jp-Fanout-judge-rubric"
          rows={5}
          value={value.rubric}
          spellCheck={false}
          onChange={e => update({ rubric: e.target.value })}
        />
      </label>
    </div>
  );
}

/** The dialog's body widget; `getValue` is what the dialog resolves with. */
export class JudgeDialogBody extends ReactWidget {
  private _value: IJudgeDialogValue;

  constructor(
    private readonly _options: {
      listing: IUpstreamListing | null;
      unavailable?: string;
      initial: IJudgeDialogValue;
      count: number;
      trans: TranslationBundle;
    }
  ) {
    super();
    this._value = { ..._options.initial };
    this.addClass('jp-Fanout-judge-dialog-body');
  }

  getValue(): IJudgeDialogValue {
    return { ...this._value };
  }

  protected render(): JSX.Element {
    return <Body {...this._options} onChange={value => (this._value = value)} />;
  }
}
