/**
 * REST calls to the extension's server side (jupyterlab_fanout/handlers.py), authenticated the
 * way JupyterLab's own calls are. The batch WebSocket is the engine's (`./engine/transport`).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type {
  ExportFormat,
  IFusion,
  IJudgement,
  ILeaderboard,
  IStoreState,
  IStoredBatch,
  IStoredBatchSummary,
  IUpstreamListing,
  IVote
} from './tokens';

/**
 * Call `fanout/<path>` on the Jupyter server and return its JSON body. A failure is an error
 * naming the call, with the server's status and message.
 */
export async function requestAPI<T>(
  path: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  return request<T>(path, init, settings, true);
}

/** Like {@link requestAPI}, with the body as text when `json` is false (its errors still read as JSON). */
async function request<T>(
  path: string,
  init: RequestInit,
  settings: ServerConnection.ISettings,
  json: boolean
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, 'fanout', path);
  const what = `${init.method ?? 'GET'} fanout/${path}`;
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    // A ServerConnection.NetworkError: the request never got an answer.
    throw new Error(`${what}: could not reach the Jupyter server (${(error as Error).message})`);
  }
  const text = await response.text();
  if (!json && response.ok) {
    return text as unknown as T;
  }
  let body: unknown = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      if (response.ok) {
        throw new Error(`${what}: the server answered something that is not JSON: ${text.slice(0, 200)}`);
      }
    }
  }
  if (!response.ok) {
    const message = (body as { message?: string } | null)?.message || text.slice(0, 200) || response.statusText;
    throw new ServerConnection.ResponseError(response, `${what} failed (${response.status}): ${message}`);
  }
  return body as T;
}

/** The server's upstreams, each with its models, the default one, and the server's limits. */
export function listUpstreams(settings?: ServerConnection.ISettings): Promise<IUpstreamListing> {
  return requestAPI<IUpstreamListing>('upstreams', {}, settings);
}

/**
 * Whether the server's batch store works (`null`: it is off). Its own route: the upstream
 * listing would ask every upstream for its models just to learn this.
 */
export function storeState(settings?: ServerConnection.ISettings): Promise<{ store: IStoreState | null }> {
  return requestAPI<{ store: IStoreState | null }>('store', {}, settings);
}

/** `fanout/batches/<id>`, the id escaped. */
function batchPath(id: string, tail = ''): string {
  return `batches/${encodeURIComponent(id)}${tail}`;
}

/** The stored batches' summaries, newest first; `query`: the words typed, each the beginning of a word of the prompt, title or any response's text or reasoning. */
export async function listBatches(
  options: { query?: string; limit?: number } = {},
  settings?: ServerConnection.ISettings
): Promise<IStoredBatchSummary[]> {
  const params = new URLSearchParams();
  if (options.query) {
    params.set('query', options.query);
  }
  if (options.limit !== undefined) {
    params.set('limit', String(options.limit));
  }
  const search = params.toString();
  const body = await requestAPI<{ batches: IStoredBatchSummary[] }>(
    search ? `batches?${search}` : 'batches',
    {},
    settings
  );
  return body.batches;
}

/** One stored batch, every response and attempt. */
export function getStoredBatch(id: string, settings?: ServerConnection.ISettings): Promise<IStoredBatch> {
  return requestAPI<IStoredBatch>(batchPath(id), {}, settings);
}

/** Give a stored batch a new title (1 to 1000 characters; the server trims it). */
export function renameBatch(
  id: string,
  title: string,
  settings?: ServerConnection.ISettings
): Promise<{ id: string; title: string }> {
  return requestAPI<{ id: string; title: string }>(
    batchPath(id),
    { method: 'PATCH', body: JSON.stringify({ title }) },
    settings
  );
}

/**
 * Add a whole batch to the store, in the shape {@link getStoredBatch} answers (docs/protocol.md
 * §4); the error of an id already there is the server's 409.
 */
export async function importStoredBatch(batch: unknown, settings?: ServerConnection.ISettings): Promise<void> {
  await requestAPI<{ id: string }>('batches', { method: 'POST', body: JSON.stringify(batch) }, settings);
}

/**
 * Record a batch streamed in direct mode (the server never sees its stream): `PUT
 * fanout/batches/<id>/direct` with `{prompt, options, created_at}` (docs/protocol.md §4).
 */
export async function recordDirectBatch(
  id: string,
  batch: { prompt: string; options: Record<string, unknown>; created_at: number },
  settings?: ServerConnection.ISettings
): Promise<{ id: string; created: boolean }> {
  return requestAPI<{ id: string; created: boolean }>(
    batchPath(id, '/direct'),
    { method: 'PUT', body: JSON.stringify(batch) },
    settings
  );
}

/** Record (or replace) one attempt of a direct-mode batch, as it starts or ends. */
export async function recordDirectAttempt(
  id: string,
  responseId: string,
  attempt: number,
  record: Record<string, unknown>,
  settings?: ServerConnection.ISettings,
  options: { keepalive?: boolean } = {}
): Promise<void> {
  const path = batchPath(id, `/direct/${encodeURIComponent(responseId)}/${attempt}`);
  await requestAPI<unknown>(
    path,
    { method: 'PUT', body: JSON.stringify(record), ...(options.keepalive ? { keepalive: true } : {}) },
    settings
  );
}

/** Delete a stored batch (refused while one of its responses runs). */
export async function deleteStoredBatch(id: string, settings?: ServerConnection.ISettings): Promise<void> {
  await requestAPI<null>(batchPath(id), { method: 'DELETE' }, settings);
}

/** A stored batch exported as JSON, Markdown or a notebook (nbformat JSON): the text. */
export function exportBatch(
  id: string,
  format: ExportFormat,
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<string> {
  return request<string>(batchPath(id, `/export?format=${encodeURIComponent(format)}`), {}, settings, false);
}

/** `POST fanout/votes`: `{batchId, a, b, outcome}` or `{batchId, ranking}` (jupyterlab_fanout/votes.py). */
export function postVote(
  vote: Record<string, unknown>,
  settings?: ServerConnection.ISettings
): Promise<{ id: string; votes: IVote[] }> {
  return requestAPI<{ id: string; votes: IVote[] }>('votes', { method: 'POST', body: JSON.stringify(vote) }, settings);
}

/** `GET fanout/votes?batchId=`: the votes (of one batch), newest first. */
export async function listVotes(batchId = '', settings?: ServerConnection.ISettings): Promise<IVote[]> {
  const search = batchId ? `?batchId=${encodeURIComponent(batchId)}` : '';
  return (await requestAPI<{ votes: IVote[] }>(`votes${search}`, {}, settings)).votes;
}

function leaderboardPath(tags: string[], format: string): string {
  const params = new URLSearchParams({ format });
  if (tags.length) {
    params.set('tags', tags.join(','));
  }
  return `leaderboard?${params.toString()}`;
}

/** `GET fanout/leaderboard?tags=`: the rows, best first. */
export function getLeaderboard(tags: string[] = [], settings?: ServerConnection.ISettings): Promise<ILeaderboard> {
  return requestAPI<ILeaderboard>(leaderboardPath(tags, 'json'), {}, settings);
}

/** `GET fanout/leaderboard?format=csv`: the leaderboard as CSV text. */
export function getLeaderboardCsv(
  tags: string[] = [],
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<string> {
  return request<string>(leaderboardPath(tags, 'csv'), {}, settings, false);
}

/** `PUT fanout/batches/<id>/tags`: replace a stored batch's tags. */
export function setBatchTags(
  id: string,
  tags: string[],
  settings?: ServerConnection.ISettings
): Promise<{ id: string; tags: string[] }> {
  return requestAPI<{ id: string; tags: string[] }>(
    batchPath(id, '/tags'),
    { method: 'PUT', body: JSON.stringify({ tags }) },
    settings
  );
}

/**
 * Mark the winner of a stored batch (`PUT fanout/batches/<id>/pick`): `responseId` null clears
 * it, `attempt` undefined is the response's latest. Resolves with what the store kept.
 */
export function pickResponse(
  id: string,
  responseId: string | null,
  attempt: number | undefined,
  settings?: ServerConnection.ISettings
): Promise<{ batchId: string; responseId: string | null; attempt: number | null }> {
  const body = responseId === null ? { responseId } : { responseId, ...(attempt !== undefined ? { attempt } : {}) };
  return requestAPI(batchPath(id, '/pick'), { method: 'PUT', body: JSON.stringify(body) }, settings);
}

/**
 * Rate one attempt of a stored response 1 to 5, or clear it with null (`PUT
 * fanout/batches/<id>/responses/<response id>/rating`). Resolves with what the store kept.
 */
export function rateResponse(
  id: string,
  responseId: string,
  attempt: number | undefined,
  rating: number | null,
  settings?: ServerConnection.ISettings
): Promise<{ batchId: string; responseId: string; attempt: number; rating: number | null }> {
  const body = { rating, ...(attempt !== undefined ? { attempt } : {}) };
  return requestAPI(
    batchPath(id, `/responses/${encodeURIComponent(responseId)}/rating`),
    { method: 'PUT', body: JSON.stringify(body) },
    settings
  );
}

/** The body of `POST fanout/batches/<id>/judge` (jupyterlab_fanout/judge.py). */
export interface IJudgeRequest {
  model?: string;
  upstream?: string;
  rubric?: string | { name: string; description?: string }[];
  responseIds?: string[];
  attempts?: Record<string, number>;
}

/** Have a model judge a stored batch's responses; the judgement the server keeps. */
export function postJudge(
  batchId: string,
  body: IJudgeRequest,
  settings?: ServerConnection.ISettings
): Promise<IJudgement> {
  return requestAPI<IJudgement>(batchPath(batchId, '/judge'), { method: 'POST', body: JSON.stringify(body) }, settings);
}

/** A stored batch's judgements, newest first. */
export async function listJudgements(batchId: string, settings?: ServerConnection.ISettings): Promise<IJudgement[]> {
  return (await requestAPI<{ judgements: IJudgement[] }>(batchPath(batchId, '/judgements'), {}, settings)).judgements;
}

/**
 * Record what fused response `responseId` of batch `id` merges (`PUT
 * fanout/batches/<id>/responses/<rid>/fusion`, jupyterlab_fanout/fusions.py), before it starts.
 */
export function recordFusion(
  id: string,
  responseId: string,
  fusion: IFusion & { model: string; upstream: string },
  settings?: ServerConnection.ISettings
): Promise<unknown> {
  const body = {
    sources: fusion.sources,
    instruction: fusion.instruction,
    checklist: fusion.checklist,
    model: fusion.model,
    upstream: fusion.upstream
  };
  return requestAPI(
    batchPath(id, `/responses/${encodeURIComponent(responseId)}/fusion`),
    { method: 'PUT', body: JSON.stringify(body) },
    settings
  );
}

/** The server's answer to a checklist call: the model's text, unparsed. */
export interface IChecklistAnswer {
  text: string;
  finishReason: string | null;
  model: string | null;
  /** Whether structured output (`response_format`) was asked for. */
  structured: boolean;
  dialect: string | null;
}

/** Ask an upstream for the guided merge's checklist (`POST fanout/fuse/checklist`). */
export function checklistCall(
  upstream: string,
  request: Record<string, unknown>,
  settings?: ServerConnection.ISettings
): Promise<IChecklistAnswer> {
  return requestAPI<IChecklistAnswer>(
    'fuse/checklist',
    { method: 'POST', body: JSON.stringify({ upstream, request }) },
    settings
  );
}
