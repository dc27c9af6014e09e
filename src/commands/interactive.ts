/**
 * Commands run by a person (a key binding, the command palette, a menu) say why they cannot do
 * what was asked: JupyterLab runs those without waiting for their promise, so a rejection would
 * be an uncaught one that nobody sees. Run from code, the same commands reject as documented.
 */
import { Notification } from '@jupyterlab/apputils';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

/**
 * True when a person ran the command: a key binding (Lumino adds `_luminoEvent`) or an item of
 * the palette or a menu, which pass `interactive: true`.
 */
export function isInteractive(args: ReadonlyPartialJSONObject): boolean {
  return args.interactive === true || args._luminoEvent !== undefined;
}

/** The argument palette and menu items pass, as the commands describe it. */
export const interactiveArg = {
  type: 'boolean',
  description:
    'Run by a person (palette, menu): a failure is shown as a notification and the command resolves with nothing instead of rejecting.'
};

/**
 * `execute`, which when run by a person ({@link isInteractive}) shows its failure as an error
 * notification (`label: message`) and resolves with undefined; from code it rejects.
 */
export function reportingFailures<T>(
  label: string | (() => string),
  execute: (args: ReadonlyPartialJSONObject) => T | Promise<T>
): (args: ReadonlyPartialJSONObject) => Promise<T | undefined> {
  return async args => {
    try {
      return await execute(args);
    } catch (error) {
      if (!isInteractive(args)) {
        throw error;
      }
      const what = typeof label === 'function' ? label() : label;
      Notification.error(`${what}: ${(error as Error)?.message ?? String(error)}`, { autoClose: 8000 });
      return undefined;
    }
  };
}
