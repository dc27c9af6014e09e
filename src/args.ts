/**
 * Reading command arguments: each helper gives `undefined` for an absent (or null) argument
 * and throws a specific error for one of the wrong type.
 */
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

export function optionalString(args: ReadonlyPartialJSONObject, key: string): string | undefined {
  const value = args[key];
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== 'string') {
    throw new Error(`Argument "${key}" must be a string, not ${JSON.stringify(value)}.`);
  }
  return value;
}

export function optionalNumber(args: ReadonlyPartialJSONObject, key: string): number | undefined {
  const value = args[key];
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new Error(`Argument "${key}" must be a number, not ${JSON.stringify(value)}.`);
  }
  return value;
}

export function optionalBoolean(args: ReadonlyPartialJSONObject, key: string): boolean | undefined {
  const value = args[key];
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== 'boolean') {
    throw new Error(`Argument "${key}" must be true or false, not ${JSON.stringify(value)}.`);
  }
  return value;
}

export function oneOf<T extends string>(
  args: ReadonlyPartialJSONObject,
  key: string,
  allowed: ReadonlyArray<T>,
  fallback: T
): T {
  const value = optionalString(args, key) ?? fallback;
  if (!allowed.includes(value as T)) {
    throw new Error(`Argument "${key}" must be one of ${allowed.join(', ')}, not "${value}".`);
  }
  return value as T;
}
