/**
 * Two paths merging into one: the fuse button in a batch's header (`fanout:fuse-dialog`). Plain
 * SVG in the button's text colour (`currentColor`), like the judge's and the board's.
 */
import React from 'react';

export function FuseIcon(): JSX.Element {
  return (
    <svg
      className="jp-Fanout-fuse-icon-svg"
      xmlns="http://www.w3.org/2000/svg"
      width="16"
      height="16"
      viewBox="0 0 24 24"
      aria-hidden="true"
      focusable="false"
    >
      <path
        d="M5 3v4c0 3 7 4 7 8v6M19 3v4c0 3-7 4-7 8"
        fill="none"
        stroke="currentColor"
        strokeWidth="2"
        strokeLinecap="round"
      />
      <path d="M8.5 17.5 12 21l3.5-3.5" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
    </svg>
  );
}
