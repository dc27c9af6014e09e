import React, { useState } from 'react';
import type { TranslationBundle } from '@jupyterlab/translation';

import { threadTurns } from '../model/thread';
import type { IThread } from '../tokens';

/** Properties of a follow-up batch's earlier turns. */
export interface IThreadViewProps {
  thread: IThread;
  trans: TranslationBundle;
  /** Show the parent batch (`fanout:open`); the link is offered when given. */
  onOpenBatch?: (batchId: string) => void;
}

/**
 * The earlier turns of a follow-up batch, above its responses: collapsed to one line each (the
 * prompt, then the answer chosen for the follow-up), expanded on a click. Text only: the model's
 * answer is shown as text nodes, never as HTML.
 */
export function ThreadView(props: IThreadViewProps): JSX.Element {
  const { thread, trans } = props;
  const [open, setOpen] = useState(false);
  const turns = threadTurns(thread);
  const { parent } = thread;
  return (
    <section
      className={`jp-Fanout-thread${open ? ' jp-mod-expanded' : ''}`}
      aria-label={trans.__('Earlier turns of this thread')}
      data-parent-batch={parent.batchId}
    >
      <div className="jp-Fanout-thread-header">
        <button
          type="button"
          className="jp-Fanout-thread-toggle"
          aria-expanded={open}
          title={open ? trans.__('Collapse the earlier turns') : trans.__('Show the earlier turns in full')}
          onClick={() => setOpen(!open)}
        >
          <span className="jp-Fanout-thread-caret" aria-hidden="true">
            {open ? '▾' : '▸'}
          </span>
          <span className="jp-Fanout-thread-mark" aria-hidden="true">
            ↳
          </span>
          {trans._n('Follow-up · %1 earlier turn', 'Follow-up · %1 earlier turns', turns.length)}
        </button>
        {props.onOpenBatch && (
          <button
            type="button"
            className="jp-Fanout-thread-parent"
            title={trans.__('Show the batch this follows up on (batch %1)', parent.batchId)}
            onClick={() => props.onOpenBatch!(parent.batchId)}
          >
            {trans.__('From response %1, attempt %2', parent.responseId, parent.attempt)}
          </button>
        )}
      </div>
      <ol className="jp-Fanout-thread-turns">
        {turns.map((turn, i) => (
          <li key={i} className="jp-Fanout-thread-turn">
            <div className="jp-Fanout-thread-prompt">
              <span className="jp-Fanout-thread-role">{trans.__('Prompt')}</span>
              <span className="jp-Fanout-thread-text">{turn.prompt}</span>
            </div>
            <div className="jp-Fanout-thread-answer">
              <span className="jp-Fanout-thread-role">
                {i === turns.length - 1 ? trans.__('Answer (response %1)', parent.responseId) : trans.__('Answer')}
              </span>
              <span className="jp-Fanout-thread-text">{turn.answer}</span>
            </div>
          </li>
        ))}
      </ol>
    </section>
  );
}
