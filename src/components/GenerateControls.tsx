/**
 * The controls above the sidebar's prompt: N, model, temperature and max tokens. They show and
 * write the user's settings (one source of truth with the Settings editor); a value out of the
 * schema's bounds shows an inline message and is not written (never clamped). The model is chosen
 * from the server's upstream listing, grouped by upstream; it is typed only when the listing is
 * empty or unavailable, or in direct mode.
 */
import React, { forwardRef, useEffect, useImperativeHandle, useRef, useState } from 'react';
import type { TranslationBundle } from '@jupyterlab/translation';

import type { IGenerateControlValues, IGenerateOptions, IUpstreamListing } from '../tokens';
import {
  buildModelList,
  ControlField,
  CONTROL_BOUNDS,
  currentChoiceKey,
  parseChoiceKey,
  readControl
} from './controlValues';

/** Re-read the listing when the model list is opened and the last one is older than this. */
const LISTING_MAX_AGE_MS = 30_000;

export interface IGenerateControlsProps {
  trans: TranslationBundle;
  /** The settings' values now (the defaults of Generate responses). */
  defaults: Omit<IGenerateOptions, 'prompt'>;
  /** Write settings (the controls'); absent: the controls are read-only. */
  onChange?: (values: IGenerateControlValues) => void;
  /** The server's upstream listing (`fanout:list-upstreams`); absent: the model is typed. */
  listUpstreams?: () => Promise<IUpstreamListing>;
  /** Direct mode: the browser calls a server the listing does not describe; the model is typed. */
  direct?: boolean;
}

/** What the form reads from the controls when it sends. */
export interface IGenerateControlsHandle {
  /**
   * The values to send, or null when one is not valid (its message is shown, and the first
   * such field has the focus).
   */
  read(): Required<IGenerateControlValues> | null;
  /** Forget what was typed and show the settings again (after `fanout:edit-prompt`). */
  reset(): void;
}

type Drafts = Partial<Record<ControlField | 'model', string>>;

const FIELDS: ReadonlyArray<ControlField> = ['responses', 'temperature', 'maxTokens'];

function settingOf(defaults: Omit<IGenerateOptions, 'prompt'>, field: ControlField): number {
  return field === 'responses' ? defaults.n : field === 'temperature' ? defaults.temperature : defaults.maxTokens;
}

/** N, model, temperature and max tokens, in two compact rows. */
export const GenerateControls = forwardRef<IGenerateControlsHandle, IGenerateControlsProps>(
  function GenerateControls(props, ref) {
    const { trans, defaults } = props;
    const [drafts, setDrafts] = useState<Drafts>({});
    const [listing, setListing] = useState<IUpstreamListing | null>(null);
    const [unavailable, setUnavailable] = useState<string | undefined>(undefined);
    const readAt = useRef(-Infinity);
    const inputs = useRef<Partial<Record<ControlField | 'model', HTMLElement | null>>>({});
    const mounted = useRef(true);
    useEffect(() => () => void (mounted.current = false), []);

    const refresh = (): void => {
      if (!props.listUpstreams || props.direct) {
        return;
      }
      readAt.current = performance.now();
      props.listUpstreams().then(
        value => {
          if (mounted.current) {
            setListing(value);
            setUnavailable(undefined);
          }
        },
        (reason: Error) => {
          if (mounted.current) {
            setListing(null);
            setUnavailable(reason?.message ?? String(reason));
          }
        }
      );
    };
    useEffect(refresh, [props.direct]);

    // A setting that changed (this form's write landing, or the Settings editor) replaces what was
    // typed in a field that is not being edited, when that was valid (an invalid value stays, with
    // its message, until it is fixed).
    useEffect(() => {
      setDrafts(old => {
        let next = old;
        for (const field of FIELDS) {
          const text = old[field];
          if (text !== undefined && readControl(field, text).ok && document.activeElement !== inputs.current[field]) {
            next = { ...next, [field]: undefined };
          }
        }
        return next;
      });
    }, [defaults.n, defaults.temperature, defaults.maxTokens]);

    const errorOf = (field: ControlField): string | null => {
      const text = drafts[field];
      if (text === undefined) {
        return null;
      }
      const read = readControl(field, text);
      return read.ok ? null : read.error;
    };

    const several = (defaults.targets?.length ?? 0) > 0;
    const list = buildModelList(listing, { upstream: defaults.upstream, model: defaults.model }, unavailable);
    const typed = props.direct || !props.listUpstreams || list.freeText !== null || (!listing && !unavailable);
    const modelText = drafts.model ?? defaults.model;

    useImperativeHandle(ref, () => ({
      read: () => {
        const values: Required<IGenerateControlValues> = {
          responses: defaults.n,
          temperature: defaults.temperature,
          maxTokens: defaults.maxTokens,
          model: typed ? modelText.trim() : defaults.model,
          upstream: defaults.upstream
        };
        let firstBad: HTMLElement | null | undefined = null;
        for (const field of FIELDS) {
          const text = drafts[field];
          if (text === undefined) {
            continue;
          }
          const read = readControl(field, text);
          if (read.ok) {
            values[field] = read.value;
          } else if (!firstBad) {
            firstBad = inputs.current[field];
          }
        }
        if (firstBad !== null) {
          firstBad?.focus();
          return null;
        }
        return values;
      },
      reset: () => setDrafts({})
    }));

    const write = (values: IGenerateControlValues): void => props.onChange?.(values);

    // Enter alone in a field does not send (a form would, implicitly); Ctrl/Cmd+Enter does, as in the prompt.
    const onKeyDown = (event: React.KeyboardEvent<HTMLInputElement>): void => {
      if (event.key !== 'Enter') {
        return;
      }
      event.preventDefault();
      if ((event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey) {
        event.stopPropagation();
        event.currentTarget.form?.requestSubmit();
      }
    };

    const numberField = (field: ControlField, label: string, title: string, className: string) => {
      const error = errorOf(field);
      const bounds = CONTROL_BOUNDS[field];
      return (
        <label className={`jp-Fanout-control ${className}`} title={title}>
          <span className="jp-Fanout-control-label">{label}</span>
          <input
            ref={node => (inputs.current[field] = node)}
            type="text"
            inputMode={bounds.integer ? 'numeric' : 'decimal'}
            className="jp-Fanout-control-input"
            aria-label={title}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? `jp-Fanout-control-error-${field}` : undefined}
            disabled={field === 'responses' && several}
            onKeyDown={onKeyDown}
            value={drafts[field] ?? String(settingOf(defaults, field))}
            onChange={event => {
              const text = event.target.value;
              setDrafts(old => ({ ...old, [field]: text }));
              const read = readControl(field, text);
              if (read.ok && read.value !== settingOf(defaults, field)) {
                write({ [field]: read.value });
              }
            }}
            onBlur={() => {
              // A valid value the setting already holds: show the setting from now on (also when it
              // changes elsewhere). Until the write has landed (the server answers the settings'
              // save later), the field keeps showing and sending what was typed.
              const text = drafts[field];
              const read = text === undefined ? null : readControl(field, text);
              if (read?.ok && read.value === settingOf(defaults, field)) {
                setDrafts(old => ({ ...old, [field]: undefined }));
              }
            }}
          />
        </label>
      );
    };

    const errors = FIELDS.map(field => [field, errorOf(field)] as const).filter(([, error]) => error);
    return (
      <div className="jp-Fanout-controls" role="group" aria-label={trans.__('Generate options')}>
        <div className="jp-Fanout-controls-row">
          {numberField(
            'responses',
            trans.__('N'),
            trans.__(
              'Number of responses (%1 to %2)',
              CONTROL_BOUNDS.responses.minimum,
              CONTROL_BOUNDS.responses.maximum!
            ),
            'jp-Fanout-control-n'
          )}
          {numberField(
            'temperature',
            trans.__('Temperature'),
            trans.__('Temperature (%1 to %2)', CONTROL_BOUNDS.temperature.minimum, CONTROL_BOUNDS.temperature.maximum!),
            'jp-Fanout-control-temperature'
          )}
          {numberField(
            'maxTokens',
            trans.__('Max tokens'),
            trans.__('Maximum tokens per response, thinking and answer together (at least %1)', 1),
            'jp-Fanout-control-max-tokens'
          )}
        </div>
        <label className="jp-Fanout-control jp-Fanout-control-model" title={trans.__('Model')}>
          <span className="jp-Fanout-control-label">{trans.__('Model')}</span>
          {several ? (
            <span className="jp-Fanout-control-note">
              {trans.__('Several models: the "targets" setting (Settings editor) chooses them and their N.')}
            </span>
          ) : typed ? (
            <input
              ref={node => (inputs.current.model = node)}
              type="text"
              className="jp-Fanout-control-input jp-Fanout-model-input"
              aria-label={trans.__('Model')}
              placeholder={trans.__("empty: the upstream's default")}
              onKeyDown={onKeyDown}
              value={modelText}
              onChange={event => {
                const text = event.target.value;
                setDrafts(old => ({ ...old, model: text }));
              }}
              onBlur={() => {
                if (drafts.model !== undefined) {
                  write({ model: drafts.model.trim() });
                  setDrafts(old => ({ ...old, model: undefined }));
                }
              }}
            />
          ) : (
            <select
              ref={node => (inputs.current.model = node)}
              className="jp-Fanout-model-select"
              aria-label={trans.__('Model')}
              value={currentChoiceKey(listing, defaults.upstream, defaults.model)}
              onFocus={() => {
                if (performance.now() - readAt.current > LISTING_MAX_AGE_MS) {
                  refresh();
                }
              }}
              onChange={event => {
                const { upstream, model } = parseChoiceKey(event.target.value);
                write({ upstream, model });
              }}
            >
              {list.groups.map(group => {
                const options = group.choices.map(choice => (
                  <option key={choice.key} value={choice.key} disabled={choice.disabled}>
                    {choice.label}
                  </option>
                ));
                return list.grouped ? (
                  <optgroup key={group.label} label={group.label}>
                    {options}
                  </optgroup>
                ) : (
                  <React.Fragment key={group.label}>{options}</React.Fragment>
                );
              })}
            </select>
          )}
        </label>
        {typed && !several && (
          <div className="jp-Fanout-control-note jp-Fanout-model-note">
            {props.direct
              ? trans.__('Direct mode: type a model the server at Direct URL serves.')
              : (list.freeText ?? trans.__('Reading the model list…'))}
          </div>
        )}
        {errors.map(([field, error]) => (
          <div key={field} id={`jp-Fanout-control-error-${field}`} className="jp-Fanout-control-error" role="alert">
            {error}
          </div>
        ))}
      </div>
    );
  }
);
