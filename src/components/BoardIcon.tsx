/**
 * Four cards in a grid: the board's button in a batch's header (`fanout:open-board`). Plain SVG
 * in the button's text colour (`currentColor`), like the judge's, so it follows the theme.
 */
import React from 'react';

export function BoardIcon(): JSX.Element {
  return (
    <svg
      className="jp-Fanout-board-icon-svg"
      xmlns="http://www.w3.org/2000/svg"
      width="16"
      height="16"
      viewBox="0 0 24 24"
      aria-hidden="true"
      focusable="false"
    >
      <g fill="none" stroke="currentColor" strokeWidth="2">
        <rect x="3" y="3" width="7.5" height="7.5" rx="1.5" />
        <rect x="13.5" y="3" width="7.5" height="7.5" rx="1.5" />
        <rect x="3" y="13.5" width="7.5" height="7.5" rx="1.5" />
        <rect x="13.5" y="13.5" width="7.5" height="7.5" rx="1.5" />
      </g>
    </svg>
  );
}
