/**
 * Batches streamed in direct mode (the browser calls the model server itself, `../engine/direct`)
 * never pass through the Jupyter server, so this page records them in the server's store: the
 * batch when it is first seen, each attempt when it starts (`running`, no text yet) and when it
 * ends (its text, reasoning, usage, metrics, status and error), over `PUT
 * fanout/batches/<id>/direct[/<response>/<attempt>]` (docs/protocol.md §4). The direct URL and
 * API key never leave the browser: the requests hold only the chat completion fields, and every
 * text sent has the URL, its host and the key replaced (an error message names the URL it could
 * not reach; a server may echo the key). The calls of one batch go one after another, in order;
 * a failure is logged and reported once per batch, and what the page shows is untouched (the
 * workspace keeps it as before).
 */
import { fuseRequest, viewDrafts } from '../fuse/prompt';
import { buildRequest } from '../model/request';
import { directRequestBody } from '../engine/direct';
import type { IAttemptSummary, IBatchSummary, IBatchView, IFanoutModel, IResponseSummary } from '../tokens';

const RUNNING = new Set(['pending', 'connecting', 'thinking', 'generating']);

/** What the recorder calls (`../handler`'s `recordDirectBatch` and `recordDirectAttempt`). */
export interface IDirectRecordApi {
  /** Resolves with whether the store created it (false: it had it already). */
  batch(
    id: string,
    batch: { prompt: string; options: Record<string, unknown>; created_at: number }
  ): Promise<{ created: boolean }>;
  /** `keepalive`: the request outlives the page (sent as the page closes). */
  attempt(
    id: string,
    responseId: string,
    attempt: number,
    record: Record<string, unknown>,
    options?: { keepalive?: boolean }
  ): Promise<void>;
}

/** The error of a direct-mode attempt whose page closed while it streamed. */
export const PAGE_CLOSED = {
  code: 'page_closed',
  message:
    'The page streaming this response in direct mode was closed (it cannot be reattached); the text that had arrived is kept.'
};

/**
 * Bytes the records sent as the page closes may take in all: a browser lets requests that
 * outlive their page (`keepalive`) carry 64 KiB at most between them.
 */
export const CLOSING_BUDGET = 60 * 1024;

const utf8 = new TextEncoder();

/** The longest start of `text` whose UTF-8 takes at most `bytes` (never half a character). */
function cutToBytes(text: string, bytes: number): string {
  if (utf8.encode(text).length <= bytes) {
    return text;
  }
  let low = 0;
  let high = Math.min(text.length, bytes);
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (utf8.encode(text.slice(0, mid)).length <= bytes) {
      low = mid;
    } else {
      high = mid - 1;
    }
  }
  // Not half of a surrogate pair.
  const code = text.charCodeAt(low - 1);
  return code >= 0xd800 && code <= 0xdbff ? text.slice(0, low - 1) : text.slice(0, low);
}

export interface IDirectRecordOptions {
  api: IDirectRecordApi;
  /** The direct URL and key in force (replaced in every text sent). */
  secrets: () => { url: string; apiKey: string };
  /** Whether the store can take records now (false: the store is off; nothing is sent). */
  enabled: () => boolean;
  /** The one report of a batch that could not be recorded. */
  report: (batchId: string, message: string) => void;
  /** Clock, epoch milliseconds. */
  now?: () => number;
}

/** `text` with every occurrence of each secret replaced. */
export function scrubSecrets(text: string, secrets: { url: string; apiKey: string }): string {
  const replacements: [string, string][] = [];
  const url = secrets.url.trim().replace(/\/+$/, '');
  if (url) {
    replacements.push([url, '[direct URL]']);
    try {
      const host = new URL(url).host;
      if (host) {
        replacements.push([host, '[direct host]']);
      }
    } catch {
      // Not a URL: the string itself is replaced.
    }
  }
  if (secrets.apiKey.length >= 4) {
    replacements.push([secrets.apiKey, '***']);
  }
  let out = text;
  for (const [secret, replacement] of replacements) {
    out = out.split(secret).join(replacement);
  }
  return out;
}

function usageOf(a: IAttemptSummary | IResponseSummary): Record<string, unknown> | null {
  if (a.tokensEstimated !== false) {
    return null;
  }
  return {
    prompt_tokens: a.promptTokens ?? null,
    completion_tokens: a.totalTokens,
    completion_tokens_details: { reasoning_tokens: a.thinkingTokens ?? 0 }
  };
}

function metricsOf(a: IAttemptSummary | IResponseSummary): Record<string, number> {
  const out: Record<string, number> = {};
  const m = a.metrics as unknown as Record<string, unknown>;
  const put = (key: string, value: unknown, scale = 1) => {
    if (typeof value === 'number' && Number.isFinite(value)) {
      out[key] = value / scale;
    }
  };
  put('ttft', m?.ttftMs, 1000);
  put('elapsed', m?.elapsedMs, 1000);
  put('tokens_per_second', m?.tokensPerSecond);
  return out;
}

/**
 * One attempt's record for the store (`ended`: with its outcome and text; otherwise `running`
 * with none yet), every text scrubbed of the secrets.
 */
export function attemptRecord(
  batch: IBatchView,
  response: IResponseSummary,
  a: IAttemptSummary | IResponseSummary,
  times: { startedAt: number; endedAt: number | null },
  secrets: { url: string; apiKey: string }
): Record<string, unknown> {
  const scrub = (text: string) => scrubSecrets(text, secrets);
  // A fused response (`fanout:fuse`) sent the merge of its sources, not the batch's prompt.
  const sent = response.fusion
    ? fuseRequest(
        batch.options,
        response.fusion,
        viewDrafts(batch.responses, response.fusion),
        a.seed,
        response.requestedModel
      )
    : buildRequest(batch.options, a.seed, response.requestedModel);
  const request = directRequestBody(sent);
  const common = {
    model: scrub(a.model || response.requestedModel || ''),
    request: JSON.parse(scrub(JSON.stringify(request))) as Record<string, unknown>,
    started_at: times.startedAt / 1000
  };
  if (RUNNING.has(a.status)) {
    return { ...common, status: 'running' };
  }
  const error = a.error
    ? {
        message: scrub(String(a.error.message ?? '')).slice(0, 4000),
        ...(a.error.code ? { code: scrub(String(a.error.code)).slice(0, 100) } : {})
      }
    : null;
  return {
    ...common,
    status: a.status,
    error,
    finish_reason: a.finishReason ? scrub(a.finishReason).slice(0, 100) : null,
    text: scrub(a.content),
    reasoning: scrub(a.reasoning ?? ''),
    usage: usageOf(a),
    metrics: metricsOf(a),
    ended_at: (times.endedAt ?? Date.now()) / 1000
  };
}

/** Every attempt of every response of a summary (the latest is the response's own fields). */
function everyAttempt(
  summary: IBatchSummary
): { response: IResponseSummary; attempt: IAttemptSummary | IResponseSummary }[] {
  const out: { response: IResponseSummary; attempt: IAttemptSummary | IResponseSummary }[] = [];
  for (const response of summary.responses) {
    for (const a of response.attempts ?? []) {
      if (a.attempt !== response.attempt) {
        out.push({ response, attempt: a });
      }
    }
    out.push({ response, attempt: response });
  }
  return out;
}

/**
 * Record every direct-mode batch of `model` in the server's store as it goes (see the module
 * comment). Returns what stops it.
 */
export function recordDirectBatches(
  model: IFanoutModel,
  options: IDirectRecordOptions
): { refresh(): void; closing(): number; idle(): Promise<void>; tracked(): string[]; dispose(): void } {
  const now = options.now ?? (() => Date.now());
  /** Per batch: the last phase sent of each attempt (`<response>/<attempt>` → running|ended). */
  const sent = new Map<string, Map<string, { phase: 'running' | 'ended'; startedAt: number }>>();
  const chains = new Map<string, Promise<void>>();
  const reported = new Set<string>();
  /** The direct URL and key when each batch was first seen (what its texts may hold). */
  const secretsOf = new Map<string, { url: string; apiKey: string }>();

  const enqueue = (batchId: string, call: () => Promise<void>) => {
    const chain = (chains.get(batchId) ?? Promise.resolve()).then(call).catch((error: unknown) => {
      const message = (error as Error)?.message ?? String(error);
      console.error(`jupyterlab-fanout: direct-mode batch ${batchId} could not be recorded in the store`, error);
      if (!reported.has(batchId)) {
        reported.add(batchId);
        options.report(batchId, message);
      }
    });
    chains.set(batchId, chain);
  };

  /** Direct batches ended with everything sent (looked at again only if they run again). */
  const quiet = new Set<string>();
  const visit = (batch: IBatchView) => {
    if (batch.transport !== 'direct' || (quiet.has(batch.id) && !batch.active)) {
      return;
    }
    quiet.delete(batch.id);
    let attempts = sent.get(batch.id);
    if (!secretsOf.has(batch.id)) {
      secretsOf.set(batch.id, options.secrets());
    }
    const secrets = secretsOf.get(batch.id)!;
    if (!attempts) {
      attempts = new Map();
      sent.set(batch.id, attempts);
      const { prompt, ...rest } = batch.options;
      const created = batch.createdAt;
      /** Seen running here: its attempts are sent as they start and end, below. */
      const live = batch.active;
      const ended = live ? [] : everyAttempt(batch.summary());
      for (const { response, attempt } of ended) {
        attempts.set(`${response.id}/${attempt.attempt}`, { phase: 'ended', startedAt: created });
      }
      enqueue(batch.id, async () => {
        const answer = await options.api.batch(batch.id, {
          prompt,
          // Scrubbed like the requests: a follow-up's thread holds earlier answers (model output).
          options: JSON.parse(scrubSecrets(JSON.stringify(rest), secrets)) as Record<string, unknown>,
          created_at: created / 1000
        });
        // A batch restored ended (after a reload): all of it if the store did not have it (a
        // batch from before direct batches were recorded); else the attempts the reload cut.
        for (const { response, attempt } of ended) {
          if (answer.created || attempt.error?.code === 'interrupted') {
            const elapsed = (attempt.metrics as { elapsedMs?: number | null })?.elapsedMs;
            const times = { startedAt: created, endedAt: created + (typeof elapsed === 'number' ? elapsed : 0) };
            await options.api.attempt(
              batch.id,
              response.id,
              attempt.attempt,
              attemptRecord(batch, response, attempt, times, secrets)
            );
          }
        }
      });
    }
    for (const { response, attempt: a } of everyAttempt(batch.summary())) {
      const key = `${response.id}/${a.attempt}`;
      const phase = RUNNING.has(a.status) ? 'running' : 'ended';
      const known = attempts.get(key);
      if (known?.phase === 'ended' || known?.phase === phase) {
        continue;
      }
      const startedAt = known?.startedAt ?? now();
      attempts.set(key, { phase, startedAt });
      const record = attemptRecord(
        batch,
        response,
        a,
        { startedAt, endedAt: phase === 'ended' ? now() : null },
        secrets
      );
      enqueue(batch.id, () => options.api.attempt(batch.id, response.id, a.attempt, record));
    }
    if (!batch.active) {
      quiet.add(batch.id);
    }
  };

  /** Forget what is kept about batches the page no longer holds (removed). */
  const forget = () => {
    const here = new Set(model.batches.map(b => b.id));
    for (const id of [...sent.keys(), ...secretsOf.keys()]) {
      if (!here.has(id)) {
        sent.delete(id);
        secretsOf.delete(id);
        quiet.delete(id);
        reported.delete(id);
        // The queued calls still run; the chain itself is dropped once it has settled.
        const chain = chains.get(id);
        void chain?.then(() => {
          if (chains.get(id) === chain) {
            chains.delete(id);
          }
        });
      }
    }
  };

  /**
   * The page is closing: each direct attempt still streaming here is recorded as incomplete
   * ({@link PAGE_CLOSED}) with the text so far, in requests that outlive the page. Within
   * {@link CLOSING_BUDGET} in all: an attempt whose text does not fit keeps its start, and its
   * error says how much. Returns how many attempts were sent.
   */
  const closing = (): number => {
    if (!options.enabled()) {
      return 0;
    }
    const open: { batch: IBatchView; response: IResponseSummary; a: IResponseSummary; startedAt: number }[] = [];
    for (const batch of model.batches) {
      const attempts = sent.get(batch.id);
      if (batch.transport !== 'direct' || !batch.active || !attempts) {
        continue;
      }
      for (const response of batch.summary().responses) {
        const known = attempts.get(`${response.id}/${response.attempt}`);
        if (RUNNING.has(response.status) && known?.phase === 'running') {
          open.push({ batch, response, a: response, startedAt: known.startedAt });
        }
      }
    }
    // What each record takes besides its text and reasoning (model, error, metrics, times).
    const share = Math.floor(CLOSING_BUDGET / Math.max(1, open.length)) - 1024;
    for (const { batch, response, a, startedAt } of open) {
      const secrets = secretsOf.get(batch.id) ?? options.secrets();
      const text = scrubSecrets(a.content, secrets);
      const reasoning = scrubSecrets(a.reasoning ?? '', secrets);
      const keptText = cutToBytes(text, Math.max(0, share));
      const keptReasoning = cutToBytes(reasoning, Math.max(0, share - utf8.encode(keptText).length));
      const cut = keptText.length < text.length || keptReasoning.length < reasoning.length;
      const message = cut
        ? `${PAGE_CLOSED.message.replace(/; the text.*$/, '')}; only the first ${keptText.length} of ${text.length} characters of its text (and ${keptReasoning.length} of ${reasoning.length} of its reasoning) fitted in the page's last request.`
        : PAGE_CLOSED.message;
      const closed = { ...a, status: 'incomplete', error: { code: PAGE_CLOSED.code, message } } as IResponseSummary;
      const record = attemptRecord(batch, response, closed, { startedAt, endedAt: now() }, secrets);
      // The request was recorded when the attempt started; the store keeps it (no room here).
      delete record.request;
      record.text = keptText;
      record.reasoning = keptReasoning;
      sent.get(batch.id)!.set(`${response.id}/${a.attempt}`, { phase: 'ended', startedAt });
      options.api.attempt(batch.id, response.id, a.attempt, record, { keepalive: true }).catch((error: unknown) => {
        console.error(
          `jupyterlab-fanout: direct-mode batch ${batch.id} could not be recorded as the page closed`,
          error
        );
      });
    }
    return open.length;
  };

  const onChanged = () => {
    if (!options.enabled()) {
      return;
    }
    for (const batch of model.batches) {
      visit(batch);
    }
    if (sent.size > model.batches.length) {
      forget();
    }
  };
  model.changed.connect(onChanged);
  onChanged();
  return {
    /** Look again (when `enabled` may have changed: the store's state arrived). */
    refresh: onChanged,
    closing,
    /** The batches it keeps something about (tests: none of a removed batch). */
    tracked: () => [...new Set([...sent.keys(), ...secretsOf.keys(), ...quiet, ...reported])],
    /** Resolves once every call queued so far has been answered (tests). */
    idle: () => Promise.all([...chains.values()]).then(() => undefined),
    dispose: () => model.changed.disconnect(onChanged)
  };
}
