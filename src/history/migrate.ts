/**
 * Batches that earlier versions kept in the workspace (`./persistence`, key
 * `jupyterlab-fanout:batches`), and those only in the local-storage snapshot of changes the
 * workspace had not saved yet (key `jupyterlab-fanout:unsaved`, this workspace's), are moved into
 * the server's store once (a batch in both: the newer copy): each is converted to the
 * store's import shape (docs/protocol.md §4, `POST fanout/batches`) and posted; one the store
 * has already (409, e.g. it streamed through the proxy and was recorded) counts as moved. A
 * marker in the workspace keeps it from running again once every batch is in the store or
 * cannot be read. A failure (the server, the network) leaves the workspace as it was, is
 * reported once, and the next start-up tries again. The workspace's batches are never changed.
 */
import type { IStateDB } from '@jupyterlab/statedb';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { ReadonlyPartialJSONValue } from '@lumino/coreutils';

import { buildRequest } from '../model/request';
import type { IGenerateOptions } from '../tokens';
import { KEY as BATCHES_KEY, UNSAVED_KEY } from './persistence';
import { readThread } from '../model/thread';

/**
 * The workspace key of the marker: `{migratedAt, imported, present, unreadable, unsaved}`;
 * `unsaved: true` once the local-storage snapshot was read too (a marker of an earlier version,
 * without it, has that part done once more).
 */
export const MIGRATED_KEY = 'jupyterlab-fanout:migrated';

/** Statuses of a response that had not ended when it was saved. */
const RUNNING = new Set(['pending', 'connecting', 'thinking', 'generating']);
const STATUSES = new Set(['complete', 'stopped', 'error', 'incomplete', ...RUNNING]);

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** One attempt in the store's import shape. */
export interface IImportAttempt {
  attempt: number;
  upstream: string;
  model: string;
  request: Record<string, unknown>;
  status: string;
  error: Json | null;
  finish_reason: string | null;
  text: string;
  reasoning: string;
  usage: Json | null;
  metrics: Json;
  started_at: number;
  ended_at: number | null;
}

/** A batch in the store's import shape. */
export interface IImportBatch {
  id: string;
  prompt: string;
  options: Json;
  created_at: number;
  responses: { id: string; attempts: IImportAttempt[] }[];
}

/** A saved batch that cannot be converted: the message names it and the field. */
export class UnreadableBatchError extends Error {}

/** The saved batches of the workspace value, as written now (`{savedAt, batches}`) or earlier (a list). */
export function savedBatches(value: unknown): unknown[] {
  if (Array.isArray(value)) {
    return value;
  }
  if (isObject(value) && Array.isArray(value.batches)) {
    return value.batches;
  }
  return [];
}

/**
 * A batch as the workspace kept it (a `fanout:generate` summary; each response's latest attempt
 * its own fields, earlier ones in `attempts`, or none from versions before attempts) in the
 * store's import shape. Throws an {@link UnreadableBatchError} naming the batch and the field.
 */
export function importShape(saved: unknown, index = 0): IImportBatch {
  if (!isObject(saved)) {
    throw new UnreadableBatchError(`Saved batch #${index + 1} is not an object.`);
  }
  const id = saved.batchId;
  if (typeof id !== 'string' || !id || id.length > 256) {
    throw new UnreadableBatchError(`Saved batch #${index + 1} has no batchId of 1 to 256 characters.`);
  }
  const fail = (what: string): never => {
    throw new UnreadableBatchError(`Saved batch ${id} cannot be moved to the store: ${what}.`);
  };
  const prompt = typeof saved.prompt === 'string' ? saved.prompt : '';
  const stored = isObject(saved.options) ? saved.options : {};
  const { prompt: _prompt, ...options } = stored;
  const createdMs = finite(saved.createdAt);
  const created = createdMs !== null ? createdMs / 1000 : null;
  if (created === null) {
    fail('it has no createdAt');
  }
  const requestOptions: IGenerateOptions = {
    prompt,
    n: 1,
    model: '',
    upstream: '',
    maxTokens: finite(options.maxTokens) ?? 1024,
    temperature: finite(options.temperature) ?? 0.7,
    systemPrompt: typeof options.systemPrompt === 'string' ? options.systemPrompt : '',
    context: typeof options.context === 'string' ? options.context : ''
  };
  // A follow-up's thread: its requests were the thread's messages, then the prompt.
  const thread = readThread(options.thread);
  if (thread) {
    requestOptions.thread = thread;
  }
  if (!Array.isArray(saved.responses) || saved.responses.length === 0) {
    fail('its responses are not a non-empty list');
  }
  const responses = (saved.responses as unknown[]).map((value, i) => {
    const where = `responses[${i}]`;
    if (!isObject(value)) {
      return fail(`${where} is not an object`);
    }
    const responseId = typeof value.id === 'string' && value.id ? value.id : String(i + 1);
    const upstream = typeof value.upstream === 'string' ? value.upstream : '';
    const requestedModel = typeof value.requestedModel === 'string' ? value.requestedModel : '';
    const latest = finite(value.attempt);
    if (latest === null || !Number.isInteger(latest) || latest < 1) {
      return fail(`${where}.attempt is not a positive whole number`);
    }
    const attempt = (a: Json, number: number, at: string): IImportAttempt => {
      const status = a.status;
      if (typeof status !== 'string' || !STATUSES.has(status)) {
        return fail(`${at}.status is not a status`);
      }
      if (typeof a.content !== 'string') {
        return fail(`${at}.content is not a string`);
      }
      const seed = finite(a.seed) ?? 0;
      const metrics = isObject(a.metrics) ? a.metrics : {};
      const elapsedMs = finite(metrics.elapsedMs);
      const ttftMs = finite(metrics.ttftMs);
      const out: Json = {};
      if (elapsedMs !== null) {
        out.elapsed = elapsedMs / 1000;
      }
      if (ttftMs !== null) {
        out.ttft = ttftMs / 1000;
      }
      const rate = finite(metrics.tokensPerSecond);
      if (rate !== null) {
        out.tokens_per_second = rate;
      }
      const total = finite(a.totalTokens);
      const usage =
        a.tokensEstimated === false && total !== null
          ? {
              prompt_tokens: finite(a.promptTokens),
              completion_tokens: total,
              completion_tokens_details: { reasoning_tokens: finite(a.thinkingTokens) ?? 0 }
            }
          : null;
      const error = isObject(a.error) ? a.error : null;
      return {
        attempt: number,
        upstream,
        model: typeof a.model === 'string' && a.model ? a.model : requestedModel,
        request: buildRequest(requestOptions, seed, requestedModel),
        status: RUNNING.has(status) ? 'incomplete' : status,
        error:
          error ??
          (RUNNING.has(status)
            ? { message: 'The page was closed or reloaded while this response was streaming.', code: 'interrupted' }
            : null),
        finish_reason: typeof a.finishReason === 'string' ? a.finishReason : null,
        text: a.content,
        reasoning: typeof a.reasoning === 'string' ? a.reasoning : '',
        usage,
        metrics: out,
        started_at: created!,
        ended_at: elapsedMs !== null ? created! + elapsedMs / 1000 : null
      };
    };
    const attempts: IImportAttempt[] = [];
    const earlier = Array.isArray(value.attempts) ? value.attempts : [];
    earlier.forEach((a, j) => {
      const number = isObject(a) ? finite(a.attempt) : null;
      // The latest is the response's own fields (summaries other than saved ones repeat it).
      if (number === null || !Number.isInteger(number) || number < 1 || number >= latest) {
        return;
      }
      if (!attempts.some(x => x.attempt === number)) {
        attempts.push(attempt(a as Json, number, `${where}.attempts[${j}]`));
      }
    });
    attempts.push(attempt(value, latest, where));
    attempts.sort((a, b) => a.attempt - b.attempt);
    return { id: responseId, attempts };
  });
  if (new Set(responses.map(r => r.id)).size !== responses.length) {
    fail('two responses have the same id');
  }
  return { id, prompt, options, created_at: created!, responses };
}

/** What one migration did. */
export interface IMigrationResult {
  /** Posted to the store. */
  imported: string[];
  /** The store had them already (409). */
  present: string[];
  /** Could not be read (left in the workspace, never tried again). */
  unreadable: string[];
  /** The store or the network failed (tried again at the next start-up). */
  failed: string[];
}

export interface IMigrateOptions {
  state: Pick<IStateDB, 'fetch' | 'save'>;
  /** `POST fanout/batches`; its 409 error carries `response.status`. */
  importBatch: (batch: IImportBatch) => Promise<void>;
  /** The one report of a run that could not move everything. */
  report: (message: string) => void;
  trans: TranslationBundle;
  /** Clock (ms since the epoch). */
  now?: () => number;
  /** Where `./persistence` leaves its snapshot of unsaved changes, and this workspace's name. */
  unsaved?: { storage: Pick<Storage, 'getItem'> | null; workspace: string };
}

/** Label of the snapshot in reports, when it cannot be read at all. */
const SNAPSHOT = '(local-storage snapshot)';

/**
 * The batches of this workspace's snapshot in local storage and when it was taken; a snapshot
 * that cannot be read is an error saying so (one of another workspace is none).
 */
function snapshotBatches(unsaved: IMigrateOptions['unsaved']): { savedAt: number; batches: unknown[] } | null {
  const text = unsaved?.storage?.getItem(UNSAVED_KEY);
  if (!text) {
    return null;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UnreadableBatchError(
      `The snapshot of unsaved batches in local storage is not JSON (${(error as Error).message}).`
    );
  }
  if (!isObject(value) || typeof value.workspace !== 'string') {
    throw new UnreadableBatchError('The snapshot of unsaved batches in local storage has no workspace.');
  }
  if (value.workspace !== unsaved!.workspace) {
    return null;
  }
  if (!Array.isArray(value.batches)) {
    throw new UnreadableBatchError('The snapshot of unsaved batches in local storage has no list of batches.');
  }
  return { savedAt: finite(value.savedAt) ?? 0, batches: value.batches };
}

function statusOf(error: unknown): number | undefined {
  return (error as { response?: { status?: number } } | null)?.response?.status;
}

/**
 * Move the workspace's batches into the store, once (see the module comment). Resolves with what
 * it did, or null when the marker says it ran already; never rejects: whatever fails is reported
 * once through `report`.
 */
export async function migrateWorkspaceBatches(options: IMigrateOptions): Promise<IMigrationResult | null> {
  const { state, report, trans } = options;
  const now = options.now ?? (() => Date.now());
  const result: IMigrationResult = { imported: [], present: [], unreadable: [], failed: [] };
  const problems: string[] = [];
  try {
    const marker = await state.fetch(MIGRATED_KEY);
    const snapshotDone = isObject(marker) && marker.unsaved === true;
    if (marker !== undefined && (snapshotDone || !options.unsaved)) {
      return null;
    }
    // The snapshot first: once the workspace has saved what it held, it is removed.
    let snapshot: { savedAt: number; batches: unknown[] } | null = null;
    try {
      snapshot = snapshotBatches(options.unsaved);
    } catch (error) {
      result.unreadable.push(SNAPSHOT);
      problems.push((error as Error).message);
    }
    const fromWorkspace = marker === undefined ? await state.fetch(BATCHES_KEY) : undefined;
    const workspaceSavedAt = isObject(fromWorkspace) ? (finite(fromWorkspace.savedAt) ?? 0) : 0;
    const saved = [...savedBatches(fromWorkspace)];
    // A batch in both: the newer copy (the snapshot holds what the workspace had not saved).
    for (const entry of snapshot?.batches ?? []) {
      const id = isObject(entry) ? entry.batchId : undefined;
      const at = typeof id === 'string' ? saved.findIndex(b => isObject(b) && b.batchId === id) : -1;
      if (at === -1) {
        saved.push(entry);
      } else if (snapshot!.savedAt > workspaceSavedAt) {
        saved[at] = entry;
      }
    }
    for (let i = 0; i < saved.length; i++) {
      let batch: IImportBatch;
      try {
        batch = importShape(saved[i], i);
      } catch (error) {
        const entry = saved[i];
        const id = isObject(entry) && typeof entry.batchId === 'string' ? entry.batchId : `#${i + 1}`;
        result.unreadable.push(id);
        problems.push((error as Error).message);
        continue;
      }
      try {
        await options.importBatch(batch);
        result.imported.push(batch.id);
      } catch (error) {
        if (statusOf(error) === 409) {
          result.present.push(batch.id);
        } else {
          result.failed.push(batch.id);
          problems.push(`${batch.id}: ${(error as Error)?.message ?? error}`);
        }
      }
    }
    if (result.failed.length === 0) {
      const before = isObject(marker) ? marker : {};
      const count = (key: string) => finite(before[key]) ?? 0;
      const written = {
        migratedAt: now(),
        imported: count('imported') + result.imported.length,
        present: count('present') + result.present.length,
        unreadable: [...(Array.isArray(before.unreadable) ? before.unreadable : []), ...result.unreadable],
        unsaved: snapshotDone || options.unsaved !== undefined
      };
      await state.save(MIGRATED_KEY, written as unknown as ReadonlyPartialJSONValue);
    }
  } catch (error) {
    problems.push((error as Error)?.message ?? String(error));
    result.failed.push('(workspace)');
  }
  if (problems.length) {
    const details = problems.slice(0, 3).join('; ') + (problems.length > 3 ? ' …' : '');
    const moved = result.imported.length + result.present.length;
    const notMoved = result.failed.length + result.unreadable.length;
    report(
      result.failed.length
        ? trans.__(
            "Fanout moved %1 batches kept in this workspace into the server's store; %2 could not be moved (%3). They stay in the workspace and are tried again at the next start.",
            moved,
            notMoved,
            details
          )
        : trans.__(
            "Fanout moved %1 batches kept in this workspace into the server's store; %2 could not be read and stay in the workspace only (%3).",
            moved,
            notMoved,
            details
          )
    );
  }
  return result;
}
