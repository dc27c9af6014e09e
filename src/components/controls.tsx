/** The small controls every view uses: a labelled choice and a JupyterLab-styled button. */
import React from 'react';

/** The options of a {@link Choice}: value and label, in order. */
export type ChoiceOptions<T extends string> = ReadonlyArray<readonly [T, string]>;

/** A `<select>` of `options` in a label (whose class is `className`). */
export function Choice<T extends string>(props: {
  label: string;
  className: string;
  value: T;
  options: ChoiceOptions<T>;
  onChange: (value: T) => void;
}): JSX.Element {
  return (
    <label className={props.className}>
      {props.label}{' '}
      <select value={props.value} onChange={event => props.onChange(event.target.value as T)}>
        {props.options.map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
    </label>
  );
}

/** A button styled as JupyterLab's (`warn` for one that stops something). */
export function ActionButton(props: {
  className: string;
  label: string;
  onClick: () => void;
  title?: string;
  warn?: boolean;
}): JSX.Element {
  const className = `jp-Button jp-mod-styled${props.warn ? ' jp-mod-warn' : ''} ${props.className}`;
  return (
    <button className={className} title={props.title} onClick={props.onClick}>
      {props.label}
    </button>
  );
}

/** An icon button of the batch header: its label for screen readers, its tooltip saying more. */
export function IconActionButton(props: {
  className: string;
  label: string;
  title: string;
  onClick: () => void;
  icon: JSX.Element;
}): JSX.Element {
  return (
    <button
      type="button"
      className={`jp-Button jp-mod-styled jp-Fanout-icon-action ${props.className}`}
      title={props.title}
      aria-label={props.label}
      onClick={props.onClick}
    >
      {props.icon}
    </button>
  );
}
