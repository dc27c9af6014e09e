/**
 * Reading command arguments: each helper gives `undefined` for an absent (or null) argument
 * and throws a specific error for one of the wrong type.
 */
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

/** `args[key]`, or undefined when absent or null; a value that fails `check` is refused as not `expected`. */
function optional<T>(
  args: ReadonlyPartialJSONObject,
  key: string,
  check: (value: unknown) => value is T,
  expected: string
): T | undefined {
  const value = args[key];
  if (value === undefined || value === null) {
    return undefined;
  }
  if (!check(value)) {
    throw new Error(`Argument "${key}" must be ${expected}, not ${JSON.stringify(value)}.`);
  }
  return value;
}

export function optionalString(args: ReadonlyPartialJSONObject, key: string): string | undefined {
  return optional(args, key, (v): v is string => typeof v === 'string', 'a string');
}

export function optionalNumber(args: ReadonlyPartialJSONObject, key: string): number | undefined {
  return optional(args, key, (v): v is number => typeof v === 'number' && Number.isFinite(v), 'a number');
}

export function optionalBoolean(args: ReadonlyPartialJSONObject, key: string): boolean | undefined {
  return optional(args, key, (v): v is boolean => typeof v === 'boolean', 'true or false');
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
