/**
 * A balance scale: the judge's button in a batch's header (`fanout:judge`). Plain SVG in the
 * button's text colour (`currentColor`), so it follows the theme and needs no icon registry.
 */
import React from 'react';

export function JudgeIcon(): JSX.Element {
  return (
    <svg
      className="jp-Fanout-judge-icon-svg"
      xmlns="http://www.w3.org/2000/svg"
      width="16"
      height="16"
      viewBox="0 0 24 24"
      aria-hidden="true"
      focusable="false"
    >
      <g fill="currentColor">
        <rect x="11" y="3" width="2" height="16" />
        <rect x="4" y="6" width="16" height="2" rx="1" />
        <rect x="7" y="19" width="10" height="2" rx="1" />
        <path d="M2.5 15a3.5 2 0 0 0 7 0z M14.5 15a3.5 2 0 0 0 7 0z" />
      </g>
      <path d="M6 8.5 2.5 15h7z M18 8.5 14.5 15h7z" fill="none" stroke="currentColor" strokeWidth="1.4" />
    </svg>
  );
}
