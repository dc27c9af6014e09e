/**
 * Before a batch is sent: does its prompt fit the context length of each model it asks, and do
 * its max tokens fit the server's limit? Pure functions of the options and the server's listing
 * (`GET fanout/upstreams`, which gives each model's context length where the model server
 * reports it, as vLLM does).
 */
import { estimateTokens } from '../core/token-count';
import type { IGenerateOptions, IUpstreamListing } from '../tokens';
import { buildRequest, expandTargets } from './request';

/** Tokens a chat template adds around each message (vLLM's count is close to this). */
export const TOKENS_PER_MESSAGE = 4;

/** One way a batch would fail before any token: for `responses` of its responses. */
export type SizeProblem =
  | {
      /** The prompt alone fills the model's context (or more). */
      kind: 'prompt';
      upstream: string;
      model: string;
      promptTokens: number;
      contextLength: number;
      responses: number;
    }
  | {
      /** The prompt fits, but not with max tokens on top. */
      kind: 'total';
      upstream: string;
      model: string;
      promptTokens: number;
      maxTokens: number;
      contextLength: number;
      responses: number;
    }
  | {
      /** Max tokens is over the Jupyter server's `max_tokens_limit`. */
      kind: 'limit';
      maxTokens: number;
      limit: number;
      responses: number;
    };

/** The estimated prompt size in tokens of the requests `options` sends (the messages, and what a template adds). */
export function estimatePromptTokens(options: IGenerateOptions): number {
  const messages = buildRequest(options, 0).messages as Array<{ content: string }>;
  return messages.reduce((sum, message) => sum + estimateTokens(message.content) + TOKENS_PER_MESSAGE, 0);
}

/**
 * What would fail if `options` were sent to the server of `listing`: per model whose context
 * length the server reports, a prompt that does not fit or does not leave room for max tokens;
 * and max tokens over the server's limit. Empty when nothing is known to fail.
 */
export function sizeProblems(
  options: IGenerateOptions,
  listing: IUpstreamListing,
  promptTokens = estimatePromptTokens(options)
): SizeProblem[] {
  const problems: SizeProblem[] = [];
  const targets = expandTargets(options);
  const limit = listing.limits?.max_tokens_limit;
  if (typeof limit === 'number' && options.maxTokens > limit) {
    problems.push({ kind: 'limit', maxTokens: options.maxTokens, limit, responses: targets.length });
  }
  const byModel = new Map<string, SizeProblem>();
  for (const target of targets) {
    const upstreamName = target.upstream || listing.default;
    const upstream = listing.upstreams.find(u => u.name === upstreamName);
    const model = target.model || upstream?.default_model || '';
    const contextLength = upstream?.context_lengths?.[model];
    if (!upstream || !model || typeof contextLength !== 'number') {
      continue;
    }
    const key = JSON.stringify([upstream.name, model]);
    const known = byModel.get(key);
    if (known) {
      known.responses++;
      continue;
    }
    let problem: SizeProblem | null = null;
    if (promptTokens >= contextLength) {
      problem = { kind: 'prompt', upstream: upstream.name, model, promptTokens, contextLength, responses: 1 };
    } else if (promptTokens + options.maxTokens > contextLength) {
      problem = {
        kind: 'total',
        upstream: upstream.name,
        model,
        promptTokens,
        maxTokens: options.maxTokens,
        contextLength,
        responses: 1
      };
    }
    if (problem) {
      byModel.set(key, problem);
      problems.push(problem);
    }
  }
  return problems;
}

/**
 * {@link sizeProblems} against the server's listing (which asks each upstream for its models).
 * The last listing read is used at once, so that a batch starts without waiting when nothing is
 * wrong, and read again in the background once older than `maxAgeMs`; before the first one has
 * come, the check waits for it at most `waitMs` (then the batch is sent unchecked).
 */
export class SizeCheck {
  constructor(
    private readonly _list: () => Promise<IUpstreamListing>,
    private readonly _maxAgeMs = 30000,
    private readonly _waitMs = 3000,
    private readonly _now: () => number = () => Date.now()
  ) {}

  /** A listing read elsewhere (`fanout:list-upstreams`): the newest the check knows. */
  learn(listing: IUpstreamListing): void {
    this._known = { at: this._now(), listing };
  }

  /** Read the listing now (at start-up), so that the first batch is checked without waiting. */
  prefetch(): void {
    this._refresh();
  }

  /**
   * What would fail if `options` were sent; empty when nothing is known to fail or the listing is
   * not to be had. Synchronous when a listing has been read (a stale one is read again meanwhile).
   */
  problems(options: IGenerateOptions): SizeProblem[] | Promise<SizeProblem[]> {
    if (this._known !== null) {
      if (this._now() - this._known.at > this._maxAgeMs) {
        this._refresh();
      }
      return sizeProblems(options, this._known.listing);
    }
    return this._waitForFirst().then(listing => (listing ? sizeProblems(options, listing) : []));
  }

  /** Read the listing unless a read is under way. */
  private _refresh(): Promise<IUpstreamListing | null> {
    if (this._pending === null) {
      this._pending = this._list()
        .then(listing => {
          this._known = { at: this._now(), listing };
          return listing;
        })
        .catch(error => {
          console.warn('jupyterlab-fanout: the size check could not read the upstream listing', error);
          return null;
        })
        .finally(() => {
          this._pending = null;
        });
    }
    return this._pending;
  }

  private async _waitForFirst(): Promise<IUpstreamListing | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<null>(resolve => {
      timer = setTimeout(() => resolve(null), this._waitMs);
    });
    try {
      return await Promise.race([this._refresh(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private _known: { at: number; listing: IUpstreamListing } | null = null;
  private _pending: Promise<IUpstreamListing | null> | null = null;
}
