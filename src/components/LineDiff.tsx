import React from 'react';
import { diffLines } from 'diff';

import { wordDiffSegments } from './diff';

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

/**
 * A word diff of `before` → `after`, inline: removed words struck through, added words marked.
 * Every segment is a text node (model text is never parsed as markup).
 */
export function WordDiff(props: {
  before: string;
  after: string;
  beforeLabel: string;
  afterLabel: string;
}): JSX.Element {
  const segments = wordDiffSegments(props.before, props.after);
  return (
    <div className="jp-Fanout-diff jp-Fanout-word-diff" aria-label={`${props.beforeLabel} → ${props.afterLabel}`}>
      <div className="jp-Fanout-diff-legend">
        <span className="jp-Fanout-diff-removed">− {props.beforeLabel}</span>
        <span className="jp-Fanout-diff-added">+ {props.afterLabel}</span>
      </div>
      <pre>
        {segments.map((segment, i) =>
          segment.kind === 'added' ? (
            <ins key={i} className="jp-Fanout-diff-added" data-diff="added">
              {segment.text}
            </ins>
          ) : segment.kind === 'removed' ? (
            <del key={i} className="jp-Fanout-diff-removed" data-diff="removed">
              {segment.text}
            </del>
          ) : (
            <span key={i} className="jp-Fanout-diff-same" data-diff="same">
              {segment.text}
            </span>
          )
        )}
      </pre>
    </div>
  );
}
