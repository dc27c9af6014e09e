/**
 * The pure logic of the sidebar's generate controls (N, model, temperature, max tokens): the
 * bounds the settings' schema gives, reading what the user typed against them, and the model list
 * built from the server's upstream listing.
 */
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import type { IGenerateControlValues, IUpstreamListing } from '../tokens';

/** A control's field: the setting it writes (schema/plugin.json). */
export type ControlField = 'responses' | 'temperature' | 'maxTokens';

/** The bounds of a numeric setting, as schema/plugin.json gives them. */
export interface IBounds {
  integer: boolean;
  minimum: number;
  /** Absent: no upper bound. */
  maximum?: number;
}

/** The schema's bounds of each field (kept equal to schema/plugin.json; a jest test compares them). */
export const CONTROL_BOUNDS: Record<ControlField, IBounds> = {
  responses: { integer: true, minimum: 1, maximum: 64 },
  temperature: { integer: false, minimum: 0, maximum: 2 },
  maxTokens: { integer: true, minimum: 1 }
};

/** What a field's text reads as: its number, or why it is not a valid value. */
export type ControlValue = { ok: true; value: number } | { ok: false; error: string };

/** The user-facing name of each field, in error messages. */
const FIELD_NAMES: Record<ControlField, string> = {
  responses: 'N (number of responses)',
  temperature: 'Temperature',
  maxTokens: 'Max tokens'
};

/**
 * Read `text` as a value of `field` within the schema's bounds. Out of range, not a number, or
 * not whole where it must be: an error that says which and what the bounds are (never clamped).
 */
export function readControl(field: ControlField, text: string): ControlValue {
  const bounds = CONTROL_BOUNDS[field];
  const name = FIELD_NAMES[field];
  const range =
    bounds.maximum === undefined ? `at least ${bounds.minimum}` : `from ${bounds.minimum} to ${bounds.maximum}`;
  const trimmed = text.trim();
  if (!trimmed) {
    return { ok: false, error: `${name} is empty: give a ${bounds.integer ? 'whole ' : ''}number ${range}.` };
  }
  // Number() takes "1e3" and "0x10"; a person means digits, a sign and a point.
  const value = /^[+-]?(\d+\.?\d*|\.\d+)$/.test(trimmed) ? Number(trimmed) : NaN;
  if (!Number.isFinite(value)) {
    return { ok: false, error: `${name} must be a number ${range}, not "${trimmed}".` };
  }
  if (bounds.integer && !Number.isInteger(value)) {
    return { ok: false, error: `${name} must be a whole number ${range}, not ${trimmed}.` };
  }
  if (value < bounds.minimum || (bounds.maximum !== undefined && value > bounds.maximum)) {
    return { ok: false, error: `${name} must be ${range}; ${trimmed} is out of range.` };
  }
  return { ok: true, value };
}

/** One choice of the model list: an upstream (by name; '' is the server's default) and a model ('' its default). */
export interface IModelChoice {
  /** The option's value: {@link choiceKey} of upstream and model. */
  key: string;
  upstream: string;
  model: string;
  label: string;
  /** Cannot be chosen (it explains an upstream whose listing failed). */
  disabled?: boolean;
}

/** A group of the model list: one upstream's models. */
export interface IModelGroup {
  /** The upstream's name, with "(default)" for the server's default. */
  label: string;
  choices: IModelChoice[];
}

/** The model list: its groups (one per upstream), or why there is none (type a name instead). */
export interface IModelList {
  groups: IModelGroup[];
  /** Whether to show the groups as `<optgroup>`s (several upstreams). */
  grouped: boolean;
  /** Set when the listing offers nothing to choose: the model is typed, and this says why. */
  freeText: string | null;
}

/** The option value of an upstream and a model. */
export function choiceKey(upstream: string, model: string): string {
  return JSON.stringify([upstream, model]);
}

/** The upstream and model of an option value. */
export function parseChoiceKey(key: string): { upstream: string; model: string } {
  const [upstream, model] = JSON.parse(key) as [string, string];
  return { upstream, model };
}

/**
 * The settings' upstream as the list names it: '' (the server's default) stays '' so that
 * choosing from the default upstream keeps following the server's default.
 */
function listedUpstream(listing: IUpstreamListing, name: string): string {
  return name === listing.default ? '' : name;
}

/**
 * Build the model list from the server's listing: per upstream, its default model then each
 * model it serves; an upstream whose listing failed says so (a disabled entry). The current
 * choice (`upstream`, `model` from the settings) is always in the list, marked when the server
 * does not serve it, so the list shows what will be sent. `null` listing: not read (yet or at all).
 */
export function buildModelList(
  listing: IUpstreamListing | null,
  current: { upstream: string; model: string },
  unavailable?: string
): IModelList {
  if (!listing) {
    return {
      groups: [],
      grouped: false,
      freeText: unavailable ? `The model list is unavailable (${unavailable}): type a model name.` : null
    };
  }
  const groups: IModelGroup[] = [];
  let found = false;
  const currentUpstream = listedUpstream(listing, current.upstream);
  for (const upstream of listing.upstreams) {
    const name = listedUpstream(listing, upstream.name);
    const choices: IModelChoice[] = [];
    const defaultModel = upstream.default_model
      ? `${upstream.default_model} (default)`
      : "The upstream's default model";
    choices.push({ key: choiceKey(name, ''), upstream: name, model: '', label: defaultModel });
    for (const model of upstream.models) {
      choices.push({ key: choiceKey(name, model), upstream: name, model, label: model });
    }
    if (upstream.error) {
      choices.push({
        key: choiceKey(name, `\u0000error`),
        upstream: name,
        model: '',
        label: `Models unavailable: ${upstream.error}`,
        disabled: true
      });
    }
    if (name === currentUpstream) {
      found = choices.some(choice => !choice.disabled && choice.model === current.model);
      if (!found && current.model) {
        choices.push({
          key: choiceKey(name, current.model),
          upstream: name,
          model: current.model,
          label: upstream.error ? current.model : `${current.model} (not served)`
        });
        found = true;
      }
    }
    const label = upstream.name === listing.default ? `${upstream.name} (default)` : upstream.name;
    groups.push({ label, choices });
  }
  if (!found) {
    // The settings name an upstream the server does not have (the notice says so too).
    groups.push({
      label: `${current.upstream} (not on the server)`,
      choices: [
        {
          key: choiceKey(current.upstream, current.model),
          upstream: current.upstream,
          model: current.model,
          label: `${current.model || 'Default model'} (upstream "${current.upstream}" not on the server)`
        }
      ]
    });
  }
  const servesAny = listing.upstreams.some(upstream => upstream.models.length > 0);
  return {
    groups,
    grouped: groups.length > 1,
    freeText: servesAny
      ? null
      : listing.upstreams.length === 0
        ? 'The server lists no upstreams: type a model name.'
        : 'No upstream listed its models: type a model name.'
  };
}

/** The key of the current choice in a list built by {@link buildModelList}. */
export function currentChoiceKey(listing: IUpstreamListing | null, upstream: string, model: string): string {
  return choiceKey(listing ? listedUpstream(listing, upstream) : upstream, model);
}

/**
 * The arguments of `fanout:generate` for the sidebar's controls: exactly what they show. With
 * the `targets` setting (several models), N, model and upstream come from it instead.
 */
export function controlArgs(
  values: Required<IGenerateControlValues>,
  severalModels: boolean
): ReadonlyPartialJSONObject {
  const common = { temperature: values.temperature, maxTokens: values.maxTokens };
  return severalModels ? common : { ...common, n: values.responses, model: values.model, upstream: values.upstream };
}
