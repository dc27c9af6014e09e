/**
 * The batch header's icon actions (Judge, Fuse, Board): plain SVG in the button's text colour
 * (`currentColor`), so they follow the theme and need no icon registry. Icons, labelled for
 * screen readers and in their tooltips, so that an ended batch's actions keep one row at the
 * default sidebar width (16 of 32 rows in view below the header).
 */
import React from 'react';

function ActionSvg(props: { children: React.ReactNode }): JSX.Element {
  return (
    <svg
      className="jp-Fanout-action-icon-svg"
      xmlns="http://www.w3.org/2000/svg"
      width="16"
      height="16"
      viewBox="0 0 24 24"
      aria-hidden="true"
      focusable="false"
    >
      {props.children}
    </svg>
  );
}

/** A balance scale: `fanout:judge`. */
export function JudgeIcon(): JSX.Element {
  return (
    <ActionSvg>
      <g fill="currentColor">
        <rect x="11" y="3" width="2" height="16" />
        <rect x="4" y="6" width="16" height="2" rx="1" />
        <rect x="7" y="19" width="10" height="2" rx="1" />
        <path d="M2.5 15a3.5 2 0 0 0 7 0z M14.5 15a3.5 2 0 0 0 7 0z" />
      </g>
      <path d="M6 8.5 2.5 15h7z M18 8.5 14.5 15h7z" fill="none" stroke="currentColor" strokeWidth="1.4" />
    </ActionSvg>
  );
}

/** Two paths merging into one: `fanout:fuse-dialog`. */
export function FuseIcon(): JSX.Element {
  return (
    <ActionSvg>
      <path
        d="M5 3v4c0 3 7 4 7 8v6M19 3v4c0 3-7 4-7 8M8.5 17.5 12 21l3.5-3.5"
        fill="none"
        stroke="currentColor"
        strokeWidth="2"
        strokeLinecap="round"
      />
    </ActionSvg>
  );
}

/** Four cards in a grid: `fanout:open-board`. */
export function BoardIcon(): JSX.Element {
  return (
    <ActionSvg>
      <g fill="none" stroke="currentColor" strokeWidth="2">
        <rect x="3" y="3" width="7.5" height="7.5" rx="1.5" />
        <rect x="13.5" y="3" width="7.5" height="7.5" rx="1.5" />
        <rect x="3" y="13.5" width="7.5" height="7.5" rx="1.5" />
        <rect x="13.5" y="13.5" width="7.5" height="7.5" rx="1.5" />
      </g>
    </ActionSvg>
  );
}
