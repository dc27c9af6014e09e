/**
 * The commands on the server's batch store: list the stored batches, get one (from memory, else
 * from the store), open one in the sidebar, rename, delete, export one (as text, or written to a
 * file in the Jupyter contents).
 */
import { Notification } from '@jupyterlab/apputils';
import type { Contents } from '@jupyterlab/services';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { CommandRegistry } from '@lumino/commands';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { RUNNING } from '../model/batch';
import { storedSummary } from '../model/stored';
import type { IBatchSummary, IFanoutModel } from '../tokens';
import { CommandIDs, ExportFormat, IStoredBatchSummary, IStoreState } from '../tokens';
import { oneOf, optionalNumber, optionalString } from './args';
import { findBatch } from './find';

/** The store's REST calls (`../handler`), and where exports are written. */
export interface IHistoryCommandContext {
  commands: CommandRegistry;
  trans: TranslationBundle;
  listBatches: (options: { query?: string; limit?: number }) => Promise<IStoredBatchSummary[]>;
  renameBatch: (id: string, title: string) => Promise<{ id: string; title: string }>;
  exportBatch: (id: string, format: ExportFormat) => Promise<string>;
  /** `GET fanout/batches/<id>`: the stored batch, read as hostile. */
  getStoredBatch: (id: string) => Promise<unknown>;
  /** `DELETE fanout/batches/<id>`. */
  deleteBatch: (id: string) => Promise<void>;
  /** The batches of this page: `fanout:get-batch` answers from it first, Open puts a batch in it. */
  model: IFanoutModel;
  /** The Jupyter contents, for `fanout:export` with a `path`. */
  contents: Pick<Contents.IManager, 'save'>;
}

const FORMATS: ReadonlyArray<ExportFormat> = ['json', 'markdown', 'notebook'];

/** `args[key]` as a non-empty string, or a specific error naming the command. */
function requiredString(args: ReadonlyPartialJSONObject, key: string, what: string): string {
  const value = optionalString(args, key);
  if (value === undefined || value.trim() === '') {
    throw new Error(`${what} needs a ${key}.`);
  }
  return value;
}

/** True when `error` is the server's 404 (REST errors carry the response, see `../handler`). */
function notFound(error: unknown): boolean {
  return (error as { response?: { status?: number } } | null)?.response?.status === 404;
}

/** A batch's summary from the store has a response that still runs on the server. */
function runsOnServer(summary: IBatchSummary): boolean {
  return summary.responses.some(r => RUNNING.has(r.status));
}

/**
 * The summary of batch `batchId` (the newest in memory without one): from memory when it is
 * there, else read from the store. A stored batch that still runs on the server is opened into
 * the page (`model.open`: reattached, live in the sidebar's list) and its summary is the state
 * once the server's replay arrived: running responses with a running status and their text so
 * far (or, when the server no longer runs it, their final state from the store). An unknown id
 * is an error naming it.
 */
export async function getBatchSummary(
  model: IFanoutModel,
  getStoredBatch: (id: string) => Promise<unknown>,
  batchId: string | undefined
): Promise<IBatchSummary> {
  const here = model.getBatch(batchId);
  if (here) {
    return here.summary();
  }
  if (batchId === undefined) {
    return findBatch(model, {}).summary(); // Throws: there is no batch yet.
  }
  let stored: unknown;
  try {
    stored = await getStoredBatch(batchId);
  } catch (error) {
    if (notFound(error)) {
      throw new Error(`There is no batch ${batchId}: it is neither in this page nor in the server's store.`);
    }
    throw error;
  }
  const summary = storedSummary(stored);
  if (!runsOnServer(summary)) {
    return summary;
  }
  const batch = model.open(summary);
  await model.whenLive(batch.id);
  return batch.summary();
}

/** The arguments of `fanout:list-batches`, checked. */
export function listBatchesArgs(args: ReadonlyPartialJSONObject): { query?: string; limit?: number } {
  const query = optionalString(args, 'query');
  const limit = optionalNumber(args, 'limit');
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new Error(`Argument "limit" must be a positive integer, not ${limit}.`);
  }
  return { query, limit };
}

/** The arguments of `fanout:rename-batch`, checked. */
export function renameBatchArgs(args: ReadonlyPartialJSONObject): { batchId: string; title: string } {
  return {
    batchId: requiredString(args, 'batchId', 'Rename batch'),
    title: requiredString(args, 'title', 'Rename batch')
  };
}

/** The arguments of `fanout:export`, checked. */
export function exportArgs(args: ReadonlyPartialJSONObject): {
  batchId: string;
  format: ExportFormat;
  path?: string;
} {
  const batchId = requiredString(args, 'batchId', 'Export batch');
  if (args.format === undefined || args.format === null) {
    throw new Error(`Export batch needs a format (${FORMATS.join(', ')}).`);
  }
  const format = oneOf(args, 'format', FORMATS, 'json');
  const path = optionalString(args, 'path');
  if (path !== undefined && path.trim() === '') {
    throw new Error('Argument "path" must not be empty.');
  }
  return { batchId, format, path };
}

/** Write an export to `path` in the Jupyter contents: a notebook for `notebook`, else a text file. */
export async function saveExport(
  contents: Pick<Contents.IManager, 'save'>,
  path: string,
  format: ExportFormat,
  text: string
): Promise<void> {
  if (format === 'notebook') {
    let notebook: unknown;
    try {
      notebook = JSON.parse(text);
    } catch (error) {
      throw new Error(`The server's notebook export is not JSON: ${(error as Error).message}`);
    }
    await contents.save(path, { type: 'notebook', format: 'json', content: notebook });
  } else {
    await contents.save(path, { type: 'file', format: 'text', content: text });
  }
}

/** The one warning when the store could not keep batches (null when there is nothing to say). */
export function storeWarning(store: IStoreState | null | undefined, trans: TranslationBundle): string | null {
  if (!store || store.ok !== false) {
    return null;
  }
  return trans.__(
    'Fanout could not keep batches in its store: %1. Streaming still works.',
    store.error ?? 'unknown error'
  );
}

/**
 * Ask the server once whether its store works, and warn once if it does not; resolves with its
 * state (undefined when it could not be asked). A failed check is only logged: the sidebar says
 * when the server cannot be reached.
 */
export async function checkStore(
  listUpstreams: () => Promise<{ store?: IStoreState | null }>,
  trans: TranslationBundle,
  warn: (message: string) => void = message => Notification.warning(message, { autoClose: false })
): Promise<IStoreState | null | undefined> {
  let store: IStoreState | null | undefined;
  try {
    store = (await listUpstreams()).store;
  } catch (error) {
    console.warn('jupyterlab-fanout: could not ask the server about its batch store', error);
    return undefined;
  }
  const message = storeWarning(store, trans);
  if (message) {
    warn(message);
  }
  return store;
}

/** Register the store's commands. */
export function registerHistoryCommands(context: IHistoryCommandContext): void {
  const { commands, trans } = context;

  /** Run `body`; a failure is shown (titled `title`) and rejected with. */
  const shown = async <T>(title: string, body: () => Promise<T>): Promise<T> => {
    try {
      return await body();
    } catch (error) {
      Notification.error(trans.__('%1: %2', title, (error as Error).message), { autoClose: 8000 });
      throw error;
    }
  };

  commands.addCommand(CommandIDs.listBatches, {
    label: trans.__('List stored batches'),
    caption: trans.__("The batches kept in the server's store, newest first"),
    describedBy: {
      args: {
        type: 'object',
        properties: {
          query: {
            type: 'string',
            description:
              'The words typed: keep the batches in which each begins a word of the prompt, title or any response (any case; not a query language).'
          },
          limit: { type: 'integer', minimum: 1, description: 'At most this many (default 100).' }
        }
      }
    },
    execute: args => shown(trans.__('List stored batches'), () => context.listBatches(listBatchesArgs(args)))
  });

  commands.addCommand(CommandIDs.renameBatch, {
    label: trans.__('Rename batch'),
    describedBy: {
      args: {
        type: 'object',
        required: ['batchId', 'title'],
        properties: { batchId: { type: 'string' }, title: { type: 'string', minLength: 1, maxLength: 1000 } }
      }
    },
    execute: args =>
      shown(trans.__('Rename batch'), async () => {
        const { batchId, title } = renameBatchArgs(args);
        return context.renameBatch(batchId, title);
      })
  });

  const batchIdOnly = (description: string) => ({
    args: {
      type: 'object',
      required: ['batchId'],
      properties: { batchId: { type: 'string', description } }
    }
  });

  commands.addCommand(CommandIDs.getBatch, {
    label: trans.__('Get batch'),
    caption: trans.__("A batch's summary, every attempt of every response included"),
    describedBy: {
      args: {
        type: 'object',
        properties: {
          batchId: {
            type: 'string',
            description:
              "The batch (in this page, else in the server's store); default: the newest. A stored batch still running on the server is opened into this page (live) and resolved with its state once the server's replay arrived."
          }
        }
      }
    },
    execute: async args => {
      const summary = await getBatchSummary(context.model, context.getStoredBatch, optionalString(args, 'batchId'));
      // The verdicts (`fanout:pick`, `fanout:rate`) always: none is null and [].
      return { ...summary, pick: summary.pick ?? null, ratings: summary.ratings ?? [] };
    }
  });

  commands.addCommand(CommandIDs.openBatch, {
    label: trans.__('Open batch'),
    caption: trans.__('Show a stored batch in the Fanout sidebar'),
    describedBy: batchIdOnly(
      'The batch to show (in this page, else read from the store); one still running on the server shows live.'
    ),
    execute: args =>
      shown(trans.__('Open batch'), async () => {
        const batchId = requiredString(args, 'batchId', 'Open batch');
        const summary = await getBatchSummary(context.model, context.getStoredBatch, batchId);
        const batch = context.model.open(summary);
        if (commands.hasCommand(CommandIDs.open)) {
          await commands.execute(CommandIDs.open, { batchId });
        }
        return batch.summary();
      })
  });

  commands.addCommand(CommandIDs.deleteBatch, {
    label: trans.__('Delete batch'),
    caption: trans.__("Delete a batch from the server's store (and from the sidebar)"),
    describedBy: batchIdOnly('The stored batch to delete.'),
    execute: args =>
      shown(trans.__('Delete batch'), async () => {
        const batchId = requiredString(args, 'batchId', 'Delete batch');
        const here = context.model.getBatch(batchId);
        if (here?.active) {
          throw new Error(`Batch ${batchId} is still running: stop it before deleting it.`);
        }
        try {
          await context.deleteBatch(batchId);
        } catch (error) {
          if (!notFound(error) || !here) {
            throw notFound(error) ? new Error(`There is no batch ${batchId} in the server's store.`) : error;
          }
          // Only in this page (a direct-mode batch): removed from the sidebar all the same.
        }
        if (here) {
          context.model.removeBatch(batchId);
        }
        return { batchId };
      })
  });

  commands.addCommand(CommandIDs.exportBatch, {
    label: trans.__('Export batch'),
    caption: trans.__('A stored batch as JSON, Markdown or a notebook'),
    describedBy: {
      args: {
        type: 'object',
        required: ['batchId', 'format'],
        properties: {
          batchId: { type: 'string' },
          format: { type: 'string', enum: [...FORMATS] },
          path: { type: 'string', description: 'Write it to this path in the Jupyter contents.' }
        }
      }
    },
    execute: args =>
      shown(trans.__('Export batch'), async () => {
        const { batchId, format, path } = exportArgs(args);
        const text = await context.exportBatch(batchId, format);
        if (path === undefined) {
          return { text };
        }
        await saveExport(context.contents, path, format, text);
        return { path };
      })
  });
}
