import React from 'react';
import type { TranslationBundle } from '@jupyterlab/translation';

import type { IBatchView } from '../tokens';
import { formatRate } from './format';
import { ResponseCard } from './ResponseCard';

/** Properties of one batch's view. */
export interface IBatchViewProps {
  batch: IBatchView;
  trans: TranslationBundle;
  onStop: (responseId?: string) => void;
  onRegenerate: (responseId: string) => void;
}

/** A batch: its header (batch tokens per second, X/N complete, Stop all) and its responses. */
export function BatchView(props: IBatchViewProps): JSX.Element {
  const { batch, trans } = props;
  const metrics = batch.metrics();
  return (
    <div className="jp-Fanout-batch" data-batch-id={batch.id}>
      <div className="jp-Fanout-batch-header">
        <span className="jp-Fanout-batch-prompt" title={batch.options.prompt}>
          {batch.options.prompt}
        </span>
        <span className="jp-Fanout-batch-progress">
          {trans.__('%1/%2 complete', metrics.complete, metrics.total)}
        </span>
        <span className="jp-Fanout-batch-rate">
          {trans.__('%1 tok/s', formatRate(metrics.tokensPerSecond))}
        </span>
        {batch.active && (
          <button className="jp-Button jp-mod-styled jp-mod-warn jp-Fanout-stop-all" onClick={() => props.onStop()}>
            {trans.__('Stop all')}
          </button>
        )}
      </div>
      {batch.responses.map(response => (
        <ResponseCard
          key={response.id}
          index={response.index}
          snapshot={response.snapshot()}
          maxTokens={batch.options.maxTokens}
          trans={trans}
          onStop={() => props.onStop(response.id)}
          onRegenerate={() => props.onRegenerate(response.id)}
        />
      ))}
    </div>
  );
}
