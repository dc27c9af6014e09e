/**
 * A batch from the server's store (`GET fanout/batches/<id>`, docs/protocol.md §4) as the model
 * keeps batches: its summary in the shape `fanout:generate` resolves with (attempts included),
 * and the ended {@link Batch} the sidebar shows when it is opened. Pure: no REST, no DOM.
 *
 * What the store answers is read as hostile: a batch whose shape is wrong fails with a
 * {@link StoredBatchError} naming the batch and the field, and only that batch.
 */
import { batchMetrics, ResponseError, ResponseMetrics, ResponseSnapshot, ResponseStatus } from '../core';
import { readUsage, TokenTally } from '../core/token-count';
import type {
  IAttemptSummary,
  IBatchSummary,
  IGenerateOptions,
  IPick,
  IRating,
  IResponseSummary,
  ITarget
} from '../tokens';
import { Batch, EndedAttempt, IFusedResponse, readFusion, RUNNING } from './batch';
import { continuedPrefix } from './reattach';
import { readThread } from './thread';
import { expandTargets } from './request';

/** A stored batch that cannot be read: the message names the batch and what is wrong. */
export class StoredBatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoredBatchError';
  }
}

/** The statuses a stored attempt may have besides `running`. */
const ENDED: ReadonlySet<string> = new Set(['complete', 'stopped', 'error', 'incomplete']);

/**
 * What an earlier attempt the store still has as running says (only a response's latest
 * attempt can run; an earlier one left running is read as incomplete, with the text so far).
 */
export const RUNNING_ON_SERVER: ResponseError = {
  message: 'This response was still streaming on the server when the batch was read: this is the text stored so far.',
  code: 'running'
};

/**
 * The running status a response's latest attempt that the store has as `running` is read with
 * (the text stored so far): `connecting` with no text yet, `thinking` with reasoning only, else
 * `generating`. The model reattaches such a batch (`FanoutModel.open`): the server's replay
 * then replaces the stored text, or, when the server no longer runs the batch, the store's
 * final state does.
 */
export function runningStatus(content: string, reasoning: string): ResponseStatus {
  return content ? 'generating' : reasoning ? 'thinking' : 'connecting';
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** Reads the fields of one stored batch, failing with the batch's id and the field's path. */
class Reader {
  constructor(readonly id: string) {}

  fail(path: string, what: string): never {
    throw new StoredBatchError(`Stored batch ${this.id} cannot be read: ${path} ${what}.`);
  }

  string(value: unknown, path: string, fallback?: string): string {
    if ((value === undefined || value === null) && fallback !== undefined) {
      return fallback;
    }
    if (typeof value !== 'string') {
      this.fail(path, `must be a string, not ${describe(value)}`);
    }
    return value;
  }
}

function describe(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  if (Array.isArray(value)) {
    return 'a list';
  }
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)?.slice(0, 40)}`;
}

/** The error of a stored attempt as the views show it (null when it has none). */
function readError(value: unknown): ResponseError | null {
  if (value === null || value === undefined) {
    return null;
  }
  if (!isObject(value)) {
    return { message: String(value).slice(0, 2000) };
  }
  const message = typeof value.message === 'string' ? value.message : JSON.stringify(value).slice(0, 2000);
  const error: ResponseError = { message };
  const status = finite(value.status);
  if (status !== null) {
    error.status = status;
  }
  if (typeof value.code === 'string' || typeof value.code === 'number') {
    error.code = String(value.code);
  }
  return error;
}

/** Seconds since the epoch (the store's times) to milliseconds, or null. */
function ms(seconds: unknown): number | null {
  const value = finite(seconds);
  return value === null ? null : value * 1000;
}

/** One stored attempt: its number, seed and state. */
function readAttempt(
  reader: Reader,
  value: unknown,
  path: string
): { summary: IAttemptSummary; requestedModel: string; upstream: string; running: boolean } {
  if (!isObject(value)) {
    reader.fail(path, `must be an object, not ${describe(value)}`);
  }
  const number = value.attempt;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < 1) {
    reader.fail(`${path}.attempt`, `must be a positive whole number, not ${describe(number)}`);
  }
  const stored = reader.string(value.status, `${path}.status`);
  if (stored !== 'running' && !ENDED.has(stored)) {
    reader.fail(`${path}.status`, `is not a status (${JSON.stringify(stored.slice(0, 40))})`);
  }
  const request = isObject(value.request) ? value.request : {};
  // A continuation (`fanout:continue`): the store keeps what the model sent after the text it
  // continued; it is shown as one text, as it was live.
  const prefix = continuedPrefix(request);
  const content = prefix + reader.string(value.text, `${path}.text`, '');
  const reasoning = reader.string(value.reasoning, `${path}.reasoning`, '');
  const seed = finite(request.seed) ?? 0;
  const requestedModel = typeof request.model === 'string' ? request.model : '';
  const upstream = typeof value.upstream === 'string' ? value.upstream : '';
  const model = typeof value.model === 'string' && value.model ? value.model : null;

  const tally = new TokenTally();
  tally.addThinking(reasoning);
  tally.addAnswer(content);
  const usage = readUsage(value.usage);
  if (usage && !prefix) {
    tally.applyUsage(usage); // (A continuation's usage counts only what followed the prefix.)
  }
  const counts = tally.counts();

  const metricsIn = isObject(value.metrics) ? value.metrics : {};
  const startedAt = ms(value.started_at);
  const endedAt = ms(value.ended_at);
  const ttft = ms(metricsIn.ttft);
  const elapsed = ms(metricsIn.elapsed) ?? (startedAt !== null && endedAt !== null ? endedAt - startedAt : null);
  const firstByteAt = startedAt !== null && ttft !== null ? startedAt + ttft : null;
  const metrics: ResponseMetrics = {
    startedAt,
    firstByteAt,
    firstTokenAt: firstByteAt,
    endedAt: endedAt ?? (startedAt !== null && elapsed !== null ? startedAt + elapsed : null),
    ttfbMs: ttft,
    ttftMs: ttft,
    tokensPerSecond: finite(metricsIn.tokens_per_second),
    elapsedMs: elapsed
  };

  const running = stored === 'running';
  const status = (running ? 'incomplete' : stored) as ResponseStatus;
  const error = readError(value.error) ?? (running ? RUNNING_ON_SERVER : null);
  const snapshot: ResponseSnapshot = {
    status,
    content,
    reasoning,
    thinkingTokens: counts.thinking,
    answerTokens: counts.answer,
    totalTokens: counts.total,
    promptTokens: counts.prompt,
    tokensEstimated: counts.estimated,
    splitEstimated: counts.splitEstimated,
    finishReason: typeof value.finish_reason === 'string' && value.finish_reason ? value.finish_reason : null,
    error,
    model,
    httpStatus: error?.status ?? null,
    metrics
  };
  return { summary: { attempt: number, seed, ...snapshot }, requestedModel, upstream, running };
}

/** One stored response: every attempt (oldest first), its latest's fields. */
function readResponse(reader: Reader, value: unknown, path: string, index: number): IResponseSummary {
  if (!isObject(value)) {
    reader.fail(path, `must be an object, not ${describe(value)}`);
  }
  const id = reader.string(value.id, `${path}.id`);
  if (!id || id.length > 256) {
    reader.fail(`${path}.id`, 'must be 1 to 256 characters');
  }
  if (!Array.isArray(value.attempts) || value.attempts.length === 0) {
    reader.fail(`${path}.attempts`, 'must be a list of at least one attempt');
  }
  const read = value.attempts.map((a, j) => readAttempt(reader, a, `${path}.attempts[${j}]`));
  read.sort((a, b) => a.summary.attempt - b.summary.attempt);
  for (let j = 1; j < read.length; j++) {
    if (read[j].summary.attempt === read[j - 1].summary.attempt) {
      reader.fail(`${path}.attempts`, `number attempt ${read[j].summary.attempt} twice`);
    }
  }
  const latest = read[read.length - 1];
  // A fused response (`fanout:fuse`): what it merged, and the model and upstream asked.
  const fusion = readFusion(value.fusion);
  if (latest.running) {
    // Still streaming on the server: live once the batch is opened (reattached).
    const { content, reasoning } = latest.summary;
    latest.summary = { ...latest.summary, status: runningStatus(content, reasoning), error: null, httpStatus: null };
    read[read.length - 1] = latest;
  }
  return {
    id,
    index,
    upstream: latest.upstream,
    requestedModel: latest.requestedModel,
    ...latest.summary,
    attempts: read.map(a => a.summary),
    ...(fusion
      ? {
          fusion,
          upstream:
            typeof (value.fusion as Json).upstream === 'string' ? ((value.fusion as Json).upstream as string) : '',
          requestedModel:
            typeof (value.fusion as Json).model === 'string' ? ((value.fusion as Json).model as string) : ''
        }
      : {})
  };
}

/** Responses numbered 1, 2, … by their number; others in the order stored. */
function byNumber(responses: IResponseSummary[]): IResponseSummary[] {
  const numeric = responses.every(r => /^[1-9][0-9]{0,8}$/.test(r.id));
  return numeric ? [...responses].sort((a, b) => Number(a.id) - Number(b.id)) : responses;
}

/** The generate options of a stored batch: as described when they fit its responses, else one target each. */
function readOptions(value: unknown, prompt: string, responses: IResponseSummary[]): IGenerateOptions {
  const stored = isObject(value) ? value : {};
  const text = (key: string, fallback: string) =>
    typeof stored[key] === 'string' ? (stored[key] as string) : fallback;
  const number = (key: string, fallback: number) => finite(stored[key]) ?? fallback;
  const options: IGenerateOptions = {
    prompt,
    n: number('n', responses.length),
    model: text('model', ''),
    upstream: text('upstream', ''),
    maxTokens: number('maxTokens', 1024),
    temperature: number('temperature', 0.7),
    systemPrompt: text('systemPrompt', '')
  };
  if (typeof stored.context === 'string' && stored.context) {
    options.context = stored.context;
  }
  if (typeof stored.structured === 'boolean') {
    options.structured = stored.structured;
  }
  if (Array.isArray(stored.targets) && stored.targets.length) {
    options.targets = stored.targets.map(t => {
      const target = isObject(t) ? t : {};
      return {
        upstream: typeof target.upstream === 'string' ? target.upstream : '',
        model: typeof target.model === 'string' ? target.model : '',
        n: finite(target.n) ?? 0
      };
    });
  }
  // Options the browser described (`n` or `targets`) that ask for the responses stored.
  let fits = finite(stored.n) !== null || Array.isArray(stored.targets);
  try {
    fits = fits && expandTargets(options).length === responses.length;
  } catch {
    fits = false;
  }
  if (!fits) {
    // Responses the store did not record, or options from another client: one target per
    // response, so that the batch holds exactly the responses stored (and re-generates each
    // from its own upstream and model).
    const targets: ITarget[] = [];
    for (const r of responses) {
      const last = targets[targets.length - 1];
      if (last && last.upstream === r.upstream && last.model === r.requestedModel) {
        last.n += 1;
      } else {
        targets.push({ upstream: r.upstream, model: r.requestedModel, n: 1 });
      }
    }
    options.targets = targets;
    options.n = responses.length;
  }
  return options;
}

/**
 * A stored batch's summary, in the shape `fanout:generate` resolves with (every attempt of
 * every response included). Throws a {@link StoredBatchError} naming the batch and the field
 * when `value` is not a stored batch.
 */
export function storedSummary(value: unknown, now: number = Date.now()): IBatchSummary {
  if (!isObject(value)) {
    throw new StoredBatchError(`A stored batch must be an object, not ${describe(value)}.`);
  }
  if (typeof value.id !== 'string' || !value.id || value.id.length > 256) {
    throw new StoredBatchError(`A stored batch needs an id of 1 to 256 characters, not ${describe(value.id)}.`);
  }
  const reader: Reader = new Reader(value.id);
  const prompt = reader.string(value.prompt, 'prompt', '');
  if (!Array.isArray(value.responses)) {
    reader.fail('responses', `must be a list, not ${describe(value.responses)}`);
  }
  if (value.responses.length === 0) {
    reader.fail('responses', 'is empty');
  }
  const all = byNumber(value.responses.map((r, i) => readResponse(reader, r, `responses[${i}]`, i + 1)));
  // The fused responses (`fanout:fuse`) after those the batch's options asked for.
  const regular = all.filter(r => !r.fusion);
  const responses = [...regular, ...all.filter(r => r.fusion)];
  responses.forEach((r, i) => (r.index = i + 1));
  const ids = new Set(responses.map(r => r.id));
  if (ids.size !== responses.length) {
    reader.fail('responses', 'hold the same response id twice');
  }
  const createdAt = ms(value.created_at) ?? now;
  if (regular.length === 0) {
    reader.fail('responses', 'hold only fused responses');
  }
  const options = readOptions(value.options, prompt, regular);
  // A follow-up's thread: the store's record of it (followups.py), else the options' own.
  const thread = readThread(value.followup) ?? readThread(isObject(value.options) ? value.options.thread : null);
  if (thread) {
    options.thread = thread;
  }
  // Each response's upstream and model as asked for (empty: the default), as `fanout:generate`
  // gives them; the store keeps the upstream that answered.
  expandTargets(options).forEach((target, i) => {
    regular[i].upstream = target.upstream;
    regular[i].requestedModel = target.model;
  });
  const summary: IBatchSummary = {
    batchId: value.id,
    createdAt,
    prompt,
    options,
    metrics: batchMetrics(
      responses.map(r => r as ResponseSnapshot),
      now
    ),
    responses
  };
  if (value.transport === 'direct') {
    summary.transport = 'direct';
  }
  summary.pick = readPick(value.pick, responses);
  summary.ratings = readRatings(value.responses, responses);
  return summary;
}

/** The stored winner, when it names an attempt of the batch (else none: a stale pick is not shown). */
function readPick(value: unknown, responses: IResponseSummary[]): IPick | null {
  if (!isObject(value) || typeof value.responseId !== 'string' || typeof value.attempt !== 'number') {
    return null;
  }
  const { responseId, attempt } = value;
  const response = responses.find(r => r.id === responseId);
  return response?.attempts?.some(a => a.attempt === attempt) ? { responseId, attempt } : null;
}

/** The stored attempts' ratings (1 to 5), in the order of the responses read and their attempts. */
function readRatings(stored: unknown[], responses: IResponseSummary[]): IRating[] {
  const byId = new Map<string, Json>();
  for (const r of stored) {
    if (isObject(r) && typeof r.id === 'string') {
      byId.set(r.id, r);
    }
  }
  const out: IRating[] = [];
  for (const response of responses) {
    const attempts = byId.get(response.id)?.attempts;
    for (const a of Array.isArray(attempts) ? attempts : []) {
      if (isObject(a) && typeof a.attempt === 'number' && Number.isInteger(a.rating)) {
        const rating = a.rating as number;
        if (rating >= 1 && rating <= 5) {
          out.push({ responseId: response.id, attempt: a.attempt, rating });
        }
      }
    }
  }
  out.sort((a, b) => (a.responseId === b.responseId ? a.attempt - b.attempt : 0));
  return out;
}

/**
 * The batch a stored batch's summary ({@link storedSummary}) describes, every attempt kept and
 * the latest shown, as the sidebar, compare and insert use it. A response whose latest attempt
 * still runs on the server comes back reconnecting (`BatchResponse.reattach`, as after a
 * reload), showing the text stored so far, its times moved to the page's clock (`now`); the
 * batch is then active, and the model reattaches it. Every other response has ended.
 */
export function batchFromSummary(summary: IBatchSummary, now: () => number): Batch {
  const fused: IFusedResponse[] = [];
  for (const r of summary.responses) {
    const fusion = readFusion(r.fusion);
    if (fusion) {
      fused.push({ id: r.id, upstream: r.upstream, model: r.requestedModel, fusion });
    }
  }
  const batch = new Batch(
    summary.batchId,
    summary.createdAt ?? Date.now(),
    summary.options,
    now,
    summary.responses.filter(r => !readFusion(r.fusion)).map(r => r.id),
    fused
  );
  batch.transport = summary.transport === 'direct' ? 'direct' : 'proxy';
  if (batch.responses.length !== summary.responses.length) {
    throw new StoredBatchError(
      `Stored batch ${summary.batchId} cannot be read: its options ask for ${batch.responses.length} responses and it holds ${summary.responses.length}.`
    );
  }
  summary.responses.forEach((response, i) => {
    const attempts = response.attempts ?? [];
    const earlier = attempts
      .filter(a => a.attempt < response.attempt)
      .map(({ attempt, seed, ...snapshot }) => new EndedAttempt(attempt, seed, snapshot));
    const {
      id: _id,
      index: _index,
      seed,
      attempt,
      upstream: _upstream,
      requestedModel: _model,
      attempts: _attempts,
      shownAttempt: _shown,
      fusion: _fusion,
      ...snapshot
    } = response;
    if (RUNNING.has(snapshot.status)) {
      batch.responses[i].reattach(seed, attempt, { ...snapshot, metrics: toPageClock(snapshot.metrics, now) }, earlier);
    } else {
      batch.responses[i].restore(seed, attempt, snapshot, earlier);
    }
  });
  batch.applyVerdicts(summary);
  if (!batch.active) {
    batch.done.resolve(batch.summary());
  }
  return batch;
}

/** A stored attempt's times (epoch milliseconds) in the page's clock (`now`, `performance.now`-like). */
function toPageClock(metrics: ResponseMetrics, now: () => number): ResponseMetrics {
  const shift = now() - Date.now();
  const at = (value: number | null) => (value === null ? null : value + shift);
  return {
    ...metrics,
    startedAt: at(metrics.startedAt),
    firstByteAt: at(metrics.firstByteAt),
    firstTokenAt: at(metrics.firstTokenAt),
    endedAt: at(metrics.endedAt)
  };
}
