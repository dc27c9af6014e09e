import React, { useState } from 'react';
import type { TranslationBundle } from '@jupyterlab/translation';

import type { IFanoutModel } from '../tokens';
import { BatchView } from './BatchView';

/** Properties of the sidebar's content. */
export interface IFanoutPanelProps {
  model: IFanoutModel;
  trans: TranslationBundle;
  /** Generate from the prompt box, or from the active cell when the box is empty. */
  onGenerate: (prompt: string) => void;
  onStop: (batchId: string, responseId?: string) => void;
  onRegenerate: (batchId: string, responseId: string) => void;
  onFillGaps: (batchId: string) => void;
}

/** The sidebar: a prompt box with Generate responses, then the newest batch. */
export function FanoutPanel(props: IFanoutPanelProps): JSX.Element {
  const { model, trans } = props;
  const [prompt, setPrompt] = useState('');
  const batch = model.batches[0];
  return (
    <div className="jp-Fanout-panel">
      <form
        className="jp-Fanout-prompt"
        onSubmit={event => {
          event.preventDefault();
          props.onGenerate(prompt);
        }}
      >
        <textarea
          className="jp-Fanout-prompt-input"
          aria-label={trans.__('Prompt')}
          placeholder={trans.__('Prompt (empty: the active cell)')}
          value={prompt}
          onChange={event => setPrompt(event.target.value)}
          rows={3}
        />
        <button type="submit" className="jp-Button jp-mod-styled jp-mod-accept jp-Fanout-generate">
          {trans.__('Generate responses')}
        </button>
      </form>
      {batch ? (
        <BatchView
          batch={batch}
          trans={trans}
          onStop={responseId => props.onStop(batch.id, responseId)}
          onRegenerate={responseId => props.onRegenerate(batch.id, responseId)}
          onFillGaps={() => props.onFillGaps(batch.id)}
        />
      ) : (
        <p className="jp-Fanout-empty">
          {trans.__('Write a prompt in a notebook cell or above, then run Generate responses.')}
        </p>
      )}
    </div>
  );
}
