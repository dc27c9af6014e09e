import React from 'react';
import { diffLines } from 'diff';

/** A line diff of `before` → `after`: removed lines marked -, added lines +. */
export function LineDiff(props: {
  before: string;
  after: string;
  beforeLabel: string;
  afterLabel: string;
}): JSX.Element {
  const parts = diffLines(props.before, props.after);
  return (
    <div className="jp-Fanout-diff" aria-label={`${props.beforeLabel} → ${props.afterLabel}`}>
      <div className="jp-Fanout-diff-legend">
        <span className="jp-Fanout-diff-removed">− {props.beforeLabel}</span>
        <span className="jp-Fanout-diff-added">+ {props.afterLabel}</span>
      </div>
      <pre>
        {parts.map((part, i) => {
          const kind = part.added ? 'added' : part.removed ? 'removed' : 'same';
          const mark = part.added ? '+' : part.removed ? '−' : ' ';
          const lines = part.value.replace(/\n$/, '').split('\n');
          return (
            <span key={i} className={`jp-Fanout-diff-${kind}`} data-diff={kind}>
              {lines.map(line => `${mark} ${line}\n`).join('')}
            </span>
          );
        })}
      </pre>
    </div>
  );
}
